import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { Spool } from '../../../shared/queue/index.js';
import { job } from '../../helpers/harness.js';
import { cleanupPrefix, testRedis, uniquePrefix } from '../../helpers/redis.js';

/**
 * Issue 9, item 4: one clock. Due times, lease deadlines and expiry are the Redis server's (TIME inside
 * the scripts), so a worker or producer whose own clock is wrong cannot disagree with the others.
 * A process's clock is moved with fake Dates (only Date is faked; timers and I/O are real).
 */
describe('one clock: the Redis server', () => {
  const prefix = uniquePrefix('clock');
  const redis = testRedis();
  // A process of the deployment (producer or worker) without a test clock: the engine as deployed,
  // made after skew() so that it lives with the skewed clock from its start.
  const instance = () => new Spool(testRedis(), { config: { prefix, leaseMs: 30_000, leaseGraceMs: 0 } });
  afterAll(() => cleanupPrefix(prefix));
  afterEach(() => {
    vi.useRealTimers();
  });

  /** The server's clock in epoch ms. */
  const serverMs = async () => {
    const [s, us] = await redis.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  };
  const skew = (ms: number) => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + ms);
  };

  it('stamps jobs and leases with the server clock, whatever the caller clock says', async () => {
    const q = 'stamps';
    skew(-3_600_000); // this producer's clock is an hour behind
    const producer = instance();
    const t0 = await serverMs();
    const { jobs } = await producer.enqueue(q, [job('now'), job('soon', { delayMs: 60_000 })]);
    const t1 = await serverMs();
    const [now, soon] = await producer.getMany(
      q,
      jobs.map((j) => j.id),
    );
    expect(now!.createdAt).toBeGreaterThanOrEqual(t0);
    expect(now!.createdAt).toBeLessThanOrEqual(t1);
    // a delay counts from the server's now: not due an hour early
    expect(soon!.state).toBe('delayed');
    expect(soon!.runAt).toBeGreaterThanOrEqual(t0 + 60_000);
    expect(soon!.runAt).toBeLessThanOrEqual(t1 + 60_000);
    vi.useRealTimers();
    skew(3_600_000); // this worker's clock is an hour ahead
    const worker = instance();
    const l0 = await serverMs();
    const leased = await worker.lease(q, { count: 10 });
    const l1 = await serverMs();
    expect(leased.jobs.map((j) => j.payload)).toEqual(['now']);
    const lu = leased.jobs[0]!.leaseUntil!;
    expect(lu).toBeGreaterThanOrEqual(l0 + 30_000);
    expect(lu).toBeLessThanOrEqual(l1 + 30_000);
    const [snap] = await worker.snapshot([q]);
    expect(snap!.at).toBeGreaterThanOrEqual(l1);
    expect(snap!.at).toBeLessThan(l1 + 3_600_000);
    expect(snap!.leaseExpired).toBe(0);
  });

  it('a worker whose clock runs ahead does not reclaim leases their holders still hold', async () => {
    const q = 'ahead';
    const a = instance();
    await a.enqueue(q, job('held'));
    const {
      jobs: [held],
    } = await a.lease(q, { count: 1 });
    skew(3_600_000); // worker b's clock: an hour ahead of everyone's
    const b = instance();
    const r = await b.reclaim(q);
    expect(r).toMatchObject({ leaseExpired: 0, leaseExpiredDead: 0 });
    expect(await b.lease(q, { count: 10 })).toMatchObject({ jobs: [], leaseExpired: 0 });
    vi.useRealTimers();
    expect(await a.complete(q, [{ id: held!.id, token: held!.token }])).toEqual([{ id: held!.id, status: 'ok' }]);
  });

  it('a lease capped by the end of an invocation is capped by the time left, not by a clock reading', async () => {
    const q = 'capped';
    await instance().enqueue(q, job('capped'));
    skew(3_600_000);
    const a = instance();
    // the invocation ends 10 s from now by this process's clock
    const l0 = await serverMs();
    const {
      jobs: [j],
    } = await a.lease(q, { count: 1, leaseUntilMax: Date.now() + 10_000 });
    const l1 = await serverMs();
    expect(j!.leaseUntil).toBeGreaterThanOrEqual(l0 + 9_000);
    expect(j!.leaseUntil).toBeLessThanOrEqual(l1 + 10_000);
  });
});
