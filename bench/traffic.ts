/**
 * Traffic shapes (issue 14) through the local stack as `npm start` wires it: `startLocal` serves the
 * real handlers behind its API Gateway stand-in, the enqueue handler's kick runs the real worker
 * handler in-process (local/functions.ts, local/aws.ts), and the schedules are timers
 * (local/schedules.ts). Jobs call a loopback HTTP target (this file) that records every run: when it
 * started and ended, and which job it was (the `idempotency-key` header is the job id).
 *
 * Worker runs are the function host's count of worker invocations (`host.invocations`: kicks,
 * schedule ticks and timers alike); kicks are counted by wrapping the runtime's `kickWorker`. The
 * handlers' JSON log is taken off stdout (the worker's messages are tallied, errors shown).
 * Redis commands come from INFO commandstats (lib.ts), which counts the commands scripts run.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONTEXT_DEFAULTS, parseSchedule } from '../infra/config.js';
import { type LocalServer, startLocal } from '../local/server.js';
import { SpoolCore } from '../shared/queue/core.js';
import { listJobs } from '../shared/queue/ops/jobs.js';
import { snapshot } from '../shared/queue/ops/snapshot.js';
import { type Meter, percentile, sleep } from './lib.js';
import { type Endpoint, newSpool, spoolClient } from './spool.js';

// ---------------------------------------------------------------------------------------------
// A loopback HTTP target

export interface TargetRun {
  id: string;
  start: number;
  end: number;
}

/** `POST /run?ms=N` answers 200 after N ms; every call is recorded (epoch ms at start and end). */
export interface LoopbackTarget {
  url(ms: number): string;
  runs: TargetRun[];
  /** Runs by job id (every call, finished or not). */
  started: Map<string, number>;
  /** The most calls in progress at once. */
  maxInFlight: number;
  reset(): void;
  close(): Promise<void>;
}

