import { guard } from '../../redis/client.js';
import { optNum, type SpoolCore } from '../core.js';
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

/** Every queue that has ever been enqueued to (under this prefix). */
export async function queues(core: SpoolCore): Promise<string[]> {
  const names = await guard(() => core.redis.smembers(globalKey(core.config.prefix, 'queues')));
  return names.map(String).sort();
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
      return snap;
    }),
  );
}
