import { list, type SpoolCore } from '../core.js';
import { assertQueueName } from '../schema.js';
import { ACTIVE_WORKERS } from '../scripts/workers.js';

/** A worker invocation draining a queue, as its own lease and heartbeat calls last wrote it. */
export interface ActiveWorker {
  /** The invocation's request id. */
  id: string;
  /** Epoch ms (the Redis server's clock) of its first lease. */
  startedAt: number;
  lastHeartbeatAt: number;
  /** Jobs it holds (leased, not yet acked) as of its last call. */
  held: number;
  /** Jobs it has finished (completed, retried or dead) as of its last call. */
  done: number;
  /** Its entry lapses then unless it calls again. */
  expiresAt: number;
}

/** The queue's active workers, oldest first; entries whose worker stopped calling are removed on the way. */
export async function activeWorkers(core: SpoolCore, queue: string): Promise<ActiveWorker[]> {
  assertQueueName(queue);
  const r = await core.run(ACTIVE_WORKERS, queue, { clock: core.scriptClock() });
  return list(r.workers)
    .map(({ id, info, expiresAt }) => {
      const x = JSON.parse(info) as { startedAt: number; lastHeartbeatAt: number; held: number; done: number };
      return {
        id,
        startedAt: Number(x.startedAt),
        lastHeartbeatAt: Number(x.lastHeartbeatAt),
        held: Number(x.held),
        done: Number(x.done),
        expiresAt: Number(expiresAt),
      };
    })
    .sort((a, b) => a.startedAt - b.startedAt || a.id.localeCompare(b.id));
}
