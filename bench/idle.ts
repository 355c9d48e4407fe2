/**
 * Idle cost: the Redis commands a Spool with N empty queues spends per minute at the deployed
 * schedules (infra/config.ts CONTEXT_DEFAULTS: worker and health every minute, purge and the
 * dlq-replay function's automatic replay every hour; the scheduler's tick every minute, with no
 * schedule, and separately with one schedule not yet due),
 * counted with INFO commandstats on a private redis-server (commands run inside Lua included)
 * behind the local Upstash endpoint. Each queue has been used (one job enqueued, run and purged),
 * so it is registered and empty. The scheduled functions run in-process on a clock that advances a
 * minute per tick, so that "idle" is what it is deployed: ticks long after the last activity.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from '@upstash/redis';
import { Redis as IORedis } from 'ioredis';
import { runInvocation as runDlqReplayInvocation } from '../functions/dlq-replay/run.js';
import { runHealth } from '../functions/health/run.js';
import type { Invocation } from '../functions/lib/handler.js';
import { createRuntime, type Runtime } from '../functions/lib/runtime.js';
import { runInvocation as runPurgeInvocation } from '../functions/purge/run.js';
import { runInvocation as runSchedulerInvocation } from '../functions/scheduler/run.js';
import { runSchedule } from '../functions/worker/run.js';
import { CONTEXT_DEFAULTS, parseSchedule } from '../infra/config.js';
import { SCHEDULER_TICK } from '../infra/constructs/schedules.js';
import { startUpstashLocal } from '../local/upstash/server.js';
import { loadConfig, queueConfig } from '../shared/config/index.js';
import { Logger } from '../shared/log/logger.js';
import { Spool } from '../shared/queue/index.js';
import { diffStats, readCommandStats, startPrivateRedis } from './lib.js';

export interface IdleTicks {
  /** Commands of one scheduled worker run. */
  worker: number;
  /** Commands of one scheduled health run. */
  health: number;
  /** Commands of one scheduled purge run (nothing to purge). */
  purge: number;
  /** Commands of one scheduled dlq-replay run (no queue has autoReplay; absent in older reports). */
  dlqReplay?: number;
  /** Commands of one scheduler tick with no schedule (absent in older reports). */
  scheduler?: number;
  /** Commands of one scheduler tick with one schedule not yet due (a daily cron). */
  schedulerPending?: number;
  /** At the deployed schedules. */
  perMinute: number;
}

export interface IdleReport {
  /** Keyed by the number of empty queues ("1", "10", "100"). */
  idleCommandsPerMinute: Record<string, number>;
  ticks: Record<string, IdleTicks>;
  /** Runs per minute of each schedule, from the deployed defaults. */
  schedule: { worker: number; health: number; purge: number; dlqReplay?: number; scheduler?: number };
}

const perMinute = (expression: string, key: string): number => {
  const spec = parseSchedule(key, expression, expression);
  if (!spec.intervalMinutes) throw new Error(`${key}: ${expression} has no interval`);
  return 1 / spec.intervalMinutes;
};

/** The deployed schedules as runs per minute. */
export const DEPLOYED_RUNS_PER_MINUTE = {
  worker: perMinute(CONTEXT_DEFAULTS.workerSchedule, 'workerSchedule'),
  health: perMinute(CONTEXT_DEFAULTS.healthSchedule, 'healthSchedule'),
  purge: perMinute(CONTEXT_DEFAULTS.purgeSchedule, 'purgeSchedule'),
  dlqReplay: perMinute(CONTEXT_DEFAULTS.dlqReplaySchedule, 'dlqReplaySchedule'),
  scheduler: perMinute(SCHEDULER_TICK, 'schedulerTick'),
};

const scheduled = {
  version: '0',
  id: 'idle',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time: new Date(0).toISOString(),
  region: 'eu-west-1',
  resources: ['arn:aws:events:eu-west-1:123456789012:rule/Spool-Schedule'],
  detail: {},
};

