import { describe, expect, it } from 'vitest';
import { queueKey } from '../../../shared/queue/index.js';
import { normalizeJob } from '../../../shared/queue/schema.js';
import { ENQUEUE } from '../../../shared/queue/scripts/enqueue.js';
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
});
