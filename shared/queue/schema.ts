import * as z from 'zod/mini';
import type { QueueConfig } from '../config/index.js';
import { nestingDepth, wellFormedDeep } from '../text/index.js';
import { firstIssue } from '../validation/zod.js';
import { BatchValidationError, PayloadTooLargeError, ValidationError } from './errors.js';
import type { BackoffPolicy, HttpTarget, JobInput, JobSpec } from './types.js';

export const QUEUE_NAME = /^[A-Za-z0-9_-]{1,64}$/;
export const PRIORITY_MIN = -1000;
export const PRIORITY_MAX = 1000;
/** The furthest in the past a run-at may be (clock skew tolerance). */
export const RUN_AT_PAST_TOLERANCE_MS = 60 * 60 * 1000;
export const MAX_DELAY_MS = 365 * 24 * 60 * 60 * 1000;
export const MAX_JOB_TIMEOUT_MS = 900_000;
export const MAX_BATCH = 1000;

/** Deepest a payload may nest arrays and objects (checked with an explicit stack, before any validator). */
export const MAX_PAYLOAD_DEPTH = 64;

/** An HTTP token (RFC 9110 `tchar`s): what a header name must be. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;
/** A header value: visible ASCII, space, tab, obs-text. No CR, LF, NUL or other control character. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/**
 * Headers a job may not set: hop-by-hop and framing headers belong to the connection the worker
 * makes (a `transfer-encoding` or `content-length` of the job's would smuggle a request on the
 * worker's shared keep-alive sockets).
 */
const RESERVED_HEADER =
  /^(?:host|content-length|transfer-encoding|connection|keep-alive|te|trailer|upgrade|expect|proxy-.*)$/i;

/** Why a target header (name, value) is refused, or undefined. */
function headerProblem(name: string, value: string): { on: 'name' | 'value'; reason: string } | undefined {
  if (!HEADER_NAME.test(name))
    return { on: 'name', reason: 'is not a valid header name (an HTTP token of 1 to 256 characters)' };
  if (RESERVED_HEADER.test(name))
    return { on: 'name', reason: 'is a hop-by-hop or framing header: Spool sets those itself' };
  if (!HEADER_VALUE.test(value))
    return {
      on: 'value',
      reason: 'must hold no CR, LF, NUL or other control character (visible ASCII, spaces, tabs, Latin-1)',
    };
  return undefined;
}

const targetSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  method: z.optional(z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])),
  headers: z.optional(z.record(z.string(), z.string().check(z.maxLength(8192)))),
  timeoutMs: z.optional(z.int().check(z.gte(100), z.lte(MAX_JOB_TIMEOUT_MS))),
});

