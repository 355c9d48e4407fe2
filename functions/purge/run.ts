import * as z from 'zod/mini';
import type { Logger } from '../../shared/log/logger.js';
import { reclaim } from '../../shared/queue/ops/lease.js';
import { purge } from '../../shared/queue/ops/purge.js';
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

  for (const queue of input.queues) {
    const q = zero();
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
    } while (q.more && q.rounds < maxRounds);
    if (q.more) report.more = true;
    for (const k of Object.keys(report.totals) as Array<keyof PurgeRunReport['totals']>) report.totals[k] += q[k];
    log.info('purged', { queue, dryRun: input.dryRun, ...q });
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
  if (isScheduledEvent(event))
    return runPurge(inv.rt, inv.log, { queues: await listQueues(inv.rt.spool), dryRun: false, deadline });
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
