import type { SpoolCore } from '../core.js';
import { assertQueueName } from '../schema.js';
import { PURGE } from '../scripts/purge.js';
import type { PurgeOptions, PurgeReport } from '../types.js';

/** Bounded, resumable clean-up of one queue; `more` says another call has work. */
export async function purge(core: SpoolCore, queue: string, opts: PurgeOptions = {}): Promise<PurgeReport> {
  assertQueueName(queue);
  const dryRun = opts.dryRun ?? false;
  const limit = opts.limit ?? core.config.purgeLimit;
  const { completed, deadPastTtl, deadTrimmed, idempotencyKeys, orphans, more } = await core.run(PURGE, queue, {
    clock: core.scriptClock(),
    dryRun,
    retentionMs: core.config.completedRetentionMs,
    deadTtlMs: core.config.deadTtlMs,
    deadCap: core.config.deadCap,
    limit,
    scanCount: Math.min(limit, 500),
  });
  return { dryRun, completed, deadPastTtl, deadTrimmed, orphans, idempotencyKeys, more };
}
