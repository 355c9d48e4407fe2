import type { SpoolConfig } from '../config/index.js';
import type { QueueCounters, QueueSnapshot } from '../queue/types.js';

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';
const RANK: Record<HealthStatus, number> = { healthy: 0, degraded: 1, unhealthy: 2 };

export const worst = (statuses: Iterable<HealthStatus>): HealthStatus => {
  let w: HealthStatus = 'healthy';
  for (const s of statuses) if (RANK[s] > RANK[w]) w = s;
  return w;
};

export interface Level {
  degraded: number;
  unhealthy: number;
}

/**
 * Thresholds: a figure trips when strictly OVER its threshold (as shared/config/schema.ts says).
 * Defaults: waiting over 1,000 / 5,000; dead over 10 / 100; oldest waiting over 5 / 15 min; stuck
 * over 0 (any) / 10. Any DLQ trimming since the previous run is degraded.
 */
export interface Thresholds {
  waiting: Level;
  dead: Level;
  oldestWaitingMs: Level;
  stuck: Level;
}

export function thresholdsFrom(c: SpoolConfig): Thresholds {
  return {
    waiting: { degraded: c.SPOOL_HEALTH_WAITING_DEGRADED, unhealthy: c.SPOOL_HEALTH_WAITING_UNHEALTHY },
    dead: { degraded: c.SPOOL_HEALTH_DEAD_DEGRADED, unhealthy: c.SPOOL_HEALTH_DEAD_UNHEALTHY },
    oldestWaitingMs: {
      degraded: c.SPOOL_HEALTH_OLDEST_WAITING_DEGRADED_MS,
      unhealthy: c.SPOOL_HEALTH_OLDEST_WAITING_UNHEALTHY_MS,
    },
    stuck: { degraded: c.SPOOL_HEALTH_STUCK_DEGRADED, unhealthy: c.SPOOL_HEALTH_STUCK_UNHEALTHY },
  };
}

/** Runbook sections (docs/runbook.md), the same anchors the CDK alarms link to. */
export const RUNBOOK_ANCHORS = {
  waiting: 'queue-unhealthy',
  dead: 'dead-jobs',
  oldestWaitingAge: 'oldest-waiting-age',
  stuck: 'stuck-leases',
  deadTrimmed: 'dlq-trimmed',
} as const;
export type Check = keyof typeof RUNBOOK_ANCHORS;

const RUNBOOK_STEP: Record<Check, string> = {
  waiting: 'check that workers run (worker errors/throttles, reserved concurrency); POST /v1/queues/{queue}/drain',
  dead: 'GET /v1/queues/{queue}/dlq, fix the cause, then POST /v1/queues/{queue}/dlq/replay (dry run first)',
  oldestWaitingAge: 'check that workers run and targets answer; POST /v1/queues/{queue}/drain',
  stuck:
    'workers are dying mid-job (timeouts, crashes): check worker logs; leases are reclaimed on the next lease or purge',
  deadTrimmed:
    'the DLQ is at its cap and drops the oldest dead jobs: replay or delete dead jobs, or raise SPOOL_DEAD_CAP',
};

export interface Symptom {
  check: Check;
  status: Exclude<HealthStatus, 'healthy'>;
  value: number;
  threshold: number;
  /** Human unit of value/threshold. */
  unit: 'jobs' | 'seconds';
  runbook: string;
  step: string;
}

/** Counter movements since the previous scheduled health run. */
export type Deltas = Pick<QueueCounters, 'enqueued' | 'completed' | 'failed' | 'retried' | 'dead' | 'trimmed'>;

export interface QueueHealth {
  queue: string;
  status: HealthStatus;
  symptoms: Symptom[];
  snapshot: QueueSnapshot;
  deltas: Deltas;
}

const DELTA_KEYS: Array<keyof Deltas & keyof QueueCounters> = [
  'enqueued',
  'completed',
  'failed',
  'retried',
  'dead',
  'trimmed',
];

/**
 * Deltas of the cumulative counters. No previous run at all: zeros (a first run reports no burst).
 * A queue new since the previous run: its counters so far. A counter that went down was reset: its value.
 */
