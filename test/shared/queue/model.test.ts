/**
 * Issue 9, item 9: the engine under random sequences of every operation, model-based (fast-check
 * `commands`), on real Redis through `@upstash/redis` and the local endpoint, under a test clock.
 *
 * The operations: enqueue (one job or a batch, with idempotency keys, delays, priorities and attempt
 * limits), lease, reclaim, complete, fail (retryable and permanent), extend, release, cancel, run-now, replay
 * (by ids, duplicates included, or by a scan; dry runs too), delete dead, purge, trim (a purge under a
 * lower DLQ cap, as after SPOOL_DEAD_CAP was lowered), clock jumps, and any of them as a retried
 * call: sent through a proxy that lets the request run in Redis and drops its reply, so the client
 * sends it again (test/helpers/proxy.ts), sometimes with a worker leasing in between.
 *
 * Each answer is checked against what the queue held before the call (read from Redis: the model
 * predicts from it), and after every step the queue's keys are read directly and its invariants
 * checked: each job is in exactly the set its record's state names; every member of a state set has
 * both records, in that state; `waiting:since` mirrors `waiting`; active scores are lease deadlines
 * and delayed scores run-at times; the fingerprint counts are exact; the DLQ is within its cap; the
 * counters balance; idempotency keys name live jobs that carry them; `dead:index` holds exactly the
 * dead jobs; the global `due` index is never later than the queue's first waiting, delayed or
 * leased job.
 *
 * Bounded: a fixed seed, RUNS runs of at most STEPS steps (counts, not time). `npm run test:model`
 * draws a random seed and more runs (MODEL_SEED, MODEL_RUNS, MODEL_STEPS change them); the seed is
 * printed with the counts: `model: seed <s>, <r> runs, <n> steps (<k> retried calls)`.
 */
import { Redis } from '@upstash/redis';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Meta } from '../../../shared/queue/core.js';
import { IdempotencyConflictError } from '../../../shared/queue/errors.js';
import { type JobState, queueKey, Spool } from '../../../shared/queue/index.js';
import { globalKey } from '../../../shared/queue/keys.js';
import { normalizeJob } from '../../../shared/queue/schema.js';
import * as ack from '../../../shared/queue/scripts/ack.js';
import * as dead from '../../../shared/queue/scripts/dead.js';
import type { ScriptDef } from '../../../shared/queue/scripts/define.js';
import * as enqueue from '../../../shared/queue/scripts/enqueue.js';
import * as flow from '../../../shared/queue/scripts/flow.js';
import * as jobs from '../../../shared/queue/scripts/jobs.js';
import * as lease from '../../../shared/queue/scripts/lease.js';
import * as purge from '../../../shared/queue/scripts/purge.js';
import * as snapshot from '../../../shared/queue/scripts/snapshot.js';
import { harness, job } from '../../helpers/harness.js';
import { carries, type DroppingProxy, startDroppingProxy } from '../../helpers/proxy.js';
import { upstashConfig } from '../../helpers/redis.js';

const SEED =
  process.env.MODEL_SEED === 'random'
    ? Math.floor(Math.random() * 2 ** 31)
    : Number(process.env.MODEL_SEED ?? 20261201);
const RUNS = Number(process.env.MODEL_RUNS ?? 40);
const STEPS = Number(process.env.MODEL_STEPS ?? 50);

const CAP = 3;
const TRIM_CAP = 1;
const STATES: readonly JobState[] = ['waiting', 'delayed', 'active', 'completed', 'dead'];

const {
  spool: direct,
  clock,
  prefix,
} = harness('model', {
  random: () => 0.5,
  config: {
    deadCap: CAP,
    maxAttempts: 3,
    leaseMs: 30_000,
    leaseGraceMs: 0,
    jobTimeoutMs: 10_000,
    backoffBaseMs: 1_000,
    backoffMaxMs: 60_000,
    idempotencyWindowMs: 1_800_000,
    completedRetentionMs: 600_000,
    deadTtlMs: 7_200_000,
    purgeLimit: 3,
    kickDebounceMs: 0,
  },
});

/** Reads the queue's keys as stored (no JSON decoding by the client). */
let raw: Redis;
let proxy: DroppingProxy;
/** The engine through the proxy (the retried calls), one under the lower cap (trim), and both. */
let proxied: Spool;
let trimDirect: Spool;
let trimProxied: Spool;

const totals = { steps: 0, retried: 0, runs: 0 };
/** How often each notable outcome was seen (printed: the paths the runs took). */
const seen = new Map<string, number>();
const tally = (what: string, n = 1) => {
  if (n > 0) seen.set(what, (seen.get(what) ?? 0) + n);
};

beforeAll(async () => {
  const scripts = [ack, dead, enqueue, flow, jobs, lease, purge, snapshot].flatMap((m) =>
    Object.values(m).filter((v): v is ScriptDef => typeof v === 'object' && v !== null && 'sha1' in v),
  );
  // Redis knows every script, so the first run of a retried call is an EVALSHA that runs.
  for (const s of scripts) await direct.redis.scriptLoad(s.source);
  const { url, token } = upstashConfig();
  raw = new Redis({ url, token, automaticDeserialization: false });
  proxy = await startDroppingProxy(url);
  const through = () => new Redis({ url: proxy.url, token, retry: { retries: 3, backoff: () => 10 } });
  const opts = { clock: () => clock.now(), random: () => 0.5 };
  proxied = new Spool(through(), { ...opts, config: { ...direct.config } });
  trimDirect = new Spool(direct.redis, { ...opts, config: { ...direct.config, deadCap: TRIM_CAP } });
  trimProxied = new Spool(through(), { ...opts, config: { ...direct.config, deadCap: TRIM_CAP } });
});

afterAll(async () => {
  await proxy?.close();
});

// ---- the model ------------------------------------------------------------------------------------

