/**
 * What a target receives from the worker: a signature it can verify with `spool/verify` (the
 * secret from SPOOL_SIGNING_SECRET, or from Secrets Manager), and the enqueue request's trace as
 * `traceparent` and `X-Amzn-Trace-Id`, with an X-Ray subsegment for the call and for every Upstash
 * request, and the trace id in the worker's log lines. Real Redis, a real loopback target.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { verifySignature } from 'spool/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnqueueHandler } from '../../functions/enqueue/handler.js';
import { createRuntime } from '../../functions/lib/runtime.js';
import { signingSecrets } from '../../functions/lib/signing.js';
import { createWorkerHandler } from '../../functions/worker/handler.js';
import type { DrainReport } from '../../functions/worker/run.js';
import { loadConfig } from '../../shared/config/index.js';
import { callTarget } from '../../shared/jobs/http-target.js';
import { Logger } from '../../shared/log/logger.js';
import { enqueue } from '../../shared/queue/ops/enqueue.js';
import { getJob } from '../../shared/queue/ops/jobs.js';
import { apiEvent, json, lambdaContext } from '../helpers/fixtures.js';
import { cleanupPrefix, uniquePrefix, upstashConfig } from '../helpers/redis.js';
import { testRuntime } from '../helpers/runtime.js';

interface Received {
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}
const received: Received[] = [];
let server: Server;
let base = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
      const status = Number(/status=(\d+)/.exec(req.url!)?.[1] ?? 200);
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((r) => server.close(r)));

/** Leave the worker room to lease with the 20 s the test invocation has. */
const FAST = { SPOOL_WORKER_TIME_MARGIN_MS: '500', SPOOL_JOB_TIMEOUT_MS: '2000' };
const TRACE_ID = '5759e988bd862e3fe1be46a994272793';
const PARENT = '53995c3f42cd8ad8';
const traceparent = `00-${TRACE_ID}-${PARENT}-01`;

async function deliver(rt: Awaited<ReturnType<typeof testRuntime>>['rt'], queue: string, job: object, headers = {}) {
  received.length = 0;
  const r = json(
    await createEnqueueHandler(rt)(
      apiEvent('POST', `/v1/queues/${queue}/jobs`, { body: job, headers }),
      lambdaContext(),
    ),
  );
  expect(r.status).toBe(201);
  const report = (await createWorkerHandler(rt, { lingerMs: 0 })(
    { kick: { queue } },
    lambdaContext(20_000),
  )) as DrainReport;
  return { id: r.body.id as string, report };
}

