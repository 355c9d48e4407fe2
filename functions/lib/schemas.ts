/**
 * The HTTP API's bodies, once, as zod (mini) schemas: the request schemas are what the route
 * handlers validate with; the response schemas are what they answer (the handlers' return types
 * are inferred from them, and the route tests parse every answer with them). The OpenAPI document
 * (functions/lib/openapi.ts) and the producer client's types (client/) are generated from this
 * module, so the three cannot drift apart. Only zod here: every function may import it.
 */
import * as z from 'zod/mini';
import { HEALTH_STATUSES } from '../../shared/health/evaluate.js';
import {
  jobInputSchema,
  QUEUE_NAME,
  scheduleFields,
  scheduleIdSchema,
  scheduleInputSchema,
  scheduleJobInputSchema,
  settingsInputSchema,
} from '../../shared/queue/schema.js';
import { JOB_STATES } from '../../shared/queue/types.js';

/** At most this many jobs in one `{"jobs": [...]}` request. */
export const API_MAX_BATCH = 100;

// ---- path parameters ----

export const queueParam = z.string().check(z.regex(QUEUE_NAME, 'must match [A-Za-z0-9_-]{1,64}'));
export const jobIdParam = z.string().check(z.minLength(1), z.maxLength(128));

// ---- request bodies and queries ----

export { jobInputSchema, settingsInputSchema };
export const enqueueBatchBody = z.strictObject({
  jobs: z.array(jobInputSchema).check(z.minLength(1), z.maxLength(API_MAX_BATCH)),
});
export const enqueueBody = z.union([jobInputSchema, enqueueBatchBody]);

export const listJobsQuery = z.object({
  state: z.optional(z.enum(JOB_STATES)),
  limit: z.optional(z.string().check(z.regex(/^\d{1,4}$/, 'must be an integer from 1 to 1000'))),
  cursor: z.optional(z.string().check(z.minLength(1), z.maxLength(512))),
});

export const healthQuery = z.object({
  history: z.optional(z.string().check(z.regex(/^\d{1,4}$/, 'must be a number of entries'))),
});

export const dlqQuery = z.object({
  samples: z.optional(z.string().check(z.regex(/^([0-9]|1[0-9]|20)$/, 'must be an integer from 0 to 20'))),
  scan: z.optional(z.string().check(z.regex(/^\d{1,4}$/, 'must be an integer from 1 to 5000'))),
});

const time = z.union([z.int().check(z.gte(0)), z.iso.datetime({ offset: true })]);

/** The fields of a DLQ replay (the route's body; a direct invocation adds `queue` and `actor`). */
export const replayFields = {
  dryRun: z.optional(z.boolean()),
  ids: z.optional(z.array(z.string().check(z.minLength(1), z.maxLength(128))).check(z.minLength(1), z.maxLength(1000))),
  fingerprint: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
  failedAfter: z.optional(time),
  failedBefore: z.optional(time),
  limit: z.optional(z.int().check(z.gte(1), z.lte(1000))),
};
export const replayBody = z.strictObject(replayFields);

export const purgeFields = {
  dryRun: z.optional(z.boolean()),
  limit: z.optional(z.int().check(z.gte(1), z.lte(100_000))),
};
export const purgeBody = z.strictObject(purgeFields);

const flagParam = z.optional(z.enum(['true', 'false']));
/** `DELETE /v1/queues/{queue}`: `confirm` must repeat the queue's name. */
export const clearQuery = z.object({
  confirm: z.optional(z.string().check(z.maxLength(64))),
  includeDead: flagParam,
  force: flagParam,
});

/** The schedule schemas are the engine's (shared/queue/schema.ts). */
export const scheduleIdParam = scheduleIdSchema;
export const scheduleJobInput = scheduleJobInputSchema;
/** `PUT /v1/schedules/{id}`: create or replace; an `id` in the body must be the path's. */
export const scheduleInput = scheduleInputSchema;
/** `POST /v1/schedules`: create; the id is the body's. */
export const scheduleCreateBody = z.strictObject({ id: scheduleIdSchema, ...scheduleFields });

export const schedulesQuery = z.object({ queue: z.optional(queueParam) });

// ---- responses ----

const isoTime = z.iso.datetime({ offset: true });
const count = z.int().check(z.gte(0));
const state = z.enum(JOB_STATES);

/** Every error the API answers: the code is stable, the message is for people, details name the field. */
export const errorResponse = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()),
  }),
});

