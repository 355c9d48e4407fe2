/**
 * The traffic part of the bench report (bench/traffic-report.ts): the `traffic` figures the issue
 * names are in the JSON, derived from the measurements given, and a missed target says by how much.
 * Also the bench's command accounting (bench/lib.ts diffStats) and its percentile.
 */
import { describe, expect, it } from 'vitest';
import { diffStats, percentile } from '../../bench/lib.js';
import {
  type TrafficResults,
  target,
  trafficReport,
  UPSTASH_CAP_COMMANDS_PER_SECOND,
} from '../../bench/traffic-report.js';

function results(over: {
  streamCommands: number;
  bullCommands: number;
  duplicateRuns: number;
  duplicateFires?: number;
}): TrafficResults {
  const jobs = 400;
  return {
    stream: {
      rate: 40,
      seconds: 10,
      jobs,
      commands: over.streamCommands,
      commandsPerJob: over.streamCommands / jobs,
      requestsPerJob: 1.5,
      workerRuns: 8,
      workerRunsPerJob: 8 / jobs,
      enqueueAloneCommandsPerJob: 9,
      enqueueAloneJobs: 100,
      kicks: 8,
      duplicateRuns: 0,
      enqueueP50Ms: 3,
      quiet: true,
      byCommand: { evalsha: over.streamCommands },
      ms: 11_000,
    },
    bullStream: {
      rate: 40,
      jobs,
      concurrency: 10,
      commands: over.bullCommands,
      commandsPerJob: over.bullCommands / jobs,
      byCommand: { evalsha: over.bullCommands },
      ms: 10_000,
    },
    slots: {
      jobs: 100,
      concurrency: 5,
      longMs: 3000,
      shortMs: 50,
      busyMs: 34_600,
      wallMs: 7_400,
      utilization: 34_600 / (5 * 7_400),
      idealWallMs: 6_900,
      maxInFlight: 5,
      workerRuns: 1,
      duplicateRuns: 0,
    },
    bullSlots: { jobs: 100, concurrency: 5, busyMs: 34_600, wallMs: 7_000, utilization: 34_600 / 35_000 },
    bullDelays: { jobs: 3, p50Ms: 100, p95Ms: 400, maxMs: 400 },
    duplicates: {
      jobs: 40,
      jobMs: 700,
      batch: 25,
      concurrency: 2,
      leaseMs: 2000,
      workerScheduleMs: 2000,
      runs: 40 + over.duplicateRuns,
      duplicateRuns: over.duplicateRuns,
      maxRunsOfAJob: over.duplicateRuns > 0 ? 2 : 1,
      completed: 40,
      dead: 0,
      settled: true,
      workerRuns: 3,
      workerMessages: {},
      ms: 15_000,
    },
    delays: {
      jobs: 3,
      minDelayMs: 2000,
      maxDelayMs: 30_000,
      workerScheduleMs: 60_000,
      latenessMs: [5, 20, 900],
      p50Ms: 20,
      p95Ms: 900,
      maxMs: 900,
      notStarted: 0,
    },
    schedules: {
      schedules: 3,
      everyMs: 2000,
      seconds: 20,
      tickMs: 60_000,
      fires: 30,
      expectedPerSchedule: 10,
      duplicateFires: over.duplicateFires ?? 0,
      latenessMs: [12, 15, 40],
      p50Ms: 15,
      p95Ms: 40,
      maxMs: 40,
      commands: 1500,
      commandsPerFire: 50,
      byCommand: { evalsha: 1500 },
      schedulerRuns: 30,
      workerRuns: 3,
    },
    bullSchedules: {
      schedules: 3,
      everyMs: 2000,
      seconds: 20,
      fires: 30,
      expectedPerSchedule: 10,
      duplicateFires: 0,
      p50Ms: 5,
      p95Ms: 9,
      maxMs: 12,
      commands: 3000,
      commandsPerFire: 100,
      byCommand: { evalsha: 3000 },
    },
    idle: {
      idleCommandsPerMinute: { '1': 4, '10': 4, '100': 4.5 },
      ticks: {
        '1': { worker: 1, health: 3, purge: 0, perMinute: 4 },
        '10': { worker: 1, health: 3, purge: 0, perMinute: 4 },
        '100': { worker: 1, health: 3.5, purge: 0, perMinute: 4.5 },
      },
      schedule: { worker: 1, health: 1, purge: 1 / 60 },
    },
  };
}

