/** BullMQ's side of the benchmark: same Redis server, its own prefix, TCP through ioredis. */
import { type ConnectionOptions, type JobsOptions, Queue, Worker } from 'bullmq';
import { type Meter, percentile, sleep } from './lib.js';
import type { Throughput } from './spool.js';

export const BULL_PREFIX = 'bench-bull';

export interface BullTarget {
  host: string;
  port: number;
}

const conn = (t: BullTarget): ConnectionOptions => ({ host: t.host, port: t.port });

/**
 * Job options as most BullMQ users run them out of the box: BullMQ's defaults (completed jobs are
 * kept, as Spool keeps them until its purge). `removeOnComplete: true` is measured as a variant.
 */
function bulkOf(n: number, from: number, opts: JobsOptions) {
  return Array.from({ length: n }, (_, k) => ({ name: 'bench', data: { n: from + k }, opts }));
}

async function addAll(queue: Queue, n: number, chunk: number, opts: JobsOptions, producers = 1): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: producers }, async () => {
      for (let from = next; from < n; from = next) {
        next += chunk;
        await queue.addBulk(bulkOf(Math.min(chunk, n - from), from, opts));
      }
    }),
  );
}

/**
 * Runs a worker (created before this is called, autorun off) until `n` jobs have completed.
 * Resolves when the n-th 'completed' event fires.
 */
function runUntilCompleted(worker: Worker, n: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let done = 0;
    const onCompleted = (): void => {
      if (++done === n) {
        worker.off('completed', onCompleted);
        worker.off('error', onError);
        resolve();
      }
    };
    const onError = (e: Error): void => reject(e);
    worker.on('completed', onCompleted);
    worker.on('error', onError);
    worker.run().catch(reject);
  });
}

async function newPair(
  t: BullTarget,
  name: string,
  concurrency: number,
  processor: (job: { attemptsMade: number; data: unknown }) => Promise<void>,
) {
  const queue = new Queue(name, { connection: conn(t), prefix: BULL_PREFIX });
  const worker = new Worker(name, processor, { connection: conn(t), prefix: BULL_PREFIX, concurrency, autorun: false });
  worker.on('error', () => {});
  await queue.waitUntilReady();
  await worker.waitUntilReady();
  return { queue, worker };
}

async function closePair(p: { queue: Queue; worker: Worker }): Promise<void> {
  await p.worker.close();
  await p.queue.close();
}

/** Loads BullMQ's scripts into the server (ioredis' first EVALSHA falls back to EVAL) before measuring. */
export async function warmUpBull(t: BullTarget): Promise<void> {
  let failedOnce = false;
  const p = await newPair(t, 'warmup', 10, async (job) => {
    if (job.attemptsMade === 0 && !failedOnce) {
      failedOnce = true;
      throw new Error('warm-up');
    }
  });
  const done = runUntilCompleted(p.worker, 200);
  await addAll(p.queue, 200, 100, { attempts: 2 });
  await done;
  await closePair(p);
}

export interface BullPerJob {
  jobs: number;
  commands: number;
  commandsPerJob: number;
  byCommand: Record<string, number>;
  ms: number;
}

/** addBulk in chunks of 100, then a worker at `concurrency` processes all n (no-op); commands per job. */
export async function bullLifecycle(
  t: BullTarget,
  meter: Meter,
  n: number,
  concurrency: number,
  opts: JobsOptions,
  name: string,
): Promise<BullPerJob> {
  const p = await newPair(t, name, concurrency, async () => {});
  const m = await meter.measure(async () => {
    await addAll(p.queue, n, 100, opts);
    await runUntilCompleted(p.worker, n);
  });
  await closePair(p);
  return {
    jobs: n,
    commands: m.commands.total,
    commandsPerJob: m.commands.total / n,
    byCommand: m.commands.byCommand,
    ms: m.ms,
  };
}

/** Every job fails its first attempt (retry due at once: no backoff) and completes on the second. */
export async function bullFailOnce(t: BullTarget, meter: Meter, n: number, concurrency: number): Promise<BullPerJob> {
  const p = await newPair(t, 'fail-once', concurrency, async (job) => {
    if (job.attemptsMade === 0) throw new Error('bench: fail once');
  });
  const m = await meter.measure(async () => {
    await addAll(p.queue, n, 100, { attempts: 2 });
    await runUntilCompleted(p.worker, n);
  });
  await closePair(p);
  return {
    jobs: n,
    commands: m.commands.total,
    commandsPerJob: m.commands.total / n,
    byCommand: m.commands.byCommand,
    ms: m.ms,
  };
}

