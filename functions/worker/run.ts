/**
 * The worker's work. A kick drains one queue: lease a batch, run it with bounded concurrency,
 * acknowledge it (complete and fail go out together: one request per batch), until the queue is
 * empty or the invocation is nearly out of time. Leases never outlive the invocation
 * (`leaseUntilMax` = deadline - margin); a job still running at that point is abandoned, left
 * leased, and runs again once its lease expires. The schedule (the safety net) drains nothing: it
 * promotes, reclaims and kicks a worker for each queue with work.
 */

import * as z from 'zod/mini';
import type { SpoolConfig } from '../../shared/config/index.js';
import { callTarget } from '../../shared/jobs/http-target.js';
import type { JobOutcome } from '../../shared/jobs/outcome.js';
import { runHandler } from '../../shared/jobs/registry.js';
import { JOB_ID_HEADER, signDelivery } from '../../shared/jobs/signature.js';
import type { Logger } from '../../shared/log/logger.js';
import { redactUrl } from '../../shared/log/redact.js';
import { complete as completeJobs, extend, fail as failJobs } from '../../shared/queue/ops/ack.js';
import { lease as leaseJobs, reclaim } from '../../shared/queue/ops/lease.js';
import { queues as listQueues } from '../../shared/queue/ops/snapshot.js';
import { assertQueueName, QUEUE_NAME } from '../../shared/queue/schema.js';
import type { AttemptRun, CompleteItem, FailItem, LeasedJob } from '../../shared/queue/types.js';
import {
  newSpanId,
  parseTraceparent,
  type TraceContext,
  traceHeaders,
  xrayTraceId,
} from '../../shared/trace/context.js';
import { parseWith } from '../../shared/validation/zod.js';
import { type Invocation, isScheduledEvent } from '../lib/handler.js';
import { KICK_REASONS, type KickReason, type Runtime } from '../lib/runtime.js';

export interface WorkerOptions {
  batchSize: number;
  concurrency: number;
  /** Stop leasing, and abandon running jobs, this long before the deadline. */
  marginMs: number;
  /** Do not lease when less than this is left before deadline - margin (a job could not finish). */
  minWindowMs: number;
  /** Extend the leases of running jobs this often. */
  heartbeatMs: number;
  /** Wait for a delayed job due within this long instead of exiting. */
  lingerMs: number;
  maxScaleOut: number;
  jobsPerWorker: number;
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
    marginMs: c.SPOOL_WORKER_TIME_MARGIN_MS,
    minWindowMs: minLeaseWindowMs(c),
    heartbeatMs: Math.max(1_000, Math.floor(c.SPOOL_LEASE_MS / 2)),
    lingerMs: 2_000,
    maxScaleOut: c.SPOOL_WORKER_MAX_SCALE_OUT,
    jobsPerWorker: c.SPOOL_WORKER_JOBS_PER_WORKER,
    ...over,
  };
}

