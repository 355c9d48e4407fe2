import { describe, expect, it } from 'vitest';
import { queueKey } from '../../../shared/queue/index.js';
import { REQUEST_TTL_MS, requestKey } from '../../../shared/queue/keys.js';
import { normalizeJob } from '../../../shared/queue/schema.js';
import { DELETE_DEAD } from '../../../shared/queue/scripts/dead.js';
import { ENQUEUE } from '../../../shared/queue/scripts/enqueue.js';
import { CANCEL } from '../../../shared/queue/scripts/jobs.js';
import { harness, job } from '../../helpers/harness.js';

/**
 * Issue 9, item 3: every script is safe to run twice. Here each script is run twice with the same
 * arguments, as a client does when it retries a request whose reply was lost after Redis ran it
 * (test/shared/queue/retry.test.ts does it through a proxy that drops the first reply).
 */
describe('a script run twice changes nothing more', () => {
  const { spool, clock, redis, prefix } = harness('twice');

  it('enqueue: a job whose id exists is not written again, and answers its state', async () => {
    const q = 'enqueue';
    const now = clock.now();
    const rows = [
      ['00000000-0000-4000-8000-000000000001', job('a'), 'k-a'],
      ['00000000-0000-4000-8000-000000000002', job('b'), undefined],
    ].map(([id, j, k]) => {
      const n = normalizeJob(k ? { ...(j as object), idempotencyKey: k } : j, spool.config, now);
      return [id, n.spec, n.meta];
    });
    const args = { clock: now, window: 60_000, debounce: 0, input: rows };
    const first = await spool.run(ENQUEUE, q, args);
    expect(first.jobs.map((j) => [j.deduplicated, j.state])).toEqual([
      [false, 'waiting'],
      [false, 'waiting'],
    ]);
    // a worker takes both before the retried call arrives
    const held = await spool.lease(q, { count: 10 });
    expect(held.jobs).toHaveLength(2);
    const again = await spool.run(ENQUEUE, q, { ...args, input: structuredClone(rows) });
    expect(again.jobs).toEqual([
      { id: rows[0]![0], deduplicated: false, state: 'active' },
      { id: rows[1]![0], deduplicated: false, state: 'active' },
    ]);
    expect(await redis.zcard(queueKey(prefix, q, 'waiting'))).toBe(0);
    expect(await redis.zcard(queueKey(prefix, q, 'waitingSince'))).toBe(0);
    const [snap] = await spool.snapshot([q]);
    expect(snap).toMatchObject({ waiting: 0, active: 2 });
    expect(snap!.counters.enqueued).toBe(2);
    // the holder's acks are still good
    const acks = await spool.complete(
      q,
      held.jobs.map((j) => ({ id: j.id, token: j.token })),
    );
    expect(acks.map((a) => a.status)).toEqual(['ok', 'ok']);
  });

  /** Enqueue jobs and fail them for good, one message each; their ids in order. */
  const kill = async (q: string, messages: string[]) => {
    const { jobs } = await spool.enqueue(
      q,
      messages.map((m) => job(m)),
    );
    const held = await spool.lease(q, { count: messages.length });
    await spool.fail(
      q,
      held.jobs.map((j) => ({ id: j.id, token: j.token, error: { message: String(j.payload), retryable: false } })),
    );
    return jobs.map((j) => j.id);
  };

  it('deleteDead: the retried call answers the ids the first run deleted, and deletes no more', async () => {
    const q = 'delete';
    const [a, b] = await kill(q, ['alpha', 'beta']);
    const { jobs } = await spool.enqueue(q, job('late'));
    const late = jobs[0]!.id;
    const request = requestKey(prefix, q, 'delete-1');
    const args = { ids: [a!, b!, late], requestTtlMs: REQUEST_TTL_MS };
    const first = await spool.run(DELETE_DEAD, q, args, { request });
    expect(first.deleted).toEqual([a, b]);
    // the third job dies before the retried call arrives: the retry must not delete it
    const held = await spool.lease(q, { count: 1 });
    await spool.fail(q, [{ id: late, token: held.jobs[0]!.token, error: { message: 'late', retryable: false } }]);
    const again = await spool.run(DELETE_DEAD, q, structuredClone(args), { request });
    expect(again.deleted).toEqual([a, b]);
    expect((await spool.get(q, late))!.state).toBe('dead');
    expect(await redis.hgetall(queueKey(prefix, q, 'deadFingerprints'))).toEqual({
      [(await spool.get(q, late))!.lastError!.fingerprint]: 1,
    });
    // through the operation (a nonce of its own per call): the answer of a first call
    expect(await spool.deleteDead(q, [late])).toEqual([late]);
    expect(await spool.deleteDead(q, [late])).toEqual([]);
  });

  it('deleteDead: an id given twice is deleted and counted once', async () => {
    const q = 'delete-twice';
    const [a, b] = await kill(q, ['same', 'same']);
    expect(await spool.deleteDead(q, [a!, a!])).toEqual([a]);
    const [snap] = await spool.snapshot([q]);
    expect(snap!.dead).toBe(1);
    const fp = (await spool.get(q, b!))!.lastError!.fingerprint;
    expect(await redis.hgetall(queueKey(prefix, q, 'deadFingerprints'))).toEqual({ [fp]: 1 });
  });

  it('cancel: the retried call answers ok with the state the job was in, and cancels nothing more', async () => {
    const q = 'cancel';
    const { jobs } = await spool.enqueue(q, [job('w'), job('d', { delayMs: 60_000 })]);
    const [w, d] = jobs.map((j) => j.id);
    const request = requestKey(prefix, q, 'cancel-1');
    const first = await spool.run(CANCEL, q, { id: w!, requestTtlMs: REQUEST_TTL_MS }, { request });
    expect(first).toEqual({ status: 'ok', state: 'waiting' });
    const again = await spool.run(CANCEL, q, { id: w!, requestTtlMs: REQUEST_TTL_MS }, { request });
    expect(again).toEqual(first);
    // a refusal is answered the same too, even when the job moved on in between
    const refusal = requestKey(prefix, q, 'cancel-2');
    await spool.runNow(q, d!);
    const lease = await spool.lease(q, { count: 1 });
    const no = await spool.run(CANCEL, q, { id: d!, requestTtlMs: REQUEST_TTL_MS }, { request: refusal });
    expect(no).toEqual({ status: 'conflict', state: 'active' });
    await spool.complete(q, [{ id: d!, token: lease.jobs[0]!.token }]);
    expect(await spool.run(CANCEL, q, { id: d!, requestTtlMs: REQUEST_TTL_MS }, { request: refusal })).toEqual(no);
    const [snap] = await spool.snapshot([q]);
    expect(snap).toMatchObject({ waiting: 0, delayed: 0, completed: 1 });
    expect(snap!.counters.cancelled).toBe(1);
    expect(await redis.zcard(queueKey(prefix, q, 'waitingSince'))).toBe(0);
    // through the operation: each call its own nonce
    expect(await spool.cancel(q, w!)).toEqual({ status: 'not_found' });
  });

  it('an ack repeated answers ok only while the job is where that ack put it (a new lease ends it)', async () => {
    const q = 'ack-life';
    const { jobs } = await spool.enqueue(q, job('once', { maxAttempts: 1 }));
    const id = jobs[0]!.id;
    const first = await spool.lease(q, { count: 1 });
    const t1 = first.jobs[0]!.token;
    const failed = { id, token: t1, error: { message: 'first life', retryable: false } };
    expect(await spool.fail(q, [failed])).toMatchObject([{ status: 'ok', state: 'dead' }]);
    expect(await spool.fail(q, [failed]), 'repeated: ok, unchanged').toMatchObject([{ status: 'ok', state: 'dead' }]);
    // replayed, leased again, and its lease expires: dead again, by no ack of t1
    await spool.replay(q, { ids: [id], dryRun: false });
    await spool.lease(q, { count: 1 });
    clock.advance(3_600_000);
    expect(await spool.reclaim(q)).toMatchObject({ leaseExpiredDead: 1 });
    // the model test found this answered ok (t1's ack token survived the second life)
    expect(await spool.fail(q, [failed])).toEqual([{ id, status: 'stale' }]);
    expect(await spool.complete(q, [{ id, token: t1 }])).toEqual([{ id, status: 'stale' }]);
  });
});
