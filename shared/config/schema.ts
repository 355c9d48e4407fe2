import * as z from 'zod/mini';
import '../validation/zod.js';

const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z._default(z.coerce.number().check(z.int(), z.gte(min), z.lte(max)), def);

const csv = z.pipe(
  z._default(z.string(), ''),
  z.transform((s: string) =>
    s
      .split(',')
      .map((x) => x.trim().toLowerCase())
      .filter(Boolean),
  ),
);

const bool = (def: boolean) =>
  z.pipe(
    z._default(z.enum(['true', 'false', '1', '0', 'yes', 'no']), def ? 'true' : 'false'),
    z.transform((v: 'true' | 'false' | '1' | '0' | 'yes' | 'no') => v === 'true' || v === '1' || v === 'yes'),
  );

/**
 * Every setting Spool reads from the environment, with its default. The README's configuration
 * table is this list; keep them together.
 */
export const ENV_SCHEMA = z.object({
  SPOOL_KEY_PREFIX: z._default(
    z.string().check(z.regex(/^[A-Za-z0-9:_-]{1,64}$/, 'letters, digits, ":", "_" or "-", at most 64')),
    'spool',
  ),
  SPOOL_LEASE_MS: int(30_000, 1_000, 900_000),
  SPOOL_LEASE_GRACE_MS: int(5_000, 0, 60_000),
  SPOOL_MAX_ATTEMPTS: int(5, 1, 100),
  SPOOL_BACKOFF_BASE_MS: int(1_000, 0, 3_600_000),
  SPOOL_BACKOFF_MAX_MS: int(900_000, 0, 86_400_000),
  SPOOL_IDEMPOTENCY_WINDOW_MS: int(3_600_000, 1_000, 7 * 86_400_000),
  SPOOL_PAYLOAD_MAX_BYTES: int(262_144, 1, 10 * 1024 * 1024),
  SPOOL_JOB_TIMEOUT_MS: int(30_000, 100, 900_000),
  SPOOL_COMPLETED_RETENTION_MS: int(3_600_000, 0, 30 * 86_400_000),
  SPOOL_DEAD_TTL_MS: int(7 * 86_400_000, 60_000, 365 * 86_400_000),
  SPOOL_DEAD_CAP: int(10_000, 1, 1_000_000),
  SPOOL_PURGE_LIMIT: int(1_000, 1, 100_000),
  // A purge sweeps a queue for orphans when its job hashes differ in size, and otherwise at most this
  // often (0: only then).
  SPOOL_ORPHAN_SWEEP_MS: int(86_400_000, 0, 30 * 86_400_000),
  // A queue with no job left and no enqueue for this long leaves the registry (an enqueue brings it back).
  SPOOL_QUEUE_IDLE_TTL_MS: int(7 * 86_400_000, 60_000, 365 * 86_400_000),
  SPOOL_KICK_DEBOUNCE_MS: int(5_000, 0, 600_000),
  SPOOL_WORKER_BATCH_SIZE: int(50, 1, 1_000),
  SPOOL_WORKER_CONCURRENCY: int(10, 1, 1_000),
  SPOOL_WORKER_MAX_SCALE_OUT: int(5, 0, 1_000),
  SPOOL_WORKER_JOBS_PER_WORKER: int(500, 1, 1_000_000),
  SPOOL_WORKER_TIME_MARGIN_MS: int(10_000, 0, 300_000),
  // A worker whose queue runs empty keeps polling this long before it leaves (a stream stays on it).
  SPOOL_WORKER_LINGER_MS: int(500, 0, 60_000),
  // While its queue is empty, a worker leases this often (each lease is a script: fewer, bigger ones cost less).
  SPOOL_WORKER_POLL_MS: int(1_000, 10, 10_000),
  SPOOL_TARGET_ALLOWED_HOSTS: csv,
  SPOOL_TARGET_ALLOW_PRIVATE: bool(false),
  SPOOL_METRIC_NAMESPACE: z._default(z.string().check(z.minLength(1), z.maxLength(255)), 'Spool'),
  SPOOL_ALERT_TOPIC_ARN: z.optional(z.string()),
  // Where the health function's tickets go (set by the stack; its pages go to SPOOL_ALERT_TOPIC_ARN).
  SPOOL_TICKET_TOPIC_ARN: z.optional(z.string()),
  // What the health function's messages name: `<stack> (account <id>, <region>)`, set by the stack.
  SPOOL_DEPLOYMENT_NAME: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
  // The runbook's URL; messages link to `<it>#<section>` (context runbookBaseUrl).
  SPOOL_RUNBOOK_BASE_URL: z.optional(z.url()),
  // Queues that get per-queue metrics: comma-separated names (set by the stack to context queues),
  // or * for every queue. Unset or empty: none. Fleet-wide metrics always cover every queue.
  SPOOL_METRIC_QUEUES: z.optional(z.string()),
  SPOOL_WORKER_FUNCTION_NAME: z.optional(z.string()),
  // The timer queue (SQS message timers that wake the worker when a delayed job is due; set by the stack).
  SPOOL_TIMER_QUEUE_URL: z.optional(z.string()),
  // The schedule timer queue (SQS message timers that wake the scheduler when a schedule is due; set by the stack).
  SPOOL_SCHEDULE_TIMER_QUEUE_URL: z.optional(z.string()),
  SPOOL_REDIS_SECRET_ARN: z.optional(z.string()),
  // Each Redis call (one HTTP request, retries included) is aborted after this: a 503, well within
  // the API functions' 30 s.
  SPOOL_REDIS_TIMEOUT_MS: int(5_000, 10, 25_000),
  // Delivery signing: one secret, or `new,old` during a rotation (shared/jobs/signature.ts).
  SPOOL_SIGNING_SECRET: z.optional(
    z.string().check(z.regex(/^[^,]*[^,\s][^,]*(,[^,]*[^,\s][^,]*)?$/, 'one secret, or two separated by a comma')),
  ),
  SPOOL_SIGNING_SECRET_ARN: z.optional(z.string()),
  UPSTASH_REDIS_REST_URL: z.optional(z.url()),
  UPSTASH_REDIS_REST_TOKEN: z.optional(z.string()),
  // Health thresholds: a queue is degraded / unhealthy when a figure is strictly ABOVE the threshold.
  SPOOL_HEALTH_WAITING_DEGRADED: int(1_000),
  SPOOL_HEALTH_WAITING_UNHEALTHY: int(5_000),
  SPOOL_HEALTH_DEAD_DEGRADED: int(10),
  SPOOL_HEALTH_DEAD_UNHEALTHY: int(100),
  SPOOL_HEALTH_OLDEST_WAITING_DEGRADED_MS: int(300_000),
  SPOOL_HEALTH_OLDEST_WAITING_UNHEALTHY_MS: int(900_000),
  SPOOL_HEALTH_STUCK_DEGRADED: int(0),
  SPOOL_HEALTH_STUCK_UNHEALTHY: int(10),
  // A queue paused (its settings) longer than this is degraded: a ticket (issue 11).
  SPOOL_HEALTH_PAUSED_DEGRADED_MS: int(3_600_000),
  SPOOL_HEALTH_HISTORY: int(60, 1, 10_000),
  // The health function announces a status only once it has held for this many consecutive runs.
  SPOOL_HEALTH_NOTIFY_AFTER_RUNS: int(3, 1, 1_000),
});

export type Env = z.infer<typeof ENV_SCHEMA>;