export interface BullIdle {
  windowSec: number;
  commands: number;
  commandsPerMinute: number;
  byCommand: Record<string, number>;
}

/** One worker (concurrency 1) on an empty queue: commands in a window after a short settle. */
export async function bullIdle(t: BullTarget, meter: Meter, windowSec: number): Promise<BullIdle> {
  const p = await newPair(t, 'idle', 1, async () => {});
  const running = p.worker.run().catch(() => {});
  await sleep(2000); // past start-up (first stalled-jobs check, first blocking wait)
  const m = await meter.measure(() => sleep(windowSec * 1000));
  await closePair(p);
  await running;
  return {
    windowSec,
    commands: m.commands.total,
    commandsPerMinute: (m.commands.total * 60) / windowSec,
    byCommand: m.commands.byCommand,
  };
}

/** The same figures as Spool's, less HTTP requests (BullMQ talks TCP). */
export type BullThroughput = Omit<Throughput, 'requests'>;

/** n jobs: `producers` concurrent addBulk callers (chunks of 100), then one worker at `concurrency`, no-op. */
export async function bullThroughput(
  t: BullTarget,
  meter: Meter,
  n: number,
  producers: number,
  concurrency: number,
  opts: JobsOptions,
  name = 'throughput',
): Promise<BullThroughput> {
  const p = await newPair(t, name, concurrency, async () => {});
  let enqueueMs = 0;
  let drainMs = 0;
  const m = await meter.measure(async () => {
    const t0 = performance.now();
    await addAll(p.queue, n, 100, opts, producers);
    const t1 = performance.now();
    enqueueMs = t1 - t0;
    await runUntilCompleted(p.worker, n);
    drainMs = performance.now() - t1;
  });
  await closePair(p);
  const totalMs = enqueueMs + drainMs;
  return {
    jobs: n,
    enqueueMs,
    drainMs,
    totalMs,
    jobsPerSec: n / (totalMs / 1000),
    drainJobsPerSec: n / (drainMs / 1000),
    commands: m.commands.total,
  };
}

export interface BullStream {
  rate: number;
  jobs: number;
  concurrency: number;
  commands: number;
  commandsPerJob: number;
  byCommand: Record<string, number>;
  ms: number;
}

/**
 * The stream shape for BullMQ: `rate` single `Queue.add` calls a second for `seconds` (open loop),
 * one Worker already running at `concurrency` (no-op processor); commands from the first add until
 * the last job completed (the worker's own polling while it waits for jobs included).
 */
export async function bullStream(
  t: BullTarget,
  meter: Meter,
  rate: number,
  seconds: number,
  concurrency: number,
): Promise<BullStream> {
  const n = Math.round(rate * seconds);
  const p = await newPair(t, 'stream', concurrency, async () => {});
  const done = runUntilCompleted(p.worker, n);
  await sleep(1000); // the worker is up and waiting for jobs
  const m = await meter.measure(async () => {
    const t0 = Date.now();
    const adds: Array<Promise<unknown>> = [];
    for (let i = 0; i < n; i++) {
      await sleep(Math.max(0, t0 + (i * 1000) / rate - Date.now()));
      adds.push(p.queue.add('bench', { i }));
    }
    await Promise.all(adds);
    await done;
  });
  await closePair(p);
  return {
    rate,
    jobs: n,
    concurrency,
    commands: m.commands.total,
    commandsPerJob: m.commands.total / n,
    byCommand: m.commands.byCommand,
    ms: m.ms,
  };
}

export interface BullSlots {
  jobs: number;
  concurrency: number;
  busyMs: number;
  wallMs: number;
  utilization: number;
}

/**
 * The mixed-duration shape for BullMQ: `jobs` jobs in one addBulk, job i sleeping `longMs` when i is
 * a multiple of 10 and `shortMs` otherwise, one Worker at `concurrency`. Busy slot-time is the sum of
 * the processor's run times; wall time is from the first start to the last end.
 */
export async function bullSlots(
  t: BullTarget,
  o: { jobs: number; concurrency: number; longMs: number; shortMs: number },
): Promise<BullSlots> {
  const runs: Array<{ start: number; end: number }> = [];
  const p = await newPair(t, 'slots', o.concurrency, async (job) => {
    const { ms } = job.data as { ms: number };
    const start = Date.now();
    await sleep(ms);
    runs.push({ start, end: Date.now() });
  });
  const done = runUntilCompleted(p.worker, o.jobs);
  await p.queue.addBulk(
    Array.from({ length: o.jobs }, (_, i) => ({ name: 'bench', data: { ms: i % 10 === 0 ? o.longMs : o.shortMs } })),
  );
  await done;
  await closePair(p);
  const busyMs = runs.reduce((x, r) => x + (r.end - r.start), 0);
  const wallMs = Math.max(...runs.map((r) => r.end)) - Math.min(...runs.map((r) => r.start));
  return { jobs: o.jobs, concurrency: o.concurrency, busyMs, wallMs, utilization: busyMs / (o.concurrency * wallMs) };
}

