import type * as z from 'zod/mini';
import { redactHeaders, redactUrl, redactUrls } from '../../shared/log/redact.js';
import type { Schedule } from '../../shared/queue/ops/schedules.js';
import type { Attempt, Job, JobError, JobInput } from '../../shared/queue/types.js';
import { parseTraceparent, xrayTraceId } from '../../shared/trace/context.js';
import type { jobError, jobResponse, scheduleResponse } from './schemas.js';

function iso(t: number): string;
function iso(t: number | undefined): string | undefined;
function iso(t: number | undefined): string | undefined {
  return t === undefined ? undefined : new Date(t).toISOString();
}

/** A job as the API answers it (the schema of functions/lib/schemas.ts). */
export type ApiJob = z.output<typeof jobResponse>;

/**
 * A job as the API shows it: engine times (epoch ms) as ISO-8601 strings; target header values
 * redacted (they often carry credentials), names kept; the target URL's userinfo and query values
 * redacted, and URLs in the last error's message (shared/log/redact.ts).
 */
export function presentJob(j: Job): ApiJob {
  const out: ApiJob = {
    id: j.id,
    queue: j.queue,
    state: j.state,
    attempts: j.attempts,
    maxAttempts: j.maxAttempts,
    priority: j.priority,
    timeoutMs: j.timeoutMs,
    backoff: j.backoff,
    createdAt: iso(j.createdAt),
    updatedAt: iso(j.updatedAt),
    ...(j.handler !== undefined ? { handler: j.handler } : {}),
    ...(j.target ? { target: presentTarget(j.target) } : {}),
    payload: j.payload,
  };
  if (j.runAt !== undefined) out.runAt = iso(j.runAt);
  if (j.expiresAt !== undefined) out.expiresAt = iso(j.expiresAt);
  if (j.leaseUntil !== undefined) out.leaseUntil = iso(j.leaseUntil);
  if (j.idempotencyKey !== undefined) out.idempotencyKey = j.idempotencyKey;
  if (j.lastError) out.lastError = presentError(j.lastError);
  if (j.firstFailedAt !== undefined) out.firstFailedAt = iso(j.firstFailedAt);
  if (j.lastFailedAt !== undefined) out.lastFailedAt = iso(j.lastFailedAt);
  if (j.completedAt !== undefined) out.completedAt = iso(j.completedAt);
  if (j.diedAt !== undefined) out.diedAt = iso(j.diedAt);
  if (j.replays !== undefined) out.replays = j.replays;
  const trace = parseTraceparent(j.trace);
  if (trace) out.traceId = xrayTraceId(trace);
  if (j.history) out.history = j.history.map(presentAttempt);
  if (j.keepResponse) out.keepResponse = true;
  if (j.response) out.response = j.response;
  return out;
}

/** One attempt: ISO times, URLs in its message redacted. */
function presentAttempt(a: Attempt): NonNullable<ApiJob['history']>[number] {
  const out: NonNullable<ApiJob['history']>[number] = { ...a, startedAt: iso(a.startedAt), endedAt: iso(a.endedAt) };
  if (a.message !== undefined) out.message = redactUrls(a.message);
  return out;
}

function presentTarget(target: NonNullable<Job['target']>): NonNullable<ApiJob['target']> {
  const t: NonNullable<ApiJob['target']> = { url: redactUrl(target.url), method: target.method };
  if (target.headers) t.headers = redactHeaders(target.headers);
  if (target.timeoutMs !== undefined) t.timeoutMs = target.timeoutMs;
  return t;
}

/** A schedule as the API answers it (the schema of functions/lib/schemas.ts). */
export type ApiSchedule = z.output<typeof scheduleResponse>;

/**
 * A schedule as the API shows it: engine times as ISO-8601 strings, `nextRunAt` and `lastRunAt`
 * always there (null when none), and its job's target redacted as presentJob redacts a job's.
 */
export function presentSchedule(sc: Schedule): ApiSchedule {
  const out: ApiSchedule = {
    id: sc.id,
    queue: sc.queue,
    ...(sc.cron !== undefined ? { cron: sc.cron } : {}),
    ...(sc.everyMs !== undefined ? { everyMs: sc.everyMs } : {}),
    timezone: sc.timezone,
    job: presentScheduleJob(sc.job),
    paused: sc.paused,
    nextRunAt: sc.nextRunAt === undefined ? null : iso(sc.nextRunAt),
    lastRunAt: sc.lastRunAt === undefined ? null : iso(sc.lastRunAt),
    fires: sc.fires,
    missed: sc.missed,
    createdAt: iso(sc.createdAt),
    updatedAt: iso(sc.updatedAt),
  };
  if (sc.startAt !== undefined) out.startAt = iso(sc.startAt);
  if (sc.endAt !== undefined) out.endAt = iso(sc.endAt);
  if (sc.lastJobId !== undefined) out.lastJobId = sc.lastJobId;
  if (sc.lastError) out.lastError = { message: redactUrls(sc.lastError.message), at: iso(sc.lastError.at) };
  return out;
}

function presentScheduleJob(job: JobInput): ApiSchedule['job'] {
  const { target, ...rest } = job;
  const out: ApiSchedule['job'] = rest as ApiSchedule['job'];
  if (target) {
    const t: NonNullable<ApiSchedule['job']['target']> = { url: redactUrl(target.url) };
    if (target.method !== undefined) t.method = target.method;
    if (target.headers) t.headers = redactHeaders(target.headers);
    if (target.timeoutMs !== undefined) t.timeoutMs = target.timeoutMs;
    out.target = t;
  }
  return out;
}

export function presentError(e: JobError): z.output<typeof jobError> {
  return { ...e, message: redactUrls(e.message), at: iso(e.at) };
}

export { iso };
