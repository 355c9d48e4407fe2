import { randomUUID } from 'node:crypto';
import { guard } from '../../redis/client.js';
import type { SpoolCore } from '../core.js';
import { optNum } from '../core.js';
import { DUE_BUILT, globalKey, REQUEST_TTL_MS, requestKey } from '../keys.js';
import { assertQueueName } from '../schema.js';
import { FORGET_QUEUE, PURGE } from '../scripts/purge.js';
import type { PurgeOptions, PurgeRound } from '../types.js';
import { queues as listQueues } from './snapshot.js';

/**
 * Bounded, resumable clean-up of one queue; `more` says another call has work. A call retried after
 * its reply was lost answers what its first run removed, and removes nothing more.
 */
export async function purge(core: SpoolCore, queue: string, opts: PurgeOptions = {}): Promise<PurgeRound> {
  assertQueueName(queue);
  const dryRun = opts.dryRun ?? false;
  const limit = opts.limit ?? core.config.purgeLimit;
  const r = await core.run(
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
      sweepEveryMs: core.config.orphanSweepMs,
      requestTtlMs: dryRun ? 0 : REQUEST_TTL_MS,
    },
    { request: requestKey(core.config.prefix, queue, dryRun ? 'none' : randomUUID()) },
  );
  const { completed, deadPastTtl, deadTrimmed, idempotencyKeys, orphans, more, jobs } = r;
  const out: PurgeRound = { dryRun, completed, deadPastTtl, deadTrimmed, orphans, idempotencyKeys, more, jobs };
  const nextAt = optNum(r.nextAt);
  if (nextAt !== undefined) out.nextAt = nextAt;
  const emptySince = optNum(r.emptySince);
  if (emptySince !== undefined) out.emptySince = emptySince;
  return out;
}

/**
 * Take an empty queue out of the registry when a purge found it empty before `before` (epoch ms) and
 * nothing was enqueued since. An enqueue brings it back (its counters were kept). False otherwise.
 */
export async function forgetQueue(core: SpoolCore, queue: string, before: number): Promise<boolean> {
  assertQueueName(queue);
  const { forgotten } = await core.run(FORGET_QUEUE, queue, { before: Math.floor(before) });
  return forgotten === true;
}

/** How far back before the last purge run the touched index is read: the two clocks may disagree by this much. */
const TOUCHED_SLACK_MS = 60_000;

export interface PurgePlan {
  /** The queues to purge now. */
  queues: string[];
  /** Every queue of the registry (no purge plan yet: the first scheduled run after an upgrade). */
  full: boolean;
}

/**
 * What the scheduled purge looks at, without looking at every queue: the queues whose purge is due
 * (purge:due), those enqueued to since the last run (touched) and those with live work (due: a replay
 * makes a queue live without an enqueue). Reads purge:last and the three indexes. With no plan yet
 * (the first run), every registered queue.
 */
export async function purgeCandidates(core: SpoolCore): Promise<PurgePlan> {
  const p = core.config.prefix;
  const now = core.now();
  const lastRaw = await guard(() => core.redis.get<string | number>(globalKey(p, 'purgeLast')));
  if (lastRaw === null || lastRaw === undefined) {
    return { queues: await listQueues(core), full: true };
  }
  const last = Number(lastRaw);
  const [live, due, touched] = await guard(() =>
    Promise.all([
      core.redis.zrange(globalKey(p, 'due'), 0, -1),
      core.redis.zrange(globalKey(p, 'purgeDue'), '-inf', now, { byScore: true }),
      core.redis.zrange(globalKey(p, 'touched'), Math.floor(last - TOUCHED_SLACK_MS), '+inf', { byScore: true }),
    ]),
  );
  const names = new Set([...live, ...due, ...touched].map(String));
  names.delete(DUE_BUILT);
  return { queues: [...names].sort(), full: false };
}

/**
 * Record the scheduled purge's plan: each queue's next purge (`next`: epoch ms), the queues that left
 * the registry (out of the plan), and this run's time (what the next run reads touched from).
 */
export async function recordPurgePlan(
  core: SpoolCore,
  next: Array<{ queue: string; at: number }>,
  forgotten: string[],
): Promise<void> {
  const p = core.config.prefix;
  const writes: Array<Promise<unknown>> = [core.redis.set(globalKey(p, 'purgeLast'), String(Math.floor(core.now())))];
  const [first, ...rest] = next.map(({ queue, at }) => ({ score: Math.floor(at), member: queue }));
  if (first) writes.push(core.redis.zadd(globalKey(p, 'purgeDue'), first, ...rest));
  if (forgotten.length > 0) writes.push(core.redis.zrem(globalKey(p, 'purgeDue'), ...forgotten));
  await guard(() => Promise.all(writes));
}