/** What API Gateway itself answers before Spool runs: 403 (SigV4 missing or wrong), 429 (throttled). */
export const gatewayErrorResponse = z.object({ message: z.string() });

export const jobError = z.object({
  message: z.string(),
  class: z.string(),
  fingerprint: z.string(),
  requestId: z.optional(z.string()),
  at: isoTime,
  attempt: z.int(),
  retryable: z.boolean(),
});

/** One attempt of a job's history (times of the Redis server's clock). */
export const attemptRecord = z.object({
  attempt: z.int(),
  startedAt: isoTime,
  endedAt: isoTime,
  durationMs: count,
  /** completed; failed (then retried or dead); leaseExpired (the worker neither completed nor failed it in time). */
  outcome: z.enum(['completed', 'failed', 'leaseExpired']),
  /** Where the job went. */
  state: z.enum(['completed', 'delayed', 'waiting', 'dead']),
  /** The HTTP status the target answered. */
  status: z.optional(z.int()),
  errorClass: z.optional(z.string()),
  /** The failure's message (URLs redacted), cut to 300 code points; lastError has it whole. */
  message: z.optional(z.string()),
  /** The worker invocation's request id. */
  requestId: z.optional(z.string()),
});

/** The first 1 KB (UTF-8) of the target's 2xx answer, for a job enqueued with keepResponse. */
export const keptResponse = z.object({
  status: z.int(),
  body: z.string(),
  /** The answer was longer than what is kept. */
  truncated: z.boolean(),
  contentType: z.optional(z.string()),
});

/** A job as the API shows it: times as ISO-8601, target header values redacted. */
export const jobResponse = z.object({
  id: z.string(),
  queue: z.string(),
  state,
  attempts: count,
  maxAttempts: z.int(),
  priority: z.int(),
  timeoutMs: z.int(),
  backoff: z.object({ type: z.enum(['exponential', 'fixed']), baseMs: z.int(), maxMs: z.int() }),
  createdAt: isoTime,
  updatedAt: isoTime,
  handler: z.optional(z.string()),
  target: z.optional(
    z.object({
      url: z.string(),
      method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
      /** Names kept, values `[redacted]`. */
      headers: z.optional(z.record(z.string(), z.string())),
      timeoutMs: z.optional(z.int()),
    }),
  ),
  payload: z.unknown(),
  runAt: z.optional(isoTime),
  /** Dead with error class Expired if still waiting or delayed then (expireAfterMs, expiresAt, the queue's maxWaitMs). */
  expiresAt: z.optional(isoTime),
  leaseUntil: z.optional(isoTime),
  idempotencyKey: z.optional(z.string()),
  lastError: z.optional(jobError),
  firstFailedAt: z.optional(isoTime),
  lastFailedAt: z.optional(isoTime),
  completedAt: z.optional(isoTime),
  diedAt: z.optional(isoTime),
  replays: z.optional(count),
  /** The X-Ray form of the trace the job was enqueued in (sent on to the target as traceparent and X-Amzn-Trace-Id). */
  traceId: z.optional(z.string()),
  /** Its last 10 attempts, oldest first (`attempts` is their count, the earlier ones included). */
  history: z.optional(z.array(attemptRecord)),
  /** Set when the job keeps its target's answer. */
  keepResponse: z.optional(z.literal(true)),
  /** The target's answer of the completed attempt (keepResponse). */
  response: z.optional(keptResponse),
});

const enqueued = z.object({ id: z.string(), deduplicated: z.boolean(), state });
export const enqueueResponse = z.object({ queue: z.string(), ...enqueued.shape });
export const enqueueBatchResponse = z.object({ queue: z.string(), jobs: z.array(enqueued) });
/** A single job's answer, or a batch's. */
export const enqueueAnyResponse = z.union([enqueueResponse, enqueueBatchResponse]);

export const jobPageResponse = z.object({
  queue: z.string(),
  state,
  total: count,
  jobs: z.array(jobResponse),
  nextCursor: z.optional(z.string()),
});

export const cancelResponse = z.object({
  queue: z.string(),
  id: z.string(),
  cancelled: z.literal(true),
  state: z.enum(['waiting', 'delayed']),
});

/** A delayed job run now: it is waiting, and a worker was asked to run. */
export const runResponse = z.object({ queue: z.string(), id: z.string(), state: z.literal('waiting') });

export const drainResponse = z.object({ queue: z.string(), accepted: z.literal(true) });

