import { randomUUID } from 'node:crypto';
import type { Redis } from '@upstash/redis';
import type { QueueConfig } from '../config/index.js';
import { DEFAULT_QUEUE_CONFIG } from '../config/index.js';
import { guard } from '../redis/client.js';
import { ValidationError } from './errors.js';
import { fingerprint } from './fingerprint.js';
import { queueKey, queuesKey, STATE_KEY, type QueueKeyName } from './keys.js';
import { assertQueueName, MAX_BATCH, normalizeJob } from './schema.js';
import type { ScriptDef } from './scripts/define.js';
import { ENQUEUE } from './scripts/enqueue.js';
import { LEASE } from './scripts/lease.js';
import { COMPLETE, EXTEND, FAIL } from './scripts/ack.js';
import { CANCEL, GET, LIST } from './scripts/jobs.js';
import { DEAD_GROUPS, DELETE_DEAD, REPLAY } from './scripts/dead.js';
import { PURGE } from './scripts/purge.js';
import { SNAPSHOT } from './scripts/snapshot.js';
import {
  JOB_STATES,
  type AckStatus,
  type CompleteItem,
  type DeadGroup,
  type EnqueueOutcome,
  type ExtendItem,
  type FailItem,
  type FailResult,
  type Job,
  type JobSpec,
  type JobState,
  type LeasedJob,
  type LeaseOptions,
  type LeaseOutcome,
  type ListPage,
  type PurgeOptions,
  type PurgeReport,
  type QueueCounters,
  type QueueSnapshot,
  type ReplayReport,
  type ReplaySelection,
} from './types.js';

export interface SpoolOptions {
  config?: Partial<QueueConfig>;
  /** Epoch ms; injectable for tests. */
  clock?: () => number;
  /** [0, 1); the jitter of retry backoff. Injectable for tests. */
  random?: () => number;
}

/** Scripts' results come back as one JSON string; the client may already have parsed it. */
function decode<T>(raw: unknown): T {
  return (typeof raw === 'string' ? JSON.parse(raw) : raw) as T;
}
/** cjson encodes an empty Lua table as {}; read it as an empty list. */
function list<T>(x: unknown): T[] {
  return Array.isArray(x) ? (x as T[]) : [];
}
const optNum = (x: unknown): number | undefined => (x === '' || x === null || x === undefined || x === false ? undefined : Number(x));

interface Meta {
  state: JobState;
  attempts: number;
  maxAttempts: number;
  priority: number;
  timeoutMs: number;
  backoff: Job['backoff'];
  createdAt: number;
  updatedAt: number;
  runAt?: number;
  leaseUntil?: number;
  leaseToken?: string;
  idem?: string;
  error?: Job['lastError'];
  firstFailedAt?: number;
  lastFailedAt?: number;
  completedAt?: number;
  diedAt?: number;
  replays?: number;
}

const COUNTER_NAMES: Array<keyof QueueCounters> = ['enqueued', 'completed', 'failed', 'retried', 'dead', 'trimmed', 'expired', 'stalled', 'replayed'];

/**
 * The queue engine. Every state change is one Lua script run through @upstash/redis (EVALSHA with
 * an EVAL fallback); calls made in the same tick share one HTTP request through auto-pipelining.
 */
export class Spool {
  readonly config: QueueConfig;
  private readonly clock: () => number;
  private readonly random: () => number;
  /** Queues this instance has registered in `<prefix>:queues` (the set is never trimmed, so once is enough). */
  private readonly registered = new Set<string>();

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

  private keysOf(queue: string, def: ScriptDef, override: Partial<Record<QueueKeyName, string>> = {}): string[] {
    return def.keys.map((k) => override[k] ?? queueKey(this.config.prefix, queue, k));
  }

