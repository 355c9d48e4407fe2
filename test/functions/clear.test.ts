import { describe, expect, it } from 'vitest';
import { createPurgeHandler } from '../../functions/purge/handler.js';
import { globalKey, queueKey, REQUEST_TTL_MS, requestKey } from '../../shared/queue/keys.js';
import { isRegistered } from '../../shared/queue/ops/snapshot.js';
import { CLEAR } from '../../shared/queue/scripts/clear.js';
import { apiEvent, json, lambdaContext } from '../helpers/fixtures.js';
import { testRuntime } from '../helpers/runtime.js';

/** Issue 12: DELETE /v1/queues/{queue}?confirm=<queue>[&includeDead=true][&force=true]. */
describe('clear a queue', async () => {
  const { rt, prefix } = await testRuntime('clear');
  const spool = rt.spool;
  const purge = createPurgeHandler(rt);
  const call = async (...a: Parameters<typeof apiEvent>) => json(await purge(apiEvent(...a), lambdaContext()));
  const job = (extra: Record<string, unknown> = {}) => ({ handler: 'echo', payload: {}, ...extra });
  const audit = async (q: string) =>
    (await spool.redis.lrange(queueKey(prefix, q, 'auditDlqReplay'), 0, -1)) as unknown as Array<
      Record<string, unknown>
    >;

  /** Two waiting (one with an idempotency key), one delayed, one dead, one completed. */
  const arrange = async (q: string) => {
    await spool.enqueue(q, [job({ idempotencyKey: 'k-1' }), job(), job({ delayMs: 60_000 })]);
    await spool.enqueue(q, [job({ maxAttempts: 1 }), job()]);
    // the two of the second call are behind the first two: lease all four waiting, kill one, complete one
    const l = await spool.lease(q, { count: 4 });
    const [a, b, c, d] = l.jobs;
    await spool.fail(q, [{ id: c!.id, token: c!.token, error: { message: 'x', retryable: false } }]);
    await spool.complete(q, [{ id: d!.id, token: d!.token }]);
    await spool.release(q, [
      { id: a!.id, token: a!.token },
      { id: b!.id, token: b!.token },
    ]);
    return { ids: [a!.id, b!.id, c!.id, d!.id] };
  };

  it('400 without the confirmation (or with another name), naming confirm; nothing is removed', async () => {
    await arrange('c1');
    for (const query of ['', 'confirm=other', 'confirm=c1&force=yes']) {
      const r = await call('DELETE', '/v1/queues/c1', { query });
      expect(r.status, query).toBe(400);
      expect(r.body.error.details.field, query).toBe(query.includes('force') ? 'force' : 'confirm');
    }
    expect((await spool.snapshot(['c1']))[0]).toMatchObject({ waiting: 2, delayed: 1, dead: 1, completed: 1 });
    expect(await audit('c1')).toEqual([]);
  });

  it('removes waiting and delayed jobs with their idempotency keys; dead and completed stay; audited', async () => {
    const { ids } = await arrange('c2');
    const r = await call('DELETE', '/v1/queues/c2', { query: 'confirm=c2', caller: 'arn:aws:iam::1:user/ops' });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      queue: 'c2',
      removed: { waiting: 2, delayed: 1, active: 0, dead: 0 },
      left: 2,
      unregistered: false,
    });
    expect((await spool.snapshot(['c2']))[0]).toMatchObject({ waiting: 0, delayed: 0, dead: 1, completed: 1 });
    expect(await spool.get('c2', ids[0]!)).toBeNull();
    expect(await spool.redis.hget(queueKey(prefix, 'c2', 'idempotency'), 'k-1')).toBeNull();
    expect(await spool.redis.zcard(queueKey(prefix, 'c2', 'waitingSince'))).toBe(0);
    expect(await spool.redis.zscore(globalKey(prefix, 'due'), 'c2')).toBeNull();
    const [rec] = await audit('c2');
    expect(rec).toMatchObject({
      actor: 'arn:aws:iam::1:user/ops',
      queue: 'c2',
      action: 'clear',
      selection: { includeDead: false, force: false },
      removed: { waiting: 2, delayed: 1, active: 0, dead: 0 },
      unregistered: false,
    });
    expect(rec!.at).toMatch(/Z$/);
    // the key is free again: a new job takes it
    const again = await spool.enqueue('c2', job({ idempotencyKey: 'k-1' }));
    expect(again.jobs[0]!.deduplicated).toBe(false);
  });

  it('includeDead removes the dead ones; a queue left with only completed jobs stays registered', async () => {
    await arrange('c3');
    const r = await call('DELETE', '/v1/queues/c3', { query: 'confirm=c3&includeDead=true' });
    expect(r.body).toMatchObject({ removed: { waiting: 2, delayed: 1, dead: 1 }, left: 1, unregistered: false });
    expect((await spool.deadGroups('c3')).total).toBe(0);
    expect(await spool.redis.hlen(queueKey(prefix, 'c3', 'deadFingerprints'))).toBe(0);
    expect(await spool.redis.zcard(queueKey(prefix, 'c3', 'deadIndex'))).toBe(0);
    expect(await isRegistered(spool, 'c3')).toBe(true);
  });

  it('a queue left empty leaves the registry; an enqueue brings it back', async () => {
    await spool.enqueue('c4', [job(), job({ delayMs: 1000 })]);
    expect(await isRegistered(spool, 'c4')).toBe(true);
    const r = await call('DELETE', '/v1/queues/c4', { query: 'confirm=c4' });
    expect(r.body).toMatchObject({ removed: { waiting: 1, delayed: 1 }, left: 0, unregistered: true });
    expect(await isRegistered(spool, 'c4')).toBe(false);
    expect(await spool.queues()).not.toContain('c4');
    await spool.enqueue('c4', job());
    expect(await isRegistered(spool, 'c4')).toBe(true);
  });

  it('409 while jobs are active, writing nothing; force removes them and their ack is stale', async () => {
    await spool.enqueue('c5', [job(), job()]);
    const held = await spool.lease('c5', { count: 1 });
    const r = await call('DELETE', '/v1/queues/c5', { query: 'confirm=c5&includeDead=true' });
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'conflict', details: { active: 1 } });
    expect((await spool.snapshot(['c5']))[0]).toMatchObject({ waiting: 1, active: 1 });
    expect(await audit('c5')).toEqual([]);
    const f = await call('DELETE', '/v1/queues/c5', { query: 'confirm=c5&force=true' });
    expect(f.status).toBe(200);
    expect(f.body).toMatchObject({ removed: { waiting: 1, delayed: 0, active: 1, dead: 0 }, left: 0 });
    const [ack] = await spool.complete('c5', [{ id: held.jobs[0]!.id, token: held.jobs[0]!.token }]);
    expect(ack!.status).not.toBe('ok');
    expect((await spool.snapshot(['c5']))[0]).toMatchObject({ waiting: 0, active: 0, completed: 0 });
  });

  it('run twice under one nonce (a retried call): the same answer, one audit record, nothing more removed', async () => {
    await spool.enqueue('c6', [job(), job()]);
    const args = {
      includeDead: false,
      force: false,
      audit: { record: { actor: 't', queue: 'c6', action: 'clear' }, cap: 10 },
      requestTtlMs: REQUEST_TTL_MS,
    };
    const keys = { request: requestKey(prefix, 'c6', 'nonce-1') };
    const first = await spool.run(CLEAR, 'c6', args, keys);
    // a job enqueued between the first run and its retry is not cleared by the retry
    await spool.enqueue('c6', job());
    const again = await spool.run(CLEAR, 'c6', args, keys);
    expect(again).toEqual(first);
    expect(first).toMatchObject({ status: 'ok', waiting: 2 });
    expect((await spool.snapshot(['c6']))[0]!.waiting).toBe(1);
    expect(await audit('c6')).toHaveLength(1);
  });
});
