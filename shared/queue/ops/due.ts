import { guard } from '../../redis/client.js';
import type { SpoolCore } from '../core.js';
import { DUE_BUILT, globalKey } from '../keys.js';

/**
 * The queues the due index says need a worker by now (this process's clock): one read, whatever the
 * number of queues. `built` is false until the index has been built from every queue (markDueBuilt):
 * then a caller must look at every queue once (a reclaim of each sets its entry exactly).
 */
export async function dueQueues(core: SpoolCore, limit = 1000): Promise<{ queues: string[]; built: boolean }> {
  const members = await guard(() =>
    core.redis.zrange(globalKey(core.config.prefix, 'due'), '-inf', core.now(), {
      byScore: true,
      offset: 0,
      count: limit + 1,
    }),
  );
  const names = members.map(String);
  const built = names.includes(DUE_BUILT);
  const queues = names.filter((n) => n !== DUE_BUILT).slice(0, limit);
  return { queues, built };
}

/** Record that every queue has its entry in the due index (after a reclaim of each). */
export async function markDueBuilt(core: SpoolCore): Promise<void> {
  await guard(() => core.redis.zadd(globalKey(core.config.prefix, 'due'), { score: 0, member: DUE_BUILT }));
}

/** The due index's entries of queues (epoch ms; undefined: the queue needs no worker). One read. */
export async function dueEntries(core: SpoolCore, queues: string[]): Promise<Array<number | undefined>> {
  if (queues.length === 0) return [];
  const scores = await guard(() => core.redis.zmscore(globalKey(core.config.prefix, 'due'), queues));
  return (scores ?? []).map((x) => (x === null || x === undefined ? undefined : Number(x)));
}
