import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../shared/config/index.js';
import { deltasOf, evaluateQueue, thresholdsFrom } from '../../../shared/health/evaluate.js';
import { metricData } from '../../../shared/health/metrics.js';
import { queueMetrics } from '../../../shared/health/prometheus.js';
import { callTarget } from '../../../shared/jobs/http-target.js';
import { Logger } from '../../../shared/log/logger.js';
import { Spool } from '../../../shared/queue/engine.js';
import { originOf } from '../../../shared/queue/schema.js';
import type { JobInput } from '../../../shared/queue/types.js';
import { runSlots } from '../../../shared/worker/slots.js';
import { harness } from '../../helpers/harness.js';
import { cleanupPrefix, testRedis, uniquePrefix } from '../../helpers/redis.js';

/**
 * Issue 11: a circuit breaker per target origin, against a real local HTTP server. The engine's
 * calls are the worker's (lease, call the target, fail or complete with the status); the harness's
 * clock stands in for the server's, so cool-downs are passed by setting it, never by waiting.
 */
let server: Server;
let answer: { status: number; headers?: Record<string, string> } = { status: 503 };
let calls = 0;
let base = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    calls++;
    req.resume();
    res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
    res.end(answer.status < 300 ? 'ok' : 'unavailable');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const policy = { allowedHosts: [], allowPrivate: true };
const target = (path = '/hook'): JobInput => ({
  target: { url: `${base}${path}`, timeoutMs: 2_000 },
  payload: {},
  maxAttempts: 5,
  backoff: { type: 'fixed', baseMs: 0 },
});