/** The worker invocations draining a queue now (entries whose worker stopped heartbeating are gone). */
export const workersResponse = z.object({
  queue: z.string(),
  workers: z.array(
    z.object({
      /** The invocation's request id. */
      id: z.string(),
      startedAt: isoTime,
      lastHeartbeatAt: isoTime,
      /** Jobs it holds (leased, not yet acked), as of its last call. */
      held: count,
      /** Jobs it finished (completed, retried or dead), as of its last call. */
      done: count,
      /** The entry lapses then unless the worker calls again. */
      expiresAt: isoTime,
    }),
  ),
});

/** A queue cleared: the jobs removed by the state they were in, the jobs left, whether it left the registry. */
export const clearResponse = z.object({
  queue: z.string(),
  removed: z.object({ waiting: count, delayed: count, active: count, dead: count }),
  /** Jobs kept: completed ones, and dead ones without includeDead. */
  left: count,
  /** It held no job afterwards and left the registry (an enqueue brings it back). */
  unregistered: z.boolean(),
});

/** A schedule's job as the API shows it: target header values and URL secrets redacted. */
export const scheduleJobResponse = z.object({
  payload: z.optional(z.unknown()),
  target: z.optional(
    z.object({
      url: z.string(),
      method: z.optional(z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])),
      /** Names kept, values `[redacted]`. */
      headers: z.optional(z.record(z.string(), z.string())),
      timeoutMs: z.optional(z.int()),
    }),
  ),
  handler: z.optional(z.string()),
  priority: z.optional(z.int()),
  delayMs: z.optional(z.int()),
  maxAttempts: z.optional(z.int()),
  backoff: z.optional(
    z.object({
      type: z.optional(z.enum(['exponential', 'fixed'])),
      baseMs: z.optional(z.int()),
      maxMs: z.optional(z.int()),
    }),
  ),
  timeoutMs: z.optional(z.int()),
  keepResponse: z.optional(z.boolean()),
  expireAfterMs: z.optional(z.int()),
});

/** A recurring schedule: its definition, its next and last fire, and its counts. */
export const scheduleResponse = z.object({
  id: z.string(),
  queue: z.string(),
  cron: z.optional(z.string()),
  everyMs: z.optional(z.int()),
  timezone: z.string(),
  job: scheduleJobResponse,
  paused: z.boolean(),
  startAt: z.optional(isoTime),
  endAt: z.optional(isoTime),
  /** The next fire; null while paused, after endAt, or when no time is left to fire. */
  nextRunAt: z.nullable(isoTime),
  /** The fire time of the last fire; null before the first. */
  lastRunAt: z.nullable(isoTime),
  /** The job the last fire enqueued. */
  lastJobId: z.optional(z.string()),
  /** Fires so far. */
  fires: count,
  /** Ticks skipped: after downtime a schedule fires once for the missed period and counts the rest here. */
  missed: count,
  /** The last fire whose job did not validate (the schedule advanced past it). */
  lastError: z.optional(z.object({ message: z.string(), at: isoTime })),
  createdAt: isoTime,
  updatedAt: isoTime,
});

export const schedulesResponse = z.object({ schedules: z.array(scheduleResponse) });

export const scheduleDeletedResponse = z.object({ id: z.string(), deleted: z.literal(true) });

/** A queue's flow-control settings, every default filled in (issue 11). */
export const settingsResponse = z.object({
  queue: z.string(),
  /** Nothing is leased while paused; enqueues are accepted. */
  paused: z.boolean(),
  /** When the queue was paused (only while paused). */
  pausedAt: z.optional(isoTime),
  /** At most `limit` jobs start in any `periodMs`, across all workers; null: none. */
  rateLimit: z.nullable(z.object({ limit: z.int(), periodMs: z.int() })),
  /** At most this many of the queue's jobs active at once; null: none. */
  maxConcurrency: z.nullable(z.int()),
  /** A job enqueued while it is set, still waiting or delayed this long after its enqueue, dies (Expired); null: none. */
  maxWaitMs: z.nullable(z.int()),
  /** The circuit breaker of each target origin: on, 5 failures, 10 s doubling to 5 min by default. */
  circuitBreaker: z.object({
    enabled: z.boolean(),
    failures: z.int(),
    coolDownMs: z.int(),
    maxCoolDownMs: z.int(),
  }),
  /** The breakers of origins that failed since they last answered. */
  breakers: z.array(
    z.object({
      origin: z.string(),
      /** open: its jobs wait (delayed, no attempt spent); halfOpen: one probe; closed: counting failures. */
      state: z.enum(['closed', 'open', 'halfOpen']),
      failures: count,
      openUntil: z.optional(isoTime),
      coolDownMs: z.optional(z.int()),
    }),
  ),
  /** Automatic DLQ replay on the dlq-replay function's schedule; null: off (the default). */
  autoReplay: z.nullable(z.object({ maxJobs: z.int(), minAgeMs: z.int(), maxReplaysPerJob: z.int() })),
});

