import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as z from 'zod/mini';
import { KICK_REASONS } from '../../functions/lib/runtime.js';
import { createWorkerHandler } from '../../functions/worker/handler.js';
import { type DrainReport, scaleOutCount } from '../../functions/worker/run.js';
import { classifyAddress } from '../../shared/jobs/address.js';
import { BUILTIN_HANDLERS } from '../../shared/jobs/builtin.js';
import { callTarget, hostAllowed } from '../../shared/jobs/http-target.js';
import { PermanentError } from '../../shared/jobs/outcome.js';
import { defineHandler, HandlerRegistry } from '../../shared/jobs/registry.js';
import { lambdaContext, scheduledEvent } from '../helpers/fixtures.js';
import { testRuntime } from '../helpers/runtime.js';

// A real HTTP server on 127.0.0.1 whose answer depends on the path.
const seen: Array<{ path: string; headers: IncomingMessage['headers']; body: string }> = [];
let server: Server;
let base = '';
let refusedUrl = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ path: req.url ?? '', headers: req.headers, body });
      const p = req.url ?? '';
      if (p.startsWith('/ok')) return res.writeHead(200).end('fine');
      if (p.startsWith('/fail')) return res.writeHead(500).end('internal trouble');
      if (p.startsWith('/busy')) return res.writeHead(429, { 'retry-after': '120' }).end();
      if (p.startsWith('/bad')) return res.writeHead(400).end('no such thing');
      if (p.startsWith('/slow')) return setTimeout(() => res.writeHead(200).end(), 3000);
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A port with nothing listening: bind one, close it.
  const tmp = createServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
  refusedUrl = `http://127.0.0.1:${(tmp.address() as AddressInfo).port}/x`;
  await new Promise((r) => tmp.close(r));
});
afterAll(() => new Promise((r) => server.close(r)));

const registry = new HandlerRegistry(BUILTIN_HANDLERS);
const calls: string[] = [];
registry.register(
  defineHandler({
    name: 'greet',
    schema: z.object({ name: z.string() }),
    run: ({ name }) => {
      calls.push(name);
    },
  }),
);
registry.register(
  defineHandler({
    name: 'reject',
    schema: z.unknown(),
    run: () => {
      throw new PermanentError('customer does not exist');
    },
  }),
);
registry.register(
  defineHandler({
    name: 'flaky',
    schema: z.unknown(),
    run: () => {
      throw new TypeError('temporarily broken');
    },
  }),
);
/** Ignores its abort signal: only the invocation deadline stops the worker waiting for it. */
registry.register(
  defineHandler({ name: 'stubborn', schema: z.unknown(), run: () => new Promise((r) => setTimeout(r, 2500)) }),
);

const { rt, kicks } = await testRuntime(
  'worker',
  {
    SPOOL_WORKER_TIME_MARGIN_MS: '500',
    SPOOL_JOB_TIMEOUT_MS: '1000',
    SPOOL_LEASE_GRACE_MS: '200',
    // A retried job waits its whole backoff (no jitter): none comes due again inside the same run.
    SPOOL_BACKOFF_BASE_MS: '60000',
    SPOOL_WORKER_MAX_SCALE_OUT: '3',
  },
  { handlers: registry, random: () => 1 },
);
const worker = createWorkerHandler(rt, { lingerMs: 0 });
let lastRequestId = '';
const kick = (queue: string, remainingMs = 20_000) => {
  const ctx = lambdaContext(remainingMs);
  lastRequestId = ctx.awsRequestId;
  return worker({ kick: { queue } }, ctx) as Promise<DrainReport>;
};

