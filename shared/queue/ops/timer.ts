import { randomUUID } from 'node:crypto';
import type { SpoolCore } from '../core.js';
import { assertQueueName } from '../schema.js';
import { CLAIM_TIMER } from '../scripts/timer.js';

/** A pending timer due at most this much later than a wake still serves it (timers count whole seconds). */
export const TIMER_SLACK_MS = 100;

/**
 * Claim the queue's timer for a wake `dueInMs` from now (the Redis server's clock): claimed when no
 * timer is pending for that time or sooner, and then the caller arms one. One call, safe to retry.
 */
export async function claimTimer(
  core: SpoolCore,
  queue: string,
  dueInMs: number,
): Promise<{ claimed: boolean; at: number }> {
  assertQueueName(queue);
  const r = await core.run(CLAIM_TIMER, queue, {
    clock: core.scriptClock(),
    dueInMs: Math.max(0, Math.round(dueInMs)),
    slackMs: TIMER_SLACK_MS,
    nonce: randomUUID(),
  });
  return { claimed: r.claimed === true, at: Number(r.at) };
}