/** Commands of one idle Spool with `queues` empty queues; measured over `ticks` minutes. */
export async function measureIdleOnce(queues: number, ticks = 5): Promise<IdleTicks> {
  const redis = await startPrivateRedis();
  const token = randomBytes(12).toString('hex');
  const endpoint = await startUpstashLocal({ redisUrl: redis.url, port: 0, token });
  const admin = new IORedis(redis.url, { maxRetriesPerRequest: 1 });
  try {
    let now = Date.now();
    const config = loadConfig({ SPOOL_KEY_PREFIX: 'idle', SPOOL_COMPLETED_RETENTION_MS: '0' });
    const client = new Redis({ url: endpoint.url, token, retry: false });
    const spool = new Spool(client, { config: queueConfig(config), clock: () => now });
    const rt: Runtime = await createRuntime({
      fn: 'local',
      config,
      spool,
      clock: () => now,
      kickWorker: async () => {},
      aws: { cloudwatch: { send: async () => ({}) }, sns: { send: async () => ({}) } },
      logger: new Logger({ serviceName: 'spool-idle', logLevel: 'SILENT' }),
    });
    const inv = (): Invocation => ({ rt, log: rt.logger, requestId: 'idle', deadline: now + 60_000 });
    // Every queue used once: a job enqueued, run, and purged (retention 0).
    const names = Array.from({ length: queues }, (_, i) => `idle-${i}`);
    for (const q of names) {
      await spool.enqueue(q, { handler: 'noop' }, { kick: false });
      const { jobs } = await spool.lease(q, { count: 1 });
      await spool.complete(
        q,
        jobs.map((j) => ({ id: j.id, token: j.token })),
      );
    }
    // The runs of the first hour after the activity (the first worker run builds the due index; the
    // first purge removes the completed jobs), then of the next hour's start: from then on it is idle.
    for (const [step, purgeToo] of [
      [60_000, true],
      [60_000, false],
      [3_600_000, true],
      [60_000, false],
    ] as const) {
      now += step;
      await runSchedule(inv());
      await runHealth(rt, rt.logger);
      if (purgeToo) await runPurgeInvocation(scheduled, inv());
    }
    const measure = async (fn: () => Promise<unknown>): Promise<number> => {
      const before = await readCommandStats(admin);
      await fn();
      return diffStats(before, await readCommandStats(admin)).total;
    };
    let worker = 0;
    let health = 0;
    let scheduler = 0;
    for (let i = 0; i < ticks; i++) {
      now += 60_000;
      worker += await measure(() => runSchedule(inv()));
      health += await measure(() => runHealth(rt, rt.logger));
      scheduler += await measure(() => runSchedulerInvocation(scheduled, inv()));
    }
    // One schedule, not due for hours: what a tick costs while schedules exist.
    await spool.putSchedule('daily', { queue: 'idle-0', cron: '0 3 * * *', job: { handler: 'noop' } });
    await runSchedulerInvocation(scheduled, inv());
    let schedulerPending = 0;
    for (let i = 0; i < ticks; i++) {
      now += 60_000;
      schedulerPending += await measure(() => runSchedulerInvocation(scheduled, inv()));
    }
    await spool.deleteSchedule('daily');
    now += 3_600_000;
    const purge = await measure(() => runPurgeInvocation(scheduled, inv()));
    const dlqReplay = await measure(() => runDlqReplayInvocation(scheduled, inv()));
    const r = DEPLOYED_RUNS_PER_MINUTE;
    const w = worker / ticks;
    const h = health / ticks;
    const sc = scheduler / ticks;
    return {
      worker: w,
      health: h,
      purge,
      dlqReplay,
      scheduler: sc,
      schedulerPending: schedulerPending / ticks,
      perMinute: w * r.worker + h * r.health + purge * r.purge + dlqReplay * r.dlqReplay + sc * r.scheduler,
    };
  } finally {
    admin.disconnect();
    await endpoint.close();
    await redis.stop();
  }
}

/**
 * idleCommandsPerMinute keyed by queue count ("1", "10", "100" by default), each on its own private
 * Redis, with the commands of each scheduled run.
 */
export async function measureIdle(counts: readonly number[] = [1, 10, 100], ticks = 5): Promise<IdleReport> {
  const report: IdleReport = { idleCommandsPerMinute: {}, ticks: {}, schedule: { ...DEPLOYED_RUNS_PER_MINUTE } };
  for (const n of counts) {
    const t = await measureIdleOnce(n, ticks);
    report.ticks[String(n)] = t;
    report.idleCommandsPerMinute[String(n)] = Math.round(t.perMinute * 1000) / 1000;
  }
  return report;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await measureIdle(), null, 2));
}
