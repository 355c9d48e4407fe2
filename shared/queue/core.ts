import type { Redis } from '@upstash/redis';
import type { QueueConfig } from '../config/index.js';
import { DEFAULT_QUEUE_CONFIG } from '../config/index.js';
import { guard } from '../redis/client.js';
import { type QueueKeyName, queueKey } from './keys.js';
import type { ScriptDef } from './scripts/define.js';
import type { Job, JobSpec, JobState } from './types.js';

export interface SpoolOptions {
  config?: Partial<QueueConfig>;
  /** Epoch ms; injectable for tests. */
  clock?: () => number;
  /** [0, 1); the jitter of retry backoff. Injectable for tests. */
  random?: () => number;
}

/**
 * What every queue operation needs: the Redis client, the configuration, a clock, and the script
 * runner. The operations themselves live in ./ops/*, one module per group of transitions with the
 * scripts it calls, so a Lambda bundles only the scripts it uses; `Spool` (engine.ts) gathers them
 * all as methods for the CLI, the local server and tests.
 */
export class SpoolCore {
  readonly config: QueueConfig;
  readonly clock: () => number;
  readonly random: () => number;
  /** Queues this instance has registered in `<prefix>:queues` (the set is never trimmed, so once is enough). */
  readonly registered = new Set<string>();

  constructor(
    readonly redis: Redis,
    opts: SpoolOptions = {},
  ) {
    this.config = { ...DEFAULT_QUEUE_CONFIG, ...opts.config };
    this.clock = opts.clock ?? Date.now;
    this.random = opts.random ?? Math.random;
  }

  now(): number {
    return this.clock();
  }

  /**
   * Run one script on one queue's keys (its KEYS in the order the script declares them; `override`
   * substitutes a key). EVALSHA, and EVAL once when Redis does not know the script yet (as
   * createScript's exec does, but with the hash known up front: createScript hashes asynchronously,
   * which splits a cold container's first call from the other commands of its tick into a request
   * of its own). The script's JSON result is decoded.
   */
  async run<T>(
    def: ScriptDef,
    queue: string,
    args: Array<string | number>,
    override: Partial<Record<QueueKeyName, string>> = {},
  ): Promise<T> {
    const keys = def.keys.map((k) => override[k] ?? queueKey(this.config.prefix, queue, k));
    const argv = args.map(String);
    const raw = await guard(() =>
      this.redis.evalsha(def.sha1, keys, argv).catch((err: unknown) => {
        if (err instanceof Error && /noscript/i.test(err.message)) return this.redis.eval(def.source, keys, argv);
        throw err;
      }),
    );
    return (typeof raw === 'string' ? JSON.parse(raw) : raw) as T;
  }
}

/** cjson encodes an empty Lua table as {}; read it as an empty list. */
export function list<T>(x: unknown): T[] {
  return Array.isArray(x) ? (x as T[]) : [];
}

export const optNum = (x: unknown): number | undefined =>
  x === '' || x === null || x === undefined || x === false ? undefined : Number(x);

/** A job's mutable state as the scripts keep it (the `meta` hash). */
export interface Meta {
  state: JobState;
  attempts: number;
  maxAttempts: number;
  priority: number;
  timeoutMs: number;
  backoff: Job['backoff'];
  createdAt: number;
  updatedAt: number;
  runAt?: number;
  /** When the job was last leased. */
  leasedAt?: number;
  leaseUntil?: number;
  leaseToken?: string;
  idem?: string;
  error?: Job['lastError'];
  firstFailedAt?: number;
  lastFailedAt?: number;
  completedAt?: number;
  diedAt?: number;
  replays?: number;
  /** When the job was last replayed from dead. */
  replayedAt?: number;
}

/** A job as shown, from its spec and meta records. The lease token is never part of it. */
export function toJob(queue: string, id: string, specRaw: string, metaRaw: string): Job {
  const spec = JSON.parse(specRaw) as JobSpec;
  const m = JSON.parse(metaRaw) as Meta;
  const job: Job = {
    id,
    queue,
    state: m.state,
    attempts: m.attempts,
    maxAttempts: m.maxAttempts,
    priority: m.priority,
    timeoutMs: m.timeoutMs,
    backoff: m.backoff,
    createdAt: m.createdAt,
    updatedAt: m.updatedAt,
    payload: spec.payload,
  };
  if (spec.target) job.target = spec.target;
  if (spec.handler) job.handler = spec.handler;
  if (m.runAt !== undefined) job.runAt = m.runAt;
  if (m.leaseUntil !== undefined) job.leaseUntil = m.leaseUntil;
  if (m.idem !== undefined) job.idempotencyKey = m.idem;
  if (m.error) job.lastError = m.error;
  if (m.firstFailedAt !== undefined) job.firstFailedAt = m.firstFailedAt;
  if (m.lastFailedAt !== undefined) job.lastFailedAt = m.lastFailedAt;
  if (m.completedAt !== undefined) job.completedAt = m.completedAt;
  if (m.diedAt !== undefined) job.diedAt = m.diedAt;
  if (m.replays !== undefined) job.replays = m.replays;
  return job;
}