interface Held {
  id: string;
  token: string;
}

/** What the test knows of one run's queue: every id it was answered, every lease, and the removals no counter counts. */
interface Model {
  q: string;
  ids: string[];
  leases: Held[];
  /** Dead jobs deleteDead answered deleted. */
  deleted: number;
  /** Completed jobs removed past retention (purge's answers, and complete's as it goes). */
  purgedCompleted: number;
  /** The counters after the last step. */
  counters: Record<string, number>;
}

/** How a call is made: once, or retried after its first reply was lost (with a lease in between). */
type Via = { retried: false } | { retried: true; between: boolean };

const viaArb: fc.Arbitrary<Via> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ retried: false } as const) },
  { weight: 1, arbitrary: fc.record({ retried: fc.constant(true as const), between: fc.boolean() }) },
);

const viaText = (v: Via) => (v.retried ? (v.between ? ' (retried, a lease in between)' : ' (retried)') : '');

/**
 * Run `fn` on the engine directly, or through the proxy with the first reply of `script`'s request
 * dropped; then the proxy must have seen that request twice, the first reply dropped.
 */
async function call<T>(
  m: Model,
  via: Via,
  script: ScriptDef,
  fn: (s: Spool, trim: Spool) => Promise<T>,
): Promise<{ value?: T; error?: unknown }> {
  const run = (s: Spool, t: Spool) =>
    fn(s, t).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
  if (!via.retried) return run(direct, trimDirect);
  totals.retried++;
  const from = proxy.requests.length;
  proxy.dropNextReply(
    carries(script),
    via.between
      ? async () => {
          const l = await direct.lease(m.q, { count: 2 });
          for (const j of l.jobs) m.leases.push({ id: j.id, token: j.token });
        }
      : undefined,
  );
  const out = await run(proxied, trimProxied);
  const sent = proxy.requests.slice(from).filter((r) => carries(script)(r.body));
  expect(
    sent.map((r) => r.dropped),
    `${script.name}: the first reply dropped, the call sent again`,
  ).toEqual([true, false]);
  return out;
}

const value = <T>(r: { value?: T; error?: unknown }): T => {
  if (r.error !== undefined) throw r.error;
  return r.value as T;
};

// ---- the queue as stored --------------------------------------------------------------------------

interface Stored {
  sets: Record<JobState, Map<string, number>>;
  since: Map<string, number>;
  meta: Map<string, Meta>;
  specs: Map<string, string>;
  fingerprints: Map<string, number>;
  counters: Record<string, number>;
  idem: Map<string, string>;
  idemExpiry: Map<string, number>;
  audits: number;
  /** Members of dead:index. */
  deadIndex: string[];
  /** The queue's score in the global due index (null: absent). */
  due: number | null;
  /** Flow control: paused, and the concurrency cap (null: none). */
  paused: boolean;
  maxConcurrency: number | null;
  rateLimit: { limit: number; periodMs: number } | null;
  /** The rate limit's window: lease token -> ms leased. */
  rate: Map<string, number>;
}

const zmap = (flat: unknown): Map<string, number> => {
  const a = (flat as string[] | null) ?? [];
  const out = new Map<string, number>();
  for (let i = 0; i < a.length; i += 2) out.set(String(a[i]), Number(a[i + 1]));
  return out;
};
/** A hash as read without decoding: a flat [field, value, ...] list. */
const hmap = (flat: unknown): Map<string, string> => {
  const a = (flat as string[] | null) ?? [];
  const out = new Map<string, string>();
  for (let i = 0; i < a.length; i += 2) out.set(String(a[i]), String(a[i + 1]));
  return out;
};

/** Every key of the queue, read in one pipeline (one HTTP request). */
async function read(q: string): Promise<Stored> {
  const k = (name: Parameters<typeof queueKey>[2]) => queueKey(prefix, q, name);
  const p = raw.pipeline();
  for (const s of STATES) p.zrange(k(s), 0, -1, { withScores: true });
  p.zrange(k('waitingSince'), 0, -1, { withScores: true });
  p.hgetall(k('meta'));
  p.hgetall(k('jobs'));
  p.hgetall(k('deadFingerprints'));
  p.hgetall(k('counters'));
  p.hgetall(k('idempotency'));
  p.zrange(k('idempotencyExpiry'), 0, -1, { withScores: true });
  p.llen(k('auditDlqReplay'));
  p.zrange(k('deadIndex'), 0, -1);
  p.zscore(globalKey(prefix, 'due'), q);
  p.hmget(k('settings'), 'paused', 'maxConcurrency', 'rateLimit');
  p.zrange(k('rate'), 0, -1, { withScores: true });
  const r = (await p.exec()) as unknown[];
  const sets = Object.fromEntries(STATES.map((s, i) => [s, zmap(r[i])])) as Record<JobState, Map<string, number>>;
  const n = STATES.length;
  const meta = new Map([...hmap(r[n + 1])].map(([id, m]) => [id, JSON.parse(m) as Meta]));
  return {
    sets,
    since: zmap(r[n]),
    meta,
    specs: hmap(r[n + 2]),
    fingerprints: new Map([...hmap(r[n + 3])].map(([f, c]) => [f, Number(c)])),
    counters: Object.fromEntries([...hmap(r[n + 4])].map(([c, v]) => [c, Number(v)])),
    idem: hmap(r[n + 5]),
    idemExpiry: zmap(r[n + 6]),
    audits: Number(r[n + 7]),
    deadIndex: ((r[n + 8] as string[] | null) ?? []).map(String),
    due: r[n + 9] === null || r[n + 9] === undefined ? null : Number(r[n + 9]),
    ...flowOf(r[n + 10]),
    rate: zmap(r[n + 11]),
  };
}

