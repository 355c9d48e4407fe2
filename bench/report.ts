/** Turns the measurements into the stdout table, docs/benchmarks.md and docs/benchmarks.json. */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BullIdle, BullPerJob, BullThroughput } from './bullmq.js';
import { round, topCommands } from './lib.js';
import type { IdleCost, PerJob, Throughput } from './spool.js';
import { type Target, type TrafficResults, target, trafficReport } from './traffic-report.js';

export interface Results {
  spool: {
    lifecycle: PerJob[];
    /** The lifecycle on a queue with a rate limit and a concurrency cap on (issue 11). */
    lifecycleFlow: PerJob[];
    failOnce: Array<PerJob & { leaseCalls: number }>;
    idle: IdleCost;
    coldEnqueue: { firstRequests: number; nextRequests: number };
  };
  bullmq: { lifecycle: BullPerJob; lifecycleRemoveOnComplete: BullPerJob; failOnce: BullPerJob; idle: BullIdle };
  rounds: Array<{ spool: Throughput; bullmq: BullThroughput; spoolFirst: boolean; load: number }>;
  traffic: TrafficResults;
  loadAverage: { start: number[]; end: number[] };
  plan: {
    bullJobs: number;
    bullConcurrency: number;
    throughputJobs: number;
    throughputBatch: number;
    producers: number;
    spoolLoops: number;
    idleWindowSec: number;
    idleLeaseCalls: number;
    rounds: number;
  };
  redisVersion: string;
  runSeconds: number;
}