export const jobInputSchema = z.strictObject({
  payload: z.optional(z.unknown()),
  target: z.optional(targetSchema),
  handler: z.optional(z.string().check(z.regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must match [A-Za-z0-9_.:-]{1,128}'))),
  priority: z.optional(z.int().check(z.gte(PRIORITY_MIN), z.lte(PRIORITY_MAX))),
  delayMs: z.optional(z.int().check(z.gte(0), z.lte(MAX_DELAY_MS))),
  runAt: z.optional(z.union([z.int().check(z.gte(0)), z.iso.datetime({ offset: true })])),
  maxAttempts: z.optional(z.int().check(z.gte(1), z.lte(100))),
  backoff: z.optional(
    z.strictObject({
      type: z.optional(z.enum(['exponential', 'fixed'])),
      baseMs: z.optional(z.int().check(z.gte(0), z.lte(86_400_000))),
      maxMs: z.optional(z.int().check(z.gte(0), z.lte(86_400_000))),
    }),
  ),
  timeoutMs: z.optional(z.int().check(z.gte(100), z.lte(MAX_JOB_TIMEOUT_MS))),
  idempotencyKey: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
  keepResponse: z.optional(z.boolean()),
  expireAfterMs: z.optional(z.int().check(z.gte(1000), z.lte(MAX_DELAY_MS))),
  expiresAt: z.optional(z.union([z.int().check(z.gte(0)), z.iso.datetime({ offset: true })])),
});

/** What a schedule id must be (the path's `{id}` of /v1/schedules/{id}, the `id` of a POST). */
export const SCHEDULE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
/** The shortest everyMs of a schedule. */
export const MIN_EVERY_MS = 1000;
export const scheduleIdSchema = z.string().check(z.regex(SCHEDULE_ID, 'must match [A-Za-z0-9_.:-]{1,128}'));

/** The job a schedule enqueues at each fire: a job as enqueued, without the fields each fire sets itself. */
export const scheduleJobInputSchema = z.omit(jobInputSchema, { idempotencyKey: true, runAt: true, expiresAt: true });

const timeSchema = z.union([z.int().check(z.gte(0)), z.iso.datetime({ offset: true })]);

/** A schedule's fields as PUT or POSTed (issue 12); the API's schemas and the engine's are these. */
export const scheduleFields = {
  queue: z.string().check(z.regex(QUEUE_NAME, 'must match [A-Za-z0-9_-]{1,64}')),
  /** Five fields `m h dom mon dow`, in `timezone`. Exactly one of cron and everyMs. */
  cron: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
  /** A fire every this many ms (at least MIN_EVERY_MS). Exactly one of cron and everyMs. */
  everyMs: z.optional(z.int().check(z.gte(MIN_EVERY_MS), z.lte(MAX_DELAY_MS))),
  /** An IANA time zone name; default UTC. */
  timezone: z.optional(z.string().check(z.minLength(1), z.maxLength(64))),
  job: scheduleJobInputSchema,
  /** A paused schedule does not fire (and has no nextRunAt). */
  paused: z.optional(z.boolean()),
  /** No fire before this (epoch ms or ISO-8601 with an offset). */
  startAt: z.optional(timeSchema),
  /** No fire at or after this. */
  endAt: z.optional(timeSchema),
};

/** `PUT /v1/schedules/{id}`: create or replace; an `id` in the body must be the path's. */
export const scheduleInputSchema = z.strictObject({ id: z.optional(scheduleIdSchema), ...scheduleFields });

/** The most a rate limit may count in one period, and the longest period (a day). */
export const RATE_LIMIT_MAX = 100_000;
export const RATE_PERIOD_MAX_MS = 86_400_000;
export const MAX_CONCURRENCY_MAX = 100_000;
/** Automatic DLQ replay: jobs replayed per run at most, and the oldest a minimum age may ask (30 days). */
export const AUTO_REPLAY_MAX_JOBS = 1000;
export const AUTO_REPLAY_MAX_AGE_MS = 30 * 86_400_000;

/**
 * A queue's flow-control settings as PUT: each field given is set, `null` clears it (its default),
 * a field left out is left as it is; unknown fields are refused (issue 11).
 */
export const settingsInputSchema = z.strictObject({
  paused: z.optional(z.boolean()),
  rateLimit: z.optional(
    z.nullable(
      z.strictObject({
        limit: z.int().check(z.gte(1), z.lte(RATE_LIMIT_MAX)),
        periodMs: z.int().check(z.gte(100), z.lte(RATE_PERIOD_MAX_MS)),
      }),
    ),
  ),
  maxConcurrency: z.optional(z.nullable(z.int().check(z.gte(1), z.lte(MAX_CONCURRENCY_MAX)))),
  maxWaitMs: z.optional(z.nullable(z.int().check(z.gte(1000), z.lte(MAX_DELAY_MS)))),
  circuitBreaker: z.optional(
    z.nullable(
      z.strictObject({
        enabled: z.optional(z.boolean()),
        failures: z.optional(z.int().check(z.gte(1), z.lte(1000))),
        coolDownMs: z.optional(z.int().check(z.gte(100), z.lte(RATE_PERIOD_MAX_MS))),
        maxCoolDownMs: z.optional(z.int().check(z.gte(100), z.lte(RATE_PERIOD_MAX_MS))),
      }),
    ),
  ),
  autoReplay: z.optional(
    z.nullable(
      z.strictObject({
        maxJobs: z.int().check(z.gte(1), z.lte(AUTO_REPLAY_MAX_JOBS)),
        minAgeMs: z.int().check(z.gte(0), z.lte(AUTO_REPLAY_MAX_AGE_MS)),
        maxReplaysPerJob: z.int().check(z.gte(1), z.lte(100)),
      }),
    ),
  ),
});

/** The circuit breaker of every target origin of a queue, unless its settings say otherwise. */
export const BREAKER_DEFAULTS = { enabled: true, failures: 5, coolDownMs: 10_000, maxCoolDownMs: 300_000 } as const;

/** A target URL's origin as its circuit breaker is keyed: `scheme://host:port`, the port always written. */
export function originOf(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
}

export function assertQueueName(queue: unknown, field = 'queue'): asserts queue is string {
  if (typeof queue !== 'string' || !QUEUE_NAME.test(queue)) {
    throw new ValidationError(field, 'must match [A-Za-z0-9_-]{1,64}');
  }
}

/** What the enqueue script needs of one job, everything validated. */
export interface NormalizedJob {
  spec: string;
  meta: {
    priority: number;
    maxAttempts: number;
    timeoutMs: number;
    backoff: BackoffPolicy;
    runAt?: number;
    idem?: string;
    /** The target's origin (scheme://host:port): its circuit breaker. */
    origin?: string;
    /** Dead (Expired) if still waiting or delayed at this time (epoch ms; the producer's clock). */
    expiresAt?: number;
    /** Dead (Expired) if still waiting or delayed this long after the enqueue (the server's clock). */
    expireAfterMs?: number;
  };
  idempotencyKey?: string;
  /** Due this long after the enqueue script runs (by the Redis server's clock), when given as delayMs. */
  delayMs?: number;
}

/**
 * Validate and normalize one job. Throws ValidationError naming the field (prefixed with `base`),
 * or PayloadTooLargeError; writes nothing.
 */
export function normalizeJob(input: unknown, cfg: QueueConfig, now: number, base = '', trace?: string): NormalizedJob {
  const at = (f: string) => [base, f].filter(Boolean).join('.');
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ValidationError(base || '(body)', 'must be a JSON object');
  }
  const raw = input as Record<string, unknown>;
  // Before anything that recurses (the validator, JSON.stringify): an explicit stack.
  if (nestingDepth(raw.payload, MAX_PAYLOAD_DEPTH) > MAX_PAYLOAD_DEPTH)
    throw new ValidationError(at('payload'), `nests deeper than ${MAX_PAYLOAD_DEPTH} levels`);
  // A key is compared and stored as is: one holding a lone surrogate is refused, not repaired.
  if (typeof raw.idempotencyKey === 'string' && !raw.idempotencyKey.isWellFormed())
    throw new ValidationError(at('idempotencyKey'), 'must be well-formed Unicode (it holds a lone surrogate)');
  // Every other string is made well-formed (Lua's cjson refuses lone surrogates).
  const parsed = jobInputSchema.safeParse(wellFormedDeep(raw));
  if (!parsed.success) {
    const { field, reason } = firstIssue(parsed.error, base);
    throw new ValidationError(field, reason);
  }
  const j = parsed.data as JobInput;
  if (j.target?.headers) {
    const seen = new Set<string>();
    for (const [name, value] of Object.entries(j.target.headers)) {
      const problem = headerProblem(name, value);
      if (problem) throw new ValidationError(at(`target.headers.${name}`), problem.reason);
      const lower = name.toLowerCase();
      if (seen.has(lower))
        throw new ValidationError(at(`target.headers.${name}`), 'repeats a header name (names are case-insensitive)');
      seen.add(lower);
    }
  }
  if (!!j.target === !!j.handler) {
    throw new ValidationError(at('target'), 'exactly one of "target" or "handler" is required');
  }
  if (j.keepResponse && !j.target) {
    throw new ValidationError(at('keepResponse'), 'applies to a job with a target (a handler has no response to keep)');
  }
  if (j.delayMs !== undefined && j.runAt !== undefined) {
    throw new ValidationError(at('runAt'), 'give either "delayMs" or "runAt", not both');
  }
  let runAt: number | undefined;
  if (j.runAt !== undefined) {
    runAt = typeof j.runAt === 'number' ? j.runAt : Date.parse(j.runAt);
    if (!Number.isFinite(runAt)) throw new ValidationError(at('runAt'), 'is not a valid time');
    if (runAt < now - RUN_AT_PAST_TOLERANCE_MS)
      throw new ValidationError(at('runAt'), 'is more than 1 hour in the past');
    if (runAt > now + MAX_DELAY_MS) throw new ValidationError(at('runAt'), 'is more than 365 days in the future');
  }
  const spec: JobSpec = { payload: j.payload ?? null };
  if (j.target) {
    const t: HttpTarget = { url: j.target.url, method: j.target.method ?? 'POST' };
    if (j.target.headers) t.headers = j.target.headers;
    if (j.target.timeoutMs !== undefined) t.timeoutMs = j.target.timeoutMs;
    spec.target = t;
  } else {
    spec.handler = j.handler!;
  }
  if (trace !== undefined) spec.trace = trace;
  if (j.keepResponse) spec.keepResponse = true;
  const specJson = JSON.stringify(spec);
  const payloadBytes = Buffer.byteLength(JSON.stringify(spec.payload));
  if (payloadBytes > cfg.payloadMaxBytes)
    throw new PayloadTooLargeError(at('payload'), payloadBytes, cfg.payloadMaxBytes);
  const backoff: BackoffPolicy = {
    type: j.backoff?.type ?? 'exponential',
    baseMs: j.backoff?.baseMs ?? cfg.backoffBaseMs,
    maxMs: j.backoff?.maxMs ?? cfg.backoffMaxMs,
  };
  if (backoff.maxMs < backoff.baseMs) throw new ValidationError(at('backoff.maxMs'), 'must be at least backoff.baseMs');
  const timeoutMs = j.timeoutMs ?? j.target?.timeoutMs ?? cfg.jobTimeoutMs;
  const meta: NormalizedJob['meta'] = {
    priority: j.priority ?? 0,
    maxAttempts: j.maxAttempts ?? cfg.maxAttempts,
    timeoutMs,
    backoff,
  };
  if (runAt !== undefined) meta.runAt = runAt;
  if (spec.target) meta.origin = originOf(spec.target.url);
  if (j.expireAfterMs !== undefined && j.expiresAt !== undefined)
    throw new ValidationError(at('expiresAt'), 'give either "expireAfterMs" or "expiresAt", not both');
  if (j.expireAfterMs !== undefined) meta.expireAfterMs = j.expireAfterMs;
  if (j.expiresAt !== undefined) {
    const t = typeof j.expiresAt === 'number' ? j.expiresAt : Date.parse(j.expiresAt);
    if (!Number.isFinite(t)) throw new ValidationError(at('expiresAt'), 'is not a valid time');
    if (t <= now) throw new ValidationError(at('expiresAt'), 'is in the past');
    if (t > now + MAX_DELAY_MS) throw new ValidationError(at('expiresAt'), 'is more than 365 days in the future');
    if (runAt !== undefined && t <= runAt) throw new ValidationError(at('expiresAt'), 'is not after runAt');
    meta.expiresAt = t;
  }
  const out: NormalizedJob = { spec: specJson, meta };
  if (j.delayMs !== undefined && j.delayMs > 0) out.delayMs = j.delayMs;
  if (j.idempotencyKey !== undefined) {
    out.idempotencyKey = j.idempotencyKey;
    meta.idem = j.idempotencyKey;
  }
  return out;
}

/**
 * Validate and normalize every job of a batch (`jobs[i]` fields), or one job (`many` false). A batch
 * with invalid jobs is refused whole, naming every invalid job (BatchValidationError); one too large
 * and none invalid is a PayloadTooLargeError. Writes nothing.
 */
export function normalizeJobs(
  items: readonly unknown[],
  cfg: QueueConfig,
  now: number,
  many: boolean,
  trace?: string,
): NormalizedJob[] {
  if (!many) return items.map((j) => normalizeJob(j, cfg, now, '', trace));
  const out: NormalizedJob[] = [];
  const invalid: Array<{ index: number; error: ValidationError | PayloadTooLargeError }> = [];
  items.forEach((j, index) => {
    try {
      out.push(normalizeJob(j, cfg, now, `jobs[${index}]`, trace));
    } catch (e) {
      if (!(e instanceof ValidationError || e instanceof PayloadTooLargeError)) throw e;
      invalid.push({ index, error: e });
    }
  });
  if (invalid.length === 0) return out;
  if (invalid.every((x) => x.error instanceof PayloadTooLargeError)) throw invalid[0]!.error;
  throw new BatchValidationError(
    invalid.map(({ index, error }) => ({
      index,
      field: String(error.details?.field),
      reason: error instanceof ValidationError ? error.reason : error.message.slice(error.message.indexOf(': ') + 2),
    })),
  );
}