const counts = z.object({ waiting: count, delayed: count, active: count, completed: count, dead: count });

export const queuesResponse = z.object({
  queues: z.array(
    z.object({
      queue: z.string(),
      counts,
      leaseExpired: count,
      oldestWaitingAgeSeconds: count,
      /** Cumulative since the queue was first used, by event (enqueued, completed, failed, retried, dead, ...). */
      counters: z.record(z.string(), count),
    }),
  ),
});

const healthStatus = z.enum(HEALTH_STATUSES);

export const healthResponse = z.object({
  status: healthStatus,
  at: isoTime,
  queues: z.array(
    z.object({
      queue: z.string(),
      status: healthStatus,
      symptoms: z.array(
        z.object({
          check: z.string(),
          status: z.enum(['degraded', 'unhealthy']),
          value: z.number(),
          threshold: z.number(),
          unit: z.enum(['jobs', 'seconds', 'origins']),
          runbook: z.string(),
          step: z.string(),
          /** breakerOpen: the target origins whose circuit breaker is open. */
          origins: z.optional(z.array(z.string())),
          /** The symptom as a sentence: `dead jobs = 12 jobs (above 10 jobs)`. */
          text: z.string(),
        }),
      ),
      counts,
      leaseExpired: count,
      oldestWaitingAgeSeconds: count,
      oldestDeadAgeSeconds: count,
      nextRunAt: z.optional(isoTime),
      /** While the queue is paused (its settings): for how long. Its backlog is then no symptom. */
      pausedSeconds: z.optional(count),
    }),
  ),
  lastCheck: z.nullable(z.object({ at: isoTime, status: healthStatus })),
  /** With `?history=N`: the last N scheduled checks, newest first. */
  history: z.optional(z.array(z.unknown())),
});

export const deadGroupsResponse = z.object({
  queue: z.string(),
  total: count,
  groups: z.array(
    z.object({
      fingerprint: z.string(),
      count,
      errorClass: z.optional(z.string()),
      message: z.optional(z.string()),
      lastDiedAt: z.optional(isoTime),
      samples: z.array(jobResponse),
    }),
  ),
});

export const deleteDeadResponse = z.object({ queue: z.string(), id: z.string(), deleted: z.literal(true) });

export const replayResponse = z.object({
  queue: z.string(),
  dryRun: z.boolean(),
  matched: count,
  moved: count,
  /** Matched jobs by failure fingerprint. */
  byFingerprint: z.record(z.string(), count),
  /** Matched jobs whose last failure was permanent (not retryable): replayed, they will likely fail again. */
  permanent: count,
  jobs: z.array(
    z.object({
      id: z.string(),
      fingerprint: z.optional(z.string()),
      diedAt: z.optional(isoTime),
      attempts: count,
      error: z.optional(z.string()),
      retryable: z.optional(z.boolean()),
    }),
  ),
  scanned: count,
  truncated: z.boolean(),
  chunks: count,
});

const purgeCounts = {
  completed: count,
  /** Dead jobs past SPOOL_DEAD_TTL_MS. */
  deadPastTtl: count,
  /** Dead jobs over SPOOL_DEAD_CAP, oldest first. */
  deadTrimmed: count,
  orphans: count,
  idempotencyKeys: count,
  /** Jobs whose lease expired, put back to waiting (dry run: every job whose lease has expired). */
  leaseExpired: count,
  /** Jobs whose lease expired with their attempts spent, moved to dead. */
  leaseExpiredDead: count,
  /** Due delayed jobs promoted to waiting on the way. */
  promoted: count,
};
export const purgeResponse = z.object({
  queue: z.string(),
  dryRun: z.boolean(),
  queues: z.record(z.string(), z.object({ ...purgeCounts, more: z.boolean(), rounds: count })),
  totals: z.object(purgeCounts),
  /** Work left for the next call (it resumes where this one stopped). */
  more: z.boolean(),
});

/** The OpenAPI document itself (GET /v1/openapi.json). */
export const openApiResponse = z.looseObject({
  openapi: z.string(),
  info: z.looseObject({ title: z.string(), version: z.string() }),
});

/** The body type a response schema describes: what a route handler must answer. */
export type Body<S extends z.ZodMiniType> = z.output<S>;
