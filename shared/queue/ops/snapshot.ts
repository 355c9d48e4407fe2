import { guard } from '../../redis/client.js';
import { list, optNum, type SpoolCore } from '../core.js';
import { globalKey } from '../keys.js';
import { assertQueueName } from '../schema.js';
import { SNAPSHOT } from '../scripts/snapshot.js';
import type { QueueCounters, QueueSnapshot } from '../types.js';

const COUNTER_NAMES: Array<keyof QueueCounters> = [
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
  const now = core.clock();
  return Promise.all(
    names.map(async (queue) => {
      assertQueueName(queue);
      const r = await core.run<
        [number, number, number, number, number, string, number, string, string, Array<string | number>]
      >(SNAPSHOT, queue, [now]);
      const counters = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as unknown as QueueCounters;
      const flat = list<string | number>(r[9]);
      for (let i = 0; i < flat.length; i += 2) {
        const name = String(flat[i]) as keyof QueueCounters;
        if (COUNTER_NAMES.includes(name)) counters[name] = Number(flat[i + 1]);
      }
      const since = optNum(r[5]);
      const died = optNum(r[7]);
      const snap: QueueSnapshot = {
        queue,
        at: now,
        waiting: r[0],
        delayed: r[1],
        active: r[2],
        completed: r[3],
        dead: r[4],
        oldestWaitingAgeMs: since === undefined ? 0 : Math.max(0, now - since),
        leaseExpired: r[6],
        oldestDeadAgeMs: died === undefined ? 0 : Math.max(0, now - died),
        counters,
      };
      const next = optNum(r[8]);
      if (next !== undefined) snap.nextRunAt = next;
      return snap;
    }),
  );
}
