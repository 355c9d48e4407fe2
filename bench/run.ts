/**
 * `npm run bench`: Spool (through @upstash/redis and the local Upstash-compatible HTTP endpoint)
 * side by side with BullMQ (ioredis over TCP), on one private redis-server started for the run.
 * Writes docs/benchmarks.md and docs/benchmarks.json. Exits non-zero only on error; missed targets
 * are reported, not fatal.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Redis as IORedis } from 'ioredis';
import { startUpstashLocal, type UpstashLocal } from '../local/upstash/server.js';
import {
  bullDelays,
  bullFailOnce,
  bullIdle,
  bullLifecycle,
  bullSchedules,
  bullSlots,
  bullStream,
  bullThroughput,
  warmUpBull,
} from './bullmq.js';
import { measureIdle } from './idle.js';
import { FetchCounter, Meter, type PrivateRedis, startPrivateRedis } from './lib.js';
import { buildReport, type Results, writeReport } from './report.js';
import { failOnce, firstEnqueue, idleLease, lifecycle, throughput, warmUp } from './spool.js';
import { delays, duplicates, schedules, slots, startTarget, stream } from './traffic.js';
import type { TrafficResults } from './traffic-report.js';

const env = (name: string, def: number): number => {
  const v = process.env[name];
  const n = v === undefined || v === '' ? def : Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number`);
  return n;
};

const PLAN = {
  lifecycle: [
    { batch: 1, jobs: 1_000 },
    { batch: 10, jobs: 2_000 },
    { batch: 100, jobs: 5_000 },
  ],
  lifecycleFlow: [
    { batch: 1, jobs: 1_000 },
    { batch: 100, jobs: 5_000 },
  ],
  failOnce: [
    { batch: 1, jobs: 1_000 },
    { batch: 100, jobs: 5_000 },
  ],
  idleLeaseCalls: 100,
  bullJobs: 5_000,
  bullConcurrency: 50,
  throughputJobs: env('BENCH_THROUGHPUT_JOBS', 20_000),
  throughputBatch: 100,
  producers: 8,
  spoolLoops: env('BENCH_SPOOL_LOOPS', 8),
  idleWindowSec: env('BENCH_IDLE_SECONDS', 60),
  rounds: env('BENCH_ROUNDS', 5),
  traffic: {
    streamRate: 40,
    streamSeconds: env('BENCH_STREAM_SECONDS', 10),
    bullStreamConcurrency: 10,
    slots: { jobs: 100, concurrency: 5, longMs: 3_000, shortMs: 50 },
    duplicates: { jobs: 40, jobMs: 700, batch: 25, concurrency: 2, leaseMs: 2_000, maxMs: 120_000 },
    delays: { jobs: 29, minDelayMs: 2_000, maxDelayMs: env('BENCH_DELAY_MAX_S', 30) * 1000 },
    idleQueueCounts: [1, 10, 100] as const,
    schedules: { schedules: 3, everyMs: 2_000, seconds: env('BENCH_SCHEDULE_SECONDS', 20) },
  },
};

let redis: PrivateRedis | undefined;
let endpoint: UpstashLocal | undefined;
let stats: IORedis | undefined;
let counter: FetchCounter | undefined;

async function cleanup(): Promise<void> {
  counter?.uninstall();
  stats?.disconnect();
  stats = undefined;
  const ep = endpoint;
  endpoint = undefined;
  await ep?.close().catch(() => {});
  const r = redis;
  redis = undefined;
  await r?.stop().catch(() => {});
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`\nbench: ${sig}, stopping redis-server and endpoint`);
    void cleanup().finally(() => process.exit(130));
  });
}

const log = (s: string): void => console.log(`[bench] ${s}`);

async function main(): Promise<void> {
  const started = Date.now();
  const loadStart = os.loadavg();
  redis = await startPrivateRedis();
  log(`private redis-server ${redis.version} on ${redis.url}`);
  endpoint = await startUpstashLocal({ redisUrl: redis.url, port: 0, token: randomBytes(24).toString('hex') });
  log(`endpoint ${endpoint.url}`);
  counter = new FetchCounter(endpoint.url);
  counter.install();
  stats = new IORedis(redis.url, { maxRetriesPerRequest: 1 });
  const meter = new Meter(stats, counter);
  const ep = { url: endpoint.url, token: endpoint.token };
  const bull = { host: redis.host, port: redis.port };

  log('warm-up (loads every script into the server, so no measured call pays NOSCRIPT -> EVAL)');
  await warmUp(ep);
  await warmUpBull(bull);

  const lifecycleResults: Results['spool']['lifecycle'] = [];
  for (const { batch, jobs } of PLAN.lifecycle) {
    const r = await lifecycle(ep, meter, batch, jobs);
    log(
      `spool lifecycle b=${batch} n=${jobs}: ${r.requestsPerJob.toFixed(3)} req/job, ${r.commandsPerJob.toFixed(2)} cmd/job (${(r.ms / 1000).toFixed(1)} s)`,
    );
    lifecycleResults.push(r);
  }
  const lifecycleFlow: Results['spool']['lifecycleFlow'] = [];
  for (const { batch, jobs } of PLAN.lifecycleFlow) {
    const r = await lifecycle(ep, meter, batch, jobs, true);
    log(`spool lifecycle with rate limit + cap b=${batch} n=${jobs}: ${r.commandsPerJob.toFixed(2)} cmd/job`);
    lifecycleFlow.push(r);
  }
  const failResults: Results['spool']['failOnce'] = [];
  for (const { batch, jobs } of PLAN.failOnce) {
    const r = await failOnce(ep, meter, batch, jobs);
    log(
      `spool fail-once b=${batch} n=${jobs}: ${r.requestsPerJob.toFixed(3)} req/job, ${r.commandsPerJob.toFixed(2)} cmd/job (${(r.ms / 1000).toFixed(1)} s)`,
    );
    failResults.push(r);
  }
  const coldEnqueue = await firstEnqueue(ep, meter);
  log(
    `spool first enqueue of a new instance: ${coldEnqueue.firstRequests} requests (next: ${coldEnqueue.nextRequests})`,
  );
  const idle = await idleLease(ep, meter, PLAN.idleLeaseCalls);
  log(`spool idle lease (count 100, empty queue): ${idle.requestsPerCall} req, ${idle.commandsPerCall} cmd per call`);

  const bullLife = await bullLifecycle(bull, meter, PLAN.bullJobs, PLAN.bullConcurrency, {}, 'life-default');
  const bullLifeRoc = await bullLifecycle(
    bull,
    meter,
    PLAN.bullJobs,
    PLAN.bullConcurrency,
    { removeOnComplete: true },
    'life-roc',
  );
  log(
    `bullmq lifecycle n=${PLAN.bullJobs} c=${PLAN.bullConcurrency}: ${bullLife.commandsPerJob.toFixed(2)} cmd/job (removeOnComplete: ${bullLifeRoc.commandsPerJob.toFixed(2)})`,
  );
  const bullFail = await bullFailOnce(bull, meter, PLAN.bullJobs, PLAN.bullConcurrency);
  log(`bullmq fail-once: ${bullFail.commandsPerJob.toFixed(2)} cmd/job`);

  // The machine may be shared (other processes load the CPU), so throughput is measured in rounds that
  // alternate which side goes first; the ratio reported is the median of the per-round ratios.
  log(
    `throughput: ${PLAN.throughputJobs} jobs, Spool batch ${PLAN.throughputBatch} x ${PLAN.spoolLoops} loops vs BullMQ concurrency ${PLAN.bullConcurrency}, ${PLAN.rounds} rounds`,
  );
  const rounds: Results['rounds'] = [];
  for (let i = 1; i <= PLAN.rounds; i++) {
    const spoolFirst = i % 2 === 1;
    let s: Results['rounds'][number]['spool'] | undefined;
    let b: Results['rounds'][number]['bullmq'] | undefined;
    for (const side of spoolFirst ? ['spool', 'bullmq'] : ['bullmq', 'spool']) {
      if (side === 'spool')
        s = await throughput(
          ep,
          meter,
          PLAN.throughputJobs,
          PLAN.throughputBatch,
          PLAN.producers,
          PLAN.spoolLoops,
          `throughput-${i}`,
        );
      else
        b = await bullThroughput(
          bull,
          meter,
          PLAN.throughputJobs,
          PLAN.producers,
          PLAN.bullConcurrency,
          {},
          `throughput-${i}`,
        );
    }
    if (!s || !b) throw new Error('throughput round incomplete');
    rounds.push({ spool: s, bullmq: b, spoolFirst, load: os.loadavg()[0] ?? 0 });
    log(
      `  round ${i}: spool ${s.jobsPerSec.toFixed(0)} jobs/s (drain ${s.drainJobsPerSec.toFixed(0)}), bullmq ${b.jobsPerSec.toFixed(0)} jobs/s (drain ${b.drainJobsPerSec.toFixed(0)}), ratio ${(s.jobsPerSec / b.jobsPerSec).toFixed(2)}`,
    );
  }

  log(`bullmq idle: one worker, concurrency 1, empty queue, ${PLAN.idleWindowSec} s window`);
  const bullIdleRes = await bullIdle(bull, meter, PLAN.idleWindowSec);
  log(`  ${bullIdleRes.commandsPerMinute.toFixed(1)} commands/minute`);

  const traffic = await trafficShapes(ep, meter, bull);

  const results: Results = {
    spool: { lifecycle: lifecycleResults, lifecycleFlow, failOnce: failResults, idle, coldEnqueue },
    bullmq: { lifecycle: bullLife, lifecycleRemoveOnComplete: bullLifeRoc, failOnce: bullFail, idle: bullIdleRes },
    rounds,
    traffic,
    loadAverage: { start: loadStart, end: os.loadavg() },
    plan: PLAN,
    redisVersion: redis.version,
    runSeconds: (Date.now() - started) / 1000,
  };
  const report = buildReport(results);
  console.log(`\n${report.table}\n`);
  for (const line of report.notes) console.log(line);
  await writeReport(report);
  log(`wrote docs/benchmarks.md and docs/benchmarks.json (run took ${results.runSeconds.toFixed(0)} s)`);
}

/** Issue 14's traffic shapes, through the local stack (bench/traffic.ts), and BullMQ's stream. */
async function trafficShapes(
  ep: { url: string; token: string },
  meter: Meter,
  bull: { host: string; port: number },
): Promise<TrafficResults> {
  const T = PLAN.traffic;
  const target = await startTarget();
  try {
    log(`traffic: stream of ${T.streamRate} single POSTs/s for ${T.streamSeconds} s through the local stack`);
    const s = await stream(ep, meter, target, T.streamRate, T.streamSeconds);
    log(
      `  ${s.commandsPerJob.toFixed(2)} cmd/job, ${s.workerRuns} worker runs (${s.workerRunsPerJob.toFixed(3)}/job), ${s.kicks} kicks, ${s.duplicateRuns} duplicate runs`,
    );
    const b = await bullStream(bull, meter, T.streamRate, T.streamSeconds, T.bullStreamConcurrency);
    log(`  bullmq stream: ${b.commandsPerJob.toFixed(2)} cmd/job`);
    const u = await slots(ep, target, T.slots);
    log(
      `traffic: slots ${(u.utilization * 100).toFixed(1)} % busy (wall ${(u.wallMs / 1000).toFixed(1)} s, ideal ${(u.idealWallMs / 1000).toFixed(1)} s)`,
    );
    const bu = await bullSlots(bull, T.slots);
    log(`  bullmq slots ${(bu.utilization * 100).toFixed(1)} % busy (wall ${(bu.wallMs / 1000).toFixed(1)} s)`);
    const d = await duplicates(ep, target, T.duplicates);
    log(
      `traffic: long jobs: ${d.runs} runs for ${d.jobs} jobs (${d.duplicateRuns} duplicates), ${d.completed} completed, ${d.dead} dead`,
    );
    log(
      `traffic: ${T.delays.jobs} delayed jobs ${T.delays.minDelayMs / 1000}-${T.delays.maxDelayMs / 1000} s, worker schedule 60 s`,
    );
    const l = await delays(ep, target, T.delays);
    log(`  lateness p50 ${l.p50Ms} ms, p95 ${l.p95Ms} ms, max ${l.maxMs} ms`);
    const bl = await bullDelays(bull, T.delays);
    log(`  bullmq lateness p50 ${bl.p50Ms} ms, p95 ${bl.p95Ms} ms, max ${bl.maxMs} ms`);
    const sc = T.schedules;
    log(`traffic: ${sc.schedules} schedules every ${sc.everyMs / 1000} s for ${sc.seconds} s, minute ticks`);
    const sp = await schedules(ep, meter, target, sc);
    log(
      `  ${sp.fires} fires (${sp.expectedPerSchedule}/schedule expected), ${sp.duplicateFires} twice, lateness p50 ${sp.p50Ms} ms, p95 ${sp.p95Ms} ms, ${sp.commandsPerFire.toFixed(1)} cmd/fire`,
    );
    const bs = await bullSchedules(bull, meter, sc);
    log(
      `  bullmq: ${bs.fires} fires, lateness p50 ${bs.p50Ms} ms, p95 ${bs.p95Ms} ms, ${bs.commandsPerFire.toFixed(1)} cmd/fire`,
    );
    log('traffic: idle commands/minute by empty queue count (bench/idle.ts measureIdle)');
    const idle = await measureIdle(T.idleQueueCounts);
    log(`  ${JSON.stringify(idle.idleCommandsPerMinute)}`);
    return {
      stream: s,
      bullStream: b,
      slots: u,
      bullSlots: bu,
      bullDelays: bl,
      duplicates: d,
      delays: l,
      schedules: sp,
      bullSchedules: bs,
      idle,
    };
  } finally {
    await target.close();
  }
}

main()
  .then(cleanup)
  .catch(async (e: unknown) => {
    console.error('bench failed:', e);
    await cleanup();
    process.exit(1);
  });
