import type { Redis } from '@upstash/redis';
import type { QueueConfig } from '../config/index.js';
import { DEFAULT_QUEUE_CONFIG } from '../config/index.js';
import { guard, redisErrorCode } from '../redis/client.js';
import {
  globalKey,
  QUEUE_KEYS,
  type QueueKeyName,
  queueKey,
  SCRIPT_GLOBAL_KEY_DOCS,
  type ScriptGlobalKeyName,
} from './keys.js';
import type { ArgKind, ArgSpec, ArgValue, ScriptDef } from './scripts/define.js';
import type { Attempt, Job, JobSpec, JobState, KeptResponse } from './types.js';

export interface SpoolOptions {
  config?: Partial<QueueConfig>;
  /**
   * A clock for tests (epoch ms). When given, the scripts use it instead of the Redis server's clock;
   * by default every due time, lease deadline and expiry is Redis's own (TIME inside the script), so
   * producers and workers whose clocks disagree still agree on what is due and what expired.
   */
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
  /** The test clock the scripts use instead of Redis's, if any. */
  readonly clock: (() => number) | undefined;
  readonly random: () => number;

  constructor(
    readonly redis: Redis,
    opts: SpoolOptions = {},
  ) {
    this.config = { ...DEFAULT_QUEUE_CONFIG, ...opts.config };
    this.clock = opts.clock;
    this.random = opts.random ?? Math.random;
  }

  /** This process's idea of now (the test clock, if any): for checking input, never for state. */
  now(): number {
    return this.clock ? this.clock() : Date.now();
  }

  /** The `clock` argument of a script: the test clock, or 0 for the Redis server's own (TIME). */
  scriptClock(): number {
    return this.clock ? this.clock() : 0;
  }

  /** An absolute deadline of this process's clock as ms from now (0 stays 0: no deadline). */
  msUntil(deadline: number): number {
    return deadline > 0 ? Math.max(1, deadline - this.now()) : 0;
  }

  /**
   * Run one script on one queue: its KEYS are the queue's keys of the names the script declares
   * (`keys` gives a key the script names otherwise, or substitutes one; a name of
   * SCRIPT_GLOBAL_KEY_DOCS is that global index), its ARGV the named `args` encoded as the script
   * binds them (an argument named `queue` is `queue`). EVALSHA, and EVAL once when Redis does not know the script yet
   * (as createScript's exec does, but with the hash known up front: createScript hashes
   * asynchronously, which splits a cold container's first call from the other commands of its tick
   * into a request of its own). The script's JSON object is decoded.
   */
  async run<K extends string, A extends Record<string, ArgSpec>, R>(
    def: ScriptDef<K, A, R>,
    queue: string,
    args: ArgValues<A>,
    keys: Partial<Record<K, string>> = {},
  ): Promise<R> {
    const keyList = def.keys.map((k) => {
      const given = keys[k];
      if (given !== undefined) return given;
      if (Object.hasOwn(SCRIPT_GLOBAL_KEY_DOCS, k)) return globalKey(this.config.prefix, k as ScriptGlobalKeyName);
      if (!Object.hasOwn(QUEUE_KEYS, k)) throw new Error(`spool:${def.name}: key ${k} must be given`);
      return queueKey(this.config.prefix, queue, k as QueueKeyName);
    });
    for (let i = 0; i < keyList.length; i++) keyList[i] = keyList[i]!.toWellFormed();
    // An argument named `queue` is the queue's name (its member in the global indexes), given here.
    const argv = Object.entries(def.args).map(([name, spec]) =>
      encodeArg(spec.kind, name === 'queue' ? queue : (args as Record<string, unknown>)[name]),
    );
    const raw = await guard(() =>
      this.redis.evalsha(def.sha1, keyList, argv).catch((err: unknown) => {
        if (redisErrorCode(err) === 'NOSCRIPT') return this.redis.eval(def.source, keyList, argv);
        throw err;
      }),
    );
    return (typeof raw === 'string' ? JSON.parse(raw) : raw) as R;
  }
}

/** A script's ARGV by name; `queue`, when the script takes it, is core.run's `queue`. */
export type ArgValues<A extends Record<string, ArgSpec>> = {
  [N in Exclude<keyof A, 'queue'>]: ArgValue<A[N]['kind']>;
};

/**
 * An argument as the script binds it, well-formed: cjson refuses a lone UTF-16 surrogate (JSON.stringify
 * writes one as an escape), and the whole call fails, so every string is repaired (U+FFFD) on its way.
 */
function encodeArg(kind: ArgKind, v: unknown): string {
  if (kind === 'flag') return v ? '1' : '0';
  if (kind === 'json') return JSON.stringify(v, wellFormedValue);
  return String(v).toWellFormed();
}

const wellFormedValue = (_key: string, x: unknown): unknown => (typeof x === 'string' ? x.toWellFormed() : x);

/** cjson encodes an empty Lua table as {}; read it as an empty list. */
export function list<T>(x: readonly T[]): T[] {
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
  /** The request id of the worker that last leased it. */
  leasedBy?: string;
  /** The last HISTORY_MAX attempts, oldest first. */
  history?: Attempt[];
  /** The target's answer of the completed attempt (keepResponse). */
  response?: KeptResponse;
  leaseUntil?: number;
  leaseToken?: string;
  /**
   * The token of the lease whose complete, fail or release put the job where it is (a repeat of that
   * call answers ok); the next lease clears it.
   */
  ackToken?: string;
  idem?: string;
  /** An HTTP target's origin (scheme://host:port): the circuit breaker its runs count toward. */
  origin?: string;
  /** Dead (Expired) if still waiting or delayed by then (set by the enqueue script; the expiry index). */
  expiresAt?: number;
  /** As given at enqueue: the script turns it into expiresAt. */
  expireAfterMs?: number;
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
  if (spec.trace) job.trace = spec.trace;
  if (spec.keepResponse) job.keepResponse = true;
  if (m.runAt !== undefined) job.runAt = m.runAt;
  if (m.expiresAt !== undefined) job.expiresAt = m.expiresAt;
  if (m.leaseUntil !== undefined) job.leaseUntil = m.leaseUntil;
  if (m.idem !== undefined) job.idempotencyKey = m.idem;
  if (m.error) job.lastError = m.error;
  if (m.firstFailedAt !== undefined) job.firstFailedAt = m.firstFailedAt;
  if (m.lastFailedAt !== undefined) job.lastFailedAt = m.lastFailedAt;
  if (m.completedAt !== undefined) job.completedAt = m.completedAt;
  if (m.diedAt !== undefined) job.diedAt = m.diedAt;
  if (m.replays !== undefined) job.replays = m.replays;
  // cjson writes an empty Lua table as {}: only a list is a history.
  if (Array.isArray(m.history) && m.history.length > 0) job.history = m.history;
  if (m.response) job.response = m.response;
  return job;
}