describe('HTTP targets against a real server', () => {
  it('200 completes; 500 retries; 429 honours Retry-After; 400 is permanent; a slow answer times out; a refused connection retries', async () => {
    const t = (path: string, extra: Record<string, unknown> = {}) => ({
      target: {
        url: path.startsWith('http') ? path : `${base}${path}`,
        headers: { Authorization: 'Bearer top-secret' },
      },
      payload: { hello: path },
      ...extra,
    });
    const out = await rt.spool.enqueue('http', [
      t('/ok'),
      t('/fail'),
      t('/busy'),
      t('/bad'),
      t('/slow', { timeoutMs: 300 }),
      t(refusedUrl),
    ]);
    const ids = out.jobs.map((j) => j.id);
    const logs: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      logs.push(String(s));
      return true;
    });
    const report = await kick('http');
    spy.mockRestore();
    expect(report).toMatchObject({ leased: 6, completed: 1, retried: 4, dead: 1, abandoned: 0, stop: 'empty' });
    const [ok, fail, busy, bad, slow, refused] = (await rt.spool.getMany('http', ids))!;
    expect(ok!.state).toBe('completed');
    expect(fail).toMatchObject({ state: 'delayed', lastError: { class: 'HttpError', retryable: true } });
    expect(fail!.lastError!.message).toContain('HTTP 500: internal trouble');
    expect(busy!.state).toBe('delayed');
    expect(busy!.runAt! - busy!.lastFailedAt!).toBeGreaterThanOrEqual(120_000);
    expect(bad).toMatchObject({ state: 'dead', lastError: { class: 'HttpError', retryable: false } });
    // The failure story names the worker invocation that failed the job.
    expect(bad!.lastError!.requestId).toBe(lastRequestId);
    expect(fail!.lastError!.requestId).toBe(lastRequestId);
    expect(slow).toMatchObject({ state: 'delayed', lastError: { class: 'TimeoutError' } });
    expect(refused).toMatchObject({ state: 'delayed', lastError: { class: 'NetworkError' } });
    expect(refused!.lastError!.message).toContain('ECONNREFUSED');
    // The server got the payload as JSON, the target's headers and Spool's own.
    const okReq = seen.find((s) => s.path === '/ok')!;
    expect(JSON.parse(okReq.body)).toEqual({ hello: '/ok' });
    expect(okReq.headers).toMatchObject({
      authorization: 'Bearer top-secret',
      'content-type': 'application/json',
      'spool-job-id': ids[0],
      'spool-attempt': '1',
    });
    // Target headers are never logged.
    expect(logs.join('')).not.toContain('top-secret');
  });

  it('SSRF: link-local / metadata always refused, private only when allowed, allow-list enforced', async () => {
    const policy = { allowedHosts: [] as string[], allowPrivate: false };
    const signal = new AbortController().signal;
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'http://[fd00:ec2::254]/',
      'http://[::ffff:169.254.169.254]/',
      'http://0.0.0.0/',
      'http://[fe80::1]/',
    ]) {
      const o = await callTarget({ url, method: 'GET' }, null, {
        policy: { ...policy, allowPrivate: true },
        timeoutMs: 1000,
        signal,
      });
      expect(o, url).toMatchObject({ kind: 'failed', error: { class: 'TargetRefused', retryable: false } });
    }
    const priv = await callTarget({ url: `${base}/ok`, method: 'GET' }, null, { policy, timeoutMs: 1000, signal });
    expect(priv).toMatchObject({ kind: 'failed', error: { class: 'TargetRefused' } });
    // A name that resolves to loopback is refused at connection time (the DNS answer is checked).
    const byName = await callTarget({ url: `${base.replace('127.0.0.1', 'localhost')}/ok`, method: 'GET' }, null, {
      policy,
      timeoutMs: 1000,
      signal,
    });
    expect(byName).toMatchObject({ kind: 'failed', error: { class: 'TargetRefused', retryable: false } });
    const listed = await callTarget({ url: `${base}/ok`, method: 'GET' }, null, {
      policy: { allowedHosts: ['api.example.com'], allowPrivate: true },
      timeoutMs: 1000,
      signal,
    });
    expect(listed).toMatchObject({
      kind: 'failed',
      error: { class: 'TargetRefused', message: expect.stringContaining('SPOOL_TARGET_ALLOWED_HOSTS') },
    });
    expect(hostAllowed('a.example.com', ['*.example.com'])).toBe(true);
    expect(hostAllowed('example.com.evil.io', ['example.com'])).toBe(false);
    expect(classifyAddress('8.8.8.8')).toBe('public');
    expect(classifyAddress('10.1.2.3')).toBe('private');
  });
});

