/** The traffic shapes' part of the report (issue 14): targets, a table, an explanation, `traffic` in the JSON. */
import type { BullDelays, BullPerJob, BullSchedules, BullSlots, BullStream } from './bullmq.js';
import type { IdleReport } from './idle.js';
import { round, topCommands as top } from './lib.js';
import type { DelayResult, DuplicateResult, ScheduleResult, SlotResult, StreamResult } from './traffic.js';

export interface TrafficResults {
  stream: StreamResult;
  bullStream: BullStream;
  slots: SlotResult;
  bullSlots: BullSlots;
  bullDelays: BullDelays;
  duplicates: DuplicateResult;
  delays: DelayResult;
  /** Recurring schedules (issue 12), Spool and BullMQ's Job Schedulers. */
  schedules: ScheduleResult;
  bullSchedules: BullSchedules;
  /** bench/idle.ts measureIdle() (the cost14 helper's harness). */
  idle: IdleReport;
}

export interface Target {
  name: string;
  limit: string;
  value: number;
  met: boolean;
  miss?: string;
  /** Why, from what the run measured (shown when missed). */
  why?: string;
}

const f = (x: number, d = 2): string => (Number.isInteger(x) ? String(x) : x.toFixed(d));

/** A target `value op limit`; a miss says by how much. */
export function target(name: string, value: number, op: '≤' | '≥' | '=', limit: number, why?: string): Target {
  const met = op === '≤' ? value <= limit : op === '≥' ? value >= limit : value === limit;
  const t: Target = { name, limit: `${op} ${limit}`, value, met };
  if (!met) {
    t.miss =
      op === '≥'
        ? `${f(limit - value, 3)} short (${f((1 - value / limit) * 100, 1)} %)`
        : limit === 0
          ? `${f(value, 3)} over`
          : `${f(value - limit, 3)} over (${f(value / limit, 1)}× the limit)`;
    if (why) t.why = why;
  }
  return t;
}

/** Jobs/s under Upstash's pay-as-you-go cap of 10,000 commands/s, from commands per job. */
export const UPSTASH_CAP_COMMANDS_PER_SECOND = 10_000;
const cap = (commandsPerJob: number): number => round(UPSTASH_CAP_COMMANDS_PER_SECOND / commandsPerJob, 0);