export interface DrainReport {
  queue: string;
  leased: number;
  completed: number;
  retried: number;
  dead: number;
  /** Acks refused because the lease was no longer ours (expired and re-leased). */
  stale: number;
  /** Left leased when time ran out. */
  abandoned: number;
  batches: number;
  scaledOut: number;
  stop: 'empty' | 'time';
  /** Waiting jobs after the last lease. */
  waiting: number;
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

/** Runs `items` through `fn` with at most `limit` at once. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(lanes);
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

export async function drainQueue(rt: Runtime, input: DrainInput): Promise<DrainReport> {
  const { queue, deadline, log, opts } = input;
  const { spool } = rt;
  const stopAt = deadline - opts.marginMs;
  const r: DrainReport = {
    queue,
    leased: 0,
    completed: 0,
    retried: 0,
    dead: 0,
    stale: 0,
    abandoned: 0,
    batches: 0,
    scaledOut: 0,
    stop: 'empty',
    waiting: 0,
  };
  let scaled = !input.scaleOut;

  for (;;) {
    const now = rt.clock();
    if (stopAt - now < opts.minWindowMs) {
      r.stop = 'time';
      if (r.batches === 0)
        log.warn('too little time left to lease: remaining time must exceed the margin plus the minimum window', {
          queue,
          remainingMs: deadline - now,
          marginMs: opts.marginMs,
          minWindowMs: opts.minWindowMs,
        });
      break;
    }
    const lease = await leaseJobs(spool, queue, {
      count: opts.batchSize,
      leaseUntilMax: stopAt,
      workerMarkMs: deadline - now,
      ...(input.requestId ? { requestId: input.requestId } : {}),
    });
    r.waiting = lease.waiting;
    if (lease.leaseExpired || lease.leaseExpiredDead)
      log.info('lease expired', { queue, leaseExpired: lease.leaseExpired, leaseExpiredDead: lease.leaseExpiredDead });
    if (!scaled) {
      scaled = true;
      const n = scaleOutCount(lease.waiting, opts);
      for (let i = 0; i < n; i++) {
        try {
          await rt.kickWorker(queue, { reason: 'scale-out' });
          r.scaledOut++;
        } catch (err) {
          log.warn('scale-out kick failed', { queue, error: err instanceof Error ? err.message : String(err) });
        }
      }
      if (n > 0) log.info('scaled out', { queue, waiting: lease.waiting, workers: r.scaledOut });
    }
    if (lease.jobs.length === 0) {
      const due = lease.nextRunAt;
      if (due !== undefined && due - rt.clock() <= opts.lingerMs && due < stopAt - opts.minWindowMs) {
        await rt.sleep(Math.max(0, due - rt.clock()) + 5);
        continue;
      }
      r.stop = 'empty';
      break;
    }
    r.batches++;
    r.leased += lease.jobs.length;
    const done = await runBatch(rt, queue, lease.jobs, stopAt, log, opts, r, input.requestId);
    if (!done) {
      r.stop = 'time';
      break;
    }
  }
  return r;
}

/** Runs one leased batch and acknowledges it. False when time ran out (unfinished jobs left leased). */
async function runBatch(
  rt: Runtime,
  queue: string,
  jobs: LeasedJob[],
  stopAt: number,
  log: Logger,
  opts: WorkerOptions,
  r: DrainReport,
  requestId: string | undefined,
): Promise<boolean> {
  const ctl = new AbortController();
  const complete: CompleteItem[] = [];
  const fail: FailItem[] = [];
  const running = new Map<string, LeasedJob>();
  let abandoned = 0;

  const heartbeat = setInterval(() => {
    if (running.size === 0) return;
    const now = rt.clock();
    const items = [...running.values()].map((j) => ({
      id: j.id,
      token: j.token,
      leaseMs: Math.max(opts.heartbeatMs * 2, j.timeoutMs + rt.spool.config.leaseGraceMs),
    }));
    extend(rt.spool, queue, items, stopAt).then(
      (res) => log.debug('leases extended', { queue, jobs: res.filter((x) => x.status === 'ok').length, at: now }),
      (err) => log.warn('lease extension failed', { queue, error: err instanceof Error ? err.message : String(err) }),
    );
  }, opts.heartbeatMs);
  const timer = setTimeout(() => ctl.abort(), Math.max(0, stopAt - rt.clock()));

  try {
    await pool(jobs, opts.concurrency, async (job) => {
      if (ctl.signal.aborted) {
        abandoned++;
        return;
      }
      running.set(job.id, job);
      const started = rt.clock();
      let outcome: JobOutcome;
      try {
        outcome = await runJob(rt, job, ctl.signal);
      } catch (err) {
        outcome = {
          kind: 'failed',
          error: { message: err instanceof Error ? err.message : String(err), class: 'WorkerError', retryable: true },
        };
      } finally {
        running.delete(job.id);
      }
      const ended = rt.clock();
      const ms = ended - started;
      // For the job's history: how it ran (the engine keeps durations, not this clock's times).
      const run: AttemptRun = {
        startedAt: started,
        endedAt: ended,
        ...(outcome.kind !== 'abandoned' && outcome.status !== undefined ? { status: outcome.status } : {}),
        ...(requestId ? { requestId } : {}),
      };
      // Every line about a job carries its trace id (X-Ray form) when it has one.
      const jobTrace = parseTraceparent(job.trace);
      const traceId = jobTrace ? { traceId: xrayTraceId(jobTrace) } : {};
      if (outcome.kind === 'ok') {
        complete.push({
          id: job.id,
          token: job.token,
          run,
          ...(outcome.response ? { response: outcome.response } : {}),
        });
        log.debug('job completed', { queue, jobId: job.id, attempt: job.attempts, ms, ...traceId });
      } else if (outcome.kind === 'failed') {
        fail.push({
          id: job.id,
          token: job.token,
          error: requestId && !outcome.error.requestId ? { ...outcome.error, requestId } : outcome.error,
          run,
        });
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
      } else {
        abandoned++;
        log.warn('job abandoned: invocation out of time, left leased', {
          queue,
          jobId: job.id,
          attempt: job.attempts,
          ms,
          ...traceId,
        });
      }
    });
  } finally {
    clearInterval(heartbeat);
    clearTimeout(timer);
  }

  // One request for the batch: the two calls are made in the same tick and auto-pipelined.
  const [c, f] = await Promise.all([completeJobs(rt.spool, queue, complete), failJobs(rt.spool, queue, fail)]);
  for (const x of c)
    if (x.status === 'ok') r.completed++;
    else r.stale++;
  for (const x of f) {
    if (x.status !== 'ok') r.stale++;
    else if (x.state === 'dead') r.dead++;
    else r.retried++;
  }
  r.abandoned += abandoned;
  return !ctl.signal.aborted;
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
  /** Jobs whose lease expired, put back to waiting. */
  leaseExpired: number;
  /** Jobs whose lease expired with their attempts spent, moved to dead. */
  leaseExpiredDead: number;
}

/**
 * The scheduled safety net: for every queue, promote due delayed jobs and reclaim expired leases,
 * then kick a worker for each queue with waiting jobs and no worker running. It drains nothing itself.
 */
export async function runSchedule(inv: Invocation): Promise<ScheduleReport> {
  const { rt, log } = inv;
  const queues = await listQueues(rt.spool);
  // One script per queue, all in one request: promotes, reclaims, and tells waiting depth and worker mark.
  const outcomes = await Promise.all(queues.map((q) => reclaim(rt.spool, q)));
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

/** Every invocation of the worker: a kick drains its queue, the schedule (or `{}`) runs the safety net. */
export async function runInvocation(
  event: unknown,
  inv: Invocation,
  over: Partial<WorkerOptions> = {},
): Promise<DrainReport | ScheduleReport> {
  if (event && typeof event === 'object' && 'kick' in event)
    return clearingMark(event, inv, () => runKick(event, inv, over));
  if (isScheduledEvent(event) || (event && typeof event === 'object' && Object.keys(event).length === 0))
    return runSchedule(inv);
  throw new Error('worker: expected a kick {"kick": {"queue": ...}} or a scheduled event');
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
      await leaseJobs(inv.rt.spool, queue, { count: 0, workerMarkMs: 1 }).then(
        () => inv.log.info('worker mark cleared after a failed run', { queue }),
        (e: unknown) =>
          inv.log.warn('worker mark not cleared', { queue, error: e instanceof Error ? e.message : String(e) }),
      );
  }
}