const ctx = {
  spoolBatch100CommandsPerJob: 0.26,
  bullLifecycle: { jobs: 5000, commands: 165_000, commandsPerJob: 33, byCommand: {}, ms: 1 },
};

describe('trafficReport', () => {
  it('puts every figure the issue names under traffic, from the measurements', () => {
    const { json } = trafficReport(results({ streamCommands: 4000, bullCommands: 24_000, duplicateRuns: 0 }), ctx);
    expect(json).toMatchObject({
      streamCommandsPerJob: 10,
      streamWorkerRunsPerJob: 0.02,
      slotUtilization: Math.round((34_600 / 37_000) * 1000) / 1000,
      delayLatenessP95Ms: 900,
      scheduleLatenessP95Ms: 40,
      scheduleDuplicateFires: 0,
      idleCommandsPerMinute: { '1': 4, '10': 4, '100': 4.5 },
      duplicateRuns: 0,
      upstashCapJobsPerSecond: {
        spool: UPSTASH_CAP_COMMANDS_PER_SECOND / 10,
        bullmq: Math.round(UPSTASH_CAP_COMMANDS_PER_SECOND / 60),
        batch100: {
          spool: Math.round(UPSTASH_CAP_COMMANDS_PER_SECOND / 0.26),
          bullmq: Math.round(UPSTASH_CAP_COMMANDS_PER_SECOND / 33),
        },
      },
    });
  });

  it('meets the targets the measurements meet, and names the ones they miss with the margin', () => {
    const ok = trafficReport(results({ streamCommands: 4000, bullCommands: 24_000, duplicateRuns: 0 }), ctx);
    expect(ok.targets.filter((t) => !t.met).map((t) => t.name)).toEqual([]);

    const bad = trafficReport(
      results({ streamCommands: 16_000, bullCommands: 24_000, duplicateRuns: 160, duplicateFires: 2 }),
      ctx,
    );
    const missed = bad.targets.filter((t) => !t.met);
    expect(missed.map((t) => t.name)).toEqual([
      'Stream (40 single POSTs/s): Redis commands per job',
      'Long jobs in one batch (40 × 700 ms, batch 25, concurrency 2, lease 2 s): duplicate runs',
      'Schedules (3 × every 2 s for 20 s): fire times run more than once (issue 12)',
    ]);
    expect(missed[0]?.miss).toBe('28 over (3.3× the limit)');
    expect(missed[1]?.miss).toBe('160 over');
    for (const t of missed) expect(t.why).toBeTruthy();
  });
});

describe('target', () => {
  it('compares in the direction given', () => {
    expect(target('a', 1, '≥', 1).met).toBe(true);
    expect(target('a', 0.8, '≥', 1).miss).toBe('0.200 short (20.0 %)');
    expect(target('a', 0, '=', 0).met).toBe(true);
    expect(target('a', 0.06, '≤', 0.05).met).toBe(false);
  });
});

describe('bench accounting', () => {
  it("diffStats leaves out the measurer's own INFO readings", () => {
    const before = new Map([
      ['info', 10],
      ['evalsha', 5],
    ]);
    // One reading to start, three in between (e.g. waiting for quiet); the server ran 2 INFO of its own.
    const after = new Map([
      ['info', 10 + 1 + 3 + 2],
      ['evalsha', 9],
    ]);
    expect(diffStats(before, after, 3)).toEqual({ total: 6, byCommand: { info: 2, evalsha: 4 } });
  });

  it('percentile is nearest-rank', () => {
    const xs = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(10);
    expect(percentile(xs, 95)).toBe(19);
    expect(percentile(xs, 100)).toBe(20);
    expect(percentile([7], 95)).toBe(7);
  });
});