/** The settings fields read (HMGET paused, maxConcurrency: an array, or an object keyed by field). */
function flowOf(x: unknown): Pick<Stored, 'paused' | 'maxConcurrency' | 'rateLimit'> {
  const o = x as Record<string, unknown> | null;
  const [paused, cap, rate] = Array.isArray(x) ? x : [o?.paused, o?.maxConcurrency, o?.rateLimit];
  const absent = (v: unknown) => v === null || v === undefined;
  return {
    paused: String(paused) === '1',
    maxConcurrency: absent(cap) ? null : Number(cap),
    rateLimit: absent(rate) ? null : (JSON.parse(String(rate)) as { limit: number; periodMs: number }),
  };
}

/** Leases the rate limit allows at `now` (its window: leases scored after now - periodMs). */
const rateFree = (s: Stored, now: number) =>
  s.rateLimit
    ? Math.max(0, s.rateLimit.limit - [...s.rate.values()].filter((t) => t > now - s.rateLimit!.periodMs).length)
    : Number.POSITIVE_INFINITY;

const fingerprintOf = (m: Meta | undefined) => m?.error?.fingerprint ?? 'unknown';
const count = (s: Stored, name: string) => s.counters[name] ?? 0;

/** The invariants of a queue, whatever happened to it. */
function checkInvariants(s: Stored, m: Model, now: number): void {
  for (const [id, meta] of s.meta) {
    expect(STATES, `${id}: a state`).toContain(meta.state);
    expect(s.specs.has(id), `${id}: has its spec`).toBe(true);
    for (const st of STATES) {
      expect(s.sets[st].has(id), `${id} (${meta.state}) in ${st}`).toBe(st === meta.state);
    }
    expect(meta.attempts, `${id}: attempts`).toBeGreaterThanOrEqual(meta.state === 'active' ? 1 : 0);
    expect(meta.attempts, `${id}: attempts within maxAttempts`).toBeLessThanOrEqual(meta.maxAttempts);
    if (meta.state === 'active') {
      expect(meta.leaseToken, `${id}: an active job has a lease token`).toBeTruthy();
      expect(s.sets.active.get(id), `${id}: scored by its lease deadline`).toBe(meta.leaseUntil);
    } else {
      expect(meta.leaseToken, `${id}: only an active job has a lease token`).toBeUndefined();
    }
    if (meta.state === 'delayed') expect(s.sets.delayed.get(id), `${id}: scored by its run-at`).toBe(meta.runAt);
    if (meta.state === 'waiting') expect(meta.runAt, `${id}: a waiting job has no run-at`).toBeUndefined();
    expect(Array.isArray(meta.history) ? meta.history.length : 0, `${id}: history kept to 10`).toBeLessThanOrEqual(10);
  }
  for (const st of STATES) {
    for (const id of s.sets[st].keys()) {
      expect(s.meta.get(id)?.state, `${st} member ${id}: its record names ${st}`).toBe(st);
    }
  }
  for (const id of s.specs.keys()) expect(s.meta.has(id), `spec ${id}: has its meta`).toBe(true);
  expect([...s.since.keys()].sort(), 'waiting:since mirrors waiting').toEqual([...s.sets.waiting.keys()].sort());

  const fps = new Map<string, number>();
  for (const id of s.sets.dead.keys()) {
    const f = fingerprintOf(s.meta.get(id));
    fps.set(f, (fps.get(f) ?? 0) + 1);
  }
  expect(Object.fromEntries(s.fingerprints), 'fingerprint counts are exact').toEqual(Object.fromEntries(fps));
  expect(s.sets.dead.size, 'the DLQ is within its cap').toBeLessThanOrEqual(CAP);
  const index = [...s.sets.dead].map(
    ([id, diedAt]) => `${fingerprintOf(s.meta.get(id))}:${String(diedAt).padStart(16, '0')}:${id}`,
  );
  expect([...s.deadIndex].sort(), 'dead:index holds exactly the dead jobs').toEqual(index.sort());

  // The due index is never later than the truth (a job would wait for no worker).
  const first = (z: Map<string, number>) => Math.min(...z.values());
  // Waiting jobs need a worker now unless flow control holds them: paused, or every slot taken.
  const free = s.maxConcurrency === null || s.sets.active.size < s.maxConcurrency;
  const held = s.sets.waiting.size > 0 && !s.paused && free;
  const runnable = held && rateFree(s, now) > 0;
  // Held by the rate limit: due when the oldest lease of its window leaves it.
  const window = [...s.rate.values()].filter((t) => s.rateLimit && t > now - s.rateLimit.periodMs);
  const rateAt = held && !runnable ? Math.min(...window) + s.rateLimit!.periodMs : Number.POSITIVE_INFINITY;
  const dueBy = runnable ? now : Math.min(first(s.sets.delayed), first(s.sets.active), rateAt);
  if (Number.isFinite(dueBy)) {
    expect(s.due, 'the queue is in the due index').not.toBeNull();
    expect(s.due!, 'the due index is never later than the truth').toBeLessThanOrEqual(dueBy);
  }

  const live = STATES.reduce((n, st) => n + s.sets[st].size, 0);
  const c = (name: string) => count(s, name);
  expect(c('orphans'), 'no orphans: the engine leaves none').toBe(0);
  expect(c('enqueued'), 'enqueued = live + cancelled + trimmed + past TTL + deleted + purged').toBe(
    live + c('cancelled') + c('deadTrimmed') + c('deadPastTtl') + c('orphans') + m.deleted + m.purgedCompleted,
  );
  expect(c('completed'), 'completed = in completed + purged').toBe(s.sets.completed.size + m.purgedCompleted);
  expect(c('dead'), 'dead = in dead + replayed + trimmed + past TTL + deleted').toBe(
    s.sets.dead.size + c('replayed') + c('deadTrimmed') + c('deadPastTtl') + m.deleted,
  );
  expect(c('failed') - c('retried'), 'failures for good are dead').toBeGreaterThanOrEqual(0);
  expect(c('failed') - c('retried'), 'failures for good are dead').toBeLessThanOrEqual(c('dead'));

  expect([...s.idem.keys()].sort(), 'idem and idem:expiry hold the same keys').toEqual([...s.idemExpiry.keys()].sort());
  for (const [key, id] of s.idem) {
    expect(s.meta.get(id)?.idem, `key ${key} names live job ${id}, which carries it`).toBe(key);
  }
}

