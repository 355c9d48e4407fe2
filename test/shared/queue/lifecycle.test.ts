import { describe, expect, it } from 'vitest';
import { PayloadTooLargeError, queueKey, ValidationError } from '../../../shared/queue/index.js';
import { harness, job } from '../../helpers/harness.js';

describe('enqueue and lease', () => {
  const { spool, clock, redis, prefix } = harness('lifecycle');

  it('leases by priority, higher first, FIFO within a priority', async () => {
    const q = 'prio';
    await spool.enqueue(q, [
      job('a'),
      job('b', { priority: 5 }),
      job('c'),
      job('d', { priority: 5 }),
      job('e', { priority: -3 }),
      job('f', { priority: 1000 }),
    ]);
    const leased = await spool.lease(q, { count: 10 });
    expect(leased.jobs.map((j) => j.payload)).toEqual(['f', 'b', 'd', 'a', 'c', 'e']);
    expect(leased.jobs.every((j) => j.state === 'active' && j.attempts === 1)).toBe(true);
    expect(leased.waiting).toBe(0);
  });

  it('leases at most count jobs and leaves the rest waiting', async () => {
    const q = 'count';
    await spool.enqueue(
      q,
      Array.from({ length: 7 }, (_, i) => job(i)),
    );
    const first = await spool.lease(q, { count: 3 });
    expect(first.jobs.map((j) => j.payload)).toEqual([0, 1, 2]);
    expect(first.waiting).toBe(4);
    const rest = await spool.lease(q, { count: 100 });
    expect(rest.jobs.map((j) => j.payload)).toEqual([3, 4, 5, 6]);
  });

  it('holds delayed jobs until they are due, then runs them', async () => {
    const q = 'delay';
    const t0 = clock.now();
    const { jobs } = await spool.enqueue(q, [
      job('later', { delayMs: 10_000 }),
      job('at', { runAt: new Date(t0 + 5_000).toISOString() }),
      job('now'),
    ]);
    expect(jobs.map((j) => j.state)).toEqual(['delayed', 'delayed', 'waiting']);
    const a = await spool.lease(q, { count: 10 });
    expect(a.jobs.map((j) => j.payload)).toEqual(['now']);
    expect(a.nextRunAt).toBe(t0 + 5_000);
    clock.advance(5_000);
    const b = await spool.lease(q, { count: 10 });
    expect(b.jobs.map((j) => j.payload)).toEqual(['at']);
    expect(b.promoted).toBe(1);
    clock.advance(5_000);
    const c = await spool.lease(q, { count: 10 });
    expect(c.jobs.map((j) => j.payload)).toEqual(['later']);
    expect(c.nextRunAt).toBeUndefined();
  });

  it('an idle queue answers one lease call with nothing', async () => {
    const r = await spool.lease('idle-never-used', { count: 100 });
    expect(r).toEqual({
      now: clock.now(),
      jobs: [],
      waiting: 0,
      promoted: 0,
      leaseExpired: 0,
      leaseExpiredDead: 0,
      workerRunning: false,
      unfit: 0,
      deferred: 0,
      expired: 0,
    });
  });

  it('completes a job, which then shows as completed', async () => {
    const q = 'complete';
    const { jobs } = await spool.enqueue(q, job({ n: 1 }));
    const {
      jobs: [leased],
    } = await spool.lease(q, { count: 1 });
    expect(leased!.id).toBe(jobs[0]!.id);
    expect(await spool.complete(q, [{ id: leased!.id, token: leased!.token }])).toEqual([
      { id: leased!.id, status: 'ok' },
    ]);
    const shown = await spool.get(q, leased!.id);
    expect(shown).toMatchObject({
      id: leased!.id,
      queue: q,
      state: 'completed',
      attempts: 1,
      payload: { n: 1 },
      completedAt: clock.now(),
    });
    expect(shown!.leaseUntil).toBeUndefined();
  });

  it('gives each job the lease that follows its timeout, capped by leaseUntilMax', async () => {
    const q = 'leasetime';
    await spool.enqueue(q, [job('short', { timeoutMs: 1_000 }), job('long', { timeoutMs: 120_000 })]);
    const now = clock.now();
    const r = await spool.lease(q, { count: 2, leaseMs: 30_000 });
    const by = Object.fromEntries(r.jobs.map((j) => [j.payload as string, j.leaseUntil]));
    expect(by.short).toBe(now + 30_000);
    expect(by.long).toBe(now + 120_000 + spool.config.leaseGraceMs);
    await spool.enqueue(q, job('capped', { timeoutMs: 120_000 }));
    const c = await spool.lease(q, { count: 1, leaseUntilMax: now + 50_000 });
    expect(c.jobs[0]!.leaseUntil).toBe(now + 50_000);
  });

  it('fitCapMs leaves waiting a job whose timeout + grace does not fit before leaseUntilMax; one that fits no worker is leased, capped', async () => {
    const q = 'fit';
    await spool.enqueue(q, [job('long', { timeoutMs: 120_000 }), job('short', { timeoutMs: 1_000 })]);
    const now = clock.now();
    // A fresh worker's window (200 s) would fit the long job (120 s + grace): it waits for one.
    const r = await spool.lease(q, { count: 2, leaseUntilMax: now + 60_000, fitCapMs: 200_000 });
    expect(r.jobs.map((j) => j.payload)).toEqual(['short']);
    expect(r).toMatchObject({ unfit: 1, waiting: 1 });
    expect((await spool.list(q, 'waiting')).jobs).toMatchObject([{ payload: 'long', state: 'waiting', attempts: 0 }]);
    // No worker's window (100 s) fits it: leased anyway, its lease capped, as without fitCapMs.
    const c = await spool.lease(q, { count: 2, leaseUntilMax: now + 60_000, fitCapMs: 100_000 });
    expect(c).toMatchObject({ unfit: 0 });
    expect(c.jobs.map((x) => [x.payload, x.leaseUntil])).toEqual([['long', now + 60_000]]);
  });

  it('release gives leased jobs back to waiting with the attempt refunded; twice is the same; a stale token is refused', async () => {
    const q = 'release';
    await spool.enqueue(q, [job('a', { priority: 5 }), job('b')]);
    const l = await spool.lease(q, { count: 2 });
    const items = l.jobs.map((j) => ({ id: j.id, token: j.token }));
    expect(await spool.release(q, items)).toEqual(items.map(({ id }) => ({ id, status: 'ok' })));
    expect(await spool.release(q, items)).toEqual(items.map(({ id }) => ({ id, status: 'ok' })));
    const back = await spool.getMany(
      q,
      items.map((i) => i.id),
    );
    expect(back.map((j) => [j!.state, j!.attempts])).toEqual([
      ['waiting', 0],
      ['waiting', 0],
    ]);
    // Leased again, by priority: the released token no longer completes or releases anything.
    const again = await spool.lease(q, { count: 2 });
    expect(again.jobs.map((j) => [j.payload, j.attempts])).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    expect((await spool.release(q, [items[0]!])).map((x) => x.status)).toEqual(['stale']);
    expect((await spool.complete(q, [items[0]!])).map((x) => x.status)).toEqual(['stale']);
  });

  it('two workers leasing at once never get the same job', async () => {
    const q = 'race';
    await spool.enqueue(
      q,
      Array.from({ length: 200 }, (_, i) => job(i)),
    );
    const results = await Promise.all(Array.from({ length: 8 }, () => spool.lease(q, { count: 30 })));
    const ids = results.flatMap((r) => r.jobs.map((j) => j.id));
    expect(ids).toHaveLength(200);
    expect(new Set(ids).size).toBe(200);
    const tokens = results.flatMap((r) => r.jobs.map((j) => j.token));
    expect(new Set(tokens).size).toBe(200);
  });

  it('refuses bad input naming the field, and writes nothing', async () => {
    const q = 'invalid';
    const cases: Array<[unknown, string]> = [
      [{ payload: 1 }, 'target'],
      [{ payload: 1, handler: 'h', priority: 1.5 }, 'priority'],
      [{ payload: 1, handler: 'h', priority: 5000 }, 'priority'],
      [{ payload: 1, handler: 'h', runAt: clock.now() - 2 * 3_600_000 }, 'runAt'],
      [{ payload: 1, handler: 'h', delayMs: -1 }, 'delayMs'],
      [{ payload: 1, target: { url: 'ftp://x' } }, 'target.url'],
      [{ payload: 1, handler: 'h', bogus: true }, 'bogus'],
    ];
    for (const [input, field] of cases) {
      const err = await spool.enqueue(q, input).catch((e: unknown) => e);
      expect(err, JSON.stringify(input)).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).field, JSON.stringify(input)).toBe(field);
    }
    const batch = await spool.enqueue(q, [job(1), job(2, { maxAttempts: 0 })]).catch((e: unknown) => e);
    expect((batch as ValidationError).field).toBe('jobs[1].maxAttempts');
    await expect(spool.enqueue('bad name!', job(1))).rejects.toMatchObject({ field: 'queue' });
    await expect(spool.enqueue('x'.repeat(65), job(1))).rejects.toMatchObject({ field: 'queue' });
    const big = await spool.enqueue(q, job('x'.repeat(spool.config.payloadMaxBytes))).catch((e: unknown) => e);
    expect(big).toBeInstanceOf(PayloadTooLargeError);
    expect((big as PayloadTooLargeError).status).toBe(413);
    expect(
      await redis.exists(queueKey(prefix, q, 'jobs'), queueKey(prefix, q, 'meta'), queueKey(prefix, q, 'waiting')),
    ).toBe(0);
  });

  it('enqueues a batch in one call and registers the queue', async () => {
    const { jobs } = await spool.enqueue(
      'batch',
      Array.from({ length: 100 }, (_, i) => job(i)),
    );
    expect(jobs).toHaveLength(100);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(100);
    expect(await spool.queues()).toContain('batch');
    const [snap] = await spool.snapshot(['batch']);
    expect(snap!.waiting).toBe(100);
    expect(snap!.counters.enqueued).toBe(100);
  });
});

