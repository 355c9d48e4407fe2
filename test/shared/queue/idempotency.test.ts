import { describe, expect, it } from 'vitest';
import { IdempotencyConflictError, queueKey } from '../../../shared/queue/index.js';
import { harness, job } from '../../helpers/harness.js';

/** Issue 9, item 2: an idempotency key points only at a live job, and a duplicate tells the job's real state. */
describe('idempotency keys point only at live jobs', () => {
  const { spool, clock, redis, prefix } = harness('idem-live', {
    config: { idempotencyWindowMs: 3_600_000, completedRetentionMs: 0, deadCap: 2, deadTtlMs: 86_400_000 },
  });
  const mapping = (q: string, key: string) => redis.hget<string>(queueKey(prefix, q, 'idempotency'), key);
  const expiry = (q: string, key: string) => redis.zscore(queueKey(prefix, q, 'idempotencyExpiry'), key);
  const one = async (q: string, payload: unknown, key: string) =>
    (await spool.enqueue(q, job(payload, { idempotencyKey: key }))).jobs[0]!;

  it('a cancelled job gives its key up: the same key then enqueues a new job', async () => {
    const q = 'cancel';
    const a = await one(q, 'p', 'k1');
    expect(await spool.cancel(q, a.id)).toEqual({ status: 'ok', state: 'waiting' });
    expect(await mapping(q, 'k1')).toBeNull();
    expect(await expiry(q, 'k1')).toBeNull();
    const b = await one(q, 'p', 'k1');
    expect(b).toMatchObject({ deduplicated: false, state: 'waiting' });
    expect(b.id).not.toBe(a.id);
    expect(await spool.get(q, b.id)).toMatchObject({ state: 'waiting', payload: 'p' });
    expect(await mapping(q, 'k1')).toBe(b.id);
  });

  it('a completed job purged inside the window gives its key up', async () => {
    const q = 'purged';
    const a = await one(q, 'p', 'k2');
    const [l] = (await spool.lease(q, { count: 1 })).jobs;
    await spool.complete(q, [{ id: l!.id, token: l!.token }]);
    clock.advance(1);
    expect((await spool.purge(q)).completed).toBe(1);
    expect(await mapping(q, 'k2')).toBeNull();
    const b = await one(q, 'p', 'k2');
    expect(b).toMatchObject({ deduplicated: false, state: 'waiting' });
    expect(b.id).not.toBe(a.id);
  });

  it('deleted and trimmed dead jobs give their keys up', async () => {
    const q = 'dead';
    const ids: string[] = [];
    for (const k of ['d1', 'd2', 'd3']) {
      ids.push((await one(q, k, k)).id);
      const [l] = (await spool.lease(q, { count: 1 })).jobs;
      clock.advance(1);
      await spool.fail(q, [{ id: l!.id, token: l!.token, error: { message: 'no', retryable: false } }]);
    }
    // the cap of 2 trimmed d1 when d3 died
    expect(await spool.get(q, ids[0]!)).toBeNull();
    expect(await mapping(q, 'd1')).toBeNull();
    expect(await mapping(q, 'd2')).toBe(ids[1]);
    expect(await spool.deleteDead(q, [ids[1]!])).toEqual([ids[1]]);
    expect(await mapping(q, 'd2')).toBeNull();
    expect(await expiry(q, 'd2')).toBeNull();
    expect(await mapping(q, 'd3')).toBe(ids[2]);
    for (const k of ['d1', 'd2']) expect((await one(q, k, k)).deduplicated).toBe(false);
    expect(await one(q, 'd3', 'd3')).toEqual({ id: ids[2], deduplicated: true, state: 'dead' });
  });

  it('a key whose job is gone by any other way is absent', async () => {
    const q = 'gone';
    const a = await one(q, 'p', 'k3');
    // The records vanish without the engine (an operator's DEL, a half-restored backup).
    await redis.hdel(queueKey(prefix, q, 'meta'), a.id);
    await redis.hdel(queueKey(prefix, q, 'jobs'), a.id);
    await redis.zrem(queueKey(prefix, q, 'waiting'), a.id);
    await redis.zrem(queueKey(prefix, q, 'waitingSince'), a.id);
    const b = await one(q, 'p', 'k3');
    expect(b.deduplicated).toBe(false);
    expect(await mapping(q, 'k3')).toBe(b.id);
  });

  it('a duplicate answers with the real state of the job', async () => {
    const q = 'state';
    const a = await one(q, 'p', 'k4');
    expect(a.state).toBe('waiting');
    expect(await one(q, 'p', 'k4')).toEqual({ id: a.id, deduplicated: true, state: 'waiting' });
    const [l] = (await spool.lease(q, { count: 1 })).jobs;
    expect(await one(q, 'p', 'k4')).toEqual({ id: a.id, deduplicated: true, state: 'active' });
    await spool.fail(q, [{ id: l!.id, token: l!.token, error: { message: 'x', retryable: true } }]);
    expect(await one(q, 'p', 'k4')).toEqual({ id: a.id, deduplicated: true, state: 'delayed' });
    const d = await spool.enqueue(q, job('later', { idempotencyKey: 'k5', delayMs: 60_000 }));
    expect(d.jobs[0]!.state).toBe('delayed');
    expect((await spool.enqueue(q, job('later', { idempotencyKey: 'k5', delayMs: 60_000 }))).jobs[0]!.state).toBe(
      'delayed',
    );
  });

  it('the same key with a different job inside the window is a 409 naming idempotencyKey; nothing is written', async () => {
    const q = 'conflict';
    const a = await one(q, { n: 1 }, 'k6');
    const err = await spool.enqueue(q, job({ n: 2 }, { idempotencyKey: 'k6' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdempotencyConflictError);
    expect(err).toMatchObject({
      status: 409,
      code: 'idempotency_conflict',
      details: { field: 'idempotencyKey', id: a.id },
    });
    // in a batch: the field names the job, and no job of the batch is written
    const berr = await spool
      .enqueue(q, [job('fresh'), job({ n: 3 }, { idempotencyKey: 'k6' })])
      .catch((e: unknown) => e);
    expect(berr).toMatchObject({ status: 409, details: { field: 'jobs[1].idempotencyKey', id: a.id } });
    // two jobs of one batch with the same key and different payloads
    const cerr = await spool
      .enqueue(q, [job('x', { idempotencyKey: 'k7' }), job('y', { idempotencyKey: 'k7' })])
      .catch((e: unknown) => e);
    expect(cerr).toMatchObject({ status: 409, details: { field: 'jobs[1].idempotencyKey' } });
    const [snap] = await spool.snapshot([q]);
    expect(snap!.waiting).toBe(1);
    expect(snap!.counters.enqueued).toBe(1);
    expect(await mapping(q, 'k7')).toBeNull();
    // the same job again (payload, handler) is a duplicate; other options of a duplicate are ignored
    const again = await spool.enqueue(q, job({ n: 1 }, { idempotencyKey: 'k6', priority: 7 }));
    expect(again.jobs[0]).toEqual({ id: a.id, deduplicated: true, state: 'waiting' });
  });
});