// ---- the commands ---------------------------------------------------------------------------------

type Cmd = fc.AsyncCommand<Model, object>;
/** Which of the known jobs or leases a command takes: `hit` prefers those it can act on. */
interface At {
  i: number;
  hit: boolean;
}
const pick = <T>(xs: readonly T[], at: At, can: (x: T) => boolean): T => {
  const hits = at.hit ? xs.filter(can) : [];
  const from = hits.length > 0 ? hits : xs;
  return from[at.i % from.length]!;
};
const atText = (at: At) => `#${at.i}${at.hit ? '*' : ''}`;

interface EnqueueSpec {
  payload: number;
  key: string | null;
  delayMs: number;
  priority: number;
  maxAttempts: number;
}

class Enqueue implements Cmd {
  constructor(
    readonly jobs: EnqueueSpec[],
    readonly batch: boolean,
    readonly via: Via,
  ) {}
  check = () => true;
  async run(m: Model) {
    const now = clock.now();
    const input = this.jobs.map((j) => {
      const o: Record<string, unknown> = { priority: j.priority, maxAttempts: j.maxAttempts };
      if (j.key) o.idempotencyKey = j.key;
      if (j.delayMs) o.delayMs = j.delayMs;
      return job({ n: j.payload }, o);
    });
    const many = this.batch || input.length > 1;
    const before = await read(m.q);
    // Predict: a key naming a live job inside its window deduplicates (same spec) or conflicts.
    type Expect = { dedupOf?: string; newAt?: number; state: JobState } | { conflict: true };
    const keyed = new Map<string, { id?: string; newAt?: number; spec: string; state: JobState }>();
    const expected: Expect[] = [];
    let conflictAt = -1;
    let conflictWith: string | undefined;
    input.forEach((raw, i) => {
      const spec = normalizeJob(raw, direct.config, now).spec;
      const key = this.jobs[i]!.key;
      const state: JobState = this.jobs[i]!.delayMs > 0 ? 'delayed' : 'waiting';
      let held = key ? keyed.get(key) : undefined;
      if (key && !held) {
        const id = before.idem.get(key);
        const until = before.idemExpiry.get(key);
        const meta = id ? before.meta.get(id) : undefined;
        if (id && meta && before.specs.has(id) && until !== undefined && until > now) {
          held = { id, spec: before.specs.get(id)!, state: meta.state };
        }
      }
      if (held && held.spec !== spec) {
        expected.push({ conflict: true });
        if (conflictAt < 0) {
          conflictAt = i;
          conflictWith = held.id;
        }
      } else if (held) {
        expected.push(held.id ? { dedupOf: held.id, state: held.state } : { newAt: held.newAt!, state: held.state });
      } else {
        expected.push({ newAt: i, state });
        if (key) keyed.set(key, { newAt: i, spec, state });
      }
    });
    const r = await call(m, this.via, enqueue.ENQUEUE, (s) => s.enqueue(m.q, many ? input : input[0]));
    if (conflictAt >= 0) {
      expect(r.error, 'a key with another spec is a conflict').toBeInstanceOf(IdempotencyConflictError);
      const field = many ? `jobs[${conflictAt}].idempotencyKey` : 'idempotencyKey';
      expect(r.error, 'naming the field and the job the key holds').toMatchObject({ field, id: conflictWith });
      tally('enqueue: conflict');
      const after = await read(m.q);
      expect(count(after, 'enqueued'), 'a conflict writes nothing').toBe(count(before, 'enqueued'));
      return;
    }
    const out = value(r);
    const after = await read(m.q);
    expect(out.jobs).toHaveLength(input.length);
    out.jobs.forEach((j, i) => {
      const e = expected[i] as { dedupOf?: string; newAt?: number; state: JobState };
      if (e.dedupOf) {
        expect(j).toMatchObject({ id: e.dedupOf, deduplicated: true });
      } else {
        const first = out.jobs[e.newAt!]!;
        expect(j.id).toBe(first.id);
        expect(j.deduplicated, `job ${i}: new, or a duplicate of job ${e.newAt} of the batch`).toBe(e.newAt !== i);
        if (e.newAt === i) expect(before.meta.has(j.id), 'a new id').toBe(false);
      }
      // the answer is the job's real state (a worker may have leased it in between)
      expect(j.state, `job ${i}: its state`).toBe(after.meta.get(j.id)?.state);
      if (!this.via.retried || !this.via.between) expect(j.state).toBe(e.state);
      if (!m.ids.includes(j.id)) m.ids.push(j.id);
    });
    const created = expected.filter((e, i) => 'newAt' in e && e.newAt === i).length;
    expect(count(after, 'enqueued') - count(before, 'enqueued'), 'each new job counted once').toBe(created);
    tally('enqueue: new', created);
    tally('enqueue: duplicate', out.jobs.filter((j) => j.deduplicated).length);
  }
  toString = () =>
    `enqueue${this.batch || this.jobs.length > 1 ? ' batch' : ''} ${JSON.stringify(this.jobs)}${viaText(this.via)}`;
}

/** What a lease call should answer, from the queue before it. */
function predictReclaim(before: Stored, now: number) {
  let promoted = 0;
  for (const at of before.sets.delayed.values()) if (at <= now) promoted++;
  let leaseExpired = 0;
  let leaseExpiredDead = 0;
  for (const [id, until] of before.sets.active) {
    if (until > now) continue;
    const meta = before.meta.get(id)!;
    if (meta.attempts >= meta.maxAttempts) leaseExpiredDead++;
    else leaseExpired++;
  }
  return { promoted, leaseExpired, leaseExpiredDead };
}