describe('idempotency', () => {
  const { spool, clock } = harness('idem', { config: { idempotencyWindowMs: 60_000 } });

  it('a duplicate inside the window returns the existing id and writes nothing; after it, a new job', async () => {
    const q = 'idem';
    const a = await spool.enqueue(q, job('first', { idempotencyKey: 'order-1' }));
    const b = await spool.enqueue(q, job('first', { idempotencyKey: 'order-1', priority: 9 }));
    expect(b.jobs[0]).toEqual({ id: a.jobs[0]!.id, deduplicated: true, state: 'waiting' });
    const [snap] = await spool.snapshot([q]);
    expect(snap!.waiting).toBe(1);
    expect(snap!.counters.enqueued).toBe(1);
    expect((await spool.get(q, a.jobs[0]!.id))!.payload).toBe('first');
    clock.advance(60_001);
    const c = await spool.enqueue(q, job('third', { idempotencyKey: 'order-1' }));
    expect(c.jobs[0]!.deduplicated).toBe(false);
    expect(c.jobs[0]!.id).not.toBe(a.jobs[0]!.id);
  });

  it('deduplicates within one batch', async () => {
    const r = await spool.enqueue('idem-batch', [
      job(1, { idempotencyKey: 'k' }),
      job(1, { idempotencyKey: 'k' }),
      job(3),
    ]);
    expect(r.jobs[1]).toEqual({ id: r.jobs[0]!.id, deduplicated: true, state: 'waiting' });
    expect(r.jobs[2]!.deduplicated).toBe(false);
    const [snap] = await spool.snapshot(['idem-batch']);
    expect(snap!.waiting).toBe(2);
  });
});