describe('signed deliveries', () => {
  it('the target verifies the signature with spool/verify; a job cannot forge the signature headers', async () => {
    const { rt } = await testRuntime('sign', { ...FAST, SPOOL_SIGNING_SECRET: 'whsec-one' });
    const { id } = await deliver(rt, 'signed', {
      target: { url: `${base}/hook`, headers: { 'spool-signature': 'v1=forged', 'spool-job-id': 'other' } },
      payload: { hello: 'wörld', n: [1, 2] },
    });
    expect(received).toHaveLength(1);
    const got = received[0]!;
    expect(got.headers['spool-job-id']).toBe(id);
    expect(got.headers['spool-signature']).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(verifySignature({ secret: 'whsec-one', headers: got.headers, body: got.body })).toMatchObject({
      ok: true,
      jobId: id,
    });
    expect(verifySignature({ secret: 'another', headers: got.headers, body: got.body }).ok).toBe(false);
    expect(verifySignature({ secret: 'whsec-one', headers: got.headers, body: `${got.body} ` }).ok).toBe(false);
  });

  it('during a rotation (SPOOL_SIGNING_SECRET=new,old) a target knowing either secret verifies; GET signs the empty body', async () => {
    const { rt } = await testRuntime('sign-rotate', { ...FAST, SPOOL_SIGNING_SECRET: 'new-secret,old-secret' });
    await deliver(rt, 'rotate', { target: { url: `${base}/hook`, method: 'GET' } });
    const got = received[0]!;
    expect(got.body).toBe('');
    expect(String(got.headers['spool-signature']).split(',')).toHaveLength(2);
    for (const secret of ['new-secret', 'old-secret'])
      expect(verifySignature({ secret, headers: got.headers, body: '' }).ok).toBe(true);
  });

  it('deployed: the secret comes from Secrets Manager, read once and again after the refresh interval', async () => {
    const sm = mockClient(SecretsManagerClient);
    sm.on(GetSecretValueCommand, { SecretId: 'arn:signing' }).resolves({ SecretString: 'from-secrets-manager' });
    const { rt } = await testRuntime('sign-sm', { ...FAST, SPOOL_SIGNING_SECRET_ARN: 'arn:signing' });
    await deliver(rt, 'sm', { target: { url: `${base}/hook` }, payload: 1 });
    await deliver(rt, 'sm', { target: { url: `${base}/hook` }, payload: 2 });
    expect(verifySignature({ secret: 'from-secrets-manager', headers: received[0]!.headers, body: '2' }).ok).toBe(true);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    sm.restore();

    let now = 0;
    const reads: string[] = [];
    const read = async (arn: string) => {
      reads.push(arn);
      if (reads.length === 3) throw new Error('throttled');
      return reads.length === 1 ? 'first' : 'second';
    };
    const warnings: string[] = [];
    const secrets = signingSecrets(
      { SPOOL_SIGNING_SECRET_ARN: 'arn:x' },
      read,
      { warn: (m) => void warnings.push(m) },
      () => now,
    );
    expect(await secrets()).toEqual(['first']);
    now += 60_000;
    expect(await secrets()).toEqual(['first']);
    now += 5 * 60_000;
    expect(await secrets()).toEqual(['second']);
    now += 5 * 60_000;
    expect(await secrets()).toEqual(['second']);
    expect(reads).toHaveLength(3);
    expect(warnings).toEqual(['signing secret refresh failed; signing with the last value']);
    const failing = signingSecrets({ SPOOL_SIGNING_SECRET_ARN: 'arn:y' }, async () => Promise.reject(new Error('no')), {
      warn: () => {},
    });
    await expect(failing()).rejects.toThrow(/signing secret could not be read: no/);
  });

  it('a bad SPOOL_SIGNING_SECRET is refused at start, naming the variable', () => {
    expect(() => loadConfig({ SPOOL_SIGNING_SECRET: 'a,b,c' })).toThrow(/SPOOL_SIGNING_SECRET/);
    expect(() => loadConfig({ SPOOL_SIGNING_SECRET: ',' })).toThrow(/SPOOL_SIGNING_SECRET/);
  });

  it('408, 425, 429 and 5xx are retried; other 4xx are permanent', async () => {
    const policy = { allowedHosts: [] as string[], allowPrivate: true };
    const signal = new AbortController().signal;
    const outcome = async (status: number) =>
      callTarget({ url: `${base}/x?status=${status}`, method: 'POST' }, {}, { policy, timeoutMs: 2000, signal });
    for (const s of [408, 425, 429, 500, 503])
      expect(await outcome(s)).toMatchObject({ kind: 'failed', status: s, error: { retryable: true } });
    for (const s of [400, 401, 404, 409, 422])
      expect(await outcome(s)).toMatchObject({ kind: 'failed', status: s, error: { retryable: false } });
    expect(await outcome(204)).toEqual({ kind: 'ok', status: 204 });
  });
});

