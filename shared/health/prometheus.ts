/**
 * Every queue as Prometheus metrics, text exposition format 0.0.4 (GET /metrics):
 *
 *   spool_jobs{queue,state}                      gauge    jobs in each state
 *   spool_oldest_waiting_age_seconds{queue}      gauge    how long the oldest waiting job has waited
 *   spool_oldest_dead_age_seconds{queue}         gauge    how long ago the oldest dead job died
 *   spool_lease_expired_jobs{queue}              gauge    active jobs whose lease has expired
 *   spool_queue_status{queue,status}             gauge    1 for the queue's health status, 0 for the others
 *   spool_queue_paused{queue}                    gauge    1 while the queue is paused (its settings)
 *   spool_circuit_breaker_open{queue,origin}     gauge    1 for each target origin whose breaker is open
 *   spool_jobs_total{queue,event}                counter  cumulative counters (enqueued, completed, dead, ...)
 *
 * Names follow Prometheus' conventions (snake_case, base units, `_total` on counters, one-hot
 * gauges for an enumeration). A new family (breaker states, say) is one more entry of
 * QUEUE_FAMILIES: the writer and the route stay as they are.
 */
import { JOB_STATES } from '../queue/types.js';
import { HEALTH_STATUSES, type QueueHealth } from './evaluate.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  /** `[a-zA-Z_:][a-zA-Z0-9_:]*`; counters end in `_total`. */
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const escapeHelp = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const formatValue = (v: number) =>
  Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v);

/** The text exposition of `families`: HELP and TYPE once per family, then its samples; ends with a newline. */
export function renderPrometheus(families: readonly Family[]): string {
  const lines: string[] = [];
  for (const f of families) {
    if (!NAME.test(f.name)) throw new Error(`metric name ${JSON.stringify(f.name)} is not valid`);
    if (f.type === 'counter' && !f.name.endsWith('_total')) throw new Error(`counter ${f.name} must end in _total`);
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels).map(([k, v]) => {
        if (!LABEL.test(k) || k.startsWith('__')) throw new Error(`label name ${JSON.stringify(k)} is not valid`);
        return `${k}="${escapeLabel(v)}"`;
      });
      lines.push(`${f.name}${labels.length ? `{${labels.join(',')}}` : ''} ${formatValue(s.value)}`);
    }
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

type FamilyOf = (queues: readonly QueueHealth[]) => Family;

const perQueue =
  (name: string, help: string, value: (q: QueueHealth) => number): FamilyOf =>
  (queues) => ({
    name,
    help,
    type: 'gauge',
    samples: queues.map((q) => ({ labels: { queue: q.queue }, value: value(q) })),
  });

/** One family per entry, in this order. */
export const QUEUE_FAMILIES: readonly FamilyOf[] = [
  (queues) => ({
    name: 'spool_jobs',
    help: 'Jobs in each state.',
    type: 'gauge',
    samples: queues.flatMap((q) =>
      JOB_STATES.map((state) => ({ labels: { queue: q.queue, state }, value: q.snapshot[state] })),
    ),
  }),
  perQueue(
    'spool_oldest_waiting_age_seconds',
    'Seconds the oldest waiting job has waited (0 when none wait).',
    (q) => q.snapshot.oldestWaitingAgeMs / 1000,
  ),
  perQueue(
    'spool_oldest_dead_age_seconds',
    'Seconds since the oldest dead job died (0 when none).',
    (q) => q.snapshot.oldestDeadAgeMs / 1000,
  ),
  perQueue(
    'spool_lease_expired_jobs',
    'Active jobs whose lease has expired (their worker stopped).',
    (q) => q.snapshot.leaseExpired,
  ),
  (queues) => ({
    name: 'spool_queue_status',
    help: "The queue's health status: 1 for the current one, 0 for the others.",
    type: 'gauge',
    samples: queues.flatMap((q) =>
      HEALTH_STATUSES.map((status) => ({ labels: { queue: q.queue, status }, value: q.status === status ? 1 : 0 })),
    ),
  }),
  perQueue('spool_queue_paused', 'Whether the queue is paused (1) or not (0).', (q) =>
    q.snapshot.pausedForMs === undefined ? 0 : 1,
  ),
  (queues) => ({
    name: 'spool_circuit_breaker_open',
    help: 'Target origins whose circuit breaker is open or half-open (their jobs wait): 1 each.',
    type: 'gauge',
    samples: queues.flatMap((q) =>
      (q.snapshot.breakersOpen ?? []).map((origin) => ({ labels: { queue: q.queue, origin }, value: 1 })),
    ),
  }),
  (queues) => ({
    name: 'spool_jobs_total',
    help: 'Cumulative job events since the queue was first used, by event (the counters of GET /v1/queues).',
    type: 'counter',
    samples: queues.flatMap((q) =>
      Object.entries(q.snapshot.counters).map(([event, value]) => ({ labels: { queue: q.queue, event }, value })),
    ),
  }),
];

export const queueMetrics = (queues: readonly QueueHealth[]): string =>
  renderPrometheus(QUEUE_FAMILIES.map((f) => f(queues)));