export function trafficReport(
  t: TrafficResults,
  ctx: { spoolBatch100CommandsPerJob: number; bullLifecycle: BullPerJob },
): { targets: Target[]; rows: Array<[string, string, string, string]>; md: string; json: Record<string, unknown> } {
  const { stream: s, bullStream: b, slots: u, duplicates: d, delays: l, idle, schedules: sc, bullSchedules: bs } = t;
  const perMinute = idle.idleCommandsPerMinute;
  const one = perMinute['1'] ?? Number.NaN;
  const hundred = perMinute['100'] ?? Number.NaN;
  const ticksOf = (n: string): string => {
    const x = idle.ticks[n];
    if (!x) return '?';
    const replay = x.dlqReplay === undefined ? '' : `, dlq-replay ${f(x.dlqReplay)}`;
    const scheduler = x.scheduler === undefined ? '' : `, scheduler ${f(x.scheduler)}`;
    return `worker ${f(x.worker)}, health ${f(x.health)}, purge ${f(x.purge)}${replay}${scheduler}`;
  };
  const every = (runsPerMinute: number): string => `${f(1 / runsPerMinute, 0)} min`;
  const sch = idle.schedule;
  const schedules = `worker every ${every(sch.worker)}, health every ${every(sch.health)}, purge every ${every(sch.purge)}${sch.dlqReplay === undefined ? '' : `, dlq-replay every ${every(sch.dlqReplay)}`}${sch.scheduler === undefined ? '' : `, scheduler every ${every(sch.scheduler)}`}`;
  const scheduleWindow = `${sc.schedules} × every ${sc.everyMs / 1000} s for ${sc.seconds} s`;
  const targets: Target[] = [
    target(
      'Stream (40 single POSTs/s): Redis commands per job',
      s.commandsPerJob,
      '≤',
      12,
      `Per job: ${top(s.byCommand, s.jobs)}; ${s.workerRuns} worker run(s) for ${s.jobs} jobs. For scale, one single-job enqueue alone (${s.enqueueAloneJobs} sequential enqueues, no worker running) costs ${f(s.enqueueAloneCommandsPerJob)}${s.enqueueAloneCommandsPerJob >= 12 ? ', by itself at or over the target' : ''}.`,
    ),
    target(
      'Stream (40 single POSTs/s): worker runs per job',
      s.workerRunsPerJob,
      '≤',
      0.05,
      `${s.workerRuns} worker invocations (${s.kicks} kicks) for ${s.jobs} jobs.`,
    ),
    target('Batch-100 lifecycle: Redis commands per job (issue 14)', ctx.spoolBatch100CommandsPerJob, '≤', 0.5),
    target(
      'Delayed jobs (2 s–30 s, worker schedule 60 s): p95 start lateness, ms',
      l.p95Ms,
      '≤',
      1000,
      `Lateness p50 ${f(l.p50Ms, 0)} ms, max ${f(l.maxMs, 0)} ms, worker schedule every ${l.workerScheduleMs / 1000} s.`,
    ),
    ...Object.entries(perMinute).map(([n, v]) =>
      target(
        `Idle, ${n} empty queue${n === '1' ? '' : 's'}: Redis commands per minute at the deployed schedules`,
        v,
        '≤',
        5,
        `Commands of one run each: ${ticksOf(n)} (${schedules}).`,
      ),
    ),
    target(
      'Idle: 100 empty queues against 1 (ratio of commands per minute)',
      hundred / one,
      '≤',
      2,
      `${f(hundred, 1)} against ${f(one, 1)} commands per minute.`,
    ),
    target(
      'Long jobs in one batch (40 × 700 ms, batch 25, concurrency 2, lease 2 s): duplicate runs',
      d.duplicateRuns,
      '=',
      0,
      `${d.runs} runs for ${d.jobs} jobs (up to ${d.maxRunsOfAJob} of one job), ${d.completed} completed and ${d.dead} dead; worker log: ${JSON.stringify(d.workerMessages)}.`,
    ),
    target(
      `Schedules (${scheduleWindow}, minute ticks): p95 fire lateness, ms (issue 12)`,
      sc.p95Ms,
      '≤',
      1000,
      `Lateness p50 ${f(sc.p50Ms, 0)} ms, max ${f(sc.maxMs, 0)} ms; ${sc.fires} fires, ${sc.expectedPerSchedule} expected per schedule.`,
    ),
    target(
      `Schedules (${scheduleWindow}): ticks that did not fire (issue 12)`,
      Math.max(0, sc.schedules * sc.expectedPerSchedule - sc.fires),
      '=',
      0,
      `${sc.fires} fires ran of ${sc.schedules} × ${sc.expectedPerSchedule} ticks in the window (removed half an interval past a tick).`,
    ),
    target(
      `Schedules (${scheduleWindow}): fire times run more than once (issue 12)`,
      sc.duplicateFires,
      '=',
      0,
      `${sc.fires} fires ran; ${sc.schedulerRuns} scheduler and ${sc.workerRuns} worker invocations.`,
    ),
  ];

  const rows: Array<[string, string, string, string]> = [
    [
      `Stream, ${s.rate} single POSTs/s × ${s.seconds} s: Redis commands / job`,
      f(s.commandsPerJob),
      `${f(b.commandsPerJob)} (Queue.add, 1 worker at ${b.concurrency})`,
      '≤ 12',
    ],
    ['  worker runs / job', `${f(s.workerRunsPerJob, 3)} (${s.workerRuns} runs, ${s.kicks} kicks)`, 'n/a', '≤ 0.05'],
    ['  Upstash HTTP requests / job (all functions)', f(s.requestsPerJob, 3), 'n/a (TCP)', ''],
    [
      `Jobs/s under Upstash's ${UPSTASH_CAP_COMMANDS_PER_SECOND} commands/s cap, stream shape`,
      f(cap(s.commandsPerJob), 0),
      f(cap(b.commandsPerJob), 0),
      '',
    ],
    [
      '  same, batch-100 lifecycle (BullMQ: addBulk 100, worker at 50)',
      f(cap(ctx.spoolBatch100CommandsPerJob), 0),
      f(cap(ctx.bullLifecycle.commandsPerJob), 0),
      '',
    ],
    [
      `Slot utilization, ${u.jobs} jobs (every tenth ${u.longMs / 1000} s, rest ${u.shortMs} ms), concurrency ${u.concurrency}`,
      `${f(u.utilization * 100, 1)} % (wall ${f(u.wallMs / 1000, 1)} s, ideal ${f(u.idealWallMs / 1000, 1)} s)`,
      `${f(t.bullSlots.utilization * 100, 1)} % (wall ${f(t.bullSlots.wallMs / 1000, 1)} s)`,
      '',
    ],
    [
      `Delayed jobs ${l.minDelayMs / 1000}–${l.maxDelayMs / 1000} s, schedule ${l.workerScheduleMs / 1000} s: start lateness p50 / p95 / max`,
      `${f(l.p50Ms / 1000, 1)} / ${f(l.p95Ms / 1000, 1)} / ${f(l.maxMs / 1000, 1)} s`,
      `${f(t.bullDelays.p50Ms / 1000, 1)} / ${f(t.bullDelays.p95Ms / 1000, 1)} / ${f(t.bullDelays.maxMs / 1000, 1)} s (worker polling)`,
      'p95 ≤ 1 s',
    ],
    [
      'Idle: Redis commands / minute, 1 / 10 / 100 empty queues',
      ['1', '10', '100'].map((k) => f(perMinute[k] ?? Number.NaN, 1)).join(' / '),
      '',
      '≤ 5 each, 100 ≤ 2× 1',
    ],
    [
      `Schedules, ${scheduleWindow}: fire lateness p50 / p95 / max`,
      `${f(sc.p50Ms, 0)} / ${f(sc.p95Ms, 0)} / ${f(sc.maxMs, 0)} ms`,
      `${f(bs.p50Ms, 0)} / ${f(bs.p95Ms, 0)} / ${f(bs.maxMs, 0)} ms (Job Schedulers)`,
      'p95 ≤ 1 s',
    ],
    [
      '  fires (expected per schedule) / fire times run twice',
      `${sc.fires} (${sc.expectedPerSchedule}) / ${sc.duplicateFires}`,
      `${bs.fires} (${bs.expectedPerSchedule}) / ${bs.duplicateFires}`,
      '0 twice',
    ],
    ['  Redis commands / fire (fire, job run, timers, ticks)', f(sc.commandsPerFire), f(bs.commandsPerFire), ''],
    [
      `Duplicate runs, ${d.jobs} jobs × ${d.jobMs} ms, batch ${d.batch}, concurrency ${d.concurrency}, lease ${d.leaseMs / 1000} s`,
      `${d.duplicateRuns} (${d.completed} completed, ${d.dead} dead)`,
      '',
      '0',
    ],
  ];

  const md = `## Traffic shapes (issue 14)

Measured through the local stack as \`npm start\` wires it (bench/traffic.ts): \`startLocal\` (local/server.ts) serves
the real function handlers behind its API Gateway stand-in on a loopback port; an enqueue's kick runs the real worker
handler in the same process, detached, as Lambda's asynchronous invoke would (local/functions.ts, local/aws.ts); the
schedules are timers (local/schedules.ts). The handlers reach Redis through \`@upstash/redis\` and the local Upstash
endpoint, on the run's private \`redis-server\`. Jobs call a loopback HTTP target in the bench process that records
every call (start, end, and the job id from the \`idempotency-key\` header), so runs are counted where they happen.
Worker runs are the local function host's count of worker invocations (\`host.invocations\`: kicks, schedule
ticks and timers alike); kicks are counted by wrapping the runtime's \`kickWorker\`. Commands are INFO commandstats, scripts' inner commands
included, as Upstash bills them; the bench's own INFO readings are subtracted.

- **Stream**: ${s.jobs} single-job \`POST /v1/queues/stream/jobs\` at ${s.rate}/s for ${s.seconds} s, sent open-loop (each at
  its time, not after the previous answer; median answer ${f(s.enqueueP50Ms, 1)} ms). Each job calls the target, which answers at
  once. Counted from the first POST until every job has run and Redis has run nothing for 1.5 s${s.quiet ? '' : ' (it did not go quiet within 30 s: counted up to then)'}, so a
  lingering worker's commands count too. Worker schedule at the deployed ${l.workerScheduleMs / 1000} s${s.ms < l.workerScheduleMs ? ` (the section took ${f(s.ms / 1000, 1)} s from the stack's start: no tick fell in it)` : ''}.
  ${s.workerRuns} worker runs, ${s.kicks} kicks, ${s.duplicateRuns} duplicate runs. Per job: ${top(s.byCommand, s.jobs)}. For
  scale, one single-job enqueue alone costs ${f(s.enqueueAloneCommandsPerJob)} (the engine's enqueue op, as the route calls it, ${s.enqueueAloneJobs}
  sequential calls on a queue of their own, kick on, no worker running, so not the stream's exact path: with a worker
  on the queue an enqueue may skip some writes).
- **BullMQ stream**: the same shape for BullMQ: ${b.jobs} single \`Queue.add\` at ${b.rate}/s, one \`Worker\` (concurrency ${b.concurrency},
  no-op processor) already running; counted from the first add until the last job completed, the worker's own waiting
  (\`BZPOPMIN\`, markers) included. Per job: ${top(b.byCommand, b.jobs)}.
- **Jobs/s under Upstash's cap**: ${UPSTASH_CAP_COMMANDS_PER_SECOND} / measured commands per job (Upstash caps a pay-as-you-go database
  at ${UPSTASH_CAP_COMMANDS_PER_SECOND} commands/s and counts every command a script runs). The headline (\`upstashCapJobsPerSecond\`)
  is the stream shape for both; the batch-100 row uses Spool's batch-100 lifecycle and BullMQ's lifecycle (addBulk of 100,
  worker at concurrency 50), both from this run.
- **Slot utilization**: ${u.jobs} jobs in one batch POST, job i taking ${u.longMs} ms when i is a multiple of 10 and ${u.shortMs} ms
  otherwise, worker concurrency ${u.concurrency} (batch 25). Busy slot-time is the sum of every call's duration at the target
  (${f(u.busyMs / 1000, 1)} s); wall time is from the first call's start to the last call's end (${f(u.wallMs / 1000, 1)} s);
  utilization = busy / (${u.concurrency} × wall). The least wall time ${u.concurrency} slots allow is ${f(u.idealWallMs / 1000, 1)} s. At most
  ${u.maxInFlight} calls ran at once; ${u.workerRuns} worker run(s). The issue sets no number for it. BullMQ: the same ${u.jobs} jobs
  in one \`addBulk\`, a \`Worker\` at concurrency ${t.bullSlots.concurrency} whose processor sleeps the job's time; busy = the processor's run
  times (${f(t.bullSlots.busyMs / 1000, 1)} s), wall ${f(t.bullSlots.wallMs / 1000, 1)} s.
- **Delays**: ${l.jobs} single POSTs at once with \`runAt\` spread evenly from now + ${l.minDelayMs / 1000} s to now + ${l.maxDelayMs / 1000} s, the worker
  schedule at the deployed ${l.workerScheduleMs / 1000} s (its timer starts with the stack, just before the POSTs). Lateness = first call at
  the target − \`runAt\`. The issue's range goes to 15 min; this run measures ${l.minDelayMs / 1000}–${l.maxDelayMs / 1000} s only (BENCH_DELAY_MAX_S raises
  it; the local stack has no injectable clock, so longer delays cost real time). BullMQ: the same ${t.bullDelays.jobs} due times as
  \`Queue.add\` with \`delay\`, one \`Worker\` (concurrency 10, defaults) running; lateness = the processor's start − due time.${l.notStarted ? ` ${l.notStarted} job(s) had not started when the wait ended; their lateness is counted up to then.` : ''}
- **Idle**: bench/idle.ts \`measureIdle()\` (written with the due index, issue 14 item 4): for 1, 10 and 100 queues, each on a
  private \`redis-server\` of its own behind the local endpoint, every queue used once (a job enqueued, run, and purged
  with retention 0), then the scheduled functions run in-process on a clock that advances a minute per tick (the
  first hour after the activity settles, then idle minutes are counted). Commands per minute = each function's
  commands per run × its runs per minute at the deployed schedules (infra/config.ts defaults, the rules of
  infra/constructs/schedules.ts: ${schedules}). Per run: ${['1', '10', '100'].map((n) => `${n} queue(s): ${ticksOf(n)}`).join('; ')}.
- **Duplicate runs**: ${d.jobs} jobs of ${d.jobMs} ms in one batch POST; \`SPOOL_WORKER_BATCH_SIZE\` ${d.batch}, \`SPOOL_WORKER_CONCURRENCY\` ${d.concurrency},
  \`SPOOL_LEASE_MS\` ${d.leaseMs} with each job's timeout + \`SPOOL_LEASE_GRACE_MS\` = ${d.leaseMs} ms, so every lease is ${d.leaseMs / 1000} s. The worker
  schedule runs every ${d.workerScheduleMs / 1000} s, as \`npm start\` runs it: it, and any lease call, reclaims expired leases. Runs beyond one per
  job, counted at the target, until every job is completed or dead${d.settled ? '' : ' (the queue had not settled within the cap)'}: ${d.runs} runs, ${d.completed} completed,
  ${d.dead} dead, in ${f(d.ms / 1000, 0)} s.
- **Schedules** (issue 12): ${sc.schedules} schedules \`PUT /v1/schedules/{id}\` with \`everyMs\` ${sc.everyMs}, each on a queue of its own, whose job calls
  the target; deleted after ${sc.seconds} s. The worker and scheduler ticks run at the deployed ${sc.tickMs / 1000} s, so fires ride the
  schedule timers (in-process here, delivering the SQS event the deployed timer queue would) and the workers are
  kicked by the fires. Lateness = first call at the target − the fire time (the job's idempotency key
  \`schedule:<id>:<fire time>\` carries it), so it includes the kick and the worker's lease. ${sc.fires} fires ran
  (${sc.expectedPerSchedule} ticks per schedule between the PUT and the DELETE, sent half an interval past a tick), ${sc.duplicateFires} fire time(s) ran twice; ${sc.schedulerRuns} scheduler
  and ${sc.workerRuns} worker invocations. Commands: everything Redis ran in the window over the fires: ${top(sc.byCommand, Math.max(1, sc.fires))}.
  BullMQ: ${bs.schedules} Job Schedulers (\`upsertJobScheduler\` with \`every: ${bs.everyMs}\`) and one \`Worker\` (concurrency 10) for ${bs.seconds} s;
  lateness = the processor's start − the fire's intended time (in the job id, \`repeat:<scheduler>:<ms>\`); per fire: ${top(bs.byCommand, Math.max(1, bs.fires))}.
`;

  const json = {
    streamCommandsPerJob: round(s.commandsPerJob, 3),
    streamWorkerRunsPerJob: round(s.workerRunsPerJob, 4),
    slotUtilization: round(u.utilization, 3),
    delayLatenessP95Ms: round(l.p95Ms, 0),
    idleCommandsPerMinute: perMinute,
    duplicateRuns: d.duplicateRuns,
    scheduleLatenessP95Ms: round(sc.p95Ms, 0),
    scheduleDuplicateFires: sc.duplicateFires,
    upstashCapJobsPerSecond: {
      spool: cap(s.commandsPerJob),
      bullmq: cap(b.commandsPerJob),
      shape: `stream: ${s.rate} single enqueues/s (Spool: POST through the local stack; BullMQ: Queue.add, one worker at concurrency ${b.concurrency})`,
      batch100: {
        spool: cap(ctx.spoolBatch100CommandsPerJob),
        bullmq: cap(ctx.bullLifecycle.commandsPerJob),
        shape: 'Spool lifecycle at batch 100; BullMQ addBulk of 100 and one worker at concurrency 50',
      },
    },
    details: {
      stream: {
        jobs: s.jobs,
        rate: s.rate,
        commands: s.commands,
        requestsPerJob: round(s.requestsPerJob, 4),
        workerRuns: s.workerRuns,
        enqueueAloneCommandsPerJob: round(s.enqueueAloneCommandsPerJob, 3),
        kicks: s.kicks,
        duplicateRuns: s.duplicateRuns,
        quiet: s.quiet,
        enqueueP50Ms: round(s.enqueueP50Ms, 1),
        byCommand: s.byCommand,
      },
      bullmqStream: {
        jobs: b.jobs,
        rate: b.rate,
        concurrency: b.concurrency,
        commands: b.commands,
        commandsPerJob: round(b.commandsPerJob, 3),
        byCommand: b.byCommand,
      },
      slots: { ...u, utilization: round(u.utilization, 4) },
      bullmqSlots: { ...t.bullSlots, utilization: round(t.bullSlots.utilization, 4) },
      bullmqDelays: t.bullDelays,
      delays: { ...l, p50Ms: round(l.p50Ms, 0), p95Ms: round(l.p95Ms, 0) },
      duplicates: d,
      schedules: { ...sc, latenessMs: undefined, commandsPerFire: round(sc.commandsPerFire, 2) },
      bullmqSchedules: { ...bs, commandsPerFire: round(bs.commandsPerFire, 2) },
      idle: { ...idle, source: 'bench/idle.ts measureIdle()' },
    },
  };
  return { targets, rows, md, json };
}