describe('one trace from the enqueue request to the target', () => {
  it("the request's traceparent is kept with the job and sent on as traceparent and X-Amzn-Trace-Id", async () => {
    const datagrams: string[] = [];
    const lines: string[] = [];
    const logger = new Logger({ serviceName: 'spool-test', logLevel: 'DEBUG', sink: (l) => void lines.push(l) });
    const { rt } = await testRuntime('trace', FAST, { xray: (d) => void datagrams.push(d), logger });
    const { id } = await deliver(rt, 'traced', { target: { url: `${base}/hook?status=503` } }, { traceparent });

    const job = await rt.spool.get('traced', id);
    expect(job?.trace).toBe(traceparent);
    const shown = json(
      await createEnqueueHandler(rt)(apiEvent('GET', `/v1/queues/traced/jobs/${id}`), lambdaContext()),
    );
    expect(shown.body.traceId).toBe('1-5759e988-bd862e3fe1be46a994272793');
    const got = received[0]!.headers;
    const span = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(got.traceparent));
    expect(span?.[1]).toBe(TRACE_ID);
    expect(span?.[2]).not.toBe(PARENT);
    expect(got['x-amzn-trace-id']).toBe(`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=${span?.[2]};Sampled=1`);

    // The call is a subsegment of the enqueue request's span, with the id the target saw as its parent.
    const docs = datagrams.map((d) => {
      const [header, body] = d.split('\n');
      expect(JSON.parse(header!)).toEqual({ format: 'json', version: 1 });
      return JSON.parse(body!);
    });
    expect(docs).toContainEqual(
      expect.objectContaining({
        type: 'subsegment',
        id: span?.[2],
        trace_id: '1-5759e988-bd862e3fe1be46a994272793',
        parent_id: PARENT,
        namespace: 'remote',
        fault: true,
        http: { request: { method: 'POST', url: `${base}/hook` }, response: { status: 503 } },
      }),
    );

    // Every log line about the job carries its trace id.
    const about = lines.map((l) => JSON.parse(l)).filter((l) => l.jobId === id || l.ids?.includes(id));
    expect(about.map((l) => l.message)).toEqual(expect.arrayContaining(['enqueued', 'job failed']));
    for (const l of about) expect(l.traceId, l.message).toBe('1-5759e988-bd862e3fe1be46a994272793');
  });

  it("without a traceparent: the X-Amzn-Trace-Id header, else the function's own trace; none: no trace headers", async () => {
    const { rt } = await testRuntime('trace-xray', FAST, {
      lambdaTrace: () => `Root=1-aaaaaaaa-bbbbbbbbbbbbbbbbbbbbbbbb;Parent=${PARENT};Sampled=0`,
    });
    await deliver(
      rt,
      'xray',
      { target: { url: `${base}/hook` } },
      { 'x-amzn-trace-id': 'Root=1-11111111-222222222222222222222222;Sampled=1' },
    );
    expect(String(received[0]!.headers.traceparent)).toMatch(/^00-11111111222222222222222222222222-[0-9a-f]{16}-01$/);
    await deliver(rt, 'xray', { target: { url: `${base}/hook` } });
    expect(String(received[0]!.headers['x-amzn-trace-id'])).toMatch(
      /^Root=1-aaaaaaaa-bbbbbbbbbbbbbbbbbbbbbbbb;Parent=[0-9a-f]{16};Sampled=0$/,
    );

    const { rt: plain } = await testRuntime('trace-none', FAST, { lambdaTrace: () => undefined });
    await deliver(plain, 'none', { target: { url: `${base}/hook` } });
    expect(received[0]!.headers.traceparent).toBeUndefined();
    expect(received[0]!.headers['x-amzn-trace-id']).toBeUndefined();
  });

  it('every Upstash HTTP request is an X-Ray subsegment of the invocation, when sampled', async () => {
    const datagrams: string[] = [];
    const prefix = uniquePrefix('trace-upstash');
    const rt = await createRuntime({
      fn: 'enqueue',
      config: loadConfig({ SPOOL_KEY_PREFIX: prefix }),
      credentials: upstashConfig(),
      logger: new Logger({ logLevel: 'SILENT' }),
      kickWorker: async () => {},
      xray: (d) => void datagrams.push(d),
      lambdaTrace: () => `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=${PARENT};Sampled=1`,
    });
    try {
      await enqueue(rt.spool, 'upstash', { handler: 'echo' });
      await getJob(rt.spool, 'upstash', 'nope');
      const subs = datagrams.map((d) => JSON.parse(d.split('\n')[1]!));
      const host = new URL(upstashConfig().url).host;
      expect(subs.length).toBeGreaterThanOrEqual(2);
      for (const s of subs) {
        expect(s).toMatchObject({ type: 'subsegment', name: host, parent_id: PARENT, namespace: 'remote' });
        expect(s.trace_id).toBe('1-5759e988-bd862e3fe1be46a994272793');
        expect(s.http.response.status).toBe(200);
        expect(s.end_time).toBeGreaterThanOrEqual(s.start_time);
      }
    } finally {
      await cleanupPrefix(prefix);
    }
  });
});
