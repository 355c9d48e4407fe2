/**
 * A target's error body in the failure message: cut on code points (a 511-character body ending in
 * an emoji once cut the pair in two, and the fail script refused the lone surrogate for the whole
 * batch), and masked of the job's own header values. Real target on loopback, real Redis.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkerHandler } from '../../../functions/worker/handler.js';
import type { DrainReport } from '../../../functions/worker/run.js';
import { callTarget, MAX_ERROR_TEXT } from '../../../shared/jobs/http-target.js';
import { lambdaContext } from '../../helpers/fixtures.js';
import { testRuntime } from '../../helpers/runtime.js';

const EMOJI_BODY = `${'x'.repeat(511)}😀`;
let server: Server;
let base = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/emoji') return res.writeHead(500).end(EMOJI_BODY);
      if (req.url === '/many') return res.writeHead(500).end('😀'.repeat(5000));
      res.writeHead(500).end(`echo ${req.headers.authorization} then ${'y'.repeat(600)}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((r) => server.close(r)));

const policy = { allowedHosts: [] as string[], allowPrivate: true };
const signal = new AbortController().signal;
// A retried job waits its whole backoff (no jitter, 60 s base): none comes due again inside the run.
const { rt } = await testRuntime(
  'http-target',
  { SPOOL_WORKER_TIME_MARGIN_MS: '500', SPOOL_JOB_TIMEOUT_MS: '2000', SPOOL_BACKOFF_BASE_MS: '60000' },
  { random: () => 1 },
);

describe('failure messages from a target', () => {
  it('are cut on code points and well-formed', async () => {
    for (const path of ['/emoji', '/many']) {
      const o = await callTarget({ url: `${base}${path}`, method: 'POST' }, {}, { policy, timeoutMs: 2000, signal });
      expect(o.kind).toBe('failed');
      const message = o.kind === 'failed' ? o.error.message : '';
      expect(message.isWellFormed(), path).toBe(true);
      const text = message.slice(message.indexOf('HTTP 500: ') + 10);
      expect([...text].length, path).toBeLessThanOrEqual(MAX_ERROR_TEXT);
    }
  });

  it('mask the job header value a target echoes, even past the kept length', async () => {
    const secret = `tok-${'s'.repeat(40)}`;
    const o = await callTarget(
      { url: `${base}/echo`, method: 'POST', headers: { Authorization: `Bearer ${secret}` } },
      {},
      { policy, timeoutMs: 2000, signal },
    );
    const message = o.kind === 'failed' ? o.error.message : '';
    expect(message).toContain('echo [redacted] then yyy');
    expect(message).not.toContain('tok-');
  });

  it('a 500 of 511 characters ending in an emoji retries the job; the worker does not throw', async () => {
    const { jobs } = await rt.spool.enqueue('emoji', [
      { target: { url: `${base}/emoji` } },
      { target: { url: `${base}/many` } },
    ]);
    const worker = createWorkerHandler(rt, { lingerMs: 0 });
    const report = (await worker({ kick: { queue: 'emoji' } }, lambdaContext(20_000))) as DrainReport;
    expect(report).toMatchObject({ leased: 2, retried: 2, stale: 0 });
    for (const j of jobs) {
      const job = (await rt.spool.get('emoji', j.id))!;
      expect(job.state).toBe('delayed');
      expect(job.lastError!.message.isWellFormed()).toBe(true);
    }
    expect((await rt.spool.get('emoji', jobs[0]!.id))!.lastError!.message.endsWith(EMOJI_BODY)).toBe(true);
  });
});
