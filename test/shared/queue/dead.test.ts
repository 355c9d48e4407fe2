import { describe, expect, it } from 'vitest';
import { queueKey, type Spool } from '../../../shared/queue/index.js';
import { harness, job } from '../../helpers/harness.js';

/** Enqueue n jobs and fail them permanently with the given messages (cycled), one per clock tick. */
async function killJobs(
  spool: Spool,
  advance: (ms: number) => void,
  q: string,
  messages: string[],
  n: number,
): Promise<string[]> {
  const { jobs } = await spool.enqueue(
    q,
    Array.from({ length: n }, (_, i) => job(i)),
  );
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const {
      jobs: [j],
    } = await spool.lease(q, { count: 1 });
    await spool.fail(q, [
      {
        id: j!.id,
        token: j!.token,
        error: { message: messages[i % messages.length]!, class: 'HttpError', retryable: false },
      },
    ]);
    ids.push(j!.id);
    advance(1_000);
  }
  expect([...ids].sort()).toEqual(jobs.map((j) => j.id).sort());
  return ids;
}

describe('dead letters', () => {
  const { spool, clock, redis, prefix } = harness('dead', {
    config: { deadCap: 5, deadTtlMs: 3_600_000, completedRetentionMs: 60_000, purgeLimit: 3 },
  });

  it('caps the DLQ, trimming the oldest, and counts the trimming', async () => {
    const q = 'cap';
    const ids = await killJobs(spool, clock.advance, q, ['a'], 8);
    const [snap] = await spool.snapshot([q]);
    expect(snap!.dead).toBe(5);
    expect(snap!.counters.deadTrimmed).toBe(3);
    expect(snap!.counters.dead).toBe(8);
    expect(await spool.get(q, ids[0]!)).toBeNull();
    expect((await spool.get(q, ids[7]!))!.state).toBe('dead');
    const groups = await spool.deadGroups(q);
    expect(groups.total).toBe(5);
    expect(groups.groups.map((g) => g.count)).toEqual([5]);
  });

  it('groups by fingerprint with counts and samples; ids and numbers do not split a group', async () => {
    const q = 'groups';
    await killJobs(
      spool,
      clock.advance,
      q,
      ['timeout after 3000 ms on job 1', 'HTTP 400: "bad field x"', 'timeout after 4000 ms on job 2'],
      5,
    );
    const { groups, total } = await spool.deadGroups(q, { samples: 2 });
    expect(total).toBe(5);
    expect(groups.map((g) => g.count)).toEqual([3, 2]);
    expect(groups[0]!.samples).toHaveLength(2);
    expect(groups[0]!.message).toMatch(/^timeout after/);
    expect(groups[1]!.samples).toHaveLength(2);
    expect(groups[0]!.samples.every((s) => s.lastError!.fingerprint === groups[0]!.fingerprint)).toBe(true);
  });

  it('replay dry run reports exactly what replay then moves, and writes nothing', async () => {
    const q = 'replay';
    const t0 = clock.now();
    await killJobs(spool, clock.advance, q, ['x failed', 'y failed'], 4);
    const { groups } = await spool.deadGroups(q);
    const fpX = groups.find((g) => g.message === 'x failed')!.fingerprint;
    const dry = await spool.replay(q, { fingerprint: fpX, dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, matched: 2, moved: 0, truncated: false });
    const [untouched] = await spool.snapshot([q]);
    expect(untouched!.dead).toBe(4);
    expect(untouched!.waiting).toBe(0);
    const real = await spool.replay(q, { fingerprint: fpX, dryRun: false });
    expect(real.jobs.map((j) => j.id)).toEqual(dry.jobs.map((j) => j.id));
    expect(real.moved).toBe(2);
    const [after] = await spool.snapshot([q]);
    expect(after).toMatchObject({ dead: 2, waiting: 2 });
    expect(after!.counters.replayed).toBe(2);
    const replayed = await spool.get(q, real.jobs[0]!.id);
    expect(replayed).toMatchObject({ state: 'waiting', attempts: 0, replays: 1 });
    expect(replayed!.lastError!.message).toBe('x failed');
    const leased = await spool.lease(q, { count: 10 });
    expect(leased.jobs.map((j) => j.attempts)).toEqual([1, 1]);
    // time window and limit and ids
    const byTime = await spool.replay(q, { failedAfter: t0 + 2_000, failedBefore: t0 + 3_000, dryRun: true });
    expect(byTime.jobs.map((j) => j.diedAt)).toEqual([t0 + 3_000]);
    const limited = await spool.replay(q, { limit: 1, dryRun: true });
    expect(limited.matched).toBe(1);
    const one = await spool.replay(q, { ids: [limited.jobs[0]!.id, 'missing'], dryRun: false });
    expect(one.moved).toBe(1);
    expect((await spool.deadGroups(q)).total).toBe(1);
  });

  it('deletes a dead job for good, and only dead ones', async () => {
    const q = 'delete';
    const [id] = await killJobs(spool, clock.advance, q, ['z'], 1);
    const {
      jobs: [alive],
    } = await spool.enqueue(q, job('alive'));
    expect(await spool.deleteDead(q, [id!, alive!.id])).toEqual([id]);
    expect(await spool.get(q, id!)).toBeNull();
    expect(await spool.get(q, alive!.id)).not.toBeNull();
    expect((await spool.deadGroups(q)).groups).toEqual([]);
  });

  it('purge is bounded, resumable, and its dry run writes nothing', async () => {
    const q = 'purge';
    await spool.enqueue(
      q,
      Array.from({ length: 7 }, (_, i) => job(i, { idempotencyKey: `k${i}` })),
    );
    const { jobs } = await spool.lease(q, { count: 7 });
    await spool.complete(
      q,
      jobs.map((j) => ({ id: j.id, token: j.token })),
    );
    clock.advance(spool.config.idempotencyWindowMs + 1);
    const dry = await spool.purge(q, { dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, completed: 3, idempotencyKeys: 3, more: true });
    const [before] = await spool.snapshot([q]);
    expect(before!.completed).toBe(7);
    const first = await spool.purge(q);
    expect(first).toMatchObject({ completed: 3, idempotencyKeys: 3, more: true });
    // The keys past their window are counted; a removed job gives its own key up with it (uncounted),
    // so which call removes which key depends on the ids' order.
    const second = await spool.purge(q);
    expect(second.completed).toBe(3);
    const third = await spool.purge(q);
    expect(third).toMatchObject({ completed: 1, more: false });
    const [after] = await spool.snapshot([q]);
    expect(after!.completed).toBe(0);
    expect(await spool.get(q, jobs[0]!.id)).toBeNull();
    expect(await redis.hlen(queueKey(prefix, q, 'idempotency'))).toBe(0);
    expect(await redis.zcard(queueKey(prefix, q, 'idempotencyExpiry'))).toBe(0);
  });

  it('purge removes dead past the TTL (counted in deadPastTtl) and orphaned records', async () => {
    const q = 'purge-dead';
    const ids = await killJobs(spool, clock.advance, q, ['old'], 2);
    clock.advance(3_600_000 + 1);
    const {
      jobs: [fresh],
    } = await spool.enqueue(q, job('fresh'));
    // an orphan: a record whose id is in no state set (as a crash in an older version could leave)
    await spool.redis.zrem(queueKey(prefix, q, 'waiting'), fresh!.id);
    const report = await spool.purge(q);
    expect(report).toMatchObject({ deadPastTtl: 2, orphans: 1 });
    expect(await spool.get(q, ids[0]!)).toBeNull();
    expect(await spool.get(q, fresh!.id)).toBeNull();
    const [snap] = await spool.snapshot([q]);
    expect(snap!.counters).toMatchObject({ deadPastTtl: 2, orphans: 1 });
    expect(snap!.dead).toBe(0);
    // the orphan left waiting:since too, so the oldest-waiting age does not grow for ever
    expect(await spool.redis.zscore(queueKey(prefix, q, 'waitingSince'), fresh!.id)).toBeNull();
    expect(snap!.oldestWaitingAgeMs).toBe(0);
  });

  it('replay of the same id twice in one selection moves and counts it once', async () => {
    const q = 'replay-twice';
    const [a, b] = await killJobs(spool, clock.advance, q, ['twice'], 2);
    const dry = await spool.replay(q, { ids: [a!, a!, b!, a!], dryRun: true });
    expect(dry.jobs.map((j) => j.id)).toEqual([a, b]);
    const r = await spool.replay(q, { ids: [a!, a!, b!], dryRun: false });
    expect(r).toMatchObject({ matched: 2, moved: 2 });
    const [snap] = await spool.snapshot([q]);
    expect(snap).toMatchObject({ dead: 0, waiting: 2 });
    expect(snap!.counters.replayed).toBe(2);
    expect((await spool.deadGroups(q)).groups).toEqual([]);
    expect(await spool.redis.hlen(queueKey(spool.config.prefix, q, 'deadFingerprints'))).toBe(0);
  });
});

