import type { JobState } from './types.js';

/**
 * Every Redis key Spool uses is built here, and only here.
 *
 * A queue's keys are `<prefix>:{<queue>}:<string>`: they share one {hash tag} so that a queue's
 * scripts work on Redis Cluster. Each alias reads like its string (QUEUE_KEYS); QUEUE_KEY_DOCS says
 * what each holds (the scripts' headers repeat it for the keys they declare). Keys of no queue,
 * `<prefix>:<string>`, are GLOBAL_KEYS; no script touches them (so every script's keys share one slot).
 */
export const QUEUE_KEYS = {
  waiting: 'waiting',
  waitingSince: 'waiting:since',
  delayed: 'delayed',
  active: 'active',
  completed: 'completed',
  dead: 'dead',
  deadFingerprints: 'dead:fingerprints',
  jobs: 'jobs',
  meta: 'meta',
  idempotency: 'idem',
  idempotencyExpiry: 'idem:expiry',
  counters: 'counters',
  worker: 'worker',
  kick: 'kick',
  auditDlqReplay: 'audit:dlq-replay',
} as const;

export const QUEUE_KEY_DOCS: Record<QueueKeyName, string> = {
  waiting: 'ZSET id -> priority order (higher priority first, FIFO within one)',
  waitingSince: 'ZSET id -> ms the job became waiting',
  delayed: 'ZSET id -> run-at ms',
  active: 'ZSET id -> lease deadline ms',
  completed: 'ZSET id -> completed-at ms',
  dead: 'ZSET id -> died-at ms',
  deadFingerprints: 'HASH fingerprint -> dead jobs with it',
  jobs: 'HASH id -> spec JSON (payload, target or handler; never changes)',
  meta: 'HASH id -> state JSON (the Meta type of core.ts)',
  idempotency: 'HASH idempotency key -> job id',
  idempotencyExpiry: 'ZSET idempotency key -> window end ms',
  counters:
    "HASH name -> count: QueueCounters (types.ts), and the engine's seq, fence, purge:cursor, purge:jobs-cursor",
  worker: 'STRING present while a worker drains the queue',
  kick: 'STRING debounce of worker kicks',
  auditDlqReplay: 'LIST JSON audit records of DLQ replays, newest first, capped (written by the replay script)',
};

export type QueueKeyName = keyof typeof QUEUE_KEYS;

export function queueKey(prefix: string, queue: string, name: QueueKeyName): string {
  return `${prefix}:{${queue}}:${QUEUE_KEYS[name]}`;
}

export const GLOBAL_KEYS = {
  /** SET of queue names (written beside enqueue). */
  queues: 'queues',
  /** STRING JSON of the last scheduled health run. */
  healthLast: 'health:last',
  /** LIST of JSON health entries, newest first, capped. */
  healthHistory: 'health:history',
} as const;

export type GlobalKeyName = keyof typeof GLOBAL_KEYS;

export function globalKey(prefix: string, name: GlobalKeyName): string {
  return `${prefix}:${GLOBAL_KEYS[name]}`;
}

/**
 * `<prefix>:{<queue>}:request:<nonce>`: STRING, the answer of one script call (lease, replay, purge,
 * cancel, deleteDead) kept briefly under the call's nonce, so that the call, retried by the client
 * after its reply was lost, answers what its first run did and does nothing more. Under the queue's
 * hash tag; the script declares it in KEYS as `request`.
 */
export function requestKey(prefix: string, queue: string, nonce: string): string {
  return `${prefix}:{${queue}}:request:${nonce}`;
}

/** How long a request's answer is kept for a retry (the client retries within seconds). */
export const REQUEST_TTL_MS = 60_000;

/** The sorted set that holds a state. */
export const STATE_KEY: Record<JobState, QueueKeyName> = {
  waiting: 'waiting',
  delayed: 'delayed',
  active: 'active',
  completed: 'completed',
  dead: 'dead',
};
