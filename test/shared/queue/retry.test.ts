import { Redis } from '@upstash/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueKey, Spool } from '../../../shared/queue/index.js';
import { claimTimer } from '../../../shared/queue/ops/timer.js';
import { COMPLETE, FAIL, RELEASE } from '../../../shared/queue/scripts/ack.js';
import { DELETE_DEAD, REPLAY } from '../../../shared/queue/scripts/dead.js';
import { ENQUEUE } from '../../../shared/queue/scripts/enqueue.js';
import { CANCEL, RUN_NOW } from '../../../shared/queue/scripts/jobs.js';
import { LEASE } from '../../../shared/queue/scripts/lease.js';
import { PURGE } from '../../../shared/queue/scripts/purge.js';
import { CLAIM_TIMER } from '../../../shared/queue/scripts/timer.js';
import { harness, job } from '../../helpers/harness.js';
import { carries, type DroppingProxy, startDroppingProxy } from '../../helpers/proxy.js';
import { upstashConfig } from '../../helpers/redis.js';

/**
 * Issue 9, item 3, through the network: a proxy lets each request reach Redis and drops the first
 * reply, so `@upstash/redis` (default retry) sends the request again. The second run must change
 * nothing more, and answer what the first did.
 */
describe('a request retried after its reply was lost', () => {
  const {
    spool: direct,
    clock,
    prefix,
  } = harness('retry', {
    config: { completedRetentionMs: 0, backoffBaseMs: 1_000 },
  });
  let proxy: DroppingProxy;
  let spool: Spool;

  beforeAll(async () => {
    // Redis knows every script already, so the first run of each call is an EVALSHA that runs it
    // (a NOSCRIPT answer is not what these tests drop).
    for (const s of [ENQUEUE, LEASE, COMPLETE, FAIL, RELEASE, CLAIM_TIMER, REPLAY, PURGE, CANCEL, DELETE_DEAD, RUN_NOW])
      await direct.redis.scriptLoad(s.source);
    proxy = await startDroppingProxy(upstashConfig().url);
    // @upstash/redis at its defaults (5 retries), through the proxy; same prefix and clock as `direct`
    spool = new Spool(new Redis({ url: proxy.url, token: upstashConfig().token }), {
      config: { ...direct.config },
      clock: () => clock.now(),
    });
  });
  afterAll(async () => {
    await proxy.close();
  });

  /** The requests the proxy saw carrying `script`: [dropped, ...]. */
  const sent = (script: { name: string; sha1: string }) =>
    proxy.requests.filter((r) => carries(script)(r.body)).map((r) => r.dropped);

  it('enqueue: a job a worker took in between is not reset', async () => {
    const q = 'enqueue';
    let taken: Awaited<ReturnType<Spool['lease']>> | undefined;
    proxy.dropNextReply(carries(ENQUEUE), async () => {
      taken = await direct.lease(q, { count: 10 });
    });
    const out = await spool.enqueue(q, [job('a'), job('b', { idempotencyKey: 'key-b' })]);
    expect(sent(ENQUEUE)).toEqual([true, false]);
    expect(taken!.jobs).toHaveLength(2);
    expect(out.jobs).toEqual([
      { id: taken!.jobs[0]!.id, deduplicated: false, state: 'active' },
      { id: taken!.jobs[1]!.id, deduplicated: false, state: 'active' },
    ]);
    const [snap] = await direct.snapshot([q]);
    expect(snap).toMatchObject({ waiting: 0, active: 2 });
    expect(snap!.counters.enqueued).toBe(2);
    const acks = await direct.complete(
      q,
      taken!.jobs.map((j) => ({ id: j.id, token: j.token })),
    );
    expect(acks.map((a) => a.status)).toEqual(['ok', 'ok']);
  });

  it('lease: answers the jobs the first run leased, and leases no more', async () => {
    const q = 'lease';
    await direct.enqueue(
      q,
      Array.from({ length: 5 }, (_, i) => job(i)),
    );
    proxy.dropNextReply(carries(LEASE));
    const l = await spool.lease(q, { count: 2 });
    expect(sent(LEASE)).toEqual([true, false]);
    expect(l.jobs.map((j) => [j.payload, j.attempts])).toEqual([
      [0, 1],
      [1, 1],
    ]);
    const [snap] = await direct.snapshot([q]);
    expect(snap).toMatchObject({ waiting: 3, active: 2 });
    const acks = await direct.complete(
      q,
      l.jobs.map((j) => ({ id: j.id, token: j.token })),
    );
    expect(acks.map((a) => a.status)).toEqual(['ok', 'ok']);
  });

  it('release: answered ok, the attempt refunded once', async () => {
    const q = 'release';
    await direct.enqueue(q, job('r'));
    const {
      jobs: [r],
    } = await direct.lease(q, { count: 1 });
    proxy.dropNextReply(carries(RELEASE));
    expect(await spool.release(q, [{ id: r!.id, token: r!.token }])).toEqual([{ id: r!.id, status: 'ok' }]);
    expect(sent(RELEASE)).toEqual([true, false]);
    expect(await direct.get(q, r!.id)).toMatchObject({ state: 'waiting', attempts: 0 });
  });

  it("claimTimer: the retried call is still the claim (its timer is armed), another caller's is not", async () => {
    const q = 'claim';
    proxy.dropNextReply(carries(CLAIM_TIMER));
    const first = await claimTimer(spool, q, 5_000);
    expect(sent(CLAIM_TIMER)).toEqual([true, false]);
    expect(first).toEqual({ claimed: true, at: clock.now() + 5_000 });
    expect(await claimTimer(direct, q, 5_000)).toEqual({ claimed: false, at: first.at });
    expect((await claimTimer(direct, q, 1_000)).claimed).toBe(true);
  });

  it('reclaim: answers what the first run promoted and reclaimed', async () => {
    const q = 'reclaim';
    await direct.enqueue(q, [job('spent', { maxAttempts: 1 }), job('again'), job('later', { delayMs: 1_000 })]);
    await direct.lease(q, { count: 2, leaseMs: 1_000 });
    clock.advance(60_000);
    proxy.dropNextReply(carries(LEASE));
    const r = await spool.reclaim(q);
    expect(sent(LEASE).slice(-2)).toEqual([true, false]);
    expect(r).toMatchObject({ promoted: 1, leaseExpired: 1, leaseExpiredDead: 1, waiting: 2 });
    const [snap] = await direct.snapshot([q]);
    expect(snap).toMatchObject({ waiting: 2, dead: 1, active: 0 });
    expect(snap!.counters.leaseExpired).toBe(1);
  });

  it('complete and fail: answered ok, applied once', async () => {
    const q = 'ack';
    await direct.enqueue(q, [job('c'), job('f')]);
    const {
      jobs: [c, f],
    } = await direct.lease(q, { count: 2 });
    proxy.dropNextReply(carries(COMPLETE));
    expect(await spool.complete(q, [{ id: c!.id, token: c!.token }])).toEqual([{ id: c!.id, status: 'ok' }]);
    expect(sent(COMPLETE)).toEqual([true, false]);
    proxy.dropNextReply(carries(FAIL));
    const [r] = await spool.fail(q, [{ id: f!.id, token: f!.token, error: { message: 'once', retryable: true } }]);
    expect(sent(FAIL)).toEqual([true, false]);
    expect(r).toMatchObject({ id: f!.id, status: 'ok', state: 'delayed' });
    const [snap] = await direct.snapshot([q]);
    expect(snap!.counters).toMatchObject({ completed: 1, failed: 1, retried: 1 });
    expect((await direct.get(q, f!.id))!.runAt).toBe(r!.runAt);
  });

  it('replay: moves the first selection once and audits it once', async () => {
    const q = 'replay';
    await direct.enqueue(
      q,
      Array.from({ length: 4 }, (_, i) => job(i)),
    );
    const { jobs } = await direct.lease(q, { count: 4 });
    await direct.fail(
      q,
      jobs.map((j) => ({ id: j.id, token: j.token, error: { message: 'gone', retryable: false } })),
    );
    proxy.dropNextReply(carries(REPLAY));
    const r = await spool.replay(
      q,
      { dryRun: false, limit: 2 },
      { audit: { record: { actor: 'test', requestId: 'req-1', queue: q }, cap: 100 } },
    );
    expect(sent(REPLAY)).toEqual([true, false]);
    expect(r).toMatchObject({ matched: 2, moved: 2 });
    const [snap] = await direct.snapshot([q]);
    expect(snap).toMatchObject({ dead: 2, waiting: 2 });
    expect(snap!.counters.replayed).toBe(2);
    const audit = (
      await direct.redis.lrange<Record<string, unknown>>(queueKey(prefix, q, 'auditDlqReplay'), 0, -1)
    ).filter((a) => a.queue === q);
    expect(audit).toEqual([expect.objectContaining({ requestId: 'req-1', moved: 2, matched: 2 })]);
  });

  it('purge: answers what the first run removed', async () => {
    const q = 'purge';
    await direct.enqueue(
      q,
      Array.from({ length: 3 }, (_, i) => job(i)),
    );
    const { jobs } = await direct.lease(q, { count: 3 });
    await direct.complete(
      q,
      jobs.map((j) => ({ id: j.id, token: j.token })),
    );
    clock.advance(1);
    proxy.dropNextReply(carries(PURGE));
    const r = await spool.purge(q, { limit: 10 });
    expect(sent(PURGE)).toEqual([true, false]);
    expect(r.completed).toBe(3);
    expect((await direct.snapshot([q]))[0]!.completed).toBe(0);
  });

  it('cancel: answers ok with the state the job was in, cancelled once', async () => {
    const q = 'cancel';
    const { jobs } = await direct.enqueue(q, job('c', { idempotencyKey: 'key-c' }));
    proxy.dropNextReply(carries(CANCEL));
    expect(await spool.cancel(q, jobs[0]!.id)).toEqual({ status: 'ok', state: 'waiting' });
    expect(sent(CANCEL)).toEqual([true, false]);
    const [snap] = await direct.snapshot([q]);
    expect(snap).toMatchObject({ waiting: 0 });
    expect(snap!.counters.cancelled).toBe(1);
  });

  it('runNow: answers ok (not a conflict with the waiting job it made)', async () => {
    const q = 'run-now';
    const { jobs } = await direct.enqueue(q, job('later', { delayMs: 60_000 }));
    proxy.dropNextReply(carries(RUN_NOW));
    expect(await spool.runNow(q, jobs[0]!.id)).toEqual({ status: 'ok', state: 'delayed' });
    expect(sent(RUN_NOW)).toEqual([true, false]);
    expect(await direct.snapshot([q])).toMatchObject([{ waiting: 1, delayed: 0 }]);
  });

  it('deleteDead: answers the ids the first run deleted', async () => {
    const q = 'delete';
    await direct.enqueue(q, [job('x'), job('y')]);
    const { jobs } = await direct.lease(q, { count: 2 });
    await direct.fail(
      q,
      jobs.map((j) => ({ id: j.id, token: j.token, error: { message: 'gone', retryable: false } })),
    );
    const ids = jobs.map((j) => j.id);
    proxy.dropNextReply(carries(DELETE_DEAD));
    expect(await spool.deleteDead(q, ids)).toEqual(ids);
    expect(sent(DELETE_DEAD)).toEqual([true, false]);
    expect((await direct.snapshot([q]))[0]!.dead).toBe(0);
    expect(await direct.redis.hlen(queueKey(prefix, q, 'deadFingerprints'))).toBe(0);
  });
});