  private async run<T>(def: ScriptDef, queue: string, args: Array<string | number>, override?: Partial<Record<QueueKeyName, string>>): Promise<T> {
    const keys = this.keysOf(queue, def, override);
    const argv = args.map(String);
    // EVALSHA, and EVAL once when Redis does not know the script yet (as createScript's exec does,
    // but with the hash known up front: createScript hashes asynchronously, which splits the first
    // call of a cold container from the other commands of its tick into a request of its own).
    const raw = await guard(() =>
      this.redis.evalsha(def.sha1, keys, argv).catch((err: unknown) => {
        if (err instanceof Error && /noscript/i.test(err.message)) return this.redis.eval(def.source, keys, argv);
        throw err;
      }),
    );
    return decode<T>(raw);
  }

  // ---- enqueue -------------------------------------------------------------------------------

  /**
   * Enqueue one or many jobs in one call. Every job is validated before anything is written; a bad
   * one throws ValidationError naming it (`jobs[3].priority`) and nothing is enqueued.
   */
  async enqueue(queue: string, input: unknown | unknown[], opts: { kick?: boolean } = {}): Promise<EnqueueOutcome> {
    assertQueueName(queue);
    const many = Array.isArray(input);
    const items = many ? (input as unknown[]) : [input];
    if (items.length === 0) throw new ValidationError('jobs', 'must hold at least one job');
    if (items.length > MAX_BATCH) throw new ValidationError('jobs', `must hold at most ${MAX_BATCH} jobs`);
    const now = this.clock();
    const jobs = items.map((j, i) => normalizeJob(j, this.config, now, many ? `jobs[${i}]` : ''));
    const payload = JSON.stringify(jobs.map((j) => [randomUUID(), j.spec, j.meta]));
    const debounce = opts.kick === false ? 0 : this.config.kickDebounceMs;
    const [, res] = await Promise.all([
      this.registered.has(queue) ? null : guard(() => this.redis.sadd(queuesKey(this.config.prefix), queue)),
      this.run<[Array<[string, number, string]>, boolean]>(ENQUEUE, queue, [now, this.config.idempotencyWindowMs, debounce, payload]),
    ]);
    this.registered.add(queue);
    return {
      jobs: list<[string, number, string]>(res[0]).map(([id, dup, state]) => ({
        id,
        deduplicated: dup === 1,
        state: (dup === 1 ? 'waiting' : state) as JobState,
      })),
      kick: res[1] === true,
    };
  }

  // ---- lease / ack ---------------------------------------------------------------------------

  /** Lease up to `count` jobs (after promoting due delayed jobs and reclaiming expired leases). One call. */
  async lease(queue: string, opts: LeaseOptions): Promise<LeaseOutcome> {
    assertQueueName(queue);
    if (!Number.isInteger(opts.count) || opts.count < 0 || opts.count > MAX_BATCH) {
      throw new ValidationError('count', `must be an integer from 0 to ${MAX_BATCH}`);
    }
    const now = this.clock();
    const res = await this.run<[Array<[string, string, string]>, number, string, number, number, number]>(LEASE, queue, [
      now,
      opts.count,
      opts.leaseMs ?? this.config.leaseMs,
      opts.leaseUntilMax ?? 0,
      this.config.leaseGraceMs,
      opts.workerMarkMs ?? 0,
      this.config.deadCap,
      1000,
    ]);
    const jobs = list<[string, string, string]>(res[0]).map(([id, spec, meta]) => {
      const job = this.toJob(queue, id, spec, meta) as LeasedJob;
      job.token = (JSON.parse(meta) as Meta).leaseToken!;
      return job;
    });
    const out: LeaseOutcome = { jobs, waiting: res[1], promoted: res[3], reclaimed: res[4], expiredToDead: res[5] };
    const next = optNum(res[2]);
    if (next !== undefined) out.nextRunAt = next;
    return out;
  }

  /** Promote due delayed jobs and reclaim expired leases, leasing nothing. */
  async reclaim(queue: string): Promise<Pick<LeaseOutcome, 'promoted' | 'reclaimed' | 'expiredToDead'>> {
    const { promoted, reclaimed, expiredToDead } = await this.lease(queue, { count: 0 });
    return { promoted, reclaimed, expiredToDead };
  }

