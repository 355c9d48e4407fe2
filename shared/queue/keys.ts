import type { JobState } from './types.js';

/**
 * Every Redis key Spool uses is built here, and only here.
 *
 * A queue's keys share one {hash tag} so that a queue's scripts work on Redis Cluster.
 * Layout (`<p>` is the prefix, `<q>` the queue); each alias reads like its string:
 *   <p>:{<q>}:waiting            waiting            ZSET id -> priority order (higher priority first, FIFO within one)
 *   <p>:{<q>}:waiting:since      waitingSince       ZSET id -> ms the job became waiting (oldest waiting age)
 *   <p>:{<q>}:delayed            delayed            ZSET id -> run-at ms
 *   <p>:{<q>}:active             active             ZSET id -> lease deadline ms
 *   <p>:{<q>}:completed          completed          ZSET id -> completed-at ms
 *   <p>:{<q>}:dead               dead               ZSET id -> died-at ms
 *   <p>:{<q>}:dead:fingerprints  deadFingerprints   HASH fingerprint -> dead jobs with it
 *   <p>:{<q>}:jobs               jobs               HASH id -> immutable spec JSON (payload, target or handler)
 *   <p>:{<q>}:meta               meta               HASH id -> mutable state JSON (the `Meta` type of core.ts)
 *   <p>:{<q>}:idem               idempotency        HASH idempotency key -> job id
 *   <p>:{<q>}:idem:expiry        idempotencyExpiry  ZSET idempotency key -> window end ms
 *   <p>:{<q>}:counters           counters           HASH the `QueueCounters` of types.ts, plus the engine's own
 *                                                   fields: seq (waiting order), fence (lease tokens),
 *                                                   purge:cursor and purge:jobs-cursor (the orphan scan)
 *   <p>:{<q>}:worker             worker             STRING present while a worker drains the queue
 *   <p>:{<q>}:kick               kick               STRING debounce of worker kicks
 *
 * Keys of no queue (never touched by a script):
 *   <p>:queues                   queues             SET of queue names (written beside enqueue)
 *   <p>:health:last              healthLast         STRING JSON of the last scheduled health run
 *   <p>:health:history           healthHistory      LIST of JSON health entries, newest first, capped
 *   <p>:audit:dlq-replay         auditDlqReplay     LIST of JSON replay audit records, newest first, capped
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
} as const;

export type QueueKeyName = keyof typeof QUEUE_KEYS;

export function queueKey(prefix: string, queue: string, name: QueueKeyName): string {
  return `${prefix}:{${queue}}:${QUEUE_KEYS[name]}`;
}

export const GLOBAL_KEYS = {
  queues: 'queues',
  healthLast: 'health:last',
  healthHistory: 'health:history',
  auditDlqReplay: 'audit:dlq-replay',
} as const;

export type GlobalKeyName = keyof typeof GLOBAL_KEYS;

export function globalKey(prefix: string, name: GlobalKeyName): string {
  return `${prefix}:${GLOBAL_KEYS[name]}`;
}

/** The sorted set that holds a state. */
export const STATE_KEY: Record<JobState, QueueKeyName> = {
  waiting: 'waiting',
  delayed: 'delayed',
  active: 'active',
  completed: 'completed',
  dead: 'dead',
};
