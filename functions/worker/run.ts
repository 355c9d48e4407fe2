/**
 * The worker's work. A kick drains one queue with the slot loop (shared/worker/slots.ts): its
 * `concurrency` slots stay busy, leases are small and go out as slots free, acks go out in flushes
 * as jobs finish, every held job's lease is extended, and the worker lingers briefly when the queue
 * runs empty (a stream stays on one worker). Leases never outlive the invocation (deadline -
 * margin): a job that would not fit is not leased, and one abandoned at the end goes back to
 * waiting with its attempt refunded. This file is the Lambda side: running a job (HTTP target or
 * handler), logs, scale-out and the continuation kick. The schedule (the safety net) drains
 * nothing: it promotes, reclaims and kicks a worker for each queue the due index says needs one.
 */

import * as z from 'zod/mini';
import type { SpoolConfig } from '../../shared/config/index.js';
import { callTarget } from '../../shared/jobs/http-target.js';
import type { JobOutcome } from '../../shared/jobs/outcome.js';
import { runHandler } from '../../shared/jobs/registry.js';
import { JOB_ID_HEADER, signDelivery } from '../../shared/jobs/signature.js';
import type { Logger } from '../../shared/log/logger.js';
import { redactUrl } from '../../shared/log/redact.js';
import { dueQueues, markDueBuilt } from '../../shared/queue/ops/due.js';
import { lease as leaseJobs, reclaim } from '../../shared/queue/ops/lease.js';
import { queues as listQueues } from '../../shared/queue/ops/snapshot.js';
import { assertQueueName, QUEUE_NAME } from '../../shared/queue/schema.js';
import type { LeasedJob } from '../../shared/queue/types.js';
import {
  newSpanId,
  parseTraceparent,
  type TraceContext,
  traceHeaders,
  xrayTraceId,
} from '../../shared/trace/context.js';
import { parseWith } from '../../shared/validation/zod.js';
import { runSlots, type SlotReport } from '../../shared/worker/slots.js';
import { isSqsEvent } from '../lib/events.js';
import { type Invocation, isScheduledEvent } from '../lib/handler.js';
import { armTimer, KICK_REASONS, type KickReason, type Runtime } from '../lib/runtime.js';

export interface WorkerOptions {
  /** Jobs per lease call, at most. */
  batchSize: number;
  concurrency: number;
  /** Jobs leased beyond the free slots, at most. */
  prefetch: number;
  /** Stop leasing, and abandon running jobs, this long before the deadline. */
  marginMs: number;
  /** Do not lease when less than this is left before deadline - margin (a job could not finish). */
  minWindowMs: number;
  /** Extend the leases of held jobs this often. */
  heartbeatMs: number;
  /** How long a finished job's ack waits for others (complete and fail go out together). */
  flushMs: number;
  /** Keep polling this long once the queue is empty (SPOOL_WORKER_LINGER_MS). */
  lingerMs: number;
  /** After a short lease (the queue ran dry), wait this long before the next. */
  pollMs: number;
  maxScaleOut: number;
  jobsPerWorker: number;
  /** The longest job (timeout + grace) some invocation fits; default this one's window (tests set it). */
  fitCapMs?: number;
}

/**
 * The least time a worker must have left before deadline - margin to lease at all (a job could not
 * finish in less). The CDK app refuses a worker timeout that leaves less (infra/config.ts).
 */
export const minLeaseWindowMs = (c: Pick<SpoolConfig, 'SPOOL_JOB_TIMEOUT_MS'>): number =>
  Math.min(c.SPOOL_JOB_TIMEOUT_MS, 30_000);

export function workerOptions(rt: Runtime, over: Partial<WorkerOptions> = {}): WorkerOptions {
  const c = rt.config;
  return {
    batchSize: c.SPOOL_WORKER_BATCH_SIZE,
    concurrency: c.SPOOL_WORKER_CONCURRENCY,
    prefetch: 2,
    marginMs: c.SPOOL_WORKER_TIME_MARGIN_MS,
    minWindowMs: minLeaseWindowMs(c),
    // A lease is at least SPOOL_LEASE_MS: three beats per lease, so one late beat loses nothing.
    heartbeatMs: Math.max(250, Math.floor(c.SPOOL_LEASE_MS / 3)),
    flushMs: 5,
    lingerMs: c.SPOOL_WORKER_LINGER_MS,
    pollMs: c.SPOOL_WORKER_POLL_MS,
    maxScaleOut: c.SPOOL_WORKER_MAX_SCALE_OUT,
    jobsPerWorker: c.SPOOL_WORKER_JOBS_PER_WORKER,
    ...over,
  };
}