  /** Complete many leased jobs; each is refused ('stale') unless its lease token is current. */
  async complete(queue: string, items: CompleteItem[]): Promise<Array<{ id: string; status: AckStatus }>> {
    assertQueueName(queue);
    if (items.length === 0) return [];
    const res = await this.run<Array<[AckStatus, string?]>>(COMPLETE, queue, [this.clock(), JSON.stringify(items.map((i) => [i.id, i.token]))]);
    return list<[AckStatus]>(res).map(([status], i) => ({ id: items[i]!.id, status }));
  }

  /** Fail many leased jobs: retry with backoff, or dead with the failure story. Stale tokens are refused. */
  async fail(queue: string, items: FailItem[]): Promise<FailResult[]> {
    assertQueueName(queue);
    if (items.length === 0) return [];
    const payload = items.map(({ id, token, error }) => {
      const cls = error.class || 'Error';
      const message = String(error.message ?? '').slice(0, 4000);
      const o: Record<string, unknown> = {
        id,
        token,
        message,
        class: cls,
        fingerprint: fingerprint(cls, message),
        retryable: error.retryable,
        jitter: this.random(),
      };
      if (error.retryAfterMs !== undefined && error.retryAfterMs > 0) o.retryAfterMs = Math.round(error.retryAfterMs);
      if (error.requestId) o.requestId = error.requestId;
      return o;
    });
    const res = await this.run<Array<[AckStatus, string?, number?]>>(FAIL, queue, [this.clock(), this.config.deadCap, JSON.stringify(payload)]);
    return list<[AckStatus, string?, number?]>(res).map(([status, state, runAt], i) => {
      const r: FailResult = { id: items[i]!.id, status };
      if (status === 'ok') r.state = state as 'delayed' | 'dead';
      if (runAt !== undefined) r.runAt = runAt;
      return r;
    });
  }

  /** Extend many leases (heartbeat). `leaseUntilMax` caps them (the end of the invocation). */
  async extend(queue: string, items: ExtendItem[], leaseUntilMax = 0): Promise<Array<{ id: string; status: AckStatus; leaseUntil?: number }>> {
    assertQueueName(queue);
    if (items.length === 0) return [];
    const res = await this.run<Array<[AckStatus, unknown?]>>(EXTEND, queue, [
      this.clock(),
      leaseUntilMax,
      JSON.stringify(items.map((i) => [i.id, i.token, i.leaseMs])),
    ]);
    return list<[AckStatus, unknown?]>(res).map(([status, lu], i) =>
      status === 'ok' ? { id: items[i]!.id, status, leaseUntil: Number(lu) } : { id: items[i]!.id, status },
    );
  }

  // ---- reads and cancel ----------------------------------------------------------------------

  async get(queue: string, id: string): Promise<Job | null> {
    return (await this.getMany(queue, [id]))[0] ?? null;
  }

  async getMany(queue: string, ids: string[]): Promise<Array<Job | null>> {
    assertQueueName(queue);
    if (ids.length === 0) return [];
    const res = await this.run<Array<[string, string | false, string | false]>>(GET, queue, [JSON.stringify(ids)]);
    return list<[string, string | false, string | false]>(res).map(([id, spec, meta]) => (spec && meta ? this.toJob(queue, id, spec, meta) : null));
  }

