import type { JobState } from './types.js';

/**
 * Every Redis key Spool uses is built here, and only here.
 *
 * A queue's keys are `<prefix>:{<queue>}:<string>`: they share one {hash tag} so that a queue's
 * scripts work on Redis Cluster. Each alias reads like its string (QUEUE_KEYS); QUEUE_KEY_DOCS says
 * what each holds (the scripts' headers repeat it for the keys they declare). Keys of no queue,
 * `<prefix>:<string>`, are GLOBAL_KEYS. Two of them are indexes the scripts keep beside a queue's own
 * keys (SCRIPT_GLOBAL_KEYS: `due` and `touched`), so that a scheduled run reads one index instead of
 * every queue; a script that declares one of them locks it too (Upstash's key-level locking), and its
 * keys do not share one Redis Cluster slot.
 */
export const QUEUE_KEYS = {
  waiting: 'waiting',
  waitingSince: 'waiting:since',
  delayed: 'delayed',
  active: 'active',
  completed: 'completed',
  dead: 'dead',
  deadFingerprints: 'dead:fingerprints',
  deadIndex: 'dead:index',
  jobs: 'jobs',
  meta: 'meta',
  idempotency: 'idem',
  idempotencyExpiry: 'idem:expiry',
  counters: 'counters',
  worker: 'worker',
  kick: 'kick',
  timer: 'timer',
  auditDlqReplay: 'audit:dlq-replay',
  settings: 'settings',
  rate: 'rate',
  workers: 'workers',
  workersInfo: 'workers:info',
  expiry: 'expiry',
} as const;

export const QUEUE_KEY_DOCS: Record<QueueKeyName, string> = {
  waiting: 'ZSET id -> priority order (higher priority first, FIFO within one)',
  waitingSince: 'ZSET id -> ms the job became waiting',
  delayed: 'ZSET id -> run-at ms',
  active: 'ZSET id -> lease deadline ms',
  completed: 'ZSET id -> completed-at ms',
  dead: 'ZSET id -> died-at ms',
  deadFingerprints: 'HASH fingerprint -> dead jobs with it',
  deadIndex:
    'ZSET of <fingerprint>:<died-at ms, 16 digits>:<id>, all scored 0: the dead jobs by fingerprint then time (ZRANGEBYLEX)',
  jobs: 'HASH id -> spec JSON (payload, target or handler; never changes)',
  meta: 'HASH id -> state JSON (the Meta type of core.ts)',
  idempotency: 'HASH idempotency key -> job id',
  idempotencyExpiry: 'ZSET idempotency key -> window end ms',
  counters:
    "HASH name -> count: QueueCounters (types.ts), and the engine's seq, fence, purge:cursor, purge:jobs-cursor, purge:swept-at, purge:empty-since, purge:empty-enqueued",
  worker: 'STRING present while a worker drains the queue',
  kick: 'STRING debounce of worker kicks',
  timer: "STRING '<due ms>:<nonce>' of the queue's pending timer (the arm that set it), until it has fired",
  auditDlqReplay:
    'LIST JSON audit records of DLQ replays and queue clears, newest first, capped (written by the replay and clear scripts)',
  settings:
    'HASH flow control (QUEUE_SETTING_FIELDS of ops/settings.ts): paused, pausedAt, rateLimit JSON, maxConcurrency; absent: defaults',
  rate: "ZSET lease token -> ms it was leased: the rate limit's sliding window (kept one period)",
  workers: 'ZSET worker request id -> ms its entry lapses (its last lease or heartbeat plus the ttl it gave)',
  workersInfo: 'HASH worker request id -> JSON { startedAt, lastHeartbeatAt, held, done } (server ms; jobs)',
  expiry:
    'ZSET id -> ms it expires (expireAfterMs, expiresAt, maxWaitMs) if still waiting or delayed; an entry past its time whose job moved on is dropped',
};

export type QueueKeyName = keyof typeof QUEUE_KEYS;

