/** Spool's side of the benchmark: every call goes through @upstash/redis and the HTTP endpoint. */
import { Redis } from '@upstash/redis';
import type { CompleteItem, LeasedJob } from '../shared/queue/index.js';
import { Spool } from '../shared/queue/index.js';
import type { Meter } from './lib.js';

export const SPOOL_PREFIX = 'bench-spool';

export interface Endpoint {
  url: string;
  token: string;
}

/** A client at @upstash/redis defaults except no retry (a failure should surface, not stall for 4 s). */
export function spoolClient(ep: Endpoint): Redis {
  return new Redis({ url: ep.url, token: ep.token, retry: false });
}

export function newSpool(ep: Endpoint, config: Record<string, unknown> = {}): Spool {
  return new Spool(spoolClient(ep), { config: { prefix: SPOOL_PREFIX, ...config } });
}

const jobAt = (i: number) => ({ payload: { n: i }, handler: 'bench' });

function chunks(n: number, size: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < n; i += size) {
    const c: number[] = [];
    for (let j = i; j < Math.min(n, i + size); j++) c.push(j);
    out.push(c);
  }
  return out;
}

const tokens = (jobs: LeasedJob[]): CompleteItem[] => jobs.map((j) => ({ id: j.id, token: j.token }));

export async function enqueueAll(spool: Spool, queue: string, n: number, batch: number): Promise<void> {
  for (const c of chunks(n, batch)) {
    await spool.enqueue(queue, c.map(jobAt), { kick: false });
  }
}

/** Runs every script once so that no measured call pays the first EVALSHA -> NOSCRIPT -> EVAL round. */
export async function warmUp(ep: Endpoint): Promise<void> {
  const spool = newSpool(ep, { backoffBaseMs: 0 });
  const q = 'warmup';
  await enqueueAll(spool, q, 20, 10);
  const a = await spool.lease(q, { count: 10 });
  await spool.fail(
    q,
    a.jobs.map((j) => ({ id: j.id, token: j.token, error: { message: 'warm-up', retryable: true } })),
  );
  for (;;) {
    const l = await spool.lease(q, { count: 10 });
    if (l.jobs.length === 0) break;
    await spool.complete(q, tokens(l.jobs));
  }
}

/**
 * Primes one Spool instance: its first enqueue costs an extra HTTP request (see firstEnqueue), paid
 * here on a queue of its own so that the measured calls show the steady state.
 */
export async function prime(spool: Spool): Promise<void> {
  await spool.enqueue('prime', jobAt(0), { kick: false });
}

/**
 * What the first enqueue of a new Spool instance (a Lambda cold start) costs, scripts already loaded
 * in the server. The engine sends SADD (queue registry) and the enqueue EVALSHA in the same tick to
 * share one request, but @upstash/redis computes a script's SHA-1 asynchronously (WebCrypto) on first
 * use, so the first EVALSHA misses the SADD's auto-pipeline and goes out in a request of its own.
 */
export async function firstEnqueue(
  ep: Endpoint,
  meter: Meter,
): Promise<{ firstRequests: number; nextRequests: number }> {
  const spool = newSpool(ep);
  const m = await meter.measure(() => spool.enqueue('first', jobAt(0), { kick: false }));
  const steady = await meter.measure(() => spool.enqueue('first', jobAt(1), { kick: false }));
  return { firstRequests: m.requests, nextRequests: steady.requests };
}

export interface PerJob {
  batch: number;
  jobs: number;
  requests: number;
  commands: number;
  requestsPerJob: number;
  commandsPerJob: number;
  byCommand: Record<string, number>;
  requestsByPath: Record<string, number>;
  ms: number;
}

/**
 * Issue 11's flow control for the lifecycle: a rate limit and a concurrency cap set on the queue
 * (loose enough never to hold a lease back), so the figure is what enforcing them costs.
 */
export const FLOW_SETTINGS = { rateLimit: { limit: 100_000, periodMs: 1_000 }, maxConcurrency: 1_000 } as const;

/**
 * enqueue -> lease -> complete for n jobs, every call sequential and carrying `batch` jobs; with
 * `flow`, on a queue whose rate limit and concurrency cap are on (FLOW_SETTINGS, set before measuring).
 */
export async function lifecycle(ep: Endpoint, meter: Meter, batch: number, n: number, flow = false): Promise<PerJob> {
  const spool = newSpool(ep);
  await prime(spool);
  const q = flow ? `life-flow-b${batch}` : `life-b${batch}`;
  if (flow) await spool.putSettings(q, FLOW_SETTINGS);
  const m = await meter.measure(async () => {
    await enqueueAll(spool, q, n, batch);
    let done = 0;
    while (done < n) {
      const l = await spool.lease(q, { count: batch });
      if (l.jobs.length === 0) throw new Error(`lifecycle b=${batch}: queue empty after ${done} of ${n}`);
      const res = await spool.complete(q, tokens(l.jobs));
      for (const r of res) if (r.status !== 'ok') throw new Error(`lifecycle: complete ${r.id} -> ${r.status}`);
      done += l.jobs.length;
    }
  });
  return perJob(batch, n, m);
}