/** What a kick's run did: the slot loop's report (shared/worker/slots.ts), with scale-out. */
export interface DrainReport extends SlotReport {
  queue: string;
  scaledOut: number;
}

/** Extra workers for a backlog: one per `jobsPerWorker` waiting beyond the first, at most `maxScaleOut`. */
export const scaleOutCount = (waiting: number, o: Pick<WorkerOptions, 'maxScaleOut' | 'jobsPerWorker'>): number =>
  Math.max(0, Math.min(o.maxScaleOut, Math.floor(waiting / o.jobsPerWorker)));

/** The job's trace (kept from its enqueue request), else the worker invocation's. */
const traceOf = (rt: Runtime, job: LeasedJob): TraceContext | undefined =>
  parseTraceparent(job.trace) ?? rt.invocationTrace();

async function runJob(rt: Runtime, job: LeasedJob, signal: AbortSignal): Promise<JobOutcome> {
  // The job's own timeout. The lease covers it (timeout + grace) unless capped by the end of the
  // invocation: then `signal` aborts the job first and it is abandoned, not failed.
  const own = job.target?.timeoutMs ?? job.timeoutMs;
  if (!job.target) return runHandler(rt.handlers, job, { timeoutMs: Math.max(1, own), signal });
  const secrets = await rt.signingSecrets();
  const trace = traceOf(rt, job);
  // The call's span: the parent the target sees, and the id of its X-Ray subsegment.
  const span = newSpanId();
  const start = rt.tracer.now();
  const outcome = await callTarget(job.target, job.payload, {
    policy: rt.targetPolicy,
    timeoutMs: Math.max(1, own),
    signal,
    keepResponse: job.keepResponse === true,
    headers: {
      'spool-queue': job.queue,
      'spool-attempt': String(job.attempts),
      'idempotency-key': job.id,
      ...(trace ? traceHeaders(trace, span) : {}),
    },
    sign: (body) => ({
      [JOB_ID_HEADER]: job.id,
      ...(secrets ? signDelivery(secrets, job.id, body, rt.clock()) : {}),
    }),
  });
  if (outcome.kind !== 'abandoned') {
    const url = new URL(redactUrl(job.target.url));
    rt.tracer.record(trace, {
      name: url.host,
      id: span,
      start,
      end: rt.tracer.now(),
      http: {
        method: job.target.method,
        url: `${url.origin}${url.pathname}`,
        ...(outcome.status !== undefined ? { status: outcome.status } : {}),
      },
      ...(outcome.kind === 'failed' && outcome.status === undefined ? { error: outcome.error.message } : {}),
    });
  }
  return outcome;
}

export interface DrainInput {
  queue: string;
  deadline: number;
  log: Logger;
  /** May this run start more workers for a deep backlog (not for workers started by a scale-out). */
  scaleOut: boolean;
  opts: WorkerOptions;
  /** The invocation's request id, written into every failure's story (DLQ: which run failed it). */
  requestId?: string;
}

/** Drain one queue with the slot loop: the Lambda side is the job runner, the logs and the scale-out. */
export async function drainQueue(rt: Runtime, input: DrainInput): Promise<DrainReport> {
  const { queue, deadline, log, opts } = input;
  let scaledOut = 0;
  const report = await runSlots(
    {
      core: rt.spool,
      queue,
      clock: rt.clock,
      log,
      run: (job, signal) => runJob(rt, job, signal),
      onLease: async (lease, first) => {
        if (lease.leaseExpired || lease.leaseExpiredDead)
          log.info('lease expired', {
            queue,
            leaseExpired: lease.leaseExpired,
            leaseExpiredDead: lease.leaseExpiredDead,
          });
        // Flow control holds jobs back: more workers would start none of them.
        if (!first || !input.scaleOut || lease.held) return;
        const n = scaleOutCount(lease.waiting, opts);
        for (let i = 0; i < n; i++) {
          try {
            await rt.kickWorker(queue, { reason: 'scale-out' });
            scaledOut++;
          } catch (err) {
            log.warn('scale-out kick failed', { queue, error: err instanceof Error ? err.message : String(err) });
          }
        }
        if (n > 0) log.info('scaled out', { queue, waiting: lease.waiting, workers: scaledOut });
      },
      onOutcome: (job, outcome, ms) => logOutcome(log, job, outcome, ms),
    },
    {
      concurrency: opts.concurrency,
      prefetch: opts.prefetch,
      maxLease: opts.batchSize,
      heartbeatMs: opts.heartbeatMs,
      flushMs: opts.flushMs,
      lingerMs: opts.lingerMs,
      pollMs: opts.pollMs,
      stopAt: deadline - opts.marginMs,
      deadline,
      minWindowMs: opts.minWindowMs,
      ...(opts.fitCapMs !== undefined ? { fitCapMs: opts.fitCapMs } : {}),
      ...(input.requestId ? { requestId: input.requestId } : {}),
    },
  );
  return { queue, ...report, scaledOut };
}

