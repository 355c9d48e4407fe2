import type { SpoolConfig } from '../config/index.js';
import type { QueueCounters, QueueSnapshot } from '../queue/types.js';
import { CHECKS, type Check, type CheckWords, fillStep, runbookUrl } from './runbook.js';

export type { Check };

export const HEALTH_STATUSES = ['healthy', 'degraded', 'unhealthy'] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];
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
 * Defaults: waiting over 1,000 / 5,000; dead over 10 / 100; oldest waiting over 5 / 15 min; lease
 * expired over 0 (any) / 10 (SPOOL_HEALTH_STUCK_*: the variables keep their first name). Any DLQ trimming since the previous run is degraded.
 * A paused queue: its backlog is no symptom (neither waiting nor oldest waiting age); paused longer
 * than pausedMs (SPOOL_HEALTH_PAUSED_DEGRADED_MS, default 1 h) is degraded, a ticket. An open circuit
 * breaker (a target origin failing) is degraded, naming the origin.
 */
export interface Thresholds {
  waiting: Level;
  dead: Level;
  oldestWaitingMs: Level;
  leaseExpired: Level;
  pausedMs: number;
}

export function thresholdsFrom(c: SpoolConfig): Thresholds {
  return {
    waiting: { degraded: c.SPOOL_HEALTH_WAITING_DEGRADED, unhealthy: c.SPOOL_HEALTH_WAITING_UNHEALTHY },
    dead: { degraded: c.SPOOL_HEALTH_DEAD_DEGRADED, unhealthy: c.SPOOL_HEALTH_DEAD_UNHEALTHY },
    oldestWaitingMs: {
      degraded: c.SPOOL_HEALTH_OLDEST_WAITING_DEGRADED_MS,
      unhealthy: c.SPOOL_HEALTH_OLDEST_WAITING_UNHEALTHY_MS,
    },
    leaseExpired: { degraded: c.SPOOL_HEALTH_STUCK_DEGRADED, unhealthy: c.SPOOL_HEALTH_STUCK_UNHEALTHY },
    pausedMs: c.SPOOL_HEALTH_PAUSED_DEGRADED_MS,
  };
}

export interface Symptom {
  check: Check;
  status: Exclude<HealthStatus, 'healthy'>;
  value: number;
  threshold: number;
  /** Human unit of value/threshold. */
  unit: CheckWords['unit'];
  runbook: string;
  step: string;
  /** breakerOpen: the origins whose breaker is open. */
  origins?: string[];
}

/** Counter movements since the previous scheduled health run. */
export type Deltas = Pick<QueueCounters, 'enqueued' | 'completed' | 'failed' | 'retried' | 'dead' | 'deadTrimmed'>;

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
  'deadTrimmed',
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

/** `runbookBase`: the runbook's URL (SPOOL_RUNBOOK_BASE_URL); symptoms link to `<it>#<section>`. */
export function evaluateQueue(snap: QueueSnapshot, deltas: Deltas, t: Thresholds, runbookBase?: string): QueueHealth {
  const symptoms: Symptom[] = [];
  const add = (check: Check, value: number, level: Level, scale = 1) => {
    const trips = (th: number) => value > th;
    const status = trips(level.unhealthy) ? 'unhealthy' : trips(level.degraded) ? 'degraded' : undefined;
    if (!status) return;
    const threshold = status === 'unhealthy' ? level.unhealthy : level.degraded;
    symptoms.push({
      check,
      status,
      value: Math.round((value / scale) * 10) / 10,
      threshold: threshold / scale,
      unit: CHECKS[check].unit,
      runbook: runbookUrl(CHECKS[check].runbook, runbookBase),
      step: fillStep(CHECKS[check].step, { queue: snap.queue }),
    });
  };
  const paused = snap.pausedForMs !== undefined;
  // A paused queue's backlog is what pausing is for: not a symptom.
  if (!paused) add('waiting', snap.waiting, t.waiting);
  add('dead', snap.dead, t.dead);
  if (!paused) add('oldestWaitingAge', snap.oldestWaitingAgeMs, t.oldestWaitingMs, 1000);
  if (paused) add('paused', snap.pausedForMs!, { degraded: t.pausedMs, unhealthy: Infinity }, 1000);
  const open = snap.breakersOpen ?? [];
  if (open.length > 0) {
    symptoms.push({
      check: 'breakerOpen',
      status: 'degraded',
      value: open.length,
      threshold: 0,
      unit: CHECKS.breakerOpen.unit,
      runbook: runbookUrl(CHECKS.breakerOpen.runbook, runbookBase),
      // The step names the origins (the symptom's sentence says how many).
      step: `${open.join(', ')}: ${fillStep(CHECKS.breakerOpen.step, { queue: snap.queue })}`,
      origins: open,
    });
  }
  add('leaseExpired', snap.leaseExpired, t.leaseExpired);
  if (deltas.deadTrimmed > 0) {
    symptoms.push({
      check: 'deadTrimmed',
      status: 'degraded',
      value: deltas.deadTrimmed,
      threshold: 0,
      unit: CHECKS.deadTrimmed.unit,
      runbook: runbookUrl(CHECKS.deadTrimmed.runbook, runbookBase),
      step: fillStep(CHECKS.deadTrimmed.step, { queue: snap.queue }),
    });
  }
  return { queue: snap.queue, status: worst(symptoms.map((s) => s.status)), symptoms, snapshot: snap, deltas };
}
