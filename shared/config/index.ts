import { ValidationError } from '../queue/errors.js';
import { firstIssue } from '../validation/zod.js';
import { ENV_SCHEMA, type Env } from './schema.js';

/** The settings the queue engine needs (a subset of the environment, in engine terms). */
export interface QueueConfig {
  prefix: string;
  leaseMs: number;
  leaseGraceMs: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  idempotencyWindowMs: number;
  payloadMaxBytes: number;
  jobTimeoutMs: number;
  completedRetentionMs: number;
  deadTtlMs: number;
  deadCap: number;
  purgeLimit: number;
  orphanSweepMs: number;
  queueIdleTtlMs: number;
  kickDebounceMs: number;
}

export type SpoolConfig = Env;

/** Parse and validate the environment once; a bad value names the variable and the reason. */
export function loadConfig(env: Record<string, string | undefined> = process.env): SpoolConfig {
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') cleaned[k] = v;
  const parsed = ENV_SCHEMA.safeParse(cleaned);
  if (!parsed.success) {
    const { field, reason } = firstIssue(parsed.error);
    throw new ValidationError(field, reason);
  }
  return parsed.data;
}

export function queueConfig(c: SpoolConfig = loadConfig()): QueueConfig {
  return {
    prefix: c.SPOOL_KEY_PREFIX,
    leaseMs: c.SPOOL_LEASE_MS,
    leaseGraceMs: c.SPOOL_LEASE_GRACE_MS,
    maxAttempts: c.SPOOL_MAX_ATTEMPTS,
    backoffBaseMs: c.SPOOL_BACKOFF_BASE_MS,
    backoffMaxMs: c.SPOOL_BACKOFF_MAX_MS,
    idempotencyWindowMs: c.SPOOL_IDEMPOTENCY_WINDOW_MS,
    payloadMaxBytes: c.SPOOL_PAYLOAD_MAX_BYTES,
    jobTimeoutMs: c.SPOOL_JOB_TIMEOUT_MS,
    completedRetentionMs: c.SPOOL_COMPLETED_RETENTION_MS,
    deadTtlMs: c.SPOOL_DEAD_TTL_MS,
    deadCap: c.SPOOL_DEAD_CAP,
    purgeLimit: c.SPOOL_PURGE_LIMIT,
    orphanSweepMs: c.SPOOL_ORPHAN_SWEEP_MS,
    queueIdleTtlMs: c.SPOOL_QUEUE_IDLE_TTL_MS,
    kickDebounceMs: c.SPOOL_KICK_DEBOUNCE_MS,
  };
}

export const DEFAULT_QUEUE_CONFIG: QueueConfig = queueConfig(loadConfig({}));