/** enqueue -> lease -> fail (retryable, due at once) -> lease -> complete, calls of `batch`. */
export async function failOnce(
  ep: Endpoint,
  meter: Meter,
  batch: number,
  n: number,
): Promise<PerJob & { leaseCalls: number }> {
  const spool = newSpool(ep, { backoffBaseMs: 0 });
  await prime(spool);
  const q = `fail-b${batch}`;
  let leaseCalls = 0;
  const m = await meter.measure(async () => {
    await enqueueAll(spool, q, n, batch);
    // First pass: lease every fresh job and fail it (retryable; backoff base 0 makes it due at once).
    let failed = 0;
    while (failed < n) {
      const l = await spool.lease(q, { count: Math.min(batch, n - failed) });
      leaseCalls++;
      if (l.jobs.length === 0) throw new Error('failOnce: nothing to lease in the first pass');
      for (const j of l.jobs)
        if (j.attempts !== 1)
          throw new Error(`failOnce: job ${j.id} leased with attempts ${j.attempts} in the first pass`);
      const res = await spool.fail(
        q,
        l.jobs.map((j) => ({
          id: j.id,
          token: j.token,
          error: { message: 'bench: fail once', class: 'BenchError', retryable: true },
        })),
      );
      for (const r of res)
        if (r.status !== 'ok' || r.state !== 'delayed')
          throw new Error(`failOnce: fail ${r.id} -> ${r.status}/${r.state}`);
      failed += l.jobs.length;
    }
    // Second pass: the lease promotes the due retries and leases them; complete them.
    let done = 0;
    while (done < n) {
      const l = await spool.lease(q, { count: batch });
      leaseCalls++;
      if (l.jobs.length === 0) throw new Error(`failOnce: queue empty after ${done} of ${n}`);
      const res = await spool.complete(q, tokens(l.jobs));
      for (const r of res) if (r.status !== 'ok') throw new Error(`failOnce: complete ${r.id} -> ${r.status}`);
      done += l.jobs.length;
    }
  });
  return { ...perJob(batch, n, m), leaseCalls };
}

function perJob(
  batch: number,
  n: number,
  m: {
    commands: { total: number; byCommand: Record<string, number> };
    requests: number;
    ms: number;
    requestsByPath: Record<string, number>;
  },
): PerJob {
  return {
    batch,
    jobs: n,
    requests: m.requests,
    commands: m.commands.total,
    requestsPerJob: m.requests / n,
    commandsPerJob: m.commands.total / n,
    byCommand: m.commands.byCommand,
    requestsByPath: m.requestsByPath,
    ms: m.ms,
  };
}

export interface IdleCost {
  calls: number;
  requestsPerCall: number;
  commandsPerCall: number;
  byCommand: Record<string, number>;
}

/** What one lease call (count 100) on an empty queue costs: averaged over `calls` sequential calls. */
export async function idleLease(ep: Endpoint, meter: Meter, calls: number): Promise<IdleCost> {
  const spool = newSpool(ep);
  const q = 'idle';
  const m = await meter.measure(async () => {
    for (let i = 0; i < calls; i++) {
      const l = await spool.lease(q, { count: 100 });
      if (l.jobs.length !== 0) throw new Error('idle: queue not empty');
    }
  });
  const byCommand: Record<string, number> = {};
  for (const [k, v] of Object.entries(m.commands.byCommand)) byCommand[k] = v / calls;
  return { calls, requestsPerCall: m.requests / calls, commandsPerCall: m.commands.total / calls, byCommand };
}

export interface Throughput {
  jobs: number;
  enqueueMs: number;
  drainMs: number;
  totalMs: number;
  jobsPerSec: number;
  drainJobsPerSec: number;
  requests: number;
  commands: number;
}

/**
 * n jobs at batch 100: `producers` concurrent callers enqueue them (calls of 100), then `loops`
 * concurrent worker loops (each its own client, as separate worker Lambdas would be) lease 100 /
 * complete 100 until the queue is empty.
 */
export async function throughput(
  ep: Endpoint,
  meter: Meter,
  n: number,
  batch: number,
  producers: number,
  loops: number,
  q = 'throughput',
): Promise<Throughput> {
  const producerSpools = Array.from({ length: producers }, () => newSpool(ep));
  const workerSpools = Array.from({ length: loops }, () => newSpool(ep));
  await Promise.all(producerSpools.map(prime));
  let enqueueMs = 0;
  let drainMs = 0;
  const m = await meter.measure(async () => {
    const t0 = performance.now();
    const todo = chunks(n, batch);
    let next = 0;
    await Promise.all(
      producerSpools.map(async (s) => {
        for (let c = todo[next++]; c; c = todo[next++]) await s.enqueue(q, c.map(jobAt), { kick: false });
      }),
    );
    const t1 = performance.now();
    enqueueMs = t1 - t0;
    let done = 0;
    await Promise.all(
      workerSpools.map(async (s) => {
        for (;;) {
          const l = await s.lease(q, { count: batch });
          if (l.jobs.length === 0) {
            if (l.waiting === 0) return;
            continue;
          }
          const res = await s.complete(q, tokens(l.jobs));
          for (const r of res) if (r.status !== 'ok') throw new Error(`throughput: complete ${r.id} -> ${r.status}`);
          done += l.jobs.length;
        }
      }),
    );
    drainMs = performance.now() - t1;
    if (done !== n) throw new Error(`throughput: completed ${done} of ${n}`);
  });
  const totalMs = enqueueMs + drainMs;
  return {
    jobs: n,
    enqueueMs,
    drainMs,
    totalMs,
    jobsPerSec: n / (totalMs / 1000),
    drainJobsPerSec: n / (drainMs / 1000),
    requests: m.requests,
    commands: m.commands.total,
  };
}