class Lease implements Cmd {
  constructor(
    readonly count: number,
    readonly leaseMs: number,
    readonly via: Via,
  ) {}
  check = () => true;
  async run(m: Model) {
    const before = await read(m.q);
    const now = clock.now();
    const p = predictReclaim(before, now);
    const out = value(
      await call(m, this.via, lease.LEASE, (s) => s.lease(m.q, { count: this.count, leaseMs: this.leaseMs })),
    );
    expect({ promoted: out.promoted, leaseExpired: out.leaseExpired, leaseExpiredDead: out.leaseExpiredDead }).toEqual(
      p,
    );
    tally('lease: promoted', p.promoted);
    tally('lease: expired, back to waiting', p.leaseExpired);
    tally('lease: expired, dead', p.leaseExpiredDead);
    if (this.count === 0) {
      expect(out.jobs).toEqual([]);
      return;
    }
    const available = before.sets.waiting.size + p.promoted + p.leaseExpired;
    // Flow control: a paused queue leases nothing; a cap leases only into free slots.
    const activeLeft = before.sets.active.size - p.leaseExpired - p.leaseExpiredDead;
    const slots = before.paused
      ? 0
      : Math.min(
          before.maxConcurrency === null ? Number.POSITIVE_INFINITY : Math.max(0, before.maxConcurrency - activeLeft),
          rateFree(before, now),
        );
    expect(out.jobs, 'leases what waits, up to count and flow control').toHaveLength(
      Math.min(this.count, available, slots),
    );
    if (slots < Math.min(this.count, available)) tally(`lease: held (${before.paused ? 'paused' : 'flow control'})`);
    const after = await read(m.q);
    for (const j of out.jobs) {
      const meta = after.meta.get(j.id);
      expect(meta, `leased ${j.id}: held under its token`).toMatchObject({ state: 'active', leaseToken: j.token });
      expect(meta!.attempts, `leased ${j.id}: one attempt more`).toBe((before.meta.get(j.id)?.attempts ?? 0) + 1);
      m.leases.push({ id: j.id, token: j.token });
    }
    tally('lease: leased', out.jobs.length);
  }
  toString = () => (this.count === 0 ? 'reclaim' : `lease ${this.count} for ${this.leaseMs} ms`) + viaText(this.via);
}

/** Whether `token` holds `id`'s lease (the state before an ack). */
const holds = (s: Stored, h: Held) => {
  const meta = s.meta.get(h.id);
  return meta?.state === 'active' && meta.leaseToken === h.token;
};

/** The lease an ack takes (`hit`: one still held), and the queue before the ack. */
async function ackTarget(m: Model, at: At) {
  const before = await read(m.q);
  const h = pick(m.leases, at, (x) => holds(before, x));
  return { before, h, meta: before.meta.get(h.id), now: clock.now() };
}
const hasLeases = (m: Readonly<Model>) => m.leases.length > 0;

/**
 * A refused ack: not_found when the job was gone before, else stale; retried with a lease in
 * between, not_found too when that lease removed the job (a dead job trimmed by the cap).
 */
async function expectRefused(m: Model, via: Via, h: Held, meta: Meta | undefined, status: string, what: string) {
  if (!meta) return void expect(status, what).toBe('not_found');
  if (via.retried && via.between && status === 'not_found' && !(await read(m.q)).meta.has(h.id)) {
    tally('ack, retried: removed by the lease in between (not_found)');
    return;
  }
  expect(status, what).toBe('stale');
}

class Complete implements Cmd {
  constructor(
    readonly at: At,
    readonly via: Via,
  ) {}
  check = hasLeases;
  async run(m: Model) {
    const { before, h, meta } = await ackTarget(m, this.at);
    const want = holds(before, h)
      ? 'ok'
      : meta?.state === 'completed' && meta.ackToken === h.token
        ? 'ok'
        : meta
          ? 'stale'
          : 'not_found';
    const [res] = value(await call(m, this.via, ack.COMPLETE, (s) => s.complete(m.q, [h])));
    if (want === 'ok') expect(res!.status, `complete ${h.id}`).toBe('ok');
    else await expectRefused(m, this.via, h, meta, res!.status, `complete ${h.id} (${meta?.state ?? 'gone'})`);
    // Complete removes completed jobs past retention as it goes (every 50 completions): no counter
    // counts them, so the model does, from the sets.
    const after = await read(m.q);
    const trimmed = before.sets.completed.size + (holds(before, h) ? 1 : 0) - after.sets.completed.size;
    expect(trimmed, 'complete removes only completed jobs past retention').toBeGreaterThanOrEqual(0);
    m.purgedCompleted += trimmed;
    tally('complete: past retention removed', trimmed);
    tally(`complete: ${want}`);
  }
  toString = () => `complete lease ${atText(this.at)}${viaText(this.via)}`;
}

