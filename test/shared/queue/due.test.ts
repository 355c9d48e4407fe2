import { describe, expect, it } from 'vitest';
import { globalKey } from '../../../shared/queue/keys.js';
import { dueQueues, markDueBuilt } from '../../../shared/queue/ops/due.js';
import { harness, job } from '../../helpers/harness.js';

/**
 * Issue 14, item 4: the due index says, per queue, when it next needs a worker, so that the scheduled
 * run reads one index instead of every queue. Never later than the truth; exact after a lease.
 */
describe('the due index', () => {
  const { spool, clock, redis, prefix } = harness('due', { config: { leaseMs: 10_000, leaseGraceMs: 0 } });
  const due = (q: string) => redis.zscore(globalKey(prefix, 'due'), q).then((s) => (s === null ? null : Number(s)));

  it('enqueue: waiting jobs make the queue due now; delayed ones by their run-at, with wakeAt when sooner', async () => {
    const t0 = clock.now();
    const a = await spool.enqueue('d-delay', job('a', { delayMs: 60_000 }));
    expect(a.wakeAt).toBe(t0 + 60_000);
    expect(await due('d-delay')).toBe(t0 + 60_000);
    // later than the queue's first delayed job: no timer to move, the index keeps the earlier time
    const b = await spool.enqueue('d-delay', job('b', { delayMs: 120_000 }));
    expect(b.wakeAt).toBeUndefined();
    expect(await due('d-delay')).toBe(t0 + 60_000);
    const c = await spool.enqueue('d-delay', job('c', { delayMs: 5_000 }));
    expect(c.wakeAt).toBe(t0 + 5_000);
    expect(await due('d-delay')).toBe(t0 + 5_000);
    const w = await spool.enqueue('d-delay', job('w'));
    expect(w.wakeAt).toBeUndefined();
    expect(await due('d-delay')).toBe(t0);
    // the touched index (the registry) has the queue, scored at its last enqueue
    expect(Number(await redis.zscore(globalKey(prefix, 'touched'), 'd-delay'))).toBe(t0);
    expect(await spool.queues()).toContain('d-delay');
  });

  it('while a worker is marked running the queue stays due now, and an enqueue writes neither due nor touched', async () => {
    const q = 'd-touch';
    const touched = () => redis.zscore(globalKey(prefix, 'touched'), q).then(Number);
    const t0 = clock.now();
    await spool.enqueue(q, job('first'));
    expect(await touched()).toBe(t0);
    await spool.lease(q, { count: 1, workerMarkMs: 60_000 });
    // a worker marked running keeps its queue due now (the schedule finds it should the worker die)
    const leasedAt = clock.now();
    expect(await due(q)).toBe(leasedAt);
    clock.advance(1_000);
    await spool.enqueue(q, job('second'));
    expect(await touched()).toBe(t0);
    expect(await due(q)).toBe(leasedAt);
    // no worker marked: scored again
    await spool.lease(q, { count: 0, workerMarkMs: 1 });
    // the worker left: the entry is exact again (a job waits: now)
    expect(await due(q)).toBe(clock.now());
    clock.advance(1_000);
    await spool.enqueue(q, job('third'));
    expect(await touched()).toBe(clock.now());
  });

  it('a queue cleared while a worker is marked on it is registered and due again by the next enqueue', async () => {
    const q = 'd-clear';
    await spool.enqueue(q, job('a'));
    await spool.lease(q, { count: 1, workerMarkMs: 60_000 });
    const r = await spool.clear(q, { force: true, audit: { record: { by: 'test' }, cap: 10 } });
    expect(r).toMatchObject({ removed: { active: 1 }, unregistered: true });
    expect(await spool.queues()).not.toContain(q);
    // the worker is still running (it would lease again); an enqueue now registers the queue and makes it due
    await spool.enqueue(q, job('b'));
    expect(await spool.queues()).toContain(q);
    expect(await due(q)).toBe(clock.now());
  });

  it('a lease sets the entry exactly; acks leave it early; the next lease of nothing removes it', async () => {
    const q = 'd-lease';
    const t0 = clock.now();
    await spool.enqueue(q, [job('x'), job('y')]);
    const l = await spool.lease(q, { count: 2 });
    expect(l.jobs).toHaveLength(2);
    // nothing waits: due at the first lease deadline
    const deadline = Math.min(...l.jobs.map((j) => j.leaseUntil!));
    expect(deadline).toBeGreaterThan(t0);
    expect(await due(q)).toBe(deadline);
    clock.advance(1_000);
    await spool.complete(q, [{ id: l.jobs[0]!.id, token: l.jobs[0]!.token }]);
    const f = await spool.failReport(q, [
      { id: l.jobs[1]!.id, token: l.jobs[1]!.token, error: { message: 'x', class: 'E', retryable: true } },
    ]);
    const runAt = f.results[0]!.runAt!;
    expect(f.results[0]!.state).toBe('delayed');
    // the retry is the queue's first delayed job: its timer must be armed
    expect(f.wakeAt).toBe(runAt);
    expect(await due(q)).toBe(Math.min(runAt, deadline));
    clock.set(runAt + 1);
    const again = await spool.lease(q, { count: 1 });
    expect(again.promoted).toBe(1);
    expect(await due(q)).toBe(again.jobs[0]!.leaseUntil);
    await spool.complete(q, [{ id: again.jobs[0]!.id, token: again.jobs[0]!.token }]);
    await spool.lease(q, { count: 1 });
    expect(await due(q)).toBeNull();
  });

  it('an expired lease is found through the index, and a run-now or a replay makes the queue due now', async () => {
    const q = 'd-expire';
    await spool.enqueue(q, job('z', { maxAttempts: 1 }));
    const l = await spool.lease(q, { count: 1 });
    const deadline = l.jobs[0]!.leaseUntil!;
    clock.set(deadline - 1);
    expect((await dueQueues(spool)).queues).not.toContain(q);
    clock.set(deadline + 1);
    expect((await dueQueues(spool)).queues).toContain(q);
    const r = await spool.reclaim(q);
    expect(r.leaseExpiredDead).toBe(1);
    expect(await due(q)).toBeNull();
    const t = clock.now();
    await spool.replay(q, { dryRun: false });
    expect(await due(q)).toBe(t);
    // the replayed job leased: due at its lease deadline, until a delayed job is run now
    const held = await spool.lease(q, { count: 1 });
    expect(await due(q)).toBe(held.jobs[0]!.leaseUntil);
    await spool.enqueue(q, job('later', { delayMs: 600_000 }));
    const later = await spool.list(q, 'delayed');
    clock.advance(10);
    expect((await spool.runNow(q, later.jobs[0]!.id)).status).toBe('ok');
    expect(await due(q)).toBe(clock.now());
  });

  it('is marked built once every queue has had its entry set', async () => {
    expect((await dueQueues(spool)).built).toBe(false);
    await markDueBuilt(spool);
    const d = await dueQueues(spool);
    expect(d.built).toBe(true);
    expect(d.queues.every((n) => /^[A-Za-z0-9_-]+$/.test(n))).toBe(true);
  });
});