describe('kick debounce', () => {
  const { spool } = harness('kick', { config: { kickDebounceMs: 60_000 } });

  it('a burst of enqueues wins one kick; a worker that finds the queue empty re-arms it', async () => {
    const q = 'kick';
    const kicks = await Promise.all(Array.from({ length: 50 }, (_, i) => spool.enqueue(q, job(i))));
    expect(kicks.filter((k) => k.kick)).toHaveLength(1);
    const l = await spool.lease(q, { count: 100, workerMarkMs: 60_000 });
    expect(l.jobs).toHaveLength(50);
    expect(l.workerRunning).toBe(true);
    expect((await spool.reclaim(q)).workerRunning).toBe(true);
    expect((await spool.enqueue(q, job('while running'))).kick).toBe(false);
    await spool.lease(q, { count: 100, workerMarkMs: 60_000 });
    const empty = await spool.lease(q, { count: 100, workerMarkMs: 60_000 });
    expect(empty.jobs).toHaveLength(0);
    expect(empty.workerRunning).toBe(false);
    expect((await spool.enqueue(q, job('after'))).kick).toBe(true);
    expect(await spool.reclaim(q)).toMatchObject({ waiting: 1, workerRunning: false });
    expect((await spool.enqueue(q, job('delayed', { delayMs: 1000 }))).kick).toBe(false);
  });
  it('a worker that stays (keepMark) keeps its mark and the debounce when it leases nothing', async () => {
    const q = 'stay';
    expect((await spool.enqueue(q, job('first'))).kick).toBe(true);
    await spool.lease(q, { count: 10, workerMarkMs: 60_000 });
    const idle = await spool.lease(q, { count: 10, workerMarkMs: 60_000, keepMark: true });
    expect(idle).toMatchObject({ workerRunning: true });
    expect(idle.jobs).toHaveLength(0);
    expect((await spool.enqueue(q, job('while it lingers'))).kick).toBe(false);
    const picked = await spool.lease(q, { count: 10, workerMarkMs: 60_000, keepMark: true });
    expect(picked.jobs.map((j) => j.payload)).toEqual(['while it lingers']);
    // Leaving: a lease without keepMark that finds nothing clears the mark and the debounce.
    expect((await spool.lease(q, { count: 10, workerMarkMs: 60_000 })).workerRunning).toBe(false);
    expect((await spool.enqueue(q, job('after'))).kick).toBe(true);
  });
});
