/**
 * The slot loop on real Redis (the scripts' own clock): counted runs, leases and marks, never time.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { QueueConfig } from '../../../shared/config/index.js';
import type { JobOutcome } from '../../../shared/jobs/outcome.js';
import { Logger } from '../../../shared/log/logger.js';
import { queueKey, Spool } from '../../../shared/queue/index.js';
import type { LeasedJob } from '../../../shared/queue/types.js';
import { runSlots } from '../../../shared/worker/slots.js';
import { slotOptions } from '../../helpers/fixtures.js';
import { cleanupPrefix, testRedis, uniquePrefix } from '../../helpers/redis.js';

const prefix = uniquePrefix('slots');
afterAll(() => cleanupPrefix(prefix));
const log = new Logger({ serviceName: 'spool-test', logLevel: 'SILENT' });

const spoolWith = (config: Partial<QueueConfig>) => new Spool(testRedis(), { config: { prefix, ...config } });

const options = slotOptions;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the continuous worker', () => {
  it("the issue's case: 40 jobs of 700 ms, 25 leased at once, 2 slots, 2 s leases: each runs once, none dead", async () => {
    // A 2 s lease (SPOOL_LEASE_MS 2000, timeout 1 s, no grace); jobs wait up to 12 s in the slots'
    // queue, so only the heartbeat of queued jobs keeps their leases.
    const spool = spoolWith({ leaseMs: 2_000, leaseGraceMs: 0 });
    const q = 'twice';
    await spool.enqueue(
      q,
      Array.from({ length: 40 }, (_, n) => ({ handler: 'h', payload: { n }, timeoutMs: 1_000 })),
      { kick: false },
    );
    const runs = new Map<number, number>();
    const extend = vi.spyOn(spool, 'run');
    const r = await runSlots(
      {
        core: spool,
        queue: q,
        clock: Date.now,
        log,
        run: async (job) => {
          const n = (job.payload as { n: number }).n;
          runs.set(n, (runs.get(n) ?? 0) + 1);
          await sleep(700);
          return { kind: 'ok' };
        },
      },
      options({ concurrency: 2, prefetch: 23, maxLease: 25, heartbeatMs: Math.floor(2_000 / 3) }),
    );
    const beats = extend.mock.calls.filter(([def]) => def.name === 'extend').length;
    extend.mockRestore();
    expect(runs.size).toBe(40);
    expect([...runs.values()].filter((x) => x > 1)).toEqual([]);
    expect(r).toMatchObject({ leased: 40, completed: 40, dead: 0, stale: 0, released: 0, stop: 'empty' });
    expect(r.maxRunning).toBe(2);
    // The first lease took the 25 it could hold (2 slots + 23 queued).
    expect(r.leases).toBeGreaterThanOrEqual(2);
    expect(beats).toBeGreaterThan(0);
    const [snap] = await spool.snapshot([q]);
    expect(snap).toMatchObject({ waiting: 0, active: 0, dead: 0, completed: 40 });
    expect(snap!.counters.leaseExpired).toBe(0);
  }, 60_000);

  it('the mixed case: a slow job holds one slot, the other slots keep going (100 jobs, every tenth 3 s)', async () => {
    const spool = spoolWith({});
    const q = 'mixed';
    await spool.enqueue(
      q,
      Array.from({ length: 100 }, (_, n) => ({ handler: 'h', payload: { n } })),
      { kick: false },
    );
    // The order of events, to tell that short jobs ran while the first long one did.
    const events: string[] = [];
    const r = await runSlots(
      {
        core: spool,
        queue: q,
        clock: Date.now,
        log,
        run: async (job: LeasedJob): Promise<JobOutcome> => {
          const n = (job.payload as { n: number }).n;
          events.push(`start ${n}`);
          await sleep(n % 10 === 0 ? 3_000 : 50);
          events.push(`end ${n}`);
          return { kind: 'ok' };
        },
      },
      options({ concurrency: 5, prefetch: 2 }),
    );
    expect(r).toMatchObject({ leased: 100, completed: 100, stale: 0, stop: 'empty' });
    expect(r.maxRunning).toBe(5);
    // Between job 0 (3 s) starting and ending, short jobs started and finished: no batch waits for it.
    const during = events.slice(events.indexOf('start 0'), events.indexOf('end 0'));
    expect(during.filter((e) => e.startsWith('end ')).length).toBeGreaterThan(20);
    const utilization = r.busyMs / (5 * r.elapsedMs);
    console.info(
      `mixed case: slot utilization ${(utilization * 100).toFixed(1)}% (${r.leases} leases, ${r.flushes} flushes)`,
    );
  }, 60_000);

  it('complete and fail of jobs that end together go out in one flush', async () => {
    const spool = spoolWith({ backoffBaseMs: 60_000 });
    const q = 'flush';
    await spool.enqueue(
      q,
      Array.from({ length: 6 }, (_, n) => ({ handler: 'h', payload: { n } })),
      { kick: false },
    );
    const r = await runSlots(
      {
        core: spool,
        queue: q,
        clock: Date.now,
        log,
        run: async (job) =>
          (job.payload as { n: number }).n % 2
            ? { kind: 'ok' }
            : { kind: 'failed', error: { message: 'odd one out', class: 'E', retryable: true } },
      },
      options({ concurrency: 6, prefetch: 0 }),
    );
    expect(r).toMatchObject({ leased: 6, completed: 3, retried: 3, flushes: 1 });
  });
});

describe('polls of a stream', () => {
  it('take what came at once while a slot is free, but only the prefetch while every slot is busy', async () => {
    const spool = spoolWith({});
    const q = 'hoard';
    await spool.enqueue(q, { handler: 'h', payload: { n: 0, ms: 600 } }, { kick: false });
    const sizes: number[] = [];
    let more = true;
    const r = await runSlots(
      {
        core: spool,
        queue: q,
        clock: Date.now,
        log,
        run: async (job) => {
          await sleep((job.payload as { ms?: number }).ms ?? 0);
          return { kind: 'ok' };
        },
        // While the first (long) job holds the only slot, ten short ones arrive.
        onLease: async (l) => {
          sizes.push(l.jobs.length);
          if (!more) return;
          more = false;
          await spool.enqueue(
            q,
            Array.from({ length: 10 }, (_, n) => ({ handler: 'h', payload: { n: n + 1 } })),
            { kick: false },
          );
        },
      },
      options({ concurrency: 1, prefetch: 1, maxLease: 25, pollMs: 50 }),
    );
    expect(r).toMatchObject({ completed: 11, stale: 0, stop: 'empty' });
    // Never more than the free slot plus the prefetch: the busy worker did not hoard the ten.
    expect(Math.max(...sizes)).toBeLessThanOrEqual(2);
  });
});

describe('linger and the worker mark', () => {
  it('a lingering worker keeps the mark (an enqueue does not kick) and runs what comes; leaving clears it', async () => {
    const spool = spoolWith({ kickDebounceMs: 60_000 });
    const q = 'linger';
    const ran: number[] = [];
    let enqueued = 0;
    const kicks: boolean[] = [];
    const r = await runSlots(
      {
        core: spool,
        queue: q,
        clock: Date.now,
        log,
        run: async (job) => {
          ran.push((job.payload as { n: number }).n);
          return { kind: 'ok' };
        },
        // After each of the first three leases (the queue is empty), a producer enqueues one job.
        onLease: async () => {
          if (enqueued >= 3) return;
          const out = await spool.enqueue(q, { handler: 'h', payload: { n: enqueued++ } });
          kicks.push(out.kick);
        },
      },
      options({ lingerMs: 300, pollMs: 50 }),
    );
    expect(ran).toEqual([0, 1, 2]);
    expect(kicks).toEqual([false, false, false]);
    expect(r).toMatchObject({ completed: 3, stop: 'empty' });
    expect(await spool.redis.exists(queueKey(prefix, q, 'worker'))).toBe(0);
    expect((await spool.enqueue(q, { handler: 'h', payload: { n: 9 } })).kick).toBe(true);
  });

  it('flow control: a paused queue is left after the linger (no busy loop); a capped one never runs more than the cap', async () => {
    const spool = spoolWith({ leaseMs: 10_000, leaseGraceMs: 0 });
    const q = 'paused-slots';
    await spool.putSettings(q, { paused: true });
    await spool.enqueue(
      q,
      Array.from({ length: 5 }, (_, n) => ({ handler: 'h', payload: { n } })),
      { kick: false },
    );
    let ran = 0;
    const paused = await runSlots(
      {
        core: spool,
        queue: q,
        clock: Date.now,
        log,
        run: async () => {
          ran++;
          return { kind: 'ok' };
        },
      },
      options({ lingerMs: 300, pollMs: 100 }),
    );
    expect(ran).toBe(0);
    expect(paused).toMatchObject({ leased: 0, stop: 'empty', waiting: 5 });
    // one lease per poll over the linger, and the last: a handful, not a spin
    expect(paused.leases).toBeLessThanOrEqual(6);

    await spool.putSettings(q, { paused: false, maxConcurrency: 2 });
    let running = 0;
    let most = 0;
    const capped = await runSlots(
      {
        core: spool,
        queue: q,
        clock: Date.now,
        log,
        run: async () => {
          running++;
          most = Math.max(most, running);
          await sleep(50);
          running--;
          return { kind: 'ok' };
        },
      },
      options({ concurrency: 5, prefetch: 5, pollMs: 20 }),
    );
    expect(capped).toMatchObject({ leased: 5, completed: 5, stop: 'empty' });
    expect(most).toBeLessThanOrEqual(2);
    expect(capped.maxRunning).toBeLessThanOrEqual(2);
  }, 60_000);

  it('flow control: a rate-limited queue is drained by one worker that waits for each window, never over the limit', async () => {
    const spool = spoolWith({ leaseMs: 10_000, leaseGraceMs: 0 });
    const q = 'rate-slots';
    await spool.putSettings(q, { rateLimit: { limit: 4, periodMs: 500 } });
    const made = await spool.enqueue(
      q,
      Array.from({ length: 10 }, (_, n) => ({ handler: 'h', payload: { n } })),
      { kick: false },
    );
    // Each lease's time by the server's clock (what the rate limit counts) and how many it leased.
    const leases: Array<{ at: number; n: number }> = [];
    const r = await runSlots(
      {
        core: spool,
        queue: q,
        clock: Date.now,
        log,
        run: async () => ({ kind: 'ok' }),
        onLease: (l) => void (l.jobs.length > 0 && leases.push({ at: l.now, n: l.jobs.length })),
      },
      options({ concurrency: 4, prefetch: 4, lingerMs: 100, pollMs: 100 }),
    );
    expect(r).toMatchObject({ leased: 10, completed: 10, stop: 'empty', waiting: 0 });
    expect(made.jobs).toHaveLength(10);
    // At most 4 leased in any 500 ms of the server's clock. (The jobs' history startedAt is when the
    // worker started each, after the lease's reply: two windows' jobs can start under 500 ms apart.)
    for (const { at } of leases)
      expect(leases.filter((x) => x.at > at - 500 && x.at <= at).reduce((n, x) => n + x.n, 0)).toBeLessThanOrEqual(4);
    // one lease per window, or about: not a poll loop
    expect(r.leases).toBeLessThanOrEqual(12);
  }, 60_000);
});