describe('the circuit breaker of a target origin', () => {
  const { spool, clock } = harness('breaker', { config: { leaseMs: 30_000, leaseGraceMs: 0 } });

  /** One round of a worker: lease up to n, call each target, fail or complete with what it answered. */
  async function round(q: string, n: number) {
    const l = await spool.lease(q, { count: n });
    const signal = new AbortController().signal;
    for (const job of l.jobs) {
      const out = await callTarget(job.target!, job.payload, { policy, timeoutMs: 2_000, signal });
      const run = {
        startedAt: clock.now(),
        endedAt: clock.now(),
        ...(out.kind !== 'abandoned' ? { status: out.status } : {}),
      };
      if (out.kind === 'ok') await spool.complete(q, [{ id: job.id, token: job.token, run }]);
      else if (out.kind === 'failed') await spool.fail(q, [{ id: job.id, token: job.token, error: out.error, run }]);
    }
    return l;
  }
  const breakerOf = async (q: string) => (await spool.settings(q)).breakers;

  it('opens after the run of failures, holds (jobs wait, no attempt spent), probes once, doubles, closes', async () => {
    const q = 'b-cycle';
    answer = { status: 503 };
    calls = 0;
    await spool.putSettings(q, { circuitBreaker: { failures: 3, coolDownMs: 1_000, maxCoolDownMs: 3_000 } });
    const made = await spool.enqueue(
      q,
      Array.from({ length: 10 }, () => target()),
      { kick: false },
    );
    const origin = originOf(`${base}/hook`);

    await round(q, 3);
    expect(calls).toBe(3);
    const t0 = clock.now();
    expect(await breakerOf(q)).toEqual([
      { origin, state: 'open', failures: 3, openUntil: t0 + 1_000, coolDownMs: 1_000 },
    ]);

    // open: every job of the origin goes to delayed until it half-opens; nothing is called or spent
    const held = await round(q, 10);
    expect(held.jobs).toHaveLength(0);
    expect(held.deferred).toBe(10);
    expect(calls).toBe(3);
    const jobs = await spool.getMany(
      q,
      made.jobs.map((j) => j.id),
    );
    expect(jobs.map((j) => j!.state)).toEqual(Array(10).fill('delayed'));
    expect(jobs.map((j) => j!.runAt)).toEqual(Array(10).fill(t0 + 1_000));
    expect(jobs.reduce((n, j) => n + j!.attempts, 0)).toBe(3);

    // the cool-down over: one probe, the others wait for its lease
    clock.set(t0 + 1_000);
    const probe = await round(q, 10);
    expect(probe.jobs).toHaveLength(1);
    expect(probe.deferred).toBe(9);
    expect(calls).toBe(4);
    // the probe failed: open again for twice the cool-down
    const t1 = clock.now();
    expect(await breakerOf(q)).toMatchObject([{ state: 'open', openUntil: t1 + 2_000, coolDownMs: 2_000 }]);
    clock.set(t1 + 2_000);
    await round(q, 10);
    expect(await breakerOf(q)).toMatchObject([{ state: 'open', coolDownMs: 3_000 }]);
    const t2 = clock.now();
    clock.set(t2 + 3_000);
    await round(q, 10);
    // capped at maxCoolDownMs
    expect(await breakerOf(q)).toMatchObject([{ state: 'open', openUntil: t2 + 6_000, coolDownMs: 3_000 }]);
    expect(calls).toBe(6);

    // the target recovers: the probe succeeds and closes the breaker
    answer = { status: 200 };
    clock.set(t2 + 6_000);
    const ok = await round(q, 10);
    expect(ok.jobs).toHaveLength(1);
    expect(await breakerOf(q)).toEqual([]);
    expect(calls).toBe(7);
    // the jobs that waited for the probe's lease run once it is over
    clock.advance(30_000);
    let done = 0;
    for (let i = 0; i < 5 && done < 9; i++) done += (await round(q, 10)).jobs.length;
    expect(done).toBe(9);
    expect(calls).toBe(16);
    const [snap] = await spool.snapshot([q]);
    expect(snap).toMatchObject({ completed: 10, dead: 0, waiting: 0, delayed: 0 });
  });

  it('a 429 with Retry-After opens it for that long at once; without breakers it would not', async () => {
    const q = 'b-429';
    answer = { status: 429, headers: { 'retry-after': '7' } };
    await spool.enqueue(q, [target(), target()], { kick: false });
    await round(q, 1);
    const t = clock.now();
    expect(await breakerOf(q)).toMatchObject([{ state: 'open', failures: 1, openUntil: t + 7_000 }]);
    // the other job waits for it; the one that failed retries no sooner than its Retry-After either
    expect((await round(q, 5)).deferred).toBe(1);
    const [snap] = await spool.snapshot([q]);
    expect(snap).toMatchObject({ delayed: 2, waiting: 0, dead: 0 });
    expect(snap!.nextRunAt).toBe(t + 7_000);

    const off = 'b-429-off';
    await spool.putSettings(off, { circuitBreaker: { enabled: false } });
    await spool.enqueue(off, [target(), target()], { kick: false });
    await round(off, 1);
    expect(await breakerOf(off)).toEqual([]);
    expect((await round(off, 5)).jobs).toHaveLength(1);
  });

  it('a 4xx is the job’s failure, not the target’s: it ends the run of failures (the breaker closes)', async () => {
    const q = 'b-4xx';
    await spool.enqueue(q, [target(), target(), target()], { kick: false });
    answer = { status: 500 };
    await round(q, 2);
    expect(await breakerOf(q)).toMatchObject([{ state: 'closed', failures: 2 }]);
    answer = { status: 404 };
    await round(q, 1);
    expect(await breakerOf(q)).toEqual([]);
  });

  it('an open breaker is a health symptom naming its origin, a metric and a Prometheus series; closed, it is gone', async () => {
    const q = 'b-health';
    answer = { status: 503 };
    await spool.putSettings(q, { circuitBreaker: { failures: 1 } });
    await spool.enqueue(q, [target(), target()], { kick: false });
    await round(q, 1);
    const origin = originOf(`${base}/hook`);
    const judge = async () => {
      const [snap] = await spool.snapshot([q]);
      return evaluateQueue(snap!, deltasOf(snap!, undefined, false), thresholdsFrom(loadConfig({})));
    };
    const h = await judge();
    expect(h.snapshot.breakersOpen).toEqual([origin]);
    expect(h.status).toBe('degraded');
    const [symptom] = h.symptoms.filter((x) => x.check === 'breakerOpen');
    expect(symptom).toMatchObject({ status: 'degraded', value: 1, threshold: 0, origins: [origin] });
    expect(symptom!.step.startsWith(`${origin}: `)).toBe(true);
    const datum = metricData([h], clock.now(), '*').find((d) => d.MetricName === 'OpenCircuitBreakers' && d.Dimensions);
    expect(datum!.Value).toBe(1);
    expect(queueMetrics([h])).toContain(`spool_circuit_breaker_open{queue="${q}",origin="${origin}"} 1`);
    // the target answers again: the probe closes it, and the symptom goes
    answer = { status: 200 };
    clock.advance(10_000);
    await round(q, 5);
    const after = await judge();
    expect(after.snapshot.breakersOpen).toEqual([]);
    expect(after.symptoms.filter((x) => x.check === 'breakerOpen')).toEqual([]);
  });

  it('origins are separate: scheme, host and port', async () => {
    const q = 'b-origins';
    await spool.putSettings(q, { circuitBreaker: { failures: 1 } });
    answer = { status: 502 };
    await spool.enqueue(
      q,
      [target(), { ...target(), target: { url: `${base.replace('127.0.0.1', 'localhost')}/x` } }],
      {
        kick: false,
      },
    );
    await round(q, 1);
    const [b] = await breakerOf(q);
    expect(b!.state).toBe('open');
    // the other origin's job still leases
    const next = await round(q, 5);
    expect(next.jobs).toHaveLength(1);
    expect((await breakerOf(q)).map((x) => x.origin).sort()).toEqual(
      [originOf(`${base}/hook`), originOf(`${base.replace('127.0.0.1', 'localhost')}/x`)].sort(),
    );
  });
});

