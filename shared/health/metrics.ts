import { METRICS, type MetricKey, QUEUE_DIMENSION, STATUS_VALUE } from '../metrics/names.js';
import { type QueueHealth, worst } from './evaluate.js';

/** A CloudWatch MetricDatum (structurally what @aws-sdk/client-cloudwatch takes). */
export interface Datum {
  MetricName: string;
  Dimensions?: Array<{ Name: string; Value: string }>;
  Value: number;
  Unit: 'Count' | 'Seconds' | 'None';
  Timestamp: Date;
}

/** PutMetricData takes at most 1,000 metrics and 1 MB per request. */
export const MAX_DATA_PER_REQUEST = 1000;

type Figures = Record<Exclude<MetricKey, 'heartbeat'>, number>;

const UNIT: Record<MetricKey, Datum['Unit']> = {
  status: 'None',
  waiting: 'Count',
  delayed: 'Count',
  active: 'Count',
  completed: 'Count',
  dead: 'Count',
  oldestWaitingAge: 'Seconds',
  oldestDeadAge: 'Seconds',
  leaseExpired: 'Count',
  deadTrimmed: 'Count',
  enqueued: 'Count',
  completedDelta: 'Count',
  failed: 'Count',
  retried: 'Count',
  deadDelta: 'Count',
  breakersOpen: 'Count',
  heartbeat: 'Count',
};

function figuresOf(h: QueueHealth): Figures {
  const s = h.snapshot;
  return {
    status: STATUS_VALUE[h.status],
    waiting: s.waiting,
    delayed: s.delayed,
    active: s.active,
    completed: s.completed,
    dead: s.dead,
    // A paused backlog must not page (the oldest-waiting-age alarm): 0 while the queue is paused.
    oldestWaitingAge: s.pausedForMs === undefined ? Math.floor(s.oldestWaitingAgeMs / 1000) : 0,
    oldestDeadAge: Math.floor(s.oldestDeadAgeMs / 1000),
    leaseExpired: s.leaseExpired,
    deadTrimmed: h.deltas.deadTrimmed,
    enqueued: h.deltas.enqueued,
    completedDelta: h.deltas.completed,
    failed: h.deltas.failed,
    retried: h.deltas.retried,
    deadDelta: h.deltas.dead,
    breakersOpen: s.breakersOpen?.length ?? 0,
  };
}

const MAX_KEYS = new Set<keyof Figures>(['oldestWaitingAge', 'oldestDeadAge']);

/**
 * Every figure fleet-wide (no dimension: the worst status, sums, the largest ages) over every queue,
 * per queue (`Queue` dimension) for the queues in `perQueue` only (every queue when `'*'`), plus
 * HealthHeartbeat = 1. With no queue at all the fleet figures are zeros. Each per-queue figure is a
 * custom metric CloudWatch bills monthly, so per-queue metrics are for the queues with alarms.
 */
export function metricData(queues: QueueHealth[], at: number, perQueue: ReadonlySet<string> | '*'): Datum[] {
  const Timestamp = new Date(at);
  const data: Datum[] = [];
  const fleet = {} as Figures;
  const keys = Object.keys(UNIT).filter((k) => k !== 'heartbeat') as Array<keyof Figures>;
  for (const k of keys) fleet[k] = 0;
  for (const h of queues) {
    const f = figuresOf(h);
    const own = perQueue === '*' || perQueue.has(h.queue);
    for (const k of keys) {
      if (own)
        data.push({
          MetricName: METRICS[k],
          Dimensions: [{ Name: QUEUE_DIMENSION, Value: h.queue }],
          Value: f[k],
          Unit: UNIT[k],
          Timestamp,
        });
      fleet[k] = MAX_KEYS.has(k) ? Math.max(fleet[k], f[k]) : fleet[k] + f[k];
    }
  }
  fleet.status = STATUS_VALUE[worst(queues.map((q) => q.status))];
  for (const k of keys) data.push({ MetricName: METRICS[k], Value: fleet[k], Unit: UNIT[k], Timestamp });
  data.push({ MetricName: METRICS.heartbeat, Value: 1, Unit: UNIT.heartbeat, Timestamp });
  return data;
}

/**
 * SPOOL_METRIC_QUEUES → the queues with per-queue metrics: `*` every queue; unset or empty none (each
 * per-queue figure is a billed custom metric; the stack names its context queues).
 */
export function metricQueues(setting: string | undefined): ReadonlySet<string> | '*' {
  if (setting?.trim() === '*') return '*';
  return new Set(
    (setting ?? '')
      .split(',')
      .map((q) => q.trim())
      .filter(Boolean),
  );
}

export function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
