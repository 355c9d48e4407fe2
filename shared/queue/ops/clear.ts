import { randomUUID } from 'node:crypto';
import type { SpoolCore } from '../core.js';
import { ConflictError } from '../errors.js';
import { REQUEST_TTL_MS, requestKey } from '../keys.js';
import { assertQueueName } from '../schema.js';
import { CLEAR } from '../scripts/clear.js';

export interface ClearOptions {
  /** Remove the dead jobs too. */
  includeDead?: boolean;
  /** Clear even while jobs are active: they are removed too (their workers' acks are refused as stale). */
  force?: boolean;
  /** The call's audit record (given fields plus `removed` and `unregistered`) and the list's cap. */
  audit: { record: Record<string, unknown>; cap: number };
}

export interface ClearReport {
  /** Jobs removed, by the state they were in. */
  removed: { waiting: number; delayed: number; active: number; dead: number };
  /** Jobs kept (completed, and dead without includeDead). */
  left: number;
  /** The queue held no job afterwards and left the registry. */
  unregistered: boolean;
}

/**
 * Clear a queue in one script: its waiting and delayed jobs (dead ones with includeDead, active ones
 * with force), audited in the same script. Throws ConflictError (409) while jobs are active unless
 * force, writing nothing. A call retried after its reply was lost answers the first run's counts.
 */
export async function clearQueue(core: SpoolCore, queue: string, opts: ClearOptions): Promise<ClearReport> {
  assertQueueName(queue);
  const r = await core.run(
    CLEAR,
    queue,
    {
      includeDead: opts.includeDead === true,
      force: opts.force === true,
      audit: opts.audit,
      requestTtlMs: REQUEST_TTL_MS,
    },
    { request: requestKey(core.config.prefix, queue, randomUUID()) },
  );
  if (r.status === 'conflict') {
    throw new ConflictError(`queue ${queue} has ${r.active} active job(s): wait for them, or clear with force=true`, {
      active: r.active,
    });
  }
  return {
    removed: { waiting: r.waiting, delayed: r.delayed, active: r.active, dead: r.dead },
    left: r.left,
    unregistered: r.unregistered === true,
  };
}