describe("the issue's figure: 30 jobs, 3 attempts, a target answering 503, through the worker loop", () => {
  const prefix = uniquePrefix('breaker-figure');
  afterAll(() => cleanupPrefix(prefix));
  const log = new Logger({ serviceName: 'spool-test', logLevel: 'SILENT' });

  async function drain(q: string, breaker: boolean) {
    const spool = new Spool(testRedis(), { config: { prefix, leaseMs: 10_000, leaseGraceMs: 0 } });
    if (!breaker) await spool.putSettings(q, { circuitBreaker: { enabled: false } });
    answer = { status: 503 };
    calls = 0;
    await spool.enqueue(
      q,
      Array.from({ length: 30 }, () => ({
        ...target(),
        maxAttempts: 3,
        backoff: { type: 'fixed' as const, baseMs: 20 },
      })),
      { kick: false },
    );
    const now = Date.now();
    await runSlots(
      {
        core: spool,
        queue: q,
        clock: Date.now,
        log,
        run: (job, signal) => callTarget(job.target!, job.payload, { policy, timeoutMs: 2_000, signal }),
      },
      {
        concurrency: 5,
        prefetch: 0,
        maxLease: 5,
        heartbeatMs: 3_000,
        flushMs: 5,
        lingerMs: 200,
        pollMs: 50,
        stopAt: now + 50_000,
        deadline: now + 60_000,
        minWindowMs: 0,
      },
    );
    const [snap] = await spool.snapshot([q]);
    return { calls, dead: snap!.dead, delayed: snap!.delayed, breakers: (await spool.settings(q)).breakers };
  }

  it('without a breaker: 90 calls and all 30 dead; with the default one: a handful of calls, none dead', async () => {
    const before = await drain('fig-off', false);
    expect(before).toMatchObject({ calls: 90, dead: 30, delayed: 0 });
    const after = await drain('fig-on', true);
    // the run of 5 failures opens it; jobs leased before their acks landed fail too (5 slots, and a
    // slot takes its next job before the ack of its last is flushed)
    expect(after.calls).toBeGreaterThanOrEqual(5);
    expect(after.calls).toBeLessThanOrEqual(15);
    expect(after.dead).toBe(0);
    expect(after.delayed).toBe(30);
    expect(after.breakers).toMatchObject([{ state: 'open', coolDownMs: 10_000 }]);
    console.log(
      `figure: without a breaker ${before.calls} calls, ${before.dead} dead; with it ${after.calls} calls, ${after.dead} dead, ${after.delayed} delayed until it half-opens`,
    );
  }, 60_000);
});