describe('snapshot', () => {
  const { spool, clock } = harness('snapshot', { random: () => 1, config: { backoffBaseMs: 60_000 } });

  it('matches a queue built to known numbers', async () => {
    const q = 'known';
    const t0 = clock.now();
    await spool.enqueue(
      q,
      Array.from({ length: 10 }, (_, i) => job(i)),
    );
    clock.advance(30_000);
    await spool.enqueue(q, [job('d1', { delayMs: 60_000 }), job('d2', { delayMs: 120_000 })]);
    // lease 6: complete 2, fail 1 retryable (-> delayed), fail 1 permanent (-> dead), keep 2 active (1 expires)
    const { jobs } = await spool.lease(q, { count: 6, leaseMs: 1_000 });
    await spool.complete(
      q,
      jobs.slice(0, 2).map((j) => ({ id: j.id, token: j.token })),
    );
    await spool.fail(q, [
      { id: jobs[2]!.id, token: jobs[2]!.token, error: { message: 'retry me', retryable: true } },
      { id: jobs[3]!.id, token: jobs[3]!.token, error: { message: 'dead', retryable: false } },
    ]);
    await spool.extend(q, [{ id: jobs[4]!.id, token: jobs[4]!.token, leaseMs: 600_000 }]);
    clock.advance(jobs[5]!.leaseUntil - clock.now() + 1);
    const [s] = await spool.snapshot([q]);
    expect(s).toMatchObject({
      queue: q,
      waiting: 4,
      delayed: 3,
      active: 2,
      completed: 2,
      dead: 1,
      leaseExpired: 1,
      oldestWaitingAgeMs: clock.now() - t0,
      oldestDeadAgeMs: clock.now() - (t0 + 30_000),
      nextRunAt: t0 + 30_000 + 60_000,
    });
    expect(s!.counters).toEqual({
      enqueued: 12,
      completed: 2,
      failed: 2,
      retried: 1,
      dead: 1,
      deadTrimmed: 0,
      deadPastTtl: 0,
      leaseExpired: 0,
      replayed: 0,
      cancelled: 0,
      orphans: 0,
    });
    const all = await spool.snapshot();
    expect(all.map((x) => x.queue)).toEqual([q]);
  });
});
