/**
 * Secrets never shown: a job's target URL (userinfo, query values) and header values in every API
 * answer (job GET, list, DLQ samples), and a target's echo of the job's own header values in the
 * failure message, the DLQ group and the worker's log. Real Redis, a real target on loopback.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDlqReplayHandler } from '../../functions/dlq-replay/handler.js';
import { createEnqueueHandler } from '../../functions/enqueue/handler.js';
import { createWorkerHandler } from '../../functions/worker/handler.js';
import type { DrainReport } from '../../functions/worker/run.js';
import { Logger } from '../../shared/log/logger.js';
import { apiEvent, json, lambdaContext } from '../helpers/fixtures.js';
import { testRuntime } from '../helpers/runtime.js';

const SECRETS = ['s3cret-bearer-token', 'key-0123456789', 'pass-word-1', 'q-value-77', 'frag-value-88'];

let server: Server;
let base = '';
beforeAll(async () => {
  // Answers 400 with every header it got, as a careless target's error page does.
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(400).end(`bad request; you sent ${JSON.stringify(req.headers)}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((r) => server.close(r)));

const lines: string[] = [];
const { rt } = await testRuntime(
  'secrets',
  { SPOOL_WORKER_TIME_MARGIN_MS: '500', SPOOL_JOB_TIMEOUT_MS: '2000' },
  { logger: new Logger({ serviceName: 'spool-test', logLevel: 'DEBUG', sink: (l) => lines.push(l) }) },
);
const enqueue = createEnqueueHandler(rt);
const dlq = createDlqReplayHandler(rt);
const worker = createWorkerHandler(rt, { lingerMs: 0 });
const call = async (h: typeof enqueue, ...a: Parameters<typeof apiEvent>) =>
  json(await h(apiEvent(...a), lambdaContext()));

const target = (url: string) => ({
  url,
  headers: { Authorization: `Bearer ${SECRETS[0]}`, 'X-Api-Key': SECRETS[1] },
});

describe('secrets', () => {
  it('job GET and list show no userinfo, query value or header value', async () => {
    const a = await call(enqueue, 'POST', '/v1/queues/sq/jobs', {
      body: { target: target(`https://bob:${SECRETS[2]}@example.com/hook?token=${SECRETS[3]}#t=${SECRETS[4]}`) },
    });
    expect(a.status).toBe(201);
    const g = await call(enqueue, 'GET', `/v1/queues/sq/jobs/${a.body.id}`);
    expect(g.body.target).toEqual({
      url: 'https://bob:[redacted]@example.com/hook?token=[redacted]#t=[redacted]',
      method: 'POST',
      headers: { Authorization: '[redacted]', 'X-Api-Key': '[redacted]' },
    });
    const l = await call(enqueue, 'GET', '/v1/queues/sq/jobs', { query: 'state=waiting' });
    expect(l.body.jobs).toHaveLength(1);
    const shown = JSON.stringify([g.body, l.body]);
    for (const s of SECRETS) expect(shown).not.toContain(s);
  });

  it("a target's echo of the job's header values is masked in lastError, the DLQ and the log", async () => {
    const { jobs } = await rt.spool.enqueue('echo', {
      target: target(`${base}/echo?sig=${SECRETS[3]}`),
      maxAttempts: 1,
    });
    lines.length = 0;
    const report = (await worker({ kick: { queue: 'echo' } }, lambdaContext(20_000))) as DrainReport;
    expect(report).toMatchObject({ leased: 1, dead: 1 });
    const job = (await rt.spool.get('echo', jobs[0]!.id))!;
    expect(job.state).toBe('dead');
    // The echo is there, its secret values are not.
    expect(job.lastError!.message).toContain('"authorization":"[redacted]"');
    expect(job.lastError!.message).toContain('"x-api-key":"[redacted]"');
    const g = await call(enqueue, 'GET', `/v1/queues/echo/jobs/${job.id}`);
    const d = await call(dlq, 'GET', '/v1/queues/echo/dlq', { query: 'samples=5' });
    expect(d.body.groups).toHaveLength(1);
    const everything = [JSON.stringify(g.body), JSON.stringify(d.body), ...lines].join('\n');
    for (const s of SECRETS) expect(everything).not.toContain(s);
    expect(lines.some((l) => l.includes('job failed'))).toBe(true);
  });
});
