import * as z from 'zod/mini';
import type { Logger } from '../../shared/log/logger.js';
import { dueEntries } from '../../shared/queue/ops/due.js';
import { reclaim } from '../../shared/queue/ops/lease.js';
import { forgetQueue, type PurgePlan, purge, purgeCandidates, recordPurgePlan } from '../../shared/queue/ops/purge.js';
import { queues as listQueues, snapshot } from '../../shared/queue/ops/snapshot.js';
import { assertQueueName } from '../../shared/queue/schema.js';
import type { PurgeReport } from '../../shared/queue/types.js';
import { parseWith } from '../../shared/validation/zod.js';
import { type Invocation, isScheduledEvent } from '../lib/handler.js';
import type { Runtime } from '../lib/runtime.js';
import { purgeFields } from '../lib/schemas.js';

export interface QueuePurge extends Omit<PurgeReport, 'dryRun'> {
  /** Jobs whose lease expired, put back to waiting (dry run: every job whose lease has expired). */
  leaseExpired: number;
  /** Jobs whose lease expired with their attempts spent, moved to dead. */
  leaseExpiredDead: number;
  /** Due delayed jobs promoted to waiting on the way. */
  promoted: number;
  rounds: number;
}

export interface PurgeRunReport {
  dryRun: boolean;
  /** Queues that left the registry (empty and not enqueued to for SPOOL_QUEUE_IDLE_TTL_MS); scheduled runs only. */
  forgotten?: string[];
  queues: Record<string, QueuePurge>;
  totals: Omit<QueuePurge, 'more' | 'rounds'>;
  /** Work left for the next invocation (it resumes where this one stopped). */
  more: boolean;
}

export interface PurgeInput {
  queues: string[];
  dryRun: boolean;
  /** Records per category per round (default SPOOL_PURGE_LIMIT). */
  limit?: number;
  /** Rounds per queue at most in this invocation. */
  maxRounds?: number;
  /** Epoch ms: no new round starts after this. */
  deadline: number;
  /**
   * The scheduled run's plan (shared/queue/ops/purge.ts purgeCandidates): after purging, each queue's
   * next purge is recorded, and the queues empty and unused for SPOOL_QUEUE_IDLE_TTL_MS leave the
   * registry.
   */
  plan?: PurgePlan;
}

/**
 * Reclaims expired leases and removes what is past retention (completed), TTL or cap (dead), orphans
 * and idempotency keys past their window. Bounded per invocation (rounds and time), resumable (the engine keeps
 * its scan cursor); a dry run counts what one round would remove and writes nothing.
 */