class Fail implements Cmd {
  constructor(
    readonly at: At,
    readonly retryable: boolean,
    readonly message: string,
    readonly via: Via,
  ) {}
  check = hasLeases;
  async run(m: Model) {
    const { before, h, meta, now } = await ackTarget(m, this.at);
    const [res] = value(
      await call(m, this.via, ack.FAIL, (s) =>
        s.fail(m.q, [{ ...h, error: { message: this.message, retryable: this.retryable } }]),
      ),
    );
    const after = await read(m.q);
    type Want = { status: 'ok'; state: 'delayed' | 'dead' } | { status: 'stale' | 'not_found' };
    let want: Want;
    if (holds(before, h)) {
      want = { status: 'ok', state: this.retryable && meta!.attempts < meta!.maxAttempts ? 'delayed' : 'dead' };
    } else if (meta && (meta.state === 'delayed' || meta.state === 'dead') && meta.ackToken === h.token) {
      want = { status: 'ok', state: meta.state }; // failed already by this token: ok, unchanged
    } else {
      want = { status: meta ? 'stale' : 'not_found' };
    }
    if (want.status === 'ok' && this.via.retried && res!.status !== 'ok') {
      // A retried ack keeps no answer under a nonce: it answers what its second run finds.
      const now_ = after.meta.get(h.id);
      if (!now_) {
        // Gone: trimmed by the DLQ cap, in the first run (the DLQ was full and every dead job died
        // in the same ms: the test clock stands still) or by the lease in between.
        expect(count(after, 'deadTrimmed'), `fail ${h.id}: trimmed by the cap`).toBeGreaterThan(
          count(before, 'deadTrimmed'),
        );
        expect(res!.status).toBe('not_found');
        tally('fail, retried: trimmed by the cap before the retry (not_found)');
      } else {
        // Failed to delayed and due at once: the lease in between promoted it (and maybe leased it).
        expect(this.via.between, `fail ${h.id}: only a lease in between moves it on`).toBe(true);
        expect(['waiting', 'active'], `fail ${h.id}: promoted in between`).toContain(now_.state);
        expect(now_.leaseToken).not.toBe(h.token);
        expect(res!.status).toBe('stale');
        tally('fail, retried: promoted in between (stale)');
      }
      return;
    }
    if (want.status === 'ok') expect(res, `fail ${h.id} (${meta?.state})`).toMatchObject(want);
    else await expectRefused(m, this.via, h, meta, res!.status, `fail ${h.id} (${meta?.state ?? 'gone'})`);
    if (want.status === 'ok' && holds(before, h) && want.state === 'delayed') expect(res!.runAt).toBeGreaterThan(now);
    tally(`fail: ${want.status === 'ok' ? (holds(before, h) ? want.state : 'again') : 'refused'}`);
  }
  toString = () =>
    `fail lease ${atText(this.at)} ${this.retryable ? 'retryable' : 'permanent'} "${this.message}"${viaText(this.via)}`;
}

class Extend implements Cmd {
  constructor(
    readonly at: At,
    readonly leaseMs: number,
    readonly via: Via,
  ) {}
  check = hasLeases;
  async run(m: Model) {
    const { before, h, meta, now } = await ackTarget(m, this.at);
    const [res] = value(await call(m, this.via, ack.EXTEND, (s) => s.extend(m.q, [{ ...h, leaseMs: this.leaseMs }])));
    if (holds(before, h)) {
      expect(res, `extend ${h.id}`).toEqual({
        id: h.id,
        status: 'ok',
        leaseUntil: Math.max(meta!.leaseUntil!, now + this.leaseMs),
      });
    } else {
      await expectRefused(m, this.via, h, meta, res!.status, `extend ${h.id} (${meta?.state ?? 'gone'})`);
    }
  }
  toString = () => `extend lease ${atText(this.at)} by ${this.leaseMs} ms${viaText(this.via)}`;
}

class Release implements Cmd {
  constructor(
    readonly at: At,
    readonly via: Via,
  ) {}
  check = hasLeases;
  async run(m: Model) {
    const { before, h, meta } = await ackTarget(m, this.at);
    const [res] = value(await call(m, this.via, ack.RELEASE, (s) => s.release(m.q, [h])));
    const after = await read(m.q);
    const again = meta?.state === 'waiting' && meta.ackToken === h.token;
    if (holds(before, h) || again) {
      if (this.via.retried && this.via.between && res!.status === 'stale') {
        // Released by the first run, then leased again by the lease in between.
        expect(after.meta.get(h.id), `release ${h.id}: leased again in between`).toMatchObject({ state: 'active' });
        tally('release, retried: leased again in between (stale)');
        return;
      }
      expect(res!.status, `release ${h.id}`).toBe('ok');
      if (holds(before, h)) {
        expect(after.meta.get(h.id)?.attempts, `release ${h.id}: its attempt refunded`).toBe(meta!.attempts - 1);
      }
      tally(holds(before, h) ? 'release: ok' : 'release: again');
    } else {
      await expectRefused(m, this.via, h, meta, res!.status, `release ${h.id} (${meta?.state ?? 'gone'})`);
      tally('release: refused');
    }
  }
  toString = () => `release lease ${atText(this.at)}${viaText(this.via)}`;
}

/** cancel or runNow: ok from the states it takes, conflict naming any other, not_found when gone. */
class Move implements Cmd {
  constructor(
    readonly op: 'cancel' | 'runNow',
    readonly at: At,
    readonly via: Via,
  ) {}
  check = (m: Readonly<Model>) => m.ids.length > 0;
  async run(m: Model) {
    const before = await read(m.q);
    const takes: JobState[] = this.op === 'cancel' ? ['waiting', 'delayed'] : ['delayed'];
    const id = pick(m.ids, this.at, (x) => takes.includes(before.meta.get(x)?.state as JobState));
    const state = before.meta.get(id)?.state;
    const want = !state ? { status: 'not_found' } : { status: takes.includes(state) ? 'ok' : 'conflict', state };
    const script = this.op === 'cancel' ? jobs.CANCEL : jobs.RUN_NOW;
    const res = value(await call(m, this.via, script, (s) => s[this.op](m.q, id)));
    expect(res, `${this.op} ${id}`).toEqual(want);
    tally(`${this.op}: ${want.status}`);
  }
  toString = () => `${this.op} job ${atText(this.at)}${viaText(this.via)}`;
}

/** The dead ids of a selection, as replay and deleteDead take them: each once, in the order first given. */
const deadOf = (s: Stored, ids: string[]) => [...new Set(ids)].filter((id) => s.sets.dead.has(id));

