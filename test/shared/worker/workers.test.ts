/**
 * Issue 12: the active workers of a queue, written by the slot loop's own lease and heartbeat calls.
 * Counted calls and entries, never time: each job waits on a gate the test opens.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Logger } from '../../../shared/log/logger.js';
import { queueKey, Spool } from '../../../shared/queue/index.js';
import { activeWorkers } from '../../../shared/queue/ops/workers.js';
import { runSlots, type SlotOptions } from '../../../shared/worker/slots.js';
import { slotOptions } from '../../helpers/fixtures.js';
import { harness } from '../../helpers/harness.js';
import { cleanupPrefix, testRedis, uniquePrefix } from '../../helpers/redis.js';

const prefix = uniquePrefix('workers');
afterAll(() => cleanupPrefix(prefix));
const log = new Logger({ serviceName: 'spool-test', logLevel: 'SILENT' });

const options = (o: Partial<SlotOptions> = {}): SlotOptions =>
  slotOptions({ prefetch: 0, heartbeatMs: 60_000, requestId: 'req-1', ...o });

/** A promise and its resolver. */
const gate = () => {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
};

describe('active workers', () => {
  it('a worker is listed while it runs (jobs held and done), and gone once it leaves', async () => {
    const spool = new Spool(testRedis(), { config: { prefix } });
    const q = 'listed';
    await spool.enqueue(
      q,
      Array.from({ length: 3 }, (_, n) => ({ handler: 'h', payload: { n } })),
      { kick: false },
    );
    const started: Array<() => void> = [];
    const twoRunning = gate();
    const spy = vi.spyOn(spool, 'run');
    const run = runSlots(
      {
        core: spool,
        queue: q,
        clock: Date.now,
        log,
        run: async () => {
          const g = gate();
          started.push(g.open);
          if (started.length === 2) twoRunning.open();
          await g.p;
          return { kind: 'ok' };
        },
      },
      options(),
    );
    await twoRunning.p;
    const during = await activeWorkers(spool, q);
    expect(during).toHaveLength(1);
    expect(during[0]).toMatchObject({ id: 'req-1', held: 2, done: 0 });
    expect(during[0]!.lastHeartbeatAt).toBeGreaterThanOrEqual(during[0]!.startedAt);
    // The first job ends; the next lease (for the freed slot) writes the entry again.
    started[0]!();
    while (started.length < 3) await new Promise((r) => setTimeout(r, 10));
    const later = await activeWorkers(spool, q);
    expect(later).toHaveLength(1);
    expect(later[0]!.startedAt).toBe(during[0]!.startedAt);
    expect(later[0]!.held).toBeGreaterThanOrEqual(2);
    for (const open of started) open();
    const r = await run;
    expect(r).toMatchObject({ completed: 3, stop: 'empty' });
    expect(await activeWorkers(spool, q)).toEqual([]);
    expect(await spool.redis.hlen(queueKey(prefix, q, 'workersInfo'))).toBe(0);
    // No call of its own: the entry rode on the leases (the heartbeat never had anything to send).
    const names = spy.mock.calls.map(([def]) => def.name);
    spy.mockRestore();
    expect(names).not.toContain('extend');
  });

  it('a worker stopped by time (its job abandoned) removes its entry with one extend of no items', async () => {
    const spool = new Spool(testRedis(), { config: { prefix, leaseGraceMs: 0 } });
    const q = 'bytime';
    await spool.enqueue(q, { handler: 'h', payload: {}, timeoutMs: 500 }, { kick: false });
    const running = gate();
    const spy = vi.spyOn(spool, 'run');
    const now = Date.now();
    const loop = runSlots(
      {
        core: spool,
        queue: q,
        clock: Date.now,
        log,
        run: async (_job, signal) => {
          running.open();
          await new Promise<void>((res) => signal.addEventListener('abort', () => res()));
          return { kind: 'abandoned' };
        },
      },
      // stopAt soon: the running job is abandoned there and given back, and the loop stops by time.
      options({ stopAt: now + 1_500, deadline: now + 2_000, requestId: 'req-time' }),
    );
    await running.p;
    expect((await activeWorkers(spool, q)).map((w) => [w.id, w.held])).toEqual([['req-time', 1]]);
    const r = await loop;
    expect(r).toMatchObject({ stop: 'time', abandoned: 1, released: 1 });
    const extendCalls = spy.mock.calls.filter(([def]) => def.name === 'extend');
    spy.mockRestore();
    expect(extendCalls).toHaveLength(1);
    expect(await activeWorkers(spool, q)).toEqual([]);
  });

  describe('with an injected clock', () => {
    const { spool, clock, prefix: p } = harness('workers-clock');

    it('an entry whose worker stopped heartbeating lapses after its ttl, and is trimmed on read', async () => {
      const q = 'lapse';
      await spool.enqueue(
        q,
        [
          { handler: 'h', payload: {} },
          { handler: 'h', payload: {} },
        ],
        { kick: false },
      );
      const worker = { ttlMs: 4_000, held: 0, done: 0 };
      await spool.lease(q, { count: 1, workerMarkMs: 60_000, keepMark: true, requestId: 'dies', worker });
      await spool.lease(q, { count: 1, workerMarkMs: 60_000, keepMark: true, requestId: 'lives', worker });
      clock.advance(3_000);
      // `lives` heartbeats (an extend of no items); `dies` says nothing more
      await spool.extend(q, [], 0, { id: 'lives', ttlMs: 4_000, held: 1, done: 0 });
      expect((await activeWorkers(spool, q)).map((w) => w.id)).toEqual(['dies', 'lives']);
      clock.advance(1_001);
      const left = await activeWorkers(spool, q);
      expect(left.map((w) => w.id)).toEqual(['lives']);
      expect(left[0]).toMatchObject({ held: 1, lastHeartbeatAt: clock.now() - 1_001 });
      expect(await spool.redis.hkeys(queueKey(p, q, 'workersInfo'))).toEqual(['lives']);
      expect(await spool.redis.zcard(queueKey(p, q, 'workers'))).toBe(1);
    });

    it('a lease that clears the worker mark (the worker leaves) removes its entry', async () => {
      const q = 'leaves';
      await spool.enqueue(q, { handler: 'h', payload: {} }, { kick: false });
      const worker = { ttlMs: 60_000, held: 0, done: 0 };
      const l = await spool.lease(q, { count: 1, workerMarkMs: 60_000, requestId: 'w', worker });
      expect((await activeWorkers(spool, q)).map((w) => w.held)).toEqual([1]);
      await spool.complete(q, [{ id: l.jobs[0]!.id, token: l.jobs[0]!.token }]);
      await spool.lease(q, { count: 1, workerMarkMs: 60_000, requestId: 'w', worker: { ...worker, done: 1 } });
      expect(await activeWorkers(spool, q)).toEqual([]);
      // a lease without a worker (a reclaim) writes no entry
      await spool.enqueue(q, { handler: 'h', payload: {} }, { kick: false });
      await spool.reclaim(q);
      expect(await activeWorkers(spool, q)).toEqual([]);
    });
  });
});
