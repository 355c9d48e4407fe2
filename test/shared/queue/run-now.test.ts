import { describe, expect, it } from 'vitest';
import { queueKey } from '../../../shared/queue/index.js';
import { harness, job } from '../../helpers/harness.js';

/** runNow: a delayed job joins waiting now, in its priority order; nothing else moves. */
describe('run a delayed job now', () => {
  const { spool, clock, redis, prefix } = harness('run-now');

  it('moves a delayed job to waiting, in priority order, and leasing takes it', async () => {
    const q = 'later';
    const { jobs } = await spool.enqueue(
      q,
      [job('low'), job('delayed', { delayMs: 3_600_000, priority: 10 }), job('other', { delayMs: 3_600_000 })],
      { kick: false },
    );
    const [low, delayed, other] = jobs.map((j) => j.id) as [string, string, string];
    clock.advance(1_000);
    expect(await spool.runNow(q, delayed)).toEqual({ status: 'ok', state: 'delayed' });

    const shown = await spool.get(q, delayed);
    expect(shown).toMatchObject({ state: 'waiting', updatedAt: clock.now() });
    expect(shown!.runAt).toBeUndefined();
    expect(await redis.zscore(queueKey(prefix, q, 'delayed'), delayed)).toBeNull();
    expect(Number(await redis.zscore(queueKey(prefix, q, 'waitingSince'), delayed))).toBe(clock.now());
    const [snap] = await spool.snapshot([q]);
    expect(snap).toMatchObject({ waiting: 2, delayed: 1 });
    expect((await spool.get(q, other))!.state).toBe('delayed');

    // Priority 10 runs before the earlier job of priority 0.
    const leased = await spool.lease(q, { count: 1 });
    expect(leased.jobs.map((j) => j.id)).toEqual([delayed]);
    expect((await spool.get(q, low))!.state).toBe('waiting');
  });

  it('refuses a job that is not delayed, naming its state; run twice, the second call changes nothing', async () => {
    const q = 'refuse';
    const { jobs } = await spool.enqueue(q, [job('now'), job('later', { delayMs: 60_000 })], { kick: false });
    const [now, later] = jobs.map((j) => j.id) as [string, string];
    expect(await spool.runNow(q, now)).toEqual({ status: 'conflict', state: 'waiting' });
    expect(await spool.runNow(q, 'no-such-job')).toEqual({ status: 'not_found' });

    expect((await spool.runNow(q, later)).status).toBe('ok');
    const seq = await redis.hget(queueKey(prefix, q, 'counters'), 'seq');
    expect(await spool.runNow(q, later)).toEqual({ status: 'conflict', state: 'waiting' });
    expect(await redis.hget(queueKey(prefix, q, 'counters'), 'seq')).toBe(seq);
    expect(await redis.zcard(queueKey(prefix, q, 'waiting'))).toBe(2);
  });
});