  /** A page of one state, in that state's order (waiting: run order; others: by time), from a cursor. */
  async list(queue: string, state: JobState, opts: { limit?: number; cursor?: string } = {}): Promise<ListPage & { total: number }> {
    assertQueueName(queue);
    if (!JOB_STATES.includes(state)) throw new ValidationError('state', `must be one of ${JOB_STATES.join(', ')}`);
    const limit = opts.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ValidationError('limit', 'must be an integer from 1 to 1000');
    let score = '';
    let after = '';
    if (opts.cursor) {
      const decoded = Buffer.from(opts.cursor, 'base64url').toString('utf8');
      const sep = decoded.indexOf(':');
      if (sep < 1 || !/^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(decoded.slice(0, sep))) throw new ValidationError('cursor', 'is not a cursor this API returned');
      score = decoded.slice(0, sep);
      after = decoded.slice(sep + 1);
    }
    const key = queueKey(this.config.prefix, queue, STATE_KEY[state]);
    const [rows, total] = await this.run<[Array<[string, string | false, string | false, string]>, number]>(LIST, queue, [limit, score, after], {
      waiting: key,
    });
    const items = list<[string, string | false, string | false, string]>(rows);
    const jobs = items.filter(([, s, m]) => s && m).map(([id, s, m]) => this.toJob(queue, id, s as string, m as string));
    const page: ListPage & { total: number } = { jobs, total };
    const last = items[items.length - 1];
    if (items.length === limit && last) page.cursor = Buffer.from(`${last[3]}:${last[0]}`).toString('base64url');
    return page;
  }

  /** Cancel a waiting or delayed job (removed for good). Active, completed or dead: 'conflict'. */
  async cancel(queue: string, id: string): Promise<{ status: 'ok' | 'conflict' | 'not_found'; state?: JobState }> {
    assertQueueName(queue);
    const [status, state] = await this.run<['ok' | 'conflict' | 'not_found', JobState?]>(CANCEL, queue, [id]);
    return state ? { status, state } : { status };
  }

  // ---- dead letters --------------------------------------------------------------------------

  /** The DLQ grouped by fingerprint: exact counts, samples from the newest `scan` dead jobs. */
  async deadGroups(queue: string, opts: { samples?: number; scan?: number } = {}): Promise<{ total: number; groups: DeadGroup[] }> {
    assertQueueName(queue);
    const [counts, samples, total] = await this.run<[Array<string | number>, Array<[string, string, string]>, number]>(DEAD_GROUPS, queue, [
      opts.scan ?? 500,
      opts.samples ?? 3,
    ]);
    const flat = list<string | number>(counts);
    const groups = new Map<string, DeadGroup>();
    for (let i = 0; i < flat.length; i += 2) {
      groups.set(String(flat[i]), { fingerprint: String(flat[i]), count: Number(flat[i + 1]), samples: [] });
    }
    for (const [id, spec, meta] of list<[string, string, string]>(samples)) {
      const job = this.toJob(queue, id, spec, meta);
      const fp = job.lastError?.fingerprint ?? 'unknown';
      const g = groups.get(fp) ?? { fingerprint: fp, count: 0, samples: [] };
      groups.set(fp, g);
      if (g.samples.length === 0) {
        if (job.lastError) {
          g.errorClass = job.lastError.class;
          g.message = job.lastError.message;
        }
        if (job.diedAt !== undefined) g.lastDiedAt = job.diedAt;
      }
      g.samples.push(job);
    }
    return { total, groups: [...groups.values()].sort((a, b) => b.count - a.count) };
  }