export function deltasOf(snap: QueueSnapshot, prev: QueueSnapshot | undefined, hadPreviousRun: boolean): Deltas {
  const out = {} as Deltas;
  for (const k of DELTA_KEYS) {
    const cur = snap.counters[k] ?? 0;
    if (!hadPreviousRun) out[k] = 0;
    else if (!prev) out[k] = cur;
    else {
      const before = prev.counters?.[k] ?? 0;
      out[k] = cur >= before ? cur - before : cur;
    }
  }
  return out;
}

export function evaluateQueue(snap: QueueSnapshot, deltas: Deltas, t: Thresholds): QueueHealth {
  const symptoms: Symptom[] = [];
  const add = (check: Check, value: number, level: Level, unit: Symptom['unit'], scale = 1) => {
    const trips = (th: number) => value > th;
    const status = trips(level.unhealthy) ? 'unhealthy' : trips(level.degraded) ? 'degraded' : undefined;
    if (!status) return;
    const threshold = status === 'unhealthy' ? level.unhealthy : level.degraded;
    symptoms.push({
      check,
      status,
      value: Math.round((value / scale) * 10) / 10,
      threshold: threshold / scale,
      unit,
      runbook: `docs/runbook.md#${RUNBOOK_ANCHORS[check]}`,
      step: RUNBOOK_STEP[check].replace('{queue}', snap.queue),
    });
  };
  add('waiting', snap.waiting, t.waiting, 'jobs');
  add('dead', snap.dead, t.dead, 'jobs');
  add('oldestWaitingAge', snap.oldestWaitingAgeMs, t.oldestWaitingMs, 'seconds', 1000);
  add('stuck', snap.stuck, t.stuck, 'jobs');
  if (deltas.trimmed > 0) {
    symptoms.push({
      check: 'deadTrimmed',
      status: 'degraded',
      value: deltas.trimmed,
      threshold: 0,
      unit: 'jobs',
      runbook: `docs/runbook.md#${RUNBOOK_ANCHORS.deadTrimmed}`,
      step: RUNBOOK_STEP.deadTrimmed,
    });
  }
  return { queue: snap.queue, status: worst(symptoms.map((s) => s.status)), symptoms, snapshot: snap, deltas };
}

const CHECK_LABEL: Record<Check, string> = {
  waiting: 'waiting jobs',
  dead: 'dead jobs',
  oldestWaitingAge: 'oldest waiting job age',
  stuck: 'stuck leases',
  deadTrimmed: 'dead jobs trimmed from the DLQ since the previous check',
};

/** The SNS message of a status change: queue, each symptom with value, threshold and runbook step. */
export function alertMessage(
  h: QueueHealth,
  previous: HealthStatus,
  stack = 'Spool',
): { subject: string; message: string } {
  const recovered = RANK[h.status] < RANK[previous];
  const subject = `${stack}: queue ${h.queue} is ${h.status.toUpperCase()} (was ${previous})`.slice(0, 99);
  const lines = [
    `Queue: ${h.queue}`,
    `Status: ${h.status} (was ${previous})${recovered ? ' - recovered' : ''}`,
    `At: ${new Date(h.snapshot.at).toISOString()}`,
    '',
  ];
  if (h.symptoms.length === 0) lines.push('No symptom remains: every figure is within its threshold.');
  for (const s of h.symptoms) {
    lines.push(
      `- ${s.status.toUpperCase()}: ${CHECK_LABEL[s.check]} = ${s.value} ${s.unit} (over ${s.threshold} ${s.unit})`,
      `  Runbook: ${s.runbook}`,
      `  Next step: ${s.step}`,
    );
  }
  lines.push(
    '',
    `Figures: waiting ${h.snapshot.waiting}, delayed ${h.snapshot.delayed}, active ${h.snapshot.active}, dead ${h.snapshot.dead}, stuck ${h.snapshot.stuck}, oldest waiting ${Math.round(h.snapshot.oldestWaitingAgeMs / 1000)} s`,
  );
  return { subject, message: lines.join('\n') };
}
