import { randomUUID } from 'node:crypto';
import type { SpoolCore } from '../core.js';
import { REQUEST_TTL_MS, requestKey } from '../keys.js';
import { assertQueueName } from '../schema.js';
import { PURGE } from '../scripts/purge.js';
import type { PurgeOptions, PurgeReport } from '../types.js';

/**
 * Bounded, resumable clean-up of one queue; `more` says another call has work. A call retried after
 * its reply was lost answers what its first run removed, and removes nothing more.
 */
export async function purge(core: SpoolCore, queue: string, opts: PurgeOptions = {}): Promise<PurgeReport> {
  assertQueueName(queue);
  const dryRun = opts.dryRun ?? false;
  const limit = opts.limit ?? core.config.purgeLimit;
  const { completed, deadPastTtl, deadTrimmed, idempotencyKeys, orphans, more } = await core.run(
    PURGE,
    queue,
    {
      clock: core.scriptClock(),
      dryRun,
      retentionMs: core.config.completedRetentionMs,
      deadTtlMs: core.config.deadTtlMs,
      deadCap: core.config.deadCap,
      limit,
      scanCount: Math.min(limit, 500),
      requestTtlMs: dryRun ? 0 : REQUEST_TTL_MS,
    },
    { request: requestKey(core.config.prefix, queue, dryRun ? 'none' : randomUUID()) },
  );
  return { dryRun, completed, deadPastTtl, deadTrimmed, orphans, idempotencyKeys, more };
}