export interface Report {
  table: string;
  notes: string[];
  md: string;
  json: unknown;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const f = (x: number, d = 2): string => (Number.isInteger(x) ? String(x) : x.toFixed(d));

export function buildReport(r: Results): Report {
  const life = (b: number): PerJob => {
    const x = r.spool.lifecycle.find((l) => l.batch === b);
    if (!x) throw new Error(`no lifecycle result for batch ${b}`);
    return x;
  };
  const fail = (b: number) => r.spool.failOnce.find((l) => l.batch === b);
  const l1 = life(1);
  const l10 = life(10);
  const l100 = life(100);
  const f1 = fail(1);
  const f100 = fail(100);
  const rr = r.rounds;
  const ratios = rr.map((x) => x.spool.jobsPerSec / x.bullmq.jobsPerSec);
  const drainRatios = rr.map((x) => x.spool.drainJobsPerSec / x.bullmq.drainJobsPerSec);
  const ratio = median(ratios);
  const drainRatio = median(drainRatios);
  const med = (fn: (x: Results['rounds'][number]) => number): number => median(rr.map(fn));
  const N = r.plan.throughputJobs;
  const tp = {
    spool: med((x) => x.spool.jobsPerSec),
    bull: med((x) => x.bullmq.jobsPerSec),
    spoolDrain: med((x) => x.spool.drainJobsPerSec),
    bullDrain: med((x) => x.bullmq.drainJobsPerSec),
    spoolEnq: med((x) => N / (x.spool.enqueueMs / 1000)),
    bullEnq: med((x) => N / (x.bullmq.enqueueMs / 1000)),
  };

  const traffic = trafficReport(r.traffic, {
    spoolBatch100CommandsPerJob: l100.commandsPerJob,
    bullLifecycle: r.bullmq.lifecycle,
  });
  const targets: Target[] = [
    target('HTTP requests per job, unbatched (batch 1)', l1.requestsPerJob, '≤', 3),
    target('HTTP requests per job, batch 100', l100.requestsPerJob, '≤', 0.05),
    target('Redis commands per job, batch 100', l100.commandsPerJob, '≤', 10),
    target('Throughput ratio vs BullMQ (whole lifecycle)', ratio, '≥', 1.0),
    ...traffic.targets,
  ];

  const rows: Array<[string, string, string, string]> = [
    ['HTTP requests / job, lifecycle, batch 1', f(l1.requestsPerJob, 3), 'n/a (TCP)', '≤ 3'],
    ['HTTP requests / job, lifecycle, batch 10', f(l10.requestsPerJob, 3), 'n/a (TCP)', ''],
    ['HTTP requests / job, lifecycle, batch 100', f(l100.requestsPerJob, 3), 'n/a (TCP)', '≤ 0.05'],
    ['Redis commands / job, lifecycle, batch 1', f(l1.commandsPerJob), f(r.bullmq.lifecycle.commandsPerJob), ''],
    ['Redis commands / job, lifecycle, batch 10', f(l10.commandsPerJob), f(r.bullmq.lifecycle.commandsPerJob), ''],
    [
      'Redis commands / job, lifecycle, batch 100',
      f(l100.commandsPerJob),
      f(r.bullmq.lifecycle.commandsPerJob),
      '≤ 10',
    ],
    ['  BullMQ with removeOnComplete: true', '', f(r.bullmq.lifecycleRemoveOnComplete.commandsPerJob), ''],
    ...r.spool.lifecycleFlow.map((l): [string, string, string, string] => [
      `Redis commands / job, lifecycle with rate limit + cap on, batch ${l.batch}`,
      f(l.commandsPerJob),
      '',
      '',
    ]),
  ];
  if (f1)
    rows.push([
      'Fail once, then succeed, batch 1: requests / commands per job',
      `${f(f1.requestsPerJob, 3)} / ${f(f1.commandsPerJob)}`,
      `n/a / ${f(r.bullmq.failOnce.commandsPerJob)}`,
      '',
    ]);
  if (f100)
    rows.push([
      'Fail once, then succeed, batch 100: requests / commands per job',
      `${f(f100.requestsPerJob, 3)} / ${f(f100.commandsPerJob)}`,
      `n/a / ${f(r.bullmq.failOnce.commandsPerJob)}`,
      '',
    ]);
  rows.push(
    [
      'First enqueue of a new Spool instance (cold start), HTTP requests',
      `${r.spool.coldEnqueue.firstRequests} (then ${r.spool.coldEnqueue.nextRequests})`,
      'n/a (TCP)',
      '',
    ],
    [
      'Idle: one lease call on an empty queue (requests / commands)',
      `${f(r.spool.idle.requestsPerCall)} / ${f(r.spool.idle.commandsPerCall)}`,
      '',
      '',
    ],
    [
      'Idle: commands per minute, one empty queue',
      `${f(r.traffic.idle.idleCommandsPerMinute['1'] ?? Number.NaN, 1)} (deployed schedules, bench/idle.ts)`,
      `${f(r.bullmq.idle.commandsPerMinute, 1)} (1 worker)`,
      '',
    ],
    [
      `Throughput, ${N} jobs, enqueue + drain (jobs/s, median of ${rr.length} rounds)`,
      f(tp.spool, 0),
      f(tp.bull, 0),
      '',
    ],
    ['  ratio Spool / BullMQ (whole lifecycle, median of rounds)', f(ratio, 2), '1', '≥ 1.0'],
    ['  ratio per round', ratios.map((x) => f(x, 2)).join(', '), '', ''],
    ['  drain only (jobs/s, median)', f(tp.spoolDrain, 0), f(tp.bullDrain, 0), ''],
    ['  ratio Spool / BullMQ (drain only, median of rounds)', f(drainRatio, 2), '1', ''],
    ['  enqueue only (jobs/s, median)', f(tp.spoolEnq, 0), f(tp.bullEnq, 0), ''],
    ...traffic.rows,
  );

  const header: [string, string, string, string] = ['Measure', 'Spool (HTTP)', 'BullMQ (TCP)', 'Target'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (c: string[]): string => c.map((x, i) => x.padEnd(widths[i]!)).join(' | ');
  const table = [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
  const mdTable = [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');

  const notes: string[] = targets.map(
    (t) =>
      `${t.met ? 'MET   ' : 'MISSED'} ${t.name}: ${f(t.value, 3)} (target ${t.limit})${t.miss ? ` — ${t.miss}` : ''}`,
  );
  notes.push(
    `       throughput ratio per round: ${ratios.map((x) => f(x)).join(', ')} (${ratios.filter((x) => x < 1).length} of ${ratios.length} rounds below 1.0)`,
  );

  const cpus = os.cpus();
  const machine = {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    redis: r.redisVersion,
  };
  const date = new Date().toISOString();
  const p = r.plan;

  const missed = targets.filter((t) => !t.met);
  const closing =
    missed.length === 0
      ? 'Every target was met in this run.'
      : missed
          .map((t) => `- **Missed: ${t.name}** — ${f(t.value, 3)} against ${t.limit}, ${t.miss}. ${whyMissed(t, r)}`)
          .join('\n');

  const md = `# Benchmarks

Generated by \`npm run bench\` (bench/run.ts) on ${date}. Do not edit by hand: run it again.

Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}; Node ${machine.node}; Redis ${machine.redis}.
The whole run took ${f(r.runSeconds, 0)} s.

${mdTable}

## Targets

${notes.map((n) => `- ${n.trim().replace(/^(MET|MISSED)\s+/, '**$1** ')}`).join('\n')}

${closing}

## What the numbers mean

- **One Redis server for both.** The run starts its own \`redis-server\` on a free port (no persistence) so that
  nothing else moves its counters, then Spool (key prefix \`bench-spool\`) and BullMQ (prefix \`bench-bull\`) run
  against it one section at a time. Both are warmed up first: every Lua script has been loaded once, so no
  measured call pays the first \`EVALSHA\` → \`NOSCRIPT\` → \`EVAL\` round trip (that costs one extra HTTP request per
  script per Redis server for Spool).
- **Spool goes through HTTP; BullMQ talks TCP.** Spool's calls go \`@upstash/redis\` → HTTP → the local
  Upstash-compatible endpoint (local/upstash, running in the benchmark's own Node process) → Redis,
  as they would to Upstash. Each HTTP request has a real cost (JSON, base64, a round trip); BullMQ's ioredis
  pipelines commands over a socket. In production the Upstash round trip is milliseconds, not the sub-millisecond
  loopback here, so fewer requests per job matter more there than this run shows.
- **HTTP requests per job** are counted by wrapping \`globalThis.fetch\` in the benchmark process (every request
  \`@upstash/redis\` sends to the endpoint), divided by the number of jobs.
- **Redis commands per job** are the sum of \`calls\` over every \`cmdstat_*\` line of \`INFO commandstats\`, after
  minus before (the \`INFO\` that took the first reading is subtracted), divided by the number of jobs. The
  counts include the commands that Lua scripts run (\`redis.call\`) as well as \`EVALSHA\` itself.
- **Lifecycle at batch B** (Spool): enqueue N jobs in calls of B (\`kick: false\`), lease in calls of B, complete
  in calls of B, every call sequential (so auto-pipelining never merges two calls into one request).
  N = ${r.spool.lifecycle.map((l) => `${l.jobs} at batch ${l.batch}`).join(', ')}. Jobs carry a small payload and a handler name.
  Each section uses a new \`Spool\` instance, primed with one enqueue to another queue before the counters are
  read: a new instance's first enqueue costs an extra request (its own row in the table; see below), a
  once-per-process cost that the per-job figures leave out.
- **Lifecycle with rate limit + cap on** (issue 11): the same, on a queue whose settings set a rate limit
  (100,000 starts per second, the most a setting takes) and a concurrency cap (1,000), both loose enough never to hold a lease back,
  so the difference from the plain lifecycle is what enforcing them costs; a lease stays one script call.
  N = ${r.spool.lifecycleFlow.map((l) => `${l.jobs} at batch ${l.batch}`).join(', ')}.
- **BullMQ lifecycle**: \`addBulk\` in chunks of 100, then one \`Worker\` at concurrency ${p.bullConcurrency} with a no-op
  processor until all ${p.bullJobs} have completed. Job options are BullMQ's defaults (completed jobs are kept, as
  Spool keeps them until its purge); \`removeOnComplete: true\` is shown as a variant. BullMQ has no batch size to
  vary: its worker moves one job per script call.
- **Fail once, then succeed**: Spool with \`backoffBaseMs: 0\` (the retry is due at once): enqueue, lease, fail
  (retryable), lease again (the lease promotes the due retry), complete, in calls of B. BullMQ: \`attempts: 2\`, no
  backoff, the processor throws on the first attempt.
- **Idle**: Spool holds no connection and runs no loop while its queues are empty: a worker Lambda is kicked by
  enqueue (or a queue timer), and the scheduled functions run on their schedules (worker and health every minute,
  purge every hour by default, infra/config.ts). Its commands per minute, by number of empty queues, are measured by
  bench/idle.ts (see Traffic shapes below). The lease-call row is what one lease (count 100) on an empty queue costs,
  averaged over ${p.idleLeaseCalls} calls. BullMQ's figure is one \`Worker\` (concurrency 1, default \`drainDelay\` and \`stalledInterval\`) on an empty queue,
  counted over a ${p.idleWindowSec} s window after a 2 s settle, scaled to one minute.
- **Throughput**: N = ${p.throughputJobs} jobs. Both sides: ${p.producers} concurrent producers enqueue them in calls of 100 (Spool:
  \`enqueue\` of 100; BullMQ: \`addBulk\` of 100), then the consumers drain them. Spool: ${p.spoolLoops} concurrent loops, each with
  its own client (as separate worker Lambdas would be), lease ${p.throughputBatch} / complete ${p.throughputBatch} until the queue is empty.
  BullMQ: one Worker at concurrency ${p.bullConcurrency}, no-op processor, until the ${p.throughputJobs}th \`completed\` event. jobs/s =
  N / (enqueue time + drain time); drain-only is shown too. The run does ${rr.length} rounds, alternating which side goes
  first; each round's ratio is Spool's jobs/s over BullMQ's, and the ratio reported is the median of those.
  Everything (both clients, the endpoint, BullMQ's worker) shares the one Node process, and Redis shares the
  machine's cores with it and with whatever else runs there: the 1-minute load average was
  ${f(r.loadAverage.start[0] ?? 0)} at the start and ${f(r.loadAverage.end[0] ?? 0)} at the end of this run (per round: ${rr.map((x) => f(x.load)).join(', ')}), so
  absolute jobs/s move from run to run, and so does the ratio: in this run it went from ${f(Math.min(...ratios))} to
  ${f(Math.max(...ratios))} across rounds. Read it as "about this much", not to two decimals.

${traffic.md}

## Where Spool's commands go (per job)

${r.spool.lifecycle.map((l) => `- Lifecycle, batch ${l.batch}: ${topCommands(l.byCommand, l.jobs)}`).join('\n')}
${r.spool.failOnce.map((l) => `- Fail once, batch ${l.batch}: ${topCommands(l.byCommand, l.jobs)}`).join('\n')}
- Idle lease call: ${topCommands(r.spool.idle.byCommand, 1)}
- BullMQ lifecycle (default options): ${topCommands(r.bullmq.lifecycle.byCommand, r.bullmq.lifecycle.jobs)}
- BullMQ idle, per minute: ${topCommands(r.bullmq.idle.byCommand, r.bullmq.idle.windowSec / 60)}

## What the engine could save

Measured here, not changed (shared/ belongs to the engine):

${
  r.spool.coldEnqueue.firstRequests > r.spool.coldEnqueue.nextRequests
    ? `- **First enqueue of an instance: ${r.spool.coldEnqueue.firstRequests} HTTP requests instead of ${r.spool.coldEnqueue.nextRequests}.** \`Spool.enqueue\`
  (shared/queue/engine.ts) sends \`SADD <prefix>:queues\` (once per queue per instance) and the enqueue \`EVALSHA\`
  in the same tick so that auto-pipelining puts them in one request, but \`@upstash/redis\`'s \`createScript\`
  computes the script's SHA-1 with WebCrypto (asynchronously) on first use, so the first \`EVALSHA\` leaves in a
  request of its own. Every Lambda cold start pays it once. Computing the SHA-1 synchronously (node:crypto) and
  calling \`evalsha\` directly, or awaiting the script's digest before issuing the \`SADD\`, would remove it.`
    : '- Nothing found in this run: the first enqueue of a new instance costs no more requests than the next one.'
}

Figures are in [benchmarks.json](benchmarks.json).
`;

  const perBatch = <T>(fn: (l: PerJob) => T): Record<string, T> =>
    Object.fromEntries(r.spool.lifecycle.map((l) => [String(l.batch), fn(l)]));
  const json = {
    date,
    machine,
    runSeconds: round(r.runSeconds, 1),
    requestsPerJob: perBatch((l) => round(l.requestsPerJob, 4)),
    commandsPerJob: perBatch((l) => round(l.commandsPerJob, 3)),
    commandsPerJobWithFlowControl: Object.fromEntries(
      r.spool.lifecycleFlow.map((l) => [String(l.batch), round(l.commandsPerJob, 3)]),
    ),
    failOnce: Object.fromEntries(
      r.spool.failOnce.map((l) => [
        String(l.batch),
        { requestsPerJob: round(l.requestsPerJob, 4), commandsPerJob: round(l.commandsPerJob, 3), jobs: l.jobs },
      ]),
    ),
    coldStartFirstEnqueueRequests: r.spool.coldEnqueue.firstRequests,
    idleLease: {
      requests: round(r.spool.idle.requestsPerCall, 3),
      commands: round(r.spool.idle.commandsPerCall, 3),
      byCommand: r.spool.idle.byCommand,
    },
    throughput: {
      jobs: N,
      batch: p.throughputBatch,
      loops: p.spoolLoops,
      producers: p.producers,
      jobsPerSec: round(tp.spool, 0),
      drainJobsPerSec: round(tp.spoolDrain, 0),
      enqueueJobsPerSec: round(tp.spoolEnq, 0),
    },
    bullmq: {
      commandsPerJob: round(r.bullmq.lifecycle.commandsPerJob, 3),
      commandsPerJobRemoveOnComplete: round(r.bullmq.lifecycleRemoveOnComplete.commandsPerJob, 3),
      failOnceCommandsPerJob: round(r.bullmq.failOnce.commandsPerJob, 3),
      idleCommandsPerMinute: round(r.bullmq.idle.commandsPerMinute, 1),
      idleWindowSec: r.bullmq.idle.windowSec,
      concurrency: p.bullConcurrency,
      jobOptions: 'BullMQ defaults (removeOnComplete not set: completed jobs kept)',
      throughput: {
        jobs: N,
        jobsPerSec: round(tp.bull, 0),
        drainJobsPerSec: round(tp.bullDrain, 0),
        enqueueJobsPerSec: round(tp.bullEnq, 0),
      },
    },
    throughputRatioVsBullmq: round(ratio, 3),
    drainThroughputRatioVsBullmq: round(drainRatio, 3),
    throughputRounds: rr.map((x, i) => ({
      round: i + 1,
      first: x.spoolFirst ? 'spool' : 'bullmq',
      ratio: round(ratios[i] as number, 3),
      drainRatio: round(drainRatios[i] as number, 3),
      loadAverage1m: round(x.load, 2),
      spool: {
        jobsPerSec: round(x.spool.jobsPerSec, 0),
        enqueueMs: round(x.spool.enqueueMs, 0),
        drainMs: round(x.spool.drainMs, 0),
        requests: x.spool.requests,
        commands: x.spool.commands,
      },
      bullmq: {
        jobsPerSec: round(x.bullmq.jobsPerSec, 0),
        enqueueMs: round(x.bullmq.enqueueMs, 0),
        drainMs: round(x.bullmq.drainMs, 0),
        commands: x.bullmq.commands,
      },
    })),
    loadAverage: { start: r.loadAverage.start.map((x) => round(x, 2)), end: r.loadAverage.end.map((x) => round(x, 2)) },
    targets: targets.map((t) => ({
      name: t.name,
      limit: t.limit,
      value: round(t.value, 4),
      met: t.met,
      ...(t.miss ? { miss: t.miss } : {}),
    })),
    commandBreakdown: {
      spool: Object.fromEntries(r.spool.lifecycle.map((l) => [String(l.batch), l.byCommand])),
      spoolFailOnce: Object.fromEntries(r.spool.failOnce.map((l) => [String(l.batch), l.byCommand])),
      bullmq: r.bullmq.lifecycle.byCommand,
      bullmqIdleWindow: r.bullmq.idle.byCommand,
    },
    traffic: traffic.json,
  };
  return { table, notes, md, json };
}

/** The reason behind a missed target, from what this run measured. */
function whyMissed(t: Target, r: Results): string {
  if (t.why) return t.why;
  if (t.name.startsWith('HTTP requests per job, unbatched')) {
    const l = r.spool.lifecycle.find((x) => x.batch === 1)!;
    return `Requests by path at batch 1: ${JSON.stringify(l.requestsByPath)} for ${l.jobs} jobs: an enqueue, a lease and a complete should be one request each.`;
  }
  if (t.name.startsWith('HTTP requests per job, batch 100')) {
    const l = r.spool.lifecycle.find((x) => x.batch === 100)!;
    return `Requests by path at batch 100: ${JSON.stringify(l.requestsByPath)} for ${l.jobs} jobs.`;
  }
  if (t.name.startsWith('Redis commands') || t.name.startsWith('Batch-100')) {
    const l = r.spool.lifecycle.find((x) => x.batch === 100)!;
    return `Per job: ${topCommands(l.byCommand, l.jobs, 12)}.`;
  }
  const rounds = r.rounds
    .map(
      (x, i) =>
        `round ${i + 1}: Spool enqueue ${f(x.spool.enqueueMs, 0)} ms + drain ${f(x.spool.drainMs, 0)} ms, BullMQ ${f(x.bullmq.enqueueMs, 0)} ms + ${f(x.bullmq.drainMs, 0)} ms`,
    )
    .join('; ');
  return `${rounds}. Every Spool call is an HTTP request (JSON and base64 both ways) through the endpoint, which runs in the same Node process as the clients, while BullMQ pipelines over TCP.`;
}

export async function writeReport(rep: Report): Promise<void> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const docs = path.join(root, 'docs');
  await mkdir(docs, { recursive: true });
  await writeFile(path.join(docs, 'benchmarks.md'), rep.md);
  await writeFile(path.join(docs, 'benchmarks.json'), `${JSON.stringify(rep.json, null, 2)}\n`);
}
