import { guard } from '../../redis/client.js';
import { list, optNum, type SpoolCore } from '../core.js';
import { globalKey } from '../keys.js';
import { assertQueueName } from '../schema.js';
import { SNAPSHOT } from '../scripts/snapshot.js';
import type { QueueCounters, QueueSnapshot } from '../types.js';

/** Every counter the scripts write (test/shared/queue/scripts.test.ts holds the list to them). */
export const COUNTER_NAMES: ReadonlyArray<keyof QueueCounters> = [
  'enqueued',
  'completed',
  'failed',
  'retried',
  'dead',
  'deadTrimmed',
  'deadPastTtl',
  'leaseExpired',
  'replayed',
  'cancelled',
  'orphans',
];

/**
 * The registry: every queue enqueued to (under this prefix) that has not left it for being empty
 * longer than SPOOL_QUEUE_IDLE_TTL_MS. Its members are those of the touched index (written by every
 * enqueue) and of the `queues` set older versions wrote.
 */
export async function queues(core: SpoolCore): Promise<string[]> {
  const p = core.config.prefix;
  const [legacy, touched] = await guard(() =>
    Promise.all([core.redis.smembers(globalKey(p, 'queues')), core.redis.zrange(globalKey(p, 'touched'), 0, -1)]),
  );
  return [...new Set([...legacy, ...touched].map(String))].sort();
}
/** Whether the queue is in the registry (queues): enqueued to, and not since forgotten for being idle. */
export async function isRegistered(core: SpoolCore, queue: string): Promise<boolean> {
  const p = core.config.prefix;
  const [legacy, touched] = await guard(() =>
    Promise.all([
      core.redis.sismember(globalKey(p, 'queues'), queue),
      core.redis.zscore(globalKey(p, 'touched'), queue),
    ]),
  );
  return legacy === 1 || (touched !== null && touched !== undefined);
}
/** The queues enqueued to at or after `since` (epoch ms, the Redis server's clock): one read. */
export async function touchedSince(core: SpoolCore, since: number): Promise<string[]> {
  const names = await guard(() =>
    core.redis.zrange(globalKey(core.config.prefix, 'touched'), Math.floor(since), '+inf', { byScore: true }),
  );
  return names.map(String);
}
/** Health figures of the given queues (default: all), one script each, one HTTP request. */
export async function snapshot(core: SpoolCore, only?: string[]): Promise<QueueSnapshot[]> {
  const names = only ?? (await queues(core));
  const clock = core.scriptClock();
  return Promise.all(
    names.map(async (queue) => {
      assertQueueName(queue);
      const r = await core.run(SNAPSHOT, queue, { clock });
      const now = Number(r.now);
      const counters = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as unknown as QueueCounters;
      for (const name of COUNTER_NAMES) if (r.counters[name] !== undefined) counters[name] = Number(r.counters[name]);
      const since = optNum(r.oldestWaitingSince);
      const died = optNum(r.oldestDiedAt);
      const snap: QueueSnapshot = {
        queue,
        at: now,
        waiting: r.waiting,
        delayed: r.delayed,
        active: r.active,
        completed: r.completed,
        dead: r.dead,
        oldestWaitingAgeMs: since === undefined ? 0 : Math.max(0, now - since),
        leaseExpired: r.leaseExpired,
        oldestDeadAgeMs: died === undefined ? 0 : Math.max(0, now - died),
        counters,
      };
      const next = optNum(r.nextRunAt);
      if (next !== undefined) snap.nextRunAt = next;
      const pausedAt = optNum(r.pausedAt);
      if (pausedAt !== undefined) snap.pausedForMs = Math.max(0, now - pausedAt);
      snap.breakersOpen = list(r.breakersOpen as string[]);
      return snap;
    }),
  );
}
