import { Redis } from '@upstash/redis';
import { describe, expect, it } from 'vitest';
import { queueKey, Spool } from '../../../shared/queue/index.js';
import { harness, job } from '../../helpers/harness.js';
import { privateStack } from '../../helpers/private-redis.js';

/** Kill `n` jobs of `q` with the failure `message` (its fingerprint), each at the spool's clock. */
async function kill(spool: Spool, q: string, n: number, message: string): Promise<string[]> {
  const ids: string[] = [];
  for (let done = 0; done < n; done += 500) {
    const size = Math.min(500, n - done);
    await spool.enqueue(
      q,
      Array.from({ length: size }, (_, i) => job(i, { maxAttempts: 1 })),
      { kick: false },
    );
    const { jobs } = await spool.lease(q, { count: size });
    await spool.fail(
      q,
      jobs.map((j) => ({ id: j.id, token: j.token, error: { message, class: 'E', retryable: false } })),
    );
    ids.push(...jobs.map((j) => j.id));
  }
  return ids;
}

/** Issue 14, item 6: selecting N dead jobs by fingerprint reads N jobs, not the DLQ. */
describe('replay selection by fingerprint', () => {
  const { spool, clock, redis, prefix } = harness('replay-index', { config: { deadCap: 100_000 } });
  const small = harness('replay-index-cap', { config: { deadCap: 5, deadTtlMs: 60_000 } });

  it('selects the fingerprint, oldest first, within the time range; replayed jobs leave the index', async () => {
    const q = 'sel';
    const early = await kill(spool, q, 3, 'broken b');
    clock.advance(1_000);
    const t1 = clock.now();
    await kill(spool, q, 20, 'noise a');
    const late = await kill(spool, q, 3, 'broken b');
    const fp = (await spool.deadGroups(q)).groups.find((g) => g.count === 6)!.fingerprint;
    const all = await spool.replay(q, { fingerprint: fp, limit: 10 });
    expect(all.jobs.map((j) => j.id)).toEqual([...[...early].sort(), ...[...late].sort()]);
    expect(all).toMatchObject({ matched: 6, scanned: 6, truncated: false });
    const after = await spool.replay(q, { fingerprint: fp, failedAfter: t1, limit: 10 });
    expect(after.jobs.map((j) => j.id).sort()).toEqual([...late].sort());
    const before = await spool.replay(q, { fingerprint: fp, failedBefore: t1 - 1, limit: 2 });
    expect(before.jobs.map((j) => j.id)).toEqual([...early].sort().slice(0, 2));
    const moved = await spool.replay(q, { fingerprint: fp, limit: 4, dryRun: false });
    expect(moved.moved).toBe(4);
    const left = await spool.replay(q, { fingerprint: fp, limit: 10 });
    expect(left.jobs.map((j) => j.id)).toEqual([...late].sort().slice(1));
    expect(left.scanned).toBe(2);
  });

  it('holds exactly the dead set through every way a dead job comes and goes', async () => {
    const q = 'whole';
    const check = async (s: Spool, pfx: string) => {
      const dead = (await s.redis.zrange(queueKey(pfx, q, 'dead'), 0, -1)).map(String).sort();
      const index = (await s.redis.zrange(queueKey(pfx, q, 'deadIndex'), 0, -1))
        .map((m) => String(m).slice(-36))
        .sort();
      expect(index).toEqual(dead);
    };
    await kill(spool, q, 8, 'one');
    await kill(spool, q, 4, 'two');
    await check(spool, prefix);
    const ids = (await spool.list(q, 'dead', { limit: 3 })).jobs.map((j) => j.id);
    await spool.deleteDead(q, ids);
    await check(spool, prefix);
    await spool.replay(q, { limit: 2, dryRun: false });
    await check(spool, prefix);
    // a lease that expires on the last attempt dies too
    await spool.enqueue(q, job('x', { maxAttempts: 1, timeoutMs: 1_000 }), { kick: false });
    const held = await spool.lease(q, { count: 1 });
    clock.set(held.jobs[0]!.leaseUntil! + 1);
    await spool.reclaim(q);
    await check(spool, prefix);
    // an orphan: its spec gone, the purge's sweep removes it with its entry
    const [orphan] = (await spool.list(q, 'dead', { limit: 1 })).jobs;
    await redis.hdel(queueKey(prefix, q, 'jobs'), orphan!.id);
    for (let more = true, i = 0; more && i < 10; i++) more = (await spool.purge(q)).more;
    await check(spool, prefix);
    // the cap trims the oldest, the TTL removes the rest
    await kill(small.spool, q, 9, 'three');
    await check(small.spool, small.prefix);
    small.clock.advance(120_000);
    await small.spool.purge(q);
    expect(await small.redis.zcard(queueKey(small.prefix, q, 'dead'))).toBe(0);
    await check(small.spool, small.prefix);
  });

  it('costs the same number of Redis commands for a DLQ of 300 and of 3,000', async () => {
    const cost = async (noise: number) => {
      const stack = await privateStack();
      try {
        const s = new Spool(new Redis({ ...stack.credentials, retry: false }), {
          config: { prefix: 'r', deadCap: 100_000 },
        });
        await kill(s, 'q', noise, 'noise a');
        await kill(s, 'q', 10, 'broken b');
        const fp = (await s.deadGroups('q')).groups.find((g) => g.count === 10)!.fingerprint;
        await s.replay('q', { fingerprint: fp, limit: 5 });
        const admin = stack.redis.admin();
        const total = async () =>
          [...(await admin.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].reduce(
            (n, m) => n + (m[1] === 'info' ? 0 : Number(m[2])),
            0,
          );
        const t0 = await total();
        const r = await s.replay('q', { fingerprint: fp, limit: 5 });
        const n = (await total()) - t0;
        expect(r).toMatchObject({ matched: 5, scanned: 5 });
        return n;
      } finally {
        await stack.stop();
      }
    };
    const small = await cost(300);
    const large = await cost(3_000);
    expect(large).toBe(small);
    expect(small).toBeLessThanOrEqual(15);
  }, 60_000);
});