describe('registered handlers', () => {
  it('runs by name; a PermanentError or a payload failing its schema goes straight to dead; other errors retry', async () => {
    const out = await rt.spool.enqueue('h', [
      { handler: 'greet', payload: { name: 'ada' } },
      { handler: 'greet', payload: { name: 42 } },
      { handler: 'reject', payload: {} },
      { handler: 'flaky', payload: {} },
      { handler: 'missing', payload: {} },
    ]);
    const report = await kick('h');
    expect(report).toMatchObject({ leased: 5, completed: 1, dead: 3, retried: 1 });
    expect(calls).toEqual(['ada']);
    const jobs = await rt.spool.getMany(
      'h',
      out.jobs.map((j) => j.id),
    );
    expect(jobs.map((j) => [j!.state, j!.lastError?.class])).toEqual([
      ['completed', undefined],
      ['dead', 'InvalidPayload'],
      ['dead', 'PermanentError'],
      ['delayed', 'TypeError'],
      ['dead', 'UnknownHandler'],
    ]);
    expect(jobs[1]!.lastError!.message).toContain('payload.name');
  });
});

describe('time and leases', () => {
  it('never leases a job whose timeout + grace does not fit in the time left; a fresh worker runs it', async () => {
    const out = await rt.spool.enqueue('slowq', [
      { handler: 'stubborn', payload: {}, timeoutMs: 5000 },
      { handler: 'echo', payload: {} },
    ]);
    kicks.length = 0;
    // 2 s left of a longer invocation (a fresh one has 20 s), 0.5 s margin: 1.5 s to lease in; the
    // stubborn job needs 5 s + 0.2 s grace.
    const late = createWorkerHandler(rt, { lingerMs: 0, fitCapMs: 19_500 });
    const r1 = await late({ kick: { queue: 'slowq' } }, lambdaContext(2000));
    expect(r1).toMatchObject({ leased: 1, completed: 1, released: 0, abandoned: 0, stop: 'time' });
    const left = (await rt.spool.get('slowq', out.jobs[0]!.id))!;
    expect(left).toMatchObject({ state: 'waiting', attempts: 0 });
    expect(kicks).toEqual([{ queue: 'slowq', reason: 'continue' }]);
    // The continuation has the whole invocation: it runs the job (attempt 1).
    const r2 = (await worker({ kick: { queue: 'slowq' } }, lambdaContext(10_000))) as DrainReport;
    expect(r2).toMatchObject({ leased: 1, completed: 1 });
    expect(await rt.spool.get('slowq', out.jobs[0]!.id)).toMatchObject({ state: 'completed', attempts: 1 });
  });

  it('a job no invocation could fit runs capped, as before, and is left leased when time runs out', async () => {
    // 2 s is this invocation's whole window: a job needing 5.2 s fits none, so waiting would be forever.
    const out = await rt.spool.enqueue('nofit', { handler: 'stubborn', payload: {}, timeoutMs: 5000 });
    kicks.length = 0;
    const r = (await worker({ kick: { queue: 'nofit' } }, lambdaContext(2000))) as DrainReport;
    expect(r).toMatchObject({ leased: 1, abandoned: 1, released: 0, stop: 'time' });
    // Not given back (it would come back forever): its capped lease expires and spends the attempt.
    expect(await rt.spool.get('nofit', out.jobs[0]!.id)).toMatchObject({ state: 'active', attempts: 1 });
    expect(kicks).toEqual([{ queue: 'nofit', reason: 'continue' }]);
  });

  it('a leased job that no longer fits when a slot frees goes back to waiting, its attempt refunded', async () => {
    // One slot, three jobs of 0.7 s (timeout 1 s + 0.2 s grace) leased at once, 2.4 s before stopAt:
    // the first two run; the third would start 1.4 s in, with 1 s left, and is released.
    const out = await rt.spool.enqueue(
      'fitq',
      Array.from({ length: 3 }, () => ({ handler: 'sleep', payload: { ms: 700 }, timeoutMs: 1000 })),
    );
    kicks.length = 0;
    const w = createWorkerHandler(rt, { concurrency: 1, prefetch: 2, lingerMs: 0 });
    const r = (await w({ kick: { queue: 'fitq' } }, lambdaContext(2900))) as DrainReport;
    expect(r).toMatchObject({ leased: 3, completed: 2, released: 1, abandoned: 0, stop: 'time' });
    const jobs = await rt.spool.getMany(
      'fitq',
      out.jobs.map((j) => j.id),
    );
    expect(jobs.map((j) => [j!.state, j!.attempts])).toEqual([
      ['completed', 1],
      ['completed', 1],
      ['waiting', 0],
    ]);
    expect(kicks).toEqual([{ queue: 'fitq', reason: 'continue' }]);
  });

  it('completes and fails a batch in one request', async () => {
    await rt.spool.enqueue('batchq', [...Array.from({ length: 8 }, () => ({ handler: 'echo' })), { handler: 'flaky' }]);
    const run = vi.spyOn(rt.spool, 'run');
    const r = await kick('batchq');
    expect(r).toMatchObject({ leased: 9, completed: 8, retried: 1, flushes: 1 });
    const scripts = run.mock.calls.map(([def]) => def.name);
    expect(scripts.filter((n) => n === 'complete')).toHaveLength(1);
    expect(scripts.filter((n) => n === 'fail')).toHaveLength(1);
    run.mockRestore();
  });
});