export async function startTarget(): Promise<LoopbackTarget> {
  let inFlight = 0;
  const t = {
    runs: [] as TargetRun[],
    started: new Map<string, number>(),
    maxInFlight: 0,
  };
  const server = http.createServer((req, res) => {
    const start = Date.now();
    const id = String(req.headers['idempotency-key'] ?? '');
    t.started.set(id, (t.started.get(id) ?? 0) + 1);
    inFlight++;
    t.maxInFlight = Math.max(t.maxInFlight, inFlight);
    const ms = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ms') ?? 0);
    req.resume();
    req.on('end', () => {
      setTimeout(() => {
        inFlight--;
        t.runs.push({ id, start, end: Date.now() });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      }, ms);
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(t, {
    url: (ms: number) => `http://127.0.0.1:${port}/run?ms=${ms}`,
    reset() {
      t.runs = [];
      t.started = new Map();
      t.maxInFlight = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** Runs beyond the first, over every job the target saw. */
const duplicatesOf = (t: LoopbackTarget): number => [...t.started.values()].reduce((a, n) => a + Math.max(0, n - 1), 0);

/** Waits until `n` distinct jobs have finished a run at the target, or `maxMs`. */
async function waitRuns(t: LoopbackTarget, n: number, maxMs: number): Promise<boolean> {
  const end = Date.now() + maxMs;
  for (;;) {
    if (new Set(t.runs.map((r) => r.id)).size >= n) return true;
    if (Date.now() > end) return false;
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------
// The handlers' log, tapped

/**
 * Takes the handlers' JSON log lines off stdout (the bench's own output stays) and tallies the
 * worker's messages. Anything at ERROR is kept to be shown.
 */
class LogTap {
  readonly workerMessages = new Map<string, number>();
  readonly errors: string[] = [];
  private original: typeof process.stdout.write | undefined;

  install(): void {
    if (this.original) return;
    const original = process.stdout.write.bind(process.stdout) as typeof process.stdout.write;
    this.original = original;
    process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      if (!text.startsWith('{"')) return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
      for (const line of text.split('\n')) if (line) this.note(line);
      const cb = rest.find((x) => typeof x === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    }) as typeof process.stdout.write;
  }

  private note(line: string): void {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (o.level === 'ERROR' && this.errors.length < 5) this.errors.push(line.slice(0, 500));
    if (o.function !== 'worker') return;
    const msg = String(o.message);
    this.workerMessages.set(msg, (this.workerMessages.get(msg) ?? 0) + 1);
  }

  uninstall(): void {
    if (this.original) process.stdout.write = this.original;
    this.original = undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The local stack, one at a time (the handlers share one runtime per process)

interface Stack {
  server: LocalServer;
  tap: LogTap;
  kicks(): number;
  /** Worker invocations since the stack started: kicks, schedule ticks, timers (the function host counts them). */
  workerRuns(): number;
  post(queue: string, body: unknown): Promise<{ status: number; ms: number }>;
}

/** The deployed schedules (infra/config.ts defaults) in ms; 0 = off. */
const minutes = (expr: string): number => {
  const m = parseSchedule('bench', expr, expr).intervalMinutes;
  if (!m) throw new Error(`bench: schedule ${expr} has no fixed interval`);
  return m;
};
export const DEPLOYED_SCHEDULE_MINUTES = {
  worker: minutes(CONTEXT_DEFAULTS.workerSchedule),
  health: minutes(CONTEXT_DEFAULTS.healthSchedule),
  purge: minutes(CONTEXT_DEFAULTS.purgeSchedule),
};

/**
 * Settings every section sets, so that one section's (the function host writes them into
 * process.env) never leaks into the next.
 */
const BASE_ENV = {
  LOG_LEVEL: 'INFO',
  SPOOL_WORKER_BATCH_SIZE: '25',
  SPOOL_WORKER_CONCURRENCY: '10',
  SPOOL_LEASE_MS: '30000',
  SPOOL_LEASE_GRACE_MS: '5000',
};

async function withStack<T>(
  ep: Endpoint,
  prefix: string,
  env: Record<string, string>,
  schedules: { worker?: number; health?: number; purge?: number; scheduler?: number } | false,
  fn: (s: Stack) => Promise<T>,
): Promise<T> {
  const tap = new LogTap();
  tap.install();
  let server: LocalServer | undefined;
  try {
    server = await startLocal({
      port: 0,
      upstash: ep,
      env: { ...BASE_ENV, ...env, SPOOL_KEY_PREFIX: prefix },
      schedules: schedules === false ? false : { worker: 0, health: 0, purge: 0, scheduler: 0, ...schedules },
      log: () => {},
    });
    const rt = server.host.runtime;
    const kick = rt.kickWorker;
    let kicks = 0;
    rt.kickWorker = (queue, o) => {
      kicks++;
      return kick(queue, o);
    };
    const base = server.url;
    const s: Stack = {
      server,
      tap,
      kicks: () => kicks,
      workerRuns: () => server?.host.invocations.worker ?? 0,
      async post(queue, body) {
        const t0 = performance.now();
        const res = await fetch(`${base}/v1/queues/${queue}/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        await res.arrayBuffer();
        return { status: res.status, ms: performance.now() - t0 };
      },
    };
    return await fn(s);
  } finally {
    await server?.close();
    tap.uninstall();
    for (const e of tap.errors) console.error(`[bench] handler error: ${e}`);
  }
}

const sleepUntil = (t: number): Promise<void> => sleep(Math.max(0, t - Date.now()));

function expectCreated(statuses: number[], what: string): void {
  const bad = statuses.filter((s) => s !== 201);
  if (bad.length) throw new Error(`${what}: ${bad.length} enqueue(s) answered ${[...new Set(bad)].join(', ')}`);
}

// ---------------------------------------------------------------------------------------------
// A stream of single-job POSTs

export interface StreamResult {
  rate: number;
  seconds: number;
  jobs: number;
  commands: number;
  commandsPerJob: number;
  /** Upstash HTTP requests (all functions) per job. */
  requestsPerJob: number;
  workerRuns: number;
  workerRunsPerJob: number;
  /**
   * Commands of one single-job enqueue alone (the engine's enqueue op, as the route calls it), over
   * `enqueueAloneJobs` sequential calls on a queue of their own with no worker: the stream's enqueue share.
   */
  enqueueAloneCommandsPerJob: number;
  enqueueAloneJobs: number;
  kicks: number;
  duplicateRuns: number;
  enqueueP50Ms: number;
  quiet: boolean;
  byCommand: Record<string, number>;
  ms: number;
}

/**
 * `rate` single-job POSTs a second for `seconds` (open loop: each sent at its time, not after the
 * previous answer), each job calling the target (answers at once); measured from the first POST
 * until every job has run and Redis has been quiet for 1.5 s (so a lingering worker's commands count).
 */
export async function stream(
  ep: Endpoint,
  meter: Meter,
  target: LoopbackTarget,
  rate: number,
  seconds: number,
): Promise<StreamResult> {
  const n = Math.round(rate * seconds);
  target.reset();
  const alone = await enqueueAlone(ep, meter, target, 100);
  return withStack(ep, 'bench-t-stream', {}, { worker: DEPLOYED_SCHEDULE_MINUTES.worker * 60_000 }, async (s) => {
    let quiet = false;
    const posts: Array<Promise<{ status: number; ms: number }>> = [];
    const m = await meter.measure(async () => {
      const t0 = Date.now();
      for (let i = 0; i < n; i++) {
        await sleepUntil(t0 + (i * 1000) / rate);
        posts.push(s.post('stream', { target: { url: target.url(0) }, payload: { i } }));
      }
      const answers = await Promise.all(posts);
      expectCreated(
        answers.map((a) => a.status),
        'stream',
      );
      if (!(await waitRuns(target, n, 60_000))) throw new Error(`stream: only ${target.started.size} of ${n} jobs ran`);
      quiet = await meter.waitQuiet(1_500, 30_000);
    });
    const answers = await Promise.all(posts);
    const workerRuns = s.workerRuns();
    return {
      rate,
      seconds,
      jobs: n,
      commands: m.commands.total,
      commandsPerJob: m.commands.total / n,
      requestsPerJob: m.requests / n,
      workerRuns,
      workerRunsPerJob: workerRuns / n,
      enqueueAloneCommandsPerJob: alone,
      enqueueAloneJobs: 100,
      kicks: s.kicks(),
      duplicateRuns: duplicatesOf(target),
      enqueueP50Ms: percentile(
        answers.map((a) => a.ms),
        50,
      ),
      quiet,
      byCommand: m.commands.byCommand,
      ms: m.ms,
    };
  });
}

/** Commands per single-job enqueue (the stream's job, default kick), `n` sequential calls, no worker. */
async function enqueueAlone(ep: Endpoint, meter: Meter, target: LoopbackTarget, n: number): Promise<number> {
  const spool = newSpool(ep, { prefix: 'bench-t-enqueue' });
  await spool.enqueue('prime', { handler: 'echo' }, { kick: false });
  const m = await meter.measure(async () => {
    for (let i = 0; i < n; i++) await spool.enqueue('alone', { target: { url: target.url(0) }, payload: { i } });
  });
  return m.commands.total / n;
}

// ---------------------------------------------------------------------------------------------
// Mixed durations: slot utilization

export interface SlotResult {
  jobs: number;
  concurrency: number;
  longMs: number;
  shortMs: number;
  busyMs: number;
  wallMs: number;
  /** busy slot-time / (concurrency x wall), wall = first job start to last job end at the target. */
  utilization: number;
  /** The least wall time `concurrency` slots allow: total work / concurrency (or the longest job). */
  idealWallMs: number;
  maxInFlight: number;
  workerRuns: number;
  duplicateRuns: number;
}

/** `jobs` jobs in one POST, every tenth `longMs` and the rest `shortMs`, one worker at `concurrency`. */
export async function slots(
  ep: Endpoint,
  target: LoopbackTarget,
  o: { jobs: number; concurrency: number; longMs: number; shortMs: number },
): Promise<SlotResult> {
  target.reset();
  const env = { SPOOL_WORKER_CONCURRENCY: String(o.concurrency) };
  return withStack(ep, 'bench-t-slots', env, { worker: DEPLOYED_SCHEDULE_MINUTES.worker * 60_000 }, async (s) => {
    const ms = (i: number) => (i % 10 === 0 ? o.longMs : o.shortMs);
    const jobs = Array.from({ length: o.jobs }, (_, i) => ({
      target: { url: target.url(ms(i)), timeoutMs: o.longMs + 5_000 },
      payload: { i },
    }));
    const a = await s.post('slots', { jobs });
    expectCreated([a.status], 'slots');
    if (!(await waitRuns(target, o.jobs, 120_000)))
      throw new Error(`slots: only ${target.started.size} of ${o.jobs} jobs ran`);
    const runs = target.runs;
    const busyMs = runs.reduce((x, r) => x + (r.end - r.start), 0);
    const wallMs = Math.max(...runs.map((r) => r.end)) - Math.min(...runs.map((r) => r.start));
    let work = 0;
    for (let i = 0; i < o.jobs; i++) work += ms(i);
    return {
      jobs: o.jobs,
      concurrency: o.concurrency,
      longMs: o.longMs,
      shortMs: o.shortMs,
      busyMs,
      wallMs,
      utilization: busyMs / (o.concurrency * wallMs),
      idealWallMs: Math.max(work / o.concurrency, o.longMs),
      maxInFlight: target.maxInFlight,
      workerRuns: s.workerRuns(),
      duplicateRuns: duplicatesOf(target),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Long jobs in one batch under a short lease: duplicate runs

export interface DuplicateResult {
  jobs: number;
  jobMs: number;
  batch: number;
  concurrency: number;
  leaseMs: number;
  workerScheduleMs: number;
  runs: number;
  duplicateRuns: number;
  maxRunsOfAJob: number;
  completed: number;
  dead: number;
  /** False when the queue had not settled (everything completed or dead) within the cap. */
  settled: boolean;
  workerRuns: number;
  workerMessages: Record<string, number>;
  ms: number;
}

/**
 * `jobs` jobs of `jobMs` in one POST, worker batch `batch`, concurrency `concurrency`, lease `leaseMs`
 * (SPOOL_LEASE_MS; each job's timeout + grace is held to it). The worker schedule runs every 2 s, as
 * `npm start` runs it (local/schedules.ts): any lease call or tick that finds an expired lease reclaims it.
 */
export async function duplicates(
  ep: Endpoint,
  target: LoopbackTarget,
  o: { jobs: number; jobMs: number; batch: number; concurrency: number; leaseMs: number; maxMs: number },
): Promise<DuplicateResult> {
  target.reset();
  const prefix = 'bench-t-dup';
  const graceMs = Math.floor(o.leaseMs / 2);
  const env = {
    SPOOL_WORKER_BATCH_SIZE: String(o.batch),
    SPOOL_WORKER_CONCURRENCY: String(o.concurrency),
    SPOOL_LEASE_MS: String(o.leaseMs),
    SPOOL_LEASE_GRACE_MS: String(graceMs),
  };
  const workerScheduleMs = 2_000;
  const engine = new SpoolCore(spoolClient(ep), { config: { prefix } });
  return withStack(ep, prefix, env, { worker: workerScheduleMs }, async (s) => {
    const t0 = Date.now();
    const jobs = Array.from({ length: o.jobs }, (_, i) => ({
      target: { url: target.url(o.jobMs), timeoutMs: o.leaseMs - graceMs },
      payload: { i },
    }));
    const a = await s.post('dup', { jobs });
    expectCreated([a.status], 'duplicates');
    let settled = false;
    let completed = 0;
    let dead = 0;
    while (Date.now() - t0 < o.maxMs) {
      await sleep(500);
      const [q] = await snapshot(engine, ['dup']);
      if (!q) continue;
      completed = q.completed;
      dead = q.dead;
      if (q.waiting + q.delayed + q.active === 0 && completed + dead === o.jobs) {
        settled = true;
        break;
      }
    }
    const runs = [...target.started.values()];
    return {
      jobs: o.jobs,
      jobMs: o.jobMs,
      batch: o.batch,
      concurrency: o.concurrency,
      leaseMs: o.leaseMs,
      workerScheduleMs,
      runs: runs.reduce((x, n) => x + n, 0),
      duplicateRuns: duplicatesOf(target),
      maxRunsOfAJob: Math.max(0, ...runs),
      completed,
      dead,
      settled,
      workerRuns: s.workerRuns(),
      workerMessages: Object.fromEntries(s.tap.workerMessages),
      ms: Date.now() - t0,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Delayed jobs: start lateness

export interface DelayResult {
  jobs: number;
  minDelayMs: number;
  maxDelayMs: number;
  workerScheduleMs: number;
  /** Start (first call at the target) minus the job's runAt, ms, per job in delay order. */
  latenessMs: number[];
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  /** Jobs that had not started when the wait ended (their lateness is counted up to then). */
  notStarted: number;
}

/**
 * `jobs` single POSTs at once, with `runAt` spread evenly over now + minDelayMs .. now + maxDelayMs,
 * the worker schedule at the deployed interval; waits until all have started or until the latest
 * is one schedule interval and 15 s past due.
 */
export async function delays(
  ep: Endpoint,
  target: LoopbackTarget,
  o: { jobs: number; minDelayMs: number; maxDelayMs: number },
): Promise<DelayResult> {
  target.reset();
  const workerScheduleMs = DEPLOYED_SCHEDULE_MINUTES.worker * 60_000;
  return withStack(ep, 'bench-t-delay', {}, { worker: workerScheduleMs }, async (s) => {
    const t0 = Date.now();
    const due = new Map<string, number>();
    const posts = Array.from({ length: o.jobs }, (_, i) => {
      const runAt = t0 + o.minDelayMs + Math.round(((o.maxDelayMs - o.minDelayMs) * i) / Math.max(1, o.jobs - 1));
      const key = `delay-${i}`;
      return { key, runAt };
    });
    const ids = await Promise.all(
      posts.map(async (p) => {
        const res = await fetch(`${s.server.url}/v1/queues/delay/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ target: { url: target.url(0) }, runAt: p.runAt, payload: { key: p.key } }),
        });
        const body = (await res.json()) as { id?: string };
        if (res.status !== 201 || !body.id) throw new Error(`delays: enqueue answered ${res.status}`);
        due.set(body.id, p.runAt);
        return body.id;
      }),
    );
    const firstStart = new Map<string, number>();
    const end = t0 + o.maxDelayMs + workerScheduleMs + 15_000;
    while (Date.now() < end) {
      for (const r of target.runs) if (!firstStart.has(r.id)) firstStart.set(r.id, r.start);
      if (firstStart.size >= o.jobs) break;
      await sleep(100);
    }
    const stop = Date.now();
    const latenessMs = ids.map((id) => (firstStart.get(id) ?? stop) - (due.get(id) as number));
    return {
      jobs: o.jobs,
      minDelayMs: o.minDelayMs,
      maxDelayMs: o.maxDelayMs,
      workerScheduleMs,
      latenessMs,
      p50Ms: percentile(latenessMs, 50),
      p95Ms: percentile(latenessMs, 95),
      maxMs: Math.max(...latenessMs),
      notStarted: ids.filter((id) => !firstStart.has(id)).length,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Recurring schedules (issue 12)

export interface ScheduleResult {
  schedules: number;
  everyMs: number;
  seconds: number;
  /** The deployed minute ticks: the worker's and the scheduler's (the safety net under the timers). */
  tickMs: number;
  /** Fires (jobs enqueued by the schedules) that ran at the target. */
  fires: number;
  /** Ticks per schedule between the last PUT's answer and the first DELETE (each should have fired). */
  expectedPerSchedule: number;
  /** Fire times run more than once (any job run twice counts as well). */
  duplicateFires: number;
  /** Start at the target minus the fire time (from the job's idempotency key), ms. */
  latenessMs: number[];
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  /** Redis commands of the whole window (fires, workers, timers, ticks), per fire. */
  commands: number;
  commandsPerFire: number;
  byCommand: Record<string, number>;
  /** Scheduler and worker invocations of the window. */
  schedulerRuns: number;
  workerRuns: number;
}

/**
 * `schedules` schedules every `everyMs` for `seconds`, through the local stack with the deployed
 * minute ticks (worker and scheduler every 60 s), so that fires ride the schedule timers (in-process,
 * delivering the SQS event as the deployed timer queue would) and the worker kicks. Each fire's job
 * calls the loopback target; lateness is the target's start minus the fire time, which the job's
 * idempotency key (`schedule:<id>:<fire time>`) carries.
 */
export async function schedules(
  ep: Endpoint,
  meter: Meter,
  target: LoopbackTarget,
  o: { schedules: number; everyMs: number; seconds: number },
): Promise<ScheduleResult> {
  target.reset();
  const tickMs = DEPLOYED_SCHEDULE_MINUTES.worker * 60_000;
  const prefix = 'bench-t-sched';
  return withStack(ep, prefix, {}, { worker: tickMs, scheduler: tickMs }, async (s) => {
    const ids = Array.from({ length: o.schedules }, (_, i) => `every-${i}`);
    const put = (id: string, method: 'PUT' | 'DELETE') =>
      fetch(`${s.server.url}/v1/schedules/${id}`, {
        method,
        headers: { 'content-type': 'application/json' },
        ...(method === 'PUT'
          ? { body: JSON.stringify({ queue: id, everyMs: o.everyMs, job: { target: { url: target.url(0) } } }) }
          : {}),
      }).then(async (r) => {
        await r.arrayBuffer();
        if (r.status >= 300) throw new Error(`schedules: ${method} ${id} answered ${r.status}`);
      });
    const runs0 = s.server.host.invocations.scheduler ?? 0;
    const worker0 = s.workerRuns();
    let window = 0;
    const m = await meter.measure(async () => {
      await Promise.all(ids.map((id) => put(id, 'PUT')));
      const created = Date.now();
      // Removed half an interval past a tick, so that no fire races the removal.
      await sleep(o.seconds * 1000 + o.everyMs / 2);
      window = Date.now() - created;
      await Promise.all(ids.map((id) => put(id, 'DELETE')));
      await sleep(2_000); // the last fires' jobs finish
    });
    // Which fire each job was: its idempotency key.
    const core = new SpoolCore(spoolClient(ep), { config: { prefix } });
    const fireOf = new Map<string, number>();
    for (const q of ids) {
      let cursor: string | undefined;
      do {
        const page = await listJobs(core, q, 'completed', { limit: 100, ...(cursor ? { cursor } : {}) });
        for (const j of page.jobs) fireOf.set(j.id, Number(j.idempotencyKey?.split(':').pop()));
        cursor = page.cursor;
      } while (cursor);
    }
    const firstStart = new Map<string, number>();
    for (const r of target.runs) if (!firstStart.has(r.id)) firstStart.set(r.id, r.start);
    const latenessMs = [...firstStart].map(([id, start]) => start - (fireOf.get(id) ?? start));
    const fires = firstStart.size;
    return {
      schedules: o.schedules,
      everyMs: o.everyMs,
      seconds: o.seconds,
      tickMs,
      fires,
      expectedPerSchedule: Math.floor(window / o.everyMs),
      duplicateFires: duplicatesOf(target),
      latenessMs,
      p50Ms: percentile(latenessMs, 50),
      p95Ms: percentile(latenessMs, 95),
      maxMs: Math.max(...latenessMs),
      commands: m.commands.total,
      commandsPerFire: fires ? m.commands.total / fires : 0,
      byCommand: m.commands.byCommand,
      schedulerRuns: (s.server.host.invocations.scheduler ?? 0) - runs0,
      workerRuns: s.workerRuns() - worker0,
    };
  });
}
