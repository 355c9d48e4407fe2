/** The five job states. Each word is used as-is in keys, API, metrics and docs. */
export const JOB_STATES = ['waiting', 'delayed', 'active', 'completed', 'dead'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface HttpTarget {
  url: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface BackoffPolicy {
  type: 'exponential' | 'fixed';
  baseMs: number;
  maxMs: number;
}

/** A job as a producer sends it (HTTP body and engine input are the same shape). */
export interface JobInput {
  payload?: unknown;
  target?: { url: string; method?: HttpTarget['method']; headers?: Record<string, string>; timeoutMs?: number };
  handler?: string;
  priority?: number;
  delayMs?: number;
  /** Epoch milliseconds or an ISO-8601 string. */
  runAt?: number | string;
  maxAttempts?: number;
  backoff?: { type?: BackoffPolicy['type']; baseMs?: number; maxMs?: number };
  timeoutMs?: number;
  idempotencyKey?: string;
  /** Keep the first MAX_KEPT_RESPONSE_BYTES of the target's 2xx answer with the completed job. */
  keepResponse?: boolean;
  /** Dead with error class Expired if still waiting or delayed this long after enqueue (ms). */
  expireAfterMs?: number;
  /** Dead with error class Expired if still waiting or delayed at this time (epoch ms or ISO-8601). */
  expiresAt?: number | string;
}

/** The part of a job that never changes after enqueue. */
export interface JobSpec {
  payload: unknown;
  target?: HttpTarget;
  handler?: string;
  /** The enqueue request's trace, as a W3C traceparent (shared/trace/context.ts). */
  trace?: string;
  /** Set when the job asked to keep its target's answer. */
  keepResponse?: true;
}

export interface JobError {
  message: string;
  class: string;
  fingerprint: string;
  requestId?: string;
  at: number;
  attempt: number;
  retryable: boolean;
}

/** A job as shown: spec plus its current state. Times are epoch milliseconds. */
export interface Job extends JobSpec {
  id: string;
  queue: string;
  state: JobState;
  attempts: number;
  maxAttempts: number;
  priority: number;
  timeoutMs: number;
  backoff: BackoffPolicy;
  createdAt: number;
  updatedAt: number;
  runAt?: number;
  /** When the job expires if still waiting or delayed (epoch ms, the server's clock). */
  expiresAt?: number;
  leaseUntil?: number;
  idempotencyKey?: string;
  lastError?: JobError;
  firstFailedAt?: number;
  lastFailedAt?: number;
  completedAt?: number;
  diedAt?: number;
  replays?: number;
  /** The last HISTORY_MAX attempts, oldest first. */
  history?: Attempt[];
  /** The target's answer of the completed attempt, when the job asked to keep it. */
  response?: KeptResponse;
}

export interface LeasedJob extends Job {
  /** Fencing token: complete, fail and extend must present it. */
  token: string;
  leaseUntil: number;
}

export interface EnqueueResult {
  id: string;
  deduplicated: boolean;
  state: JobState;
}

export interface EnqueueOutcome {
  jobs: EnqueueResult[];
  /** True when this call won the debounced right to wake a worker for the queue. */
  kick: boolean;
  /**
   * Epoch ms (the Redis server's clock): the earliest run-at of the delayed jobs this call created,
   * present when it is sooner than the queue's first delayed job was, so the queue's timer must move
   * earlier (arm one for wakeAt). Absent when the call created no delayed job due sooner.
   */
  wakeAt?: number;
}

export interface LeaseOptions {
  /** How many jobs at most (1..1000). */
  count: number;
  /** Minimum lease per job; a job's own timeout plus grace extends it. Default: config leaseMs. */
  leaseMs?: number;
  /** Epoch ms no lease may outlive (the end of the Lambda invocation). */
  leaseUntilMax?: number;
  /**
   * Mark a worker as running for this long (ms) while it leases; cleared (with the kick debounce) by
   * a lease that leases nothing, unless `keepMark`.
   */
  workerMarkMs?: number;
  /** The worker stays (it holds jobs, or lingers): keep its mark even when nothing is leased. */
  keepMark?: boolean;
  /**
   * Leave waiting (`unfit`) a job whose timeout + grace does not fit before `leaseUntilMax` but fits
   * in this many ms (a fresh worker's window); one that fits no worker is leased, capped. 0: none.
   */
  fitCapMs?: number;
  /**
   * This call's nonce: a call retried with it (the client resends a request whose reply was lost)
   * answers the jobs its first run leased and leases no more. Default: a new one per call.
   */
  nonce?: string;
  /** The leasing worker's request id: kept with each job it leases, named by an attempt whose lease expires. */
  requestId?: string;
  /**
   * The leasing worker's entry of the active workers (its id is requestId): written by the lease, or
   * removed when the lease clears the worker mark (the worker leaves).
   */
  worker?: WorkerBeat;
}

/** A worker's heartbeat in the active workers (ops/workers.ts), carried by its own lease and extend calls. */
export interface WorkerBeat {
  /** How long the entry holds without another call (ms). */
  ttlMs: number;
  /** Jobs it holds (leased, not acked), before this call leases more. */
  held: number;
  /** Jobs it finished so far (completed, retried or dead). */
  done: number;
  /** It stops: remove its entry. */
  gone?: boolean;
}

export interface LeaseOutcome {
  /** The Redis server's clock (epoch ms) when the lease ran: what leaseUntil and nextRunAt are read against. */
  now: number;
  jobs: LeasedJob[];
  /** Jobs still waiting after this lease. */
  waiting: number;
  /** Earliest run-at among delayed jobs, when any. */
  nextRunAt?: number;
  promoted: number;
  /** Jobs whose lease expired, put back to waiting (counted in counters.leaseExpired). */
  leaseExpired: number;
  /** Jobs whose lease expired with their attempts spent, moved to dead (counted in counters.dead). */
  leaseExpiredDead: number;
  /** With `fitCapMs`: jobs left waiting because their timeout + grace does not fit before leaseUntilMax. */
  unfit: number;
  /** A worker is marked running on the queue (after this call's own mark or clear). */
  workerRunning: boolean;
  /**
   * What flow control held waiting jobs back by (the queue's settings), when jobs are left waiting
   * because of it: `paused`, `concurrency` (maxConcurrency jobs are active) or `rate` (rateLimit).
   */
  held?: FlowHold;
  /** With `held: 'rate'`: when the rate limit lets the next job start (the server's clock). */
  heldUntil?: number;
  /** Jobs moved to delayed, no attempt spent: their target origin's circuit breaker is open (or probing). */
  deferred: number;
  /** Jobs dead with error class Expired: still waiting or delayed at their expiresAt. */
  expired: number;
}

export type FlowHold = 'paused' | 'concurrency' | 'rate';

/** A queue's flow-control settings (issue 11), every default filled in. */
export interface QueueSettings {
  /** Nothing is leased while paused; enqueues are accepted. Default false. */
  paused: boolean;
  /** When the queue was paused (epoch ms, the server's clock). */
  pausedAt?: number;
  /** At most `limit` jobs start in any `periodMs` (counted at lease), across all workers. Default none. */
  rateLimit: { limit: number; periodMs: number } | null;
  /** At most this many of the queue's jobs active at once, across all workers. Default none. */
  maxConcurrency: number | null;
  /** A job enqueued while it is set and still waiting or delayed this long after its enqueue dies (Expired). */
  maxWaitMs: number | null;
  /** The circuit breaker of each target origin (defaults: on, 5 failures, 10 s doubling to 5 min). */
  circuitBreaker: BreakerConfig;
  /** The breakers of origins that failed since they last answered (closed ones counting failures, open, half-open). */
  breakers: BreakerState[];
  /** Automatic DLQ replay (the dlq-replay function's schedule); default null: off. */
  autoReplay: AutoReplay | null;
}

export interface BreakerConfig {
  enabled: boolean;
  /** Consecutive failures (5xx, 429, timeouts, connection errors) that open it. */
  failures: number;
  /** How long it stays open the first time; each failed probe doubles it, up to maxCoolDownMs. */
  coolDownMs: number;
  maxCoolDownMs: number;
}

export interface BreakerState {
  /** scheme://host:port */
  origin: string;
  /** open: its jobs wait; halfOpen: one probe job runs (or may: the cool-down is over); closed: failures counted. */
  state: 'closed' | 'open' | 'halfOpen';
  /** Consecutive failures. */
  failures: number;
  /** Open: until when (epoch ms). */
  openUntil?: number;
  /** The cool-down of the current opening. */
  coolDownMs?: number;
}

/** A PUT of settings: a field given is set, `null` clears it, one left out stays as it is. */
export interface SettingsInput {
  paused?: boolean | undefined;
  rateLimit?: { limit: number; periodMs: number } | null | undefined;
  maxConcurrency?: number | null | undefined;
  circuitBreaker?: Partial<BreakerConfig> | null | undefined;
  autoReplay?: AutoReplay | null | undefined;
  maxWaitMs?: number | null | undefined;
}

/**
 * A queue's automatic DLQ replay: each scheduled run replays at most `maxJobs` of its dead jobs that
 * died at least `minAgeMs` ago of a retryable failure, none replayed `maxReplaysPerJob` times already.
 */
export interface AutoReplay {
  maxJobs: number;
  minAgeMs: number;
  maxReplaysPerJob: number;
}

export type AckStatus = 'ok' | 'stale' | 'not_found';

export interface CompleteItem {
  id: string;
  token: string;
  /** How the attempt went, for the job's history. */
  run?: AttemptRun;
  /** The target's answer, kept when the job asked for it (keepResponse). */
  response?: KeptResponse;
}

/** What a worker measured of one attempt, in its own clock (only the durations reach the record). */
export interface AttemptRun {
  startedAt: number;
  endedAt: number;
  /** The HTTP status the target answered, when it answered. */
  status?: number;
  requestId?: string;
}

/** The first bytes of a target's 2xx answer (MAX_KEPT_RESPONSE_BYTES), kept by a job with keepResponse. */
export interface KeptResponse {
  status: number;
  body: string;
  /** The answer was longer than what is kept. */
  truncated: boolean;
  contentType?: string;
}

/** Attempts a job keeps in its history (the oldest go first). */
export const HISTORY_MAX = 10;
/** Bytes of a target's answer a job with keepResponse keeps. */
export const MAX_KEPT_RESPONSE_BYTES = 1024;

/** One attempt of a job. Times are epoch ms of the Redis server's clock. */
export interface Attempt {
  attempt: number;
  startedAt: number;
  endedAt: number;
  durationMs: number;
  /** completed; failed (then retried or dead); leaseExpired (the worker neither completed nor failed it in time). */
  outcome: 'completed' | 'failed' | 'leaseExpired';
  /** Where the job went. */
  state: 'completed' | 'delayed' | 'waiting' | 'dead';
  status?: number;
  errorClass?: string;
  /** The failure's message, cut to HISTORY_MESSAGE_CODE_POINTS (the full one is lastError's). */
  message?: string;
  /** The worker invocation's request id. */
  requestId?: string;
}

export interface FailureInput {
  message: string;
  /** Error class name, e.g. "HttpError" or "TypeError". */
  class?: string;
  /** False for a permanent failure: straight to dead. */
  retryable: boolean;
  /** A Retry-After carried by the failure, in ms. */
  retryAfterMs?: number;
  requestId?: string;
}

export interface FailItem {
  id: string;
  token: string;
  error: FailureInput;
  /** How the attempt went, for the job's history. */
  run?: AttemptRun;
}

export interface FailResult {
  id: string;
  status: AckStatus;
  /** Where the job went: delayed (retry at runAt) or dead. */
  state?: 'delayed' | 'dead';
  runAt?: number;
}

/** A fail call's results, and whether its retries moved the queue's timer earlier. */
export interface FailOutcome {
  /** In the order of the items. */
  results: FailResult[];
  /**
   * Epoch ms (the Redis server's clock): the earliest retry this call scheduled, present when it is
   * sooner than the queue's first delayed job was (arm the queue's timer for wakeAt).
   */
  wakeAt?: number;
}

export interface ReleaseItem {
  id: string;
  token: string;
}

export interface ExtendItem {
  id: string;
  token: string;
  leaseMs: number;
}

export interface ListPage {
  jobs: Job[];
  cursor?: string;
}

export interface DeadGroup {
  fingerprint: string;
  count: number;
  errorClass?: string;
  message?: string;
  lastDiedAt?: number;
  samples: Job[];
}

export interface ReplaySelection {
  ids?: string[];
  fingerprint?: string;
  /** Epoch ms: only jobs that died at or after. */
  failedAfter?: number;
  /** Epoch ms: only jobs that died at or before. */
  failedBefore?: number;
  limit?: number;
  dryRun?: boolean;
  /** Only jobs whose last failure was retryable (not permanent, not Expired): automatic replay's rule. */
  retryableOnly?: boolean;
  /** Only jobs replayed fewer times than this (their `replays`). */
  maxReplaysPerJob?: number;
}

export interface ReplayReport {
  dryRun: boolean;
  /** Jobs that matched the selection (moved, or would move). */
  matched: number;
  moved: number;
  /** `retryable`: whether the job's last failure was retryable (false: permanent, e.g. a 4xx). */
  jobs: Array<{
    id: string;
    fingerprint?: string;
    diedAt?: number;
    attempts: number;
    error?: string;
    retryable?: boolean;
  }>;
  /** Dead jobs examined; the scan is bounded. */
  scanned: number;
  /** True when the bounded scan stopped before the whole selection was examined. */
  truncated: boolean;
}

export interface PurgeOptions {
  dryRun?: boolean;
  /** Records removed per category at most (default config purgeLimit). */
  limit?: number;
}

export interface PurgeReport {
  dryRun: boolean;
  completed: number;
  /** Dead jobs past SPOOL_DEAD_TTL_MS. */
  deadPastTtl: number;
  /** Dead jobs over SPOOL_DEAD_CAP, oldest first. */
  deadTrimmed: number;
  orphans: number;
  idempotencyKeys: number;
  /** Some category hit its limit or the orphan scan has not wrapped: call again. */
  more: boolean;
}

/** One purge call as the engine answers it: the report, and what the scheduled purge plans with. */
export interface PurgeRound extends PurgeReport {
  /** Epoch ms (the Redis server's clock) something left next passes its retention, TTL or window. */
  nextAt?: number;
  /** Job records left in the queue (0: it holds no job). */
  jobs: number;
  /** Epoch ms (the server's clock) since the queue holds no job and saw no enqueue (only when jobs is 0). */
  emptySince?: number;
}

/**
 * Every counter the scripts keep in a queue's `counters` hash, cumulative since the queue was first
 * used (besides the engine's own fields seq, fence and the purge cursors; see keys.ts).
 */
export interface QueueCounters {
  enqueued: number;
  completed: number;
  /** Failures reported by workers (each one retried or dead). */
  failed: number;
  /** Failures retried with backoff. */
  retried: number;
  /** Jobs that went dead: failed for good, or their lease expired with their attempts spent. */
  dead: number;
  /** Dead jobs removed by the DLQ cap (SPOOL_DEAD_CAP). */
  deadTrimmed: number;
  /** Dead jobs removed by purge past SPOOL_DEAD_TTL_MS. */
  deadPastTtl: number;
  /** Jobs whose lease expired, put back to waiting (those with attempts spent count in `dead`). */
  leaseExpired: number;
  /** Dead jobs replayed to waiting. */
  replayed: number;
  /** Waiting or delayed jobs cancelled. */
  cancelled: number;
  /** Records in no state set, removed by purge. */
  orphans: number;
}

export interface QueueSnapshot {
  queue: string;
  at: number;
  waiting: number;
  delayed: number;
  active: number;
  completed: number;
  dead: number;
  /** Age (ms) of the job that has waited longest; 0 when none wait. */
  oldestWaitingAgeMs: number;
  /** Active jobs whose lease has expired (not yet put back to waiting or dead). */
  leaseExpired: number;
  /** Age (ms) of the oldest dead job; 0 when none. */
  oldestDeadAgeMs: number;
  nextRunAt?: number;
  /** While the queue is paused (its settings): how long it has been (ms). */
  pausedForMs?: number;
  /** Target origins whose circuit breaker is open or half-open (their jobs wait). */
  breakersOpen?: string[];
  counters: QueueCounters;
}