describe('scale-out and schedule', () => {
  it('a deep backlog starts more workers, up to the maximum derived from depth; scale-out workers start none', async () => {
    expect(scaleOutCount(0, { maxScaleOut: 3, jobsPerWorker: 500 })).toBe(0);
    expect(scaleOutCount(1200, { maxScaleOut: 3, jobsPerWorker: 500 })).toBe(2);
    expect(scaleOutCount(100_000, { maxScaleOut: 3, jobsPerWorker: 500 })).toBe(3);
    await rt.spool.enqueue(
      'deep',
      Array.from({ length: 60 }, () => ({ handler: 'echo' })),
    );
    kicks.length = 0;
    const w = createWorkerHandler(rt, { jobsPerWorker: 10, batchSize: 20, lingerMs: 0 });
    const r = (await w({ kick: { queue: 'deep' } }, lambdaContext(20_000))) as DrainReport;
    expect(r.scaledOut).toBe(3);
    expect(kicks).toEqual(Array.from({ length: 3 }, () => ({ queue: 'deep', reason: 'scale-out' })));
    expect(r.completed).toBe(60);
    kicks.length = 0;
    await rt.spool.enqueue(
      'deep',
      Array.from({ length: 60 }, () => ({ handler: 'echo' })),
    );
    await w({ kick: { queue: 'deep', reason: 'scale-out' } }, lambdaContext(20_000));
    expect(kicks).toEqual([]);
  });

  it('the schedule kicks a worker for each queue with waiting jobs and no worker running', async () => {
    await rt.spool.enqueue('sched-a', { handler: 'echo' }, { kick: false });
    kicks.length = 0;
    const r = (await worker(scheduledEvent('worker'), lambdaContext(60_000))) as { kicked: string[] };
    expect(r.kicked).toContain('sched-a');
    expect(kicks).toContainEqual({ queue: 'sched-a', reason: 'schedule' });
    expect(r.kicked).not.toContain('deep');
  });

  it('once the due index is built, the schedule looks only at the queues it says are due', async () => {
    // A first run builds the index (it looks at every queue once); drain what it kicked for.
    const first = (await worker(scheduledEvent('worker'), lambdaContext(60_000))) as { kicked: string[] };
    for (const q of first.kicked) await worker({ kick: { queue: q } }, lambdaContext(20_000));
    const spy = vi.spyOn(rt.spool, 'run');
    await rt.spool.enqueue('sched-b', { handler: 'echo' }, { kick: false });
    await rt.spool.enqueue('sched-later', { handler: 'echo', delayMs: 600_000 }, { kick: false });
    spy.mockClear();
    kicks.length = 0;
    const r = (await worker(scheduledEvent('worker'), lambdaContext(60_000))) as { queues: number; kicked: string[] };
    // sched-later is not due for 10 minutes: not looked at; the queues with jobs waiting are
    const looked = spy.mock.calls.map(([def, queue]) => `${def.name}:${queue}`);
    expect(r.kicked).toContain('sched-b');
    expect(looked).toContain('lease:sched-b');
    expect(looked).not.toContain('lease:sched-later');
    expect(looked.every((l) => l.startsWith('lease:'))).toBe(true);
    expect(r.queues).toBe(looked.length);
    spy.mockRestore();
  });

  it('rejects an event it does not know', async () => {
    await expect(worker({ hello: 1 }, lambdaContext())).rejects.toThrow(/kick/);
  });

  it('takes a kick with each reason of KICK_REASONS and refuses any other, naming the field', async () => {
    for (const reason of KICK_REASONS) {
      const r = (await worker({ kick: { queue: 'reasons', reason } }, lambdaContext())) as DrainReport;
      expect(r).toMatchObject({ queue: 'reasons', stop: 'empty' });
    }
    await expect(worker({ kick: { queue: 'reasons', reason: 'whim' } }, lambdaContext())).rejects.toThrow(
      /^kick\.reason: /,
    );
  });
});