  /** Replay dead jobs to waiting with attempts reset. `dryRun` reports exactly what would move. */
  async replay(queue: string, sel: ReplaySelection = {}): Promise<ReplayReport> {
    assertQueueName(queue);
    const dryRun = sel.dryRun ?? true;
    const limit = sel.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ValidationError('limit', 'must be an integer from 1 to 1000');
    if (sel.ids && (sel.ids.length === 0 || sel.ids.length > 1000)) throw new ValidationError('ids', 'must hold 1 to 1000 ids');
    if (sel.failedAfter !== undefined && sel.failedBefore !== undefined && sel.failedAfter > sel.failedBefore) {
      throw new ValidationError('failedAfter', 'must not be later than failedBefore');
    }
    const [rows, scanned, truncated] = await this.run<[Array<[string, string]>, number, boolean]>(REPLAY, queue, [
      this.clock(),
      dryRun ? '1' : '0',
      sel.ids ? JSON.stringify(sel.ids) : '',
      sel.fingerprint ?? '',
      sel.failedAfter !== undefined ? Math.floor(sel.failedAfter) : '-inf',
      sel.failedBefore !== undefined ? Math.floor(sel.failedBefore) : '+inf',
      limit,
      Math.max(this.config.deadCap, 1000),
    ]);
    const jobs = list<[string, string]>(rows).map(([id, raw]) => {
      const m = JSON.parse(raw) as Meta;
      const j: ReplayReport['jobs'][number] = { id, attempts: m.attempts };
      if (m.error) {
        j.fingerprint = m.error.fingerprint;
        j.error = m.error.message;
      }
      if (m.diedAt !== undefined) j.diedAt = m.diedAt;
      return j;
    });
    return { dryRun, matched: jobs.length, moved: dryRun ? 0 : jobs.length, jobs, scanned, truncated };
  }

  /** Delete dead jobs for good; returns the ids that were dead and are now gone. */
  async deleteDead(queue: string, ids: string[]): Promise<string[]> {
    assertQueueName(queue);
    if (ids.length === 0) return [];
    const [found] = await this.run<[string[]]>(DELETE_DEAD, queue, [JSON.stringify(ids)]);
    return list<string>(found);
  }

  // ---- purge and snapshot --------------------------------------------------------------------

  /** Bounded, resumable clean-up of one queue; `more` says another call has work. */
  async purge(queue: string, opts: PurgeOptions = {}): Promise<PurgeReport> {
    assertQueueName(queue);
    const dryRun = opts.dryRun ?? false;
    const limit = opts.limit ?? this.config.purgeLimit;
    const [completed, deadExpired, deadTrimmed, idempotencyKeys, orphans, more] = await this.run<[number, number, number, number, number, boolean]>(
      PURGE,
      queue,
      [this.clock(), dryRun ? '1' : '0', this.config.completedRetentionMs, this.config.deadTtlMs, this.config.deadCap, limit, Math.min(limit, 500)],
    );
    return { dryRun, completed, deadExpired, deadTrimmed, orphans, idempotencyKeys, more };
  }

  /** Every queue that has ever been enqueued to (under this prefix). */
  async queues(): Promise<string[]> {
    const names = await guard(() => this.redis.smembers(queuesKey(this.config.prefix)));
    return names.map(String).sort();
  }

  /** Health figures of the given queues (default: all), one script each, one HTTP request. */
  async snapshot(queues?: string[]): Promise<QueueSnapshot[]> {
    const names = queues ?? (await this.queues());
    const now = this.clock();
    return Promise.all(
      names.map(async (queue) => {
        assertQueueName(queue);
        const r = await this.run<[number, number, number, number, number, string, number, string, string, Array<string | number>]>(SNAPSHOT, queue, [now]);
        const counters = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as unknown as QueueCounters;
        const flat = list<string | number>(r[9]);
        for (let i = 0; i < flat.length; i += 2) {
          const name = String(flat[i]) as keyof QueueCounters;
          if (COUNTER_NAMES.includes(name)) counters[name] = Number(flat[i + 1]);
        }
        const since = optNum(r[5]);
        const died = optNum(r[7]);
        const snap: QueueSnapshot = {
          queue,
          at: now,
          waiting: r[0],
          delayed: r[1],
          active: r[2],
          completed: r[3],
          dead: r[4],
          oldestWaitingAgeMs: since === undefined ? 0 : Math.max(0, now - since),
          stuck: r[6],
          oldestDeadAgeMs: died === undefined ? 0 : Math.max(0, now - died),
          counters,
        };
        const next = optNum(r[8]);
        if (next !== undefined) snap.nextRunAt = next;
        return snap;
      }),
    );
  }

  // ---- mapping -------------------------------------------------------------------------------

  private toJob(queue: string, id: string, specRaw: string, metaRaw: string): Job {
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
}
