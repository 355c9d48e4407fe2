import { Redis } from '@upstash/redis';
import { describe, expect, it } from 'vitest';
import { Spool } from '../../../shared/queue/index.js';
import { harness, job } from '../../helpers/harness.js';
import { privateStack } from '../../helpers/private-redis.js';

/** Commands Redis ran (INFO commandstats: inner script commands included) during fn, INFO itself excluded. */
async function commandsOf(
  admin: ReturnType<Awaited<ReturnType<typeof privateStack>>['redis']['admin']>,
  fn: () => Promise<unknown>,
) {
  const total = async () =>
    [...(await admin.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].reduce(
      (n, m) => n + (m[1] === 'info' ? 0 : Number(m[2])),
      0,
    );
  const before = await total();
  await fn();
  return (await total()) - before;
}

/**
 * Issue 14, item 5: retention enforced as jobs complete (removal keeps up at any completion rate),
 * and a purge with nothing to do reads a few sizes instead of scanning the queue.
 */
describe('retention without scanning', () => {
  const { spool, clock } = harness('retention', { config: { completedRetentionMs: 60_000 } });

  it('completed records stay bounded at a completion rate no hourly purge could keep up with', async () => {
    const q = 'fast';
    // 50 jobs a second for 5 minutes of the test clock, completed in batches of 10; never purged
    let most = 0;
    for (let s = 0; s < 300; s++) {
      clock.advance(1_000);
      await spool.enqueue(
        q,
        Array.from({ length: 50 }, (_, i) => job(i)),
        { kick: false },
      );
      for (let b = 0; b < 5; b++) {
        const { jobs } = await spool.lease(q, { count: 10 });
        await spool.complete(
          q,
          jobs.map((j) => ({ id: j.id, token: j.token })),
        );
      }
      if (s % 30 === 29) most = Math.max(most, (await spool.snapshot([q]))[0]!.completed);
    }
    const [snap] = await spool.snapshot([q]);
    expect(snap!.counters.completed).toBe(15_000);
    // the retention window holds 60 s x 50 jobs = 3,000; what trails it is at most one trim's worth
    expect(most).toBeLessThanOrEqual(3_000 + 150);
    expect(snap!.completed).toBeGreaterThanOrEqual(3_000);
  }, 60_000);
});

describe('a purge with nothing to do', () => {
  it('costs at most 10 commands, with 500 completed jobs inside their retention (no orphan sweep)', async () => {
    const stack = await privateStack();
    try {
      const spool = new Spool(new Redis({ ...stack.credentials, retry: false }), {
        config: { prefix: 'p', completedRetentionMs: 3_600_000 },
      });
      const admin = stack.redis.admin();
      await spool.enqueue(
        'q',
        Array.from({ length: 500 }, (_, i) => job(i)),
        { kick: false },
      );
      const { jobs } = await spool.lease('q', { count: 500 });
      await spool.complete(
        'q',
        jobs.map((j) => ({ id: j.id, token: j.token })),
      );
      // the first purge of a queue sweeps it for orphans once (no sweep finished yet), over a few calls
      let rounds = 0;
      for (let more = true; more && rounds < 20; rounds++) {
        const r = await spool.purge('q');
        expect(r).toMatchObject({ completed: 0, orphans: 0, jobs: 500 });
        more = r.more;
      }
      expect(rounds).toBeLessThan(20);
      const n = await commandsOf(admin, () => spool.purge('q'));
      expect(n).toBeLessThanOrEqual(10);
      // sizes that disagree start a sweep: a spec without its meta record is found and removed
      await admin.hset('p:{q}:jobs', 'lost', '{}');
      let orphans = 0;
      for (let more = true, i = 0; more && i < 20; i++) {
        const r = await spool.purge('q');
        orphans += r.orphans;
        more = r.more;
      }
      expect(orphans).toBe(1);
      const after = await commandsOf(admin, () => spool.purge('q'));
      expect(after).toBeLessThanOrEqual(10);
    } finally {
      await stack.stop();
    }
  }, 30_000);
});
