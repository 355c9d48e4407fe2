/**
 * CloudWatch metric contract between the health function (publisher) and the CDK alarms (readers).
 * Every figure is published twice: with a `Queue` dimension, and fleet-wide with no dimension
 * (worst status, totals, largest ages) so that alarms need not know queue names. LOG_METRICS are
 * the other kind: counted by metric filters on the functions' logs, not published by the health function.
 */
export const DEFAULT_METRIC_NAMESPACE = 'Spool';
export const QUEUE_DIMENSION = 'Queue';

export const METRICS = {
  /** 0 healthy, 1 degraded, 2 unhealthy. Fleet-wide: the worst queue. */
  status: 'Status',
  waiting: 'WaitingJobs',
  delayed: 'DelayedJobs',
  active: 'ActiveJobs',
  completed: 'CompletedJobs',
  dead: 'DeadJobs',
  /** Seconds the oldest waiting job has waited; 0 while the queue is paused (no symptom). Fleet-wide: the largest. */
  oldestWaitingAge: 'OldestWaitingAgeSeconds',
  /** Seconds since the oldest dead job died. Fleet-wide: the largest. */
  oldestDeadAge: 'OldestDeadAgeSeconds',
  /** Active jobs whose lease has expired (snapshot leaseExpired). Was StuckJobs. */
  leaseExpired: 'LeaseExpiredJobs',
  /** Delta of counters.deadTrimmed: dead jobs removed by the DLQ cap since the previous health run. */
  deadTrimmed: 'DeadTrimmed',
  /** Counter deltas since the previous health run. */
  enqueued: 'JobsEnqueued',
  completedDelta: 'JobsCompleted',
  failed: 'JobsFailed',
  retried: 'JobsRetried',
  /** Delta of counters.dead. Was JobsDeadLettered. */
  deadDelta: 'JobsDead',
  /** Target origins whose circuit breaker is open or half-open. Fleet-wide: the sum. */
  breakersOpen: 'OpenCircuitBreakers',
  /** 1 on every health run, no dimension: the alarm on its absence catches a dead health check. */
  heartbeat: 'HealthHeartbeat',
} as const;

export type MetricKey = keyof typeof METRICS;

/**
 * Metrics counted by CloudWatch metric filters on a function's log group (infra/constructs/monitoring.ts):
 * no dimension, one count per matching log line, and no Redis command (the health run reads nothing for them).
 */
export const LOG_METRICS = {
  /** Fires whose job no longer validates: the scheduler's ERROR line SCHEDULE_FIRED_NO_JOB (functions/scheduler/run.ts). */
  scheduleFiresWithoutJob: 'ScheduleFiresWithoutJob',
} as const;

export const STATUS_VALUE = { healthy: 0, degraded: 1, unhealthy: 2 } as const;