class Replay implements Cmd {
  constructor(
    readonly at: At[] | null,
    readonly limit: number,
    readonly dryRun: boolean,
    readonly byFingerprint: boolean,
    readonly via: Via,
  ) {}
  check = (m: Readonly<Model>) => this.at === null || m.ids.length > 0;
  async run(m: Model) {
    const before = await read(m.q);
    const ids = this.at?.map((a) => pick(m.ids, a, (x) => before.sets.dead.has(x)));
    const fingerprint = this.byFingerprint ? [...before.fingerprints.keys()].sort()[0] : undefined;
    const scan = [...before.sets.dead].sort(([a, x], [b, y]) => x - y || (a < b ? -1 : a > b ? 1 : 0));
    const want = (ids ? deadOf(before, ids) : scan.map(([id]) => id))
      .filter((id) => !fingerprint || fingerprintOf(before.meta.get(id)) === fingerprint)
      .slice(0, this.limit);
    const sel = {
      dryRun: this.dryRun,
      limit: this.limit,
      ...(ids ? { ids } : {}),
      ...(fingerprint ? { fingerprint } : {}),
    };
    const out = value(
      await call(m, this.via, dead.REPLAY, (s) =>
        s.replay(m.q, sel, { audit: { record: { actor: 'model', queue: m.q }, cap: 1000 } }),
      ),
    );
    expect(
      out.jobs.map((j) => j.id),
      'replay matches the dead jobs of the selection',
    ).toEqual(want);
    expect(out).toMatchObject({ matched: want.length, moved: this.dryRun ? 0 : want.length });
    const after = await read(m.q);
    expect(after.audits, 'one audit record per call').toBe(before.audits + 1);
    expect(count(after, 'replayed') - count(before, 'replayed')).toBe(this.dryRun ? 0 : want.length);
    tally(this.dryRun ? 'replay: matched (dry run)' : 'replay: moved', want.length);
  }
  toString = () =>
    `replay ${this.at ? `jobs ${this.at.map(atText).join(',')}` : 'scan'} limit ${this.limit}${this.byFingerprint ? ' by fingerprint' : ''}${this.dryRun ? ' (dry run)' : ''}${viaText(this.via)}`;
}

class DeleteDead implements Cmd {
  constructor(
    readonly at: At[],
    readonly via: Via,
  ) {}
  check = (m: Readonly<Model>) => m.ids.length > 0;
  async run(m: Model) {
    const before = await read(m.q);
    const ids = this.at.map((a) => pick(m.ids, a, (x) => before.sets.dead.has(x)));
    const deleted = value(await call(m, this.via, dead.DELETE_DEAD, (s) => s.deleteDead(m.q, ids)));
    expect(deleted, `deleteDead ${ids.join(', ')}`).toEqual(deadOf(before, ids));
    m.deleted += deleted.length;
    tally('deleteDead: deleted', deleted.length);
  }
  toString = () => `deleteDead jobs ${this.at.map(atText).join(',')}${viaText(this.via)}`;
}

class Purge implements Cmd {
  constructor(
    readonly trim: boolean,
    readonly dryRun: boolean,
    readonly via: Via,
  ) {}
  check = () => true;
  async run(m: Model) {
    const before = await read(m.q);
    const now = clock.now();
    const cfg = direct.config;
    const limit = cfg.purgeLimit;
    const upTo = (z: Map<string, number>, t: number) => Math.min(limit, [...z.values()].filter((x) => x <= t).length);
    const pastTtl = upTo(before.sets.dead, now - cfg.deadTtlMs);
    const cap = this.trim ? TRIM_CAP : CAP;
    const want = {
      dryRun: this.dryRun,
      completed: upTo(before.sets.completed, now - cfg.completedRetentionMs),
      deadPastTtl: pastTtl,
      deadTrimmed: Math.max(0, Math.min(limit, before.sets.dead.size - pastTtl - cap)),
      orphans: 0,
    };
    const out = value(
      await call(m, this.via, purge.PURGE, (s, t) => (this.trim ? t : s).purge(m.q, { dryRun: this.dryRun })),
    );
    const removed = want.completed + want.deadPastTtl + want.deadTrimmed + upTo(before.idemExpiry, now);
    if (this.via.retried && this.via.between && (this.dryRun || removed === 0)) {
      // A purge that removed nothing keeps no answer: its retry does what the lease in between
      // made due (a job dead over the cap). It answers what that run removed (counted below).
    } else {
      expect(out, `purge${this.trim ? ' under the lower cap' : ''}`).toMatchObject(want);
      expect(out.idempotencyKeys).toBe(upTo(before.idemExpiry, now));
    }
    if (!this.dryRun) m.purgedCompleted += out.completed;
    const what = `${this.trim ? 'trim' : 'purge'}${this.dryRun ? ' (dry run)' : ''}`;
    tally(`${what}: completed`, out.completed);
    tally(`${what}: dead past TTL`, out.deadPastTtl);
    tally(`${what}: dead trimmed`, out.deadTrimmed);
    tally(`${what}: idempotency keys`, out.idempotencyKeys);
  }
  toString = () => `${this.trim ? 'trim' : 'purge'}${this.dryRun ? ' (dry run)' : ''}${viaText(this.via)}`;
}

/** Flow control: pause or resume, set or clear the concurrency cap or the rate limit. */
class Settings implements Cmd {
  constructor(
    readonly change: {
      paused?: boolean;
      maxConcurrency?: number | null;
      rateLimit?: { limit: number; periodMs: number } | null;
    },
    readonly via: Via,
  ) {}
  check = () => true;
  async run(m: Model) {
    const out = value(await call(m, this.via, flow.SETTINGS, (s) => s.putSettings(m.q, this.change)));
    expect(out.settings, 'the settings answered').toMatchObject(this.change);
    const after = await read(m.q);
    if (this.change.paused !== undefined) expect(after.paused).toBe(this.change.paused);
    if (this.change.maxConcurrency !== undefined) expect(after.maxConcurrency).toBe(this.change.maxConcurrency);
    if (this.change.rateLimit !== undefined) expect(after.rateLimit).toEqual(this.change.rateLimit);
    tally(`settings: ${JSON.stringify(this.change)}`);
  }
  toString = () => `settings ${JSON.stringify(this.change)}${viaText(this.via)}`;
}

