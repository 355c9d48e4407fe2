import type { JobState } from './types.js';

/**
 * Every Redis key of a queue, under one {hash tag} so that a queue's scripts work on Redis Cluster.
 * Layout (`<p>` is the prefix, `<q>` the queue):
 *   <p>:{<q>}:waiting            ZSET id -> priority order (higher priority first, FIFO within one)
 *   <p>:{<q>}:waiting:since      ZSET id -> ms the job became waiting (oldest waiting age)
 *   <p>:{<q>}:delayed            ZSET id -> run-at ms
 *   <p>:{<q>}:active             ZSET id -> lease deadline ms
 *   <p>:{<q>}:completed          ZSET id -> completed-at ms
 *   <p>:{<q>}:dead               ZSET id -> died-at ms
 *   <p>:{<q>}:dead:fingerprints  HASH fingerprint -> dead jobs with it
 *   <p>:{<q>}:jobs               HASH id -> immutable spec JSON (payload, target or handler)
 *   <p>:{<q>}:meta               HASH id -> mutable state JSON (state, attempts, lease, errors...)
 *   <p>:{<q>}:idem               HASH idempotency key -> job id
 *   <p>:{<q>}:idem:expiry        ZSET idempotency key -> window end ms
 *   <p>:{<q>}:counters           HASH enqueued, completed, failed, retried, dead, trimmed, ... (+ seq, fence)
 *   <p>:{<q>}:worker             STRING present while a worker drains the queue
 *   <p>:{<q>}:kick               STRING debounce of worker kicks
 * And one global key, <p>:queues, a SET of queue names (written beside enqueue, never inside a script).
 */
export const QUEUE_KEYS = {
  waiting: 'waiting',
  since: 'waiting:since',
  delayed: 'delayed',
  active: 'active',
  completed: 'completed',
  dead: 'dead',
  deadfp: 'dead:fingerprints',
  jobs: 'jobs',
  meta: 'meta',
  idem: 'idem',
  idemexp: 'idem:expiry',
  counters: 'counters',
  worker: 'worker',
  kick: 'kick',
} as const;

export type QueueKeyName = keyof typeof QUEUE_KEYS;

export function queueKey(prefix: string, queue: string, name: QueueKeyName): string {
  return `${prefix}:{${queue}}:${QUEUE_KEYS[name]}`;
}

export function queuesKey(prefix: string): string {
  return `${prefix}:queues`;
}

/** The sorted set that holds a state. */
export const STATE_KEY: Record<JobState, QueueKeyName> = {
  waiting: 'waiting',
  delayed: 'delayed',
  active: 'active',
  completed: 'completed',
  dead: 'dead',
};