export function queueKey(prefix: string, queue: string, name: QueueKeyName): string {
  return `${prefix}:{${queue}}:${QUEUE_KEYS[name]}`;
}

export const GLOBAL_KEYS = {
  /**
   * SET of queue names registered before the `touched` index existed (no longer written). The registry
   * is this set and the members of `touched`; a queue leaves both once empty for SPOOL_QUEUE_IDLE_TTL_MS.
   */
  queues: 'queues',
  /** ZSET queue -> epoch ms the queue next needs a worker (written by the scripts; SCRIPT_GLOBAL_KEYS). */
  due: 'due',
  /** ZSET queue -> epoch ms of its last enqueue that found no worker running (SCRIPT_GLOBAL_KEYS). */
  touched: 'touched',
  /** SET of the queues whose settings have autoReplay (written by the settings script; SCRIPT_GLOBAL_KEYS). */
  autoReplay: 'auto-replay',
  /** ZSET queue -> epoch ms its next purge is due (written by the purge function). */
  purgeDue: 'purge:due',
  /** HASH schedule id -> its definition JSON (ScheduleDefinition of ops/schedules.ts), as PUT; never rewritten by a script. */
  schedules: 'schedules',
  /** HASH schedule id -> its state JSON (ScheduleState: rev, nextRunAt, lastRunAt, fires, missed, ...), written by the schedule scripts. */
  scheduleStates: 'schedules:state',
  /** ZSET schedule id -> epoch ms of its next fire (absent while paused or ended). */
  schedulesDue: 'schedules:due',
  /** STRING '<due ms>:<nonce>' of the schedules' one pending timer (the claimTimer script, on this key). */
  scheduleTimer: 'schedules:timer',
  /** STRING epoch ms of the last scheduled purge run. */
  purgeLast: 'purge:last',
  /** STRING JSON of the last scheduled health run. */
  healthLast: 'health:last',
  /** LIST of JSON health entries, newest first, capped. */
  healthHistory: 'health:history',
} as const;

export type GlobalKeyName = keyof typeof GLOBAL_KEYS;

/**
 * The global keys a script may declare in its KEYS (core.run passes `<prefix>:<string>` for them),
 * with what each holds (the script headers repeat it).
 */
export const SCRIPT_GLOBAL_KEY_DOCS = {
  due: 'ZSET queue -> ms the queue next needs a worker (now when jobs wait, else its next delayed job or lease deadline); never later than the truth, exact after a lease',
  touched:
    'ZSET queue -> ms of its last enqueue that found no worker running (the registry with <prefix>:queues; health and purge read it)',
  queues: 'SET queue names registered by older versions (the registry with <prefix>:touched)',
  autoReplay: 'SET the queues whose settings have autoReplay (the scheduled dlq-replay run reads only these)',
  schedules:
    'HASH schedule id -> definition JSON (queue, cron or everyMs, timezone, job, paused, startAt, endAt), written whole',
  scheduleStates:
    'HASH schedule id -> state JSON { rev, nextRunAt?, lastRunAt?, lastJobId?, fires, missed, lastError?, createdAt, updatedAt }',
  schedulesDue: 'ZSET schedule id -> epoch ms of its next fire (absent while paused or past endAt)',
} as const satisfies Partial<Record<GlobalKeyName, string>>;

export type ScriptGlobalKeyName = keyof typeof SCRIPT_GLOBAL_KEY_DOCS;

/**
 * A member of `due` that no queue name can be (QUEUE_NAME), scored 0 (always due, so the read of what is due sees it): present once the index has
 * been built from every queue (the first scheduled worker run after an upgrade builds it).
 */
export const DUE_BUILT = '*built*';

export function globalKey(prefix: string, name: GlobalKeyName): string {
  return `${prefix}:${GLOBAL_KEYS[name]}`;
}

/**
 * `<prefix>:{<queue>}:request:<nonce>`: STRING, the answer of one script call (lease, replay, purge,
 * cancel, runNow, deleteDead) kept briefly under the call's nonce, so that the call, retried by the client
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
