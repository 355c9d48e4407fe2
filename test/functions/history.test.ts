/**
 * A job's history and kept response, end to end: the worker runs jobs against a real HTTP server,
 * and GET /v1/queues/{queue}/jobs/{id} (the enqueue function) shows `history` (ISO times, URLs in
 * messages redacted) and, for a job enqueued with keepResponse, the first 1 KB of its target's answer.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnqueueHandler } from '../../functions/enqueue/handler.js';
import { createWorkerHandler } from '../../functions/worker/handler.js';
import type { DrainReport } from '../../functions/worker/run.js';
import { MAX_KEPT_RESPONSE_BYTES } from '../../shared/queue/types.js';
import { apiEvent, json, lambdaContext } from '../helpers/fixtures.js';
import { testRuntime } from '../helpers/runtime.js';

const SECRET = 'Bearer history-secret-123';
let server: Server;
let base = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const p = req.url ?? '';
      // 3 KB of multi-byte text that also echoes the job's Authorization header.
      if (p.startsWith('/big'))
        return res
          .writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
          .end(`${req.headers.authorization} ${'é'.repeat(1500)}`);
      if (p.startsWith('/small')) return res.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}');
      if (p.startsWith('/down')) return res.writeHead(503).end('see https://ops:pw@status.example.com/x?key=k1');
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((r) => server.close(r)));

const { rt } = await testRuntime(
  'history-api',
  { SPOOL_BACKOFF_BASE_MS: '60000', SPOOL_WORKER_TIME_MARGIN_MS: '500', SPOOL_JOB_TIMEOUT_MS: '5000' },
  { random: () => 1 },
);
const worker = createWorkerHandler(rt, { lingerMs: 0 });
const api = createEnqueueHandler(rt);
const getJob = async (queue: string, id: string) => json(await api(apiEvent('GET', `/v1/queues/${queue}/jobs/${id}`)));

describe('history and kept responses through the API', () => {
  it('shows each attempt, and the first 1 KB of the answer of a job that keeps it', async () => {
    const target = (path: string) => ({ url: `${base}${path}`, headers: { Authorization: SECRET } });
    const { jobs } = await rt.spool.enqueue('hist', [
      { target: target('/big'), keepResponse: true },
      { target: target('/small'), keepResponse: true },
      { target: target('/small') },
      { target: target('/down'), maxAttempts: 2 },
    ]);
    const [big, small, plain, down] = jobs.map((j) => j.id) as [string, string, string, string];
    const ctx = lambdaContext(20_000);
    const report = (await worker({ kick: { queue: 'hist' } }, ctx)) as DrainReport;
    expect(report, JSON.stringify(report)).toMatchObject({ completed: 3, retried: 1 });

    const b = (await getJob('hist', big)).body;
    expect(b.keepResponse).toBe(true);
    expect(b.response).toMatchObject({ status: 200, truncated: true, contentType: 'text/plain; charset=utf-8' });
    expect(Buffer.byteLength(b.response.body)).toBeLessThanOrEqual(MAX_KEPT_RESPONSE_BYTES);
    expect(Buffer.byteLength(b.response.body)).toBeGreaterThan(MAX_KEPT_RESPONSE_BYTES - 2);
    expect(b.response.body.slice(0, 30)).toBe(`[redacted] ${'é'.repeat(19)}`);
    expect(JSON.stringify(b)).not.toContain('history-secret-123');
    expect(b.history).toHaveLength(1);
    const [a] = b.history;
    expect(a).toMatchObject({
      attempt: 1,
      outcome: 'completed',
      state: 'completed',
      status: 200,
      requestId: ctx.awsRequestId,
    });
    expect(a.startedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Date.parse(a.endedAt) - Date.parse(a.startedAt)).toBe(a.durationMs);

    expect((await getJob('hist', small)).body.response).toEqual({
      status: 201,
      body: '{"ok":true}',
      truncated: false,
      contentType: 'application/json',
    });
    const p = (await getJob('hist', plain)).body;
    expect(p.response).toBeUndefined();
    expect(p.keepResponse).toBeUndefined();
    expect(p.history[0]).toMatchObject({ outcome: 'completed', status: 201 });

    const d = (await getJob('hist', down)).body;
    expect(d.state).toBe('delayed');
    expect(d.history).toEqual([
      expect.objectContaining({
        attempt: 1,
        outcome: 'failed',
        state: 'delayed',
        status: 503,
        errorClass: 'HttpError',
      }),
    ]);
    expect(d.history[0].message).toContain('https://ops:[redacted]@status.example.com/x?key=[redacted]');
    expect(JSON.stringify(d)).not.toMatch(/pw@|k1/);
  });

  it('keepResponse is for a job with a target: a handler job asking for it is a 400 naming the field', async () => {
    const res = json(
      await api(apiEvent('POST', '/v1/queues/hist/jobs', { body: { handler: 'echo', keepResponse: true } })),
    );
    expect(res.status).toBe(400);
    expect(res.body.error.details).toMatchObject({ field: 'keepResponse' });
  });
});
