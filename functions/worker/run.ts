import * as z from 'zod/mini';
import { reclaim } from '../../shared/queue/ops/lease.js';
import { queues as listQueues } from '../../shared/queue/ops/snapshot.js';
import { assertQueueName } from '../../shared/queue/schema.js';
import { parseWith } from '../../shared/validation/zod.js';
import type { Invocation } from '../lib/handler.js';
import type { KickOptions } from '../lib/runtime.js';
import { type DrainReport, drainQueue, type WorkerOptions, workerOptions } from './drain.js';

const kickSchema = z.object({
  kick: z.object({
    queue: z.string(),
    reason: z.optional(z.enum(['enqueue', 'drain', 'continue', 'scale-out', 'schedule', 'replay'])),
  }),
});

/** A kick: drain one queue; when time runs out with work left, start a successor. */
export async function runKick(
  event: unknown,
  inv: Invocation,
  over: Partial<WorkerOptions> = {},
): Promise<DrainReport> {
  const { kick } = parseWith(kickSchema, event);
  assertQueueName(kick.queue, 'kick.queue');
  const { rt, log } = inv;
  const reason: KickOptions['reason'] = kick.reason ?? 'enqueue';
  const report = await drainQueue(rt, {
    queue: kick.queue,
    deadline: inv.deadline,
    log,
    scaleOut: reason !== 'scale-out',
    opts: workerOptions(rt, over),
    requestId: inv.requestId,
  });
  if (report.stop === 'time' && (report.waiting > 0 || report.abandoned > 0) && reason !== 'scale-out') {
    try {
      await rt.kickWorker(kick.queue, { reason: 'continue' });
    } catch (err) {
      log.warn('continuation kick failed; the schedule will run the queue', {
        queue: kick.queue,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
  log.info('worker done', { ...report, reason });
  return report;
}

export interface ScheduleReport {
  queues: number;
  kicked: string[];
  promoted: number;
  reclaimed: number;
  expiredToDead: number;
}

/**
 * The scheduled safety net: for every queue, promote due delayed jobs and reclaim expired leases,
 * then kick a worker for each queue with waiting jobs and no worker running. It drains nothing itself.
 */
export async function runSchedule(inv: Invocation): Promise<ScheduleReport> {
  const { rt, log } = inv;
  const queues = await listQueues(rt.spool);
  // One script per queue, all in one request: promotes, reclaims, and tells waiting depth and worker mark.
  const reclaimed = await Promise.all(queues.map((q) => reclaim(rt.spool, q)));
  const report: ScheduleReport = { queues: queues.length, kicked: [], promoted: 0, reclaimed: 0, expiredToDead: 0 };
  for (const r of reclaimed) {
    report.promoted += r.promoted;
    report.reclaimed += r.reclaimed;
    report.expiredToDead += r.expiredToDead;
  }
  for (const [i, r] of reclaimed.entries()) {
    const queue = queues[i]!;
    if (r.waiting === 0 || r.workerRunning) continue;
    try {
      await rt.kickWorker(queue, { reason: 'schedule' });
      report.kicked.push(queue);
    } catch (err) {
      log.warn('scheduled kick failed', { queue, error: err instanceof Error ? err.message : String(err) });
    }
  }
  log.info('worker schedule done', { ...report });
  return report;
}