export async function runPurge(rt: Runtime, log: Logger, input: PurgeInput): Promise<PurgeRunReport> {
  const { spool } = rt;
  const maxRounds = input.dryRun ? 1 : (input.maxRounds ?? 10);
  const zero = (): QueuePurge => ({
    completed: 0,
    deadPastTtl: 0,
    deadTrimmed: 0,
    orphans: 0,
    idempotencyKeys: 0,
    more: false,
    leaseExpired: 0,
    leaseExpiredDead: 0,
    promoted: 0,
    rounds: 0,
  });
  const report: PurgeRunReport = { dryRun: input.dryRun, queues: {}, totals: zero(), more: false };
  delete (report.totals as Partial<QueuePurge>).more;
  delete (report.totals as Partial<QueuePurge>).rounds;

  const next: Array<{ queue: string; at: number }> = [];
  const empty: Array<{ queue: string; since: number }> = [];
  const settled: Array<{ queue: string; jobs: number; nextAt: number | undefined; emptySince: number | undefined }> =
    [];
  for (const queue of input.queues) {
    const q = zero();
    let jobs = 0;
    let nextAt: number | undefined;
    let emptySince: number | undefined;
    report.queues[queue] = q;
    if (input.dryRun) {
      const [snap] = await snapshot(spool, [queue]);
      q.leaseExpired = snap?.leaseExpired ?? 0;
    } else {
      const r = await reclaim(spool, queue);
      q.leaseExpired = r.leaseExpired;
      q.leaseExpiredDead = r.leaseExpiredDead;
      q.promoted = r.promoted;
    }
    do {
      if (q.rounds > 0 && rt.clock() >= input.deadline) break;
      const p = await purge(spool, queue, { dryRun: input.dryRun, ...(input.limit ? { limit: input.limit } : {}) });
      q.rounds++;
      q.completed += p.completed;
      q.deadPastTtl += p.deadPastTtl;
      q.deadTrimmed += p.deadTrimmed;
      q.orphans += p.orphans;
      q.idempotencyKeys += p.idempotencyKeys;
      q.more = p.more;
      jobs = p.jobs;
      nextAt = p.nextAt;
      emptySince = p.emptySince;
    } while (q.more && q.rounds < maxRounds);
    if (input.plan) {
      if (q.more) next.push({ queue, at: rt.clock() });
      else settled.push({ queue, jobs, nextAt, emptySince });
    }
    if (q.more) report.more = true;
    for (const k of Object.keys(report.totals) as Array<keyof PurgeRunReport['totals']>) report.totals[k] += q[k];
    log.info('purged', { queue, dryRun: input.dryRun, ...q });
  }
  if (input.plan) {
    const now = rt.clock();
    // Live work (an entry in the due index, read after this run's reclaims): looked at again next run.
    const due = await dueEntries(
      spool,
      settled.map((x) => x.queue),
    );
    for (const [i, { queue, jobs, nextAt, emptySince }] of settled.entries()) {
      if (due[i] !== undefined) next.push({ queue, at: now });
      else if (jobs === 0) empty.push({ queue, since: emptySince ?? now });
      else {
        // Its next retention, TTL or window, and no later than its next orphan sweep (its own slow schedule).
        const sweep = spool.config.orphanSweepMs;
        const sweepAt = sweep > 0 ? now + Math.max(sweep, 3_600_000) : now + spool.config.queueIdleTtlMs;
        next.push({ queue, at: Math.min(nextAt ?? sweepAt, sweepAt) });
      }
    }
    // An empty queue leaves the registry once unused for the idle TTL; until then it is looked at again then.
    const idle = spool.config.queueIdleTtlMs;
    const forgotten: string[] = [];
    for (const { queue, since } of empty) {
      if (since + idle > now) next.push({ queue, at: since + idle });
      else if (await forgetQueue(spool, queue, now - idle + 1)) forgotten.push(queue);
      else next.push({ queue, at: now });
    }
    await recordPurgePlan(spool, next, forgotten);
    report.forgotten = forgotten;
    if (forgotten.length > 0) log.info('queues left the registry', { queues: forgotten });
  }
  log.info('purge done', { dryRun: input.dryRun, queues: input.queues.length, more: report.more, ...report.totals });
  return report;
}

/** Time kept back from the invocation's deadline: no purge round starts in it. */
const RESERVE_MS = 5_000;

const directInput = z.strictObject({ ...purgeFields, queues: z.optional(z.array(z.string())) });

/**
 * The non-HTTP invocations: the schedule purges every queue for real; a direct invocation
 * (`{"queues"?: [...], "dryRun"?: true, "limit"?}`) defaults to every queue and a dry run.
 */
export async function runInvocation(event: unknown, inv: Invocation): Promise<PurgeRunReport> {
  const deadline = inv.deadline - RESERVE_MS;
  if (isScheduledEvent(event)) {
    // Only the queues with something to purge, or that may have (purge:due, touched, due).
    const plan = await purgeCandidates(inv.rt.spool);
    return runPurge(inv.rt, inv.log, { queues: plan.queues, dryRun: false, deadline, plan });
  }
  const input = parseWith(directInput, event ?? {});
  const queues = input.queues ?? (await listQueues(inv.rt.spool));
  for (const [i, q] of queues.entries()) assertQueueName(q, `queues[${i}]`);
  return runPurge(inv.rt, inv.log, {
    queues,
    dryRun: input.dryRun ?? true,
    ...(input.limit ? { limit: input.limit } : {}),
    deadline,
  });
}