export interface BullDelays {
  jobs: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

/**
 * The delayed-job shape for BullMQ: `jobs` adds with `delay` so that they are due evenly from now +
 * minDelayMs to now + maxDelayMs, one Worker (concurrency 10, defaults otherwise) running; lateness =
 * the processor's start − the due time.
 */
export async function bullDelays(
  t: BullTarget,
  o: { jobs: number; minDelayMs: number; maxDelayMs: number },
): Promise<BullDelays> {
  const late: number[] = [];
  const p = await newPair(t, 'delays', 10, async (job) => {
    const { due } = job.data as { due: number };
    late.push(Date.now() - due);
  });
  const done = runUntilCompleted(p.worker, o.jobs);
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: o.jobs }, (_, i) => {
      const due = t0 + o.minDelayMs + Math.round(((o.maxDelayMs - o.minDelayMs) * i) / Math.max(1, o.jobs - 1));
      return p.queue.add('bench', { due }, { delay: Math.max(0, due - Date.now()) });
    }),
  );
  await done;
  await closePair(p);
  return { jobs: o.jobs, p50Ms: percentile(late, 50), p95Ms: percentile(late, 95), maxMs: Math.max(...late) };
}

export interface BullSchedules {
  schedules: number;
  everyMs: number;
  seconds: number;
  /** Jobs the schedulers produced that the worker ran. */
  fires: number;
  /** Fires per scheduler in the window: one at once, then one each `every`, until the removal. */
  expectedPerSchedule: number;
  /** Job ids (repeat:<scheduler>:<time>) run more than once. */
  duplicateFires: number;
  /** Start in the processor minus the fire's intended time (the job id's repeat:<scheduler>:<ms>), ms. */
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  commands: number;
  commandsPerFire: number;
  byCommand: Record<string, number>;
}

/**
 * BullMQ's Job Schedulers (`upsertJobScheduler`, `every`), `schedules` of them every `everyMs` for
 * `seconds`, one worker (concurrency 10) running each job at once; lateness is the processor's start
 * minus the fire's intended time, which BullMQ puts in the job's id (`repeat:<scheduler>:<ms>`).
 */
export async function bullSchedules(
  t: BullTarget,
  meter: Meter,
  o: { schedules: number; everyMs: number; seconds: number },
): Promise<BullSchedules> {
  const late: number[] = [];
  const seen = new Map<string, number>();
  const p = await newPair(t, 'schedules', 10, async (job) => {
    // A scheduler's job id is repeat:<scheduler id>:<the fire's intended time, epoch ms>.
    const id = String((job as unknown as { id?: string }).id);
    const due = Number(id.split(':').pop());
    if (Number.isFinite(due)) late.push(Date.now() - due);
    seen.set(id, (seen.get(id) ?? 0) + 1);
  });
  void p.worker.run();
  let window = 0;
  const m = await meter.measure(async () => {
    await Promise.all(
      Array.from({ length: o.schedules }, (_, i) =>
        p.queue.upsertJobScheduler(`s${i}`, { every: o.everyMs }, { name: 'bench', data: { i } }),
      ),
    );
    const created = Date.now();
    // Removed half an interval past a tick, so that no fire races the removal.
    await sleep(o.seconds * 1000 + o.everyMs / 2);
    window = Date.now() - created;
    for (let i = 0; i < o.schedules; i++) await p.queue.removeJobScheduler(`s${i}`);
    await sleep(500);
  });
  await closePair(p);
  const fires = late.length;
  return {
    schedules: o.schedules,
    everyMs: o.everyMs,
    seconds: o.seconds,
    fires,
    // BullMQ fires a scheduler at once, then every `every`.
    expectedPerSchedule: Math.floor(window / o.everyMs) + 1,
    duplicateFires: [...seen.values()].filter((n) => n > 1).length,
    p50Ms: percentile(late, 50),
    p95Ms: percentile(late, 95),
    maxMs: Math.max(...late),
    commands: m.commands.total,
    commandsPerFire: fires ? m.commands.total / fires : 0,
    byCommand: m.commands.byCommand,
  };
}