class Clock implements Cmd {
  constructor(readonly ms: number) {}
  check = () => true;
  async run() {
    clock.advance(this.ms);
  }
  toString = () => `clock +${this.ms} ms`;
}

const at: fc.Arbitrary<At> = fc.record({ i: fc.nat({ max: 7 }), hit: fc.boolean() });
const COMMANDS: Array<fc.Arbitrary<Cmd>> = [
  fc
    .tuple(
      fc.array(
        fc.record({
          payload: fc.integer({ min: 0, max: 2 }),
          key: fc.option(fc.constantFrom('k1', 'k2', 'k3'), { freq: 2 }),
          delayMs: fc.constantFrom(0, 0, 5_000, 120_000),
          priority: fc.constantFrom(-1, 0, 0, 1),
          maxAttempts: fc.integer({ min: 1, max: 3 }),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      fc.boolean(),
      viaArb,
    )
    .map(([j, b, v]) => new Enqueue(j, b, v)),
  fc
    .tuple(fc.integer({ min: 1, max: 3 }), fc.constantFrom(1_000, 30_000), viaArb)
    .map(([c, l, v]) => new Lease(c, l, v)),
  viaArb.map((v) => new Lease(0, 0, v)),
  fc.tuple(at, viaArb).map(([a, v]) => new Complete(a, v)),
  fc
    .tuple(at, fc.boolean(), fc.constantFrom('boom', 'timeout after 10 ms', 'timeout after 25 ms', 'refused'), viaArb)
    .map(([a, r, msg, v]) => new Fail(a, r, msg, v)),
  fc.tuple(at, fc.constantFrom(5_000, 60_000), viaArb).map(([a, l, v]) => new Extend(a, l, v)),
  fc.tuple(at, viaArb).map(([a, v]) => new Release(a, v)),
  fc.tuple(at, viaArb).map(([a, v]) => new Move('cancel', a, v)),
  fc.tuple(at, viaArb).map(([a, v]) => new Move('runNow', a, v)),
  fc
    .tuple(
      fc.option(fc.array(at, { minLength: 1, maxLength: 4 }), { freq: 2 }),
      fc.integer({ min: 1, max: 5 }),
      fc.boolean(),
      fc.boolean(),
      viaArb,
    )
    .map(([ids, l, d, f, v]) => new Replay(ids, l, d, f, v)),
  fc.tuple(fc.array(at, { minLength: 1, maxLength: 3 }), viaArb).map(([ids, v]) => new DeleteDead(ids, v)),
  fc.tuple(fc.boolean(), viaArb).map(([d, v]) => new Purge(false, d, v)),
  viaArb.map((v) => new Purge(true, false, v)),
  fc.constantFrom(500, 5_000, 40_000, 700_000, 2_000_000, 8_000_000).map((ms) => new Clock(ms)),
  fc
    .tuple(
      fc.constantFrom<Settings['change']>(
        { paused: true },
        { paused: false },
        { paused: false },
        { maxConcurrency: 1 },
        { maxConcurrency: 2 },
        { maxConcurrency: null },
        { rateLimit: { limit: 2, periodMs: 30_000 } },
        { rateLimit: null },
      ),
      viaArb,
    )
    .map(([c, v]) => new Settings(c, v)),
];

/** Drawn in proportion: the commands that fill the queue and move jobs along, more often. */
const [enqueueArb, leaseArb, , completeArb, failArb] = COMMANDS;
const WEIGHTED = [...COMMANDS, enqueueArb!, enqueueArb!, leaseArb!, leaseArb!, completeArb!, failArb!, failArb!];

/** Each command, then the invariants. */
const checked = (c: Cmd): Cmd => ({
  check: (m) => c.check(m),
  run: async (m, r) => {
    totals.steps++;
    await c.run(m, r);
    const after = await read(m.q);
    checkInvariants(after, m, clock.now());
    for (const [name, n] of Object.entries(after.counters)) {
      if (!/^(seq|fence|purge:)/.test(name)) tally(`counter ${name}`, n - (m.counters[name] ?? 0));
    }
    m.counters = after.counters;
  },
  toString: () => c.toString(),
});

it(
  `random sequences of every operation keep the queue whole (seed ${SEED}, ${RUNS} runs × ≤ ${STEPS} steps)`,
  async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.commands(
          WEIGHTED.map((a) => a.map(checked)),
          {
            maxCommands: STEPS,
            size: 'max',
            ...(process.env.MODEL_REPLAY ? { replayPath: process.env.MODEL_REPLAY } : {}),
          },
        ),
        async (cmds) => {
          const q = `model-${totals.runs++}`;
          await fc.asyncModelRun(
            () => ({ model: { q, ids: [], leases: [], deleted: 0, purgedCompleted: 0, counters: {} }, real: {} }),
            cmds,
          );
        },
      ),
      { seed: SEED, numRuns: RUNS, ...(process.env.MODEL_PATH ? { path: process.env.MODEL_PATH } : {}) },
    );
    console.log(
      `model: seed ${SEED}, ${totals.runs} runs, ${totals.steps} steps (${totals.retried} retried calls)\n` +
        [...seen]
          .sort()
          .map(([what, n]) => `  ${what}: ${n}`)
          .join('\n'),
    );
    expect(totals.steps).toBeGreaterThan(RUNS);
  },
  // A guard against a hang, not a timed assertion: far above what the steps take.
  Math.max(120_000, RUNS * STEPS * 100),
);