/** Every line about a job carries its trace id (X-Ray form) when it has one. */
function logOutcome(log: Logger, job: LeasedJob, outcome: JobOutcome, ms: number): void {
  const queue = job.queue;
  const jobTrace = parseTraceparent(job.trace);
  const traceId = jobTrace ? { traceId: xrayTraceId(jobTrace) } : {};
  if (outcome.kind === 'ok')
    log.debug('job completed', { queue, jobId: job.id, attempt: job.attempts, ms, ...traceId });
  else if (outcome.kind === 'failed')
    log.info('job failed', {
      queue,
      jobId: job.id,
      attempt: job.attempts,
      ms,
      errorClass: outcome.error.class,
      error: outcome.error.message,
      retryable: outcome.error.retryable,
      ...traceId,
    });
  else
    log.warn('job abandoned: invocation out of time, back to waiting (attempt refunded)', {
      queue,
      jobId: job.id,
      attempt: job.attempts,
      ms,
      ...traceId,
    });
}

const kickSchema = z.object({
  kick: z.object({
    queue: z.string(),
    reason: z.optional(z.enum(KICK_REASONS)),
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
  const reason: KickReason = kick.reason ?? 'enqueue';
  const opts = workerOptions(rt, over);
  // A timer arrives up to a second early (SQS counts whole seconds, rounded down): wait for the job.
  if (reason === 'timer') opts.lingerMs = Math.max(opts.lingerMs, TIMER_LINGER_MS);
  const report = await drainQueue(rt, {
    queue: kick.queue,
    deadline: inv.deadline,
    log,
    scaleOut: reason !== 'scale-out',
    opts,
    requestId: inv.requestId,
  });
  let continued = false;
  if (
    report.stop === 'time' &&
    (report.waiting > 0 || report.released > 0 || report.abandoned > 0) &&
    reason !== 'scale-out'
  ) {
    try {
      await rt.kickWorker(kick.queue, { reason: 'continue' });
      continued = true;
    } catch (err) {
      log.warn('continuation kick failed; the schedule will run the queue', {
        queue: kick.queue,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
  // Leaving delayed jobs: the first one's timer, unless one is pending for it (armTimer claims it).
  // A worker that continues leaves it to its successor.
  if (!continued && report.nextDueInMs !== undefined) await armTimer(rt, log, kick.queue, report.nextDueInMs);
  log.info('worker done', { ...report, reason });
  return report;
}

/** A timer kick lingers at least this long for the job it was armed for. */
export const TIMER_LINGER_MS = 1_500;

const timerSchema = z.object({
  timer: z.object({ queue: z.string(), at: z.number() }),
});

export interface TimerReport {
  /** Queues whose timer was due: a worker was kicked for each. */
  kicked: string[];
  /** Timers not yet due (past SQS's 900 s): armed again. */
  rearmed: string[];
  /** SQS partial batch response: the records to deliver again. */
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

/**
 * Timer messages: a due one kicks a worker for its queue (reason 'timer'); one due more than a second
 * from now (its delay was past 900 s) is armed again for the rest. A record that fails is reported
 * back (partial batch response) and SQS delivers it again; a malformed one is dropped with a warning.
 */
export async function runTimers(
  event: { Records: Array<{ messageId: string; body: string }> },
  inv: Invocation,
): Promise<TimerReport> {
  const { rt, log } = inv;
  const report: TimerReport = { kicked: [], rearmed: [], batchItemFailures: [] };
  for (const rec of event.Records) {
    let msg: z.infer<typeof timerSchema>;
    try {
      msg = parseWith(timerSchema, JSON.parse(rec.body));
      assertQueueName(msg.timer.queue, 'timer.queue');
    } catch (err) {
      log.warn('timer message dropped: not a timer', {
        messageId: rec.messageId,
        error: err instanceof Error ? err.message : String(err),
      });
      continue;
    }
    const { queue, at } = msg.timer;
    const left = at - rt.clock();
    try {
      if (left > 1_000) {
        await rt.timer.arm(queue, at);
        report.rearmed.push(queue);
      } else {
        await rt.kickWorker(queue, { reason: 'timer' });
        report.kicked.push(queue);
      }
    } catch (err) {
      log.warn('timer failed; SQS delivers it again', {
        queue,
        messageId: rec.messageId,
        error: err instanceof Error ? err.message : String(err),
      });
      report.batchItemFailures.push({ itemIdentifier: rec.messageId });
    }
  }
  log.info('timers done', { kicked: report.kicked, rearmed: report.rearmed, failed: report.batchItemFailures.length });
  return report;
}

export interface ScheduleReport {
  /** Queues looked at: those the due index says are due (every queue when the index is being built). */
  queues: number;
  kicked: string[];
  promoted: number;
  /** Jobs whose lease expired, put back to waiting. */
  leaseExpired: number;
  /** Jobs whose lease expired with their attempts spent, moved to dead. */
  leaseExpiredDead: number;
}

/**
 * The scheduled safety net: one read of the due index (shared/queue/keys.ts `due`) says which queues
 * need a worker by now; each of those promotes due delayed jobs and reclaims expired leases (which
 * sets its entry exactly), and a worker is kicked for each with waiting jobs and no worker running.
 * An idle Spool costs this one read, however many queues it has. The first run after an upgrade
 * looks at every queue once, which builds the index. It drains nothing itself.
 */
export async function runSchedule(inv: Invocation): Promise<ScheduleReport> {
  const { rt, log } = inv;
  const due = await dueQueues(rt.spool);
  const queues = due.built ? due.queues : await listQueues(rt.spool);
  // One script per due queue, all in one request: promotes, reclaims, and tells waiting depth and worker mark.
  const outcomes = await Promise.all(queues.map((q) => reclaim(rt.spool, q)));
  if (!due.built) await markDueBuilt(rt.spool);
  const report: ScheduleReport = {
    queues: queues.length,
    kicked: [],
    promoted: 0,
    leaseExpired: 0,
    leaseExpiredDead: 0,
  };
  for (const r of outcomes) {
    report.promoted += r.promoted;
    report.leaseExpired += r.leaseExpired;
    report.leaseExpiredDead += r.leaseExpiredDead;
  }
  for (const [i, r] of outcomes.entries()) {
    const queue = queues[i]!;
    // A paused queue's waiting jobs need no worker (resuming kicks one).
    if (r.waiting === 0 || r.workerRunning || r.held === 'paused') continue;
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

/** Every invocation of the worker: a kick drains its queue, the schedule (or `{}`) runs the safety net. */
export async function runInvocation(
  event: unknown,
  inv: Invocation,
  over: Partial<WorkerOptions> = {},
): Promise<DrainReport | ScheduleReport | TimerReport> {
  if (event && typeof event === 'object' && 'kick' in event)
    return clearingMark(event, inv, () => runKick(event, inv, over));
  if (isSqsEvent(event)) return runTimers(event, inv);
  if (isScheduledEvent(event) || (event && typeof event === 'object' && Object.keys(event).length === 0))
    return runSchedule(inv);
  throw new Error('worker: expected a kick {"kick": {"queue": ...}}, a scheduled event or timer messages (SQS)');
}

/**
 * A kick that throws still clears its queue's worker mark (finally, on the way out): a mark left set
 * stops enqueues from kicking a worker, and the schedule from kicking one, until it expires. A lease
 * of no job clears it (and promotes and reclaims, as the schedule would); best effort: Redis may be
 * what failed.
 */
async function clearingMark<T>(event: object, inv: Invocation, run: () => Promise<T>): Promise<T> {
  let failed = false;
  try {
    return await run();
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    const queue = (event as { kick?: { queue?: unknown } }).kick?.queue;
    if (failed && typeof queue === 'string' && QUEUE_NAME.test(queue))
      await leaseJobs(inv.rt.spool, queue, { count: 0, workerMarkMs: 1, keepMark: false }).then(
        () => inv.log.info('worker mark cleared after a failed run', { queue }),
        (e: unknown) =>
          inv.log.warn('worker mark not cleared', { queue, error: e instanceof Error ? e.message : String(e) }),
      );
  }
}
