/**
 * Prometheus text format 0.0.4: the writer (names, escaping, HELP/TYPE once per family) and the
 * queue families, checked against the format's line grammar; GET /metrics on real Redis.
 */
import { describe, expect, it } from 'vitest';
import { createHealthHandler } from '../../../functions/health/handler.js';
import { deltasOf, evaluateQueue, type QueueHealth, type Thresholds } from '../../../shared/health/evaluate.js';
import { PROMETHEUS_CONTENT_TYPE, queueMetrics, renderPrometheus } from '../../../shared/health/prometheus.js';
import type { QueueSnapshot } from '../../../shared/queue/types.js';
import { apiEvent, json, lambdaContext } from '../../helpers/fixtures.js';
import { testRuntime } from '../../helpers/runtime.js';

/**
 * The 0.0.4 grammar, line by line: `# HELP name text`, `# TYPE name gauge|counter|...` before the
 * family's samples, samples `name{label="value",...} number`; no family twice, no series twice.
 * Returns the samples by series.
 */
function parseExposition(text: string): Map<string, number> {
  expect(text.endsWith('\n')).toBe(true);
  const series = new Map<string, number>();
  const typed = new Map<string, string>();
  const helped = new Set<string>();
  const sample =
    /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(?:,(?=[a-zA-Z_]))?)*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/;
  for (const line of text.slice(0, -1).split('\n')) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (help) {
      expect(helped.has(help[1]!), `HELP ${help[1]} twice`).toBe(false);
      helped.add(help[1]!);
    } else if (type) {
      expect(typed.has(type[1]!), `TYPE ${type[1]} twice`).toBe(false);
      typed.set(type[1]!, type[2]!);
    } else {
      const m = sample.exec(line);
      expect(m, `not a sample line: ${line}`).not.toBeNull();
      expect(typed.has(m![1]!), `${m![1]} sampled before its TYPE`).toBe(true);
      const key = `${m![1]}${m![2] ?? ''}`;
      expect(series.has(key), `series twice: ${key}`).toBe(false);
      series.set(key, Number(m![3]));
    }
  }
  for (const [name, t] of typed) if (t === 'counter') expect(name.endsWith('_total'), name).toBe(true);
  return series;
}

const snap = (queue: string, over: Partial<QueueSnapshot> = {}): QueueSnapshot => ({
  queue,
  at: 0,
  waiting: 3,
  delayed: 1,
  active: 2,
  completed: 10,
  dead: 4,
  oldestWaitingAgeMs: 90_500,
  leaseExpired: 1,
  oldestDeadAgeMs: 3_600_000,
  counters: {
    enqueued: 20,
    completed: 10,
    failed: 6,
    retried: 2,
    dead: 4,
    deadTrimmed: 0,
    deadPastTtl: 0,
    leaseExpired: 1,
    replayed: 0,
    cancelled: 0,
    orphans: 0,
  },
  ...over,
});

const thresholds: Thresholds = {
  waiting: { degraded: 1000, unhealthy: 5000 },
  dead: { degraded: 0, unhealthy: 100 },
  oldestWaitingMs: { degraded: 300_000, unhealthy: 900_000 },
  leaseExpired: { degraded: 10, unhealthy: 20 },
  pausedMs: 3_600_000,
};
const health = (s: QueueSnapshot): QueueHealth => evaluateQueue(s, deltasOf(s, undefined, false), thresholds);

describe('renderPrometheus', () => {
  it('writes HELP and TYPE once per family, escapes label values and help text', () => {
    const text = renderPrometheus([
      {
        name: 'x_total',
        help: 'a \\ back\nslash',
        type: 'counter',
        samples: [
          { labels: { q: 'a"b\\c\nd' }, value: 1 },
          { labels: { q: 'plain' }, value: 2.5 },
        ],
      },
      { name: 'y', help: 'no labels', type: 'gauge', samples: [{ labels: {}, value: Number.POSITIVE_INFINITY }] },
    ]);
    expect(text).toBe(
      [
        '# HELP x_total a \\\\ back\\nslash',
        '# TYPE x_total counter',
        'x_total{q="a\\"b\\\\c\\nd"} 1',
        'x_total{q="plain"} 2.5',
        '# HELP y no labels',
        '# TYPE y gauge',
        'y +Inf',
        '',
      ].join('\n'),
    );
    expect(parseExposition(text).get('x_total{q="plain"}')).toBe(2.5);
  });

  it('refuses names Prometheus would refuse, and a counter without _total', () => {
    const f =
      (name: string, type: 'gauge' | 'counter' = 'gauge', label = 'queue') =>
      () =>
        renderPrometheus([{ name, help: '', type, samples: [{ labels: { [label]: 'x' }, value: 1 }] }]);
    expect(f('spool-jobs')).toThrow(/not valid/);
    expect(f('spool_jobs', 'counter')).toThrow(/_total/);
    expect(f('spool_jobs', 'gauge', '__name')).toThrow(/label/);
    expect(f('spool_jobs')).not.toThrow();
  });
});

describe('queue families', () => {
  it('every queue: jobs by state, ages in seconds, expired leases, status one-hot, counters by event', () => {
    const series = parseExposition(queueMetrics([health(snap('emails')), health(snap('we"ird', { dead: 0 }))]));
    expect(series.get('spool_jobs{queue="emails",state="waiting"}')).toBe(3);
    expect(series.get('spool_jobs{queue="emails",state="dead"}')).toBe(4);
    expect(series.get('spool_oldest_waiting_age_seconds{queue="emails"}')).toBe(90.5);
    expect(series.get('spool_oldest_dead_age_seconds{queue="emails"}')).toBe(3600);
    expect(series.get('spool_lease_expired_jobs{queue="emails"}')).toBe(1);
    expect(series.get('spool_queue_status{queue="emails",status="degraded"}')).toBe(1);
    expect(series.get('spool_queue_status{queue="emails",status="healthy"}')).toBe(0);
    expect(series.get('spool_jobs_total{queue="emails",event="enqueued"}')).toBe(20);
    expect(series.get('spool_jobs_total{queue="emails",event="leaseExpired"}')).toBe(1);
    expect(series.get('spool_jobs{queue="we\\"ird",state="dead"}')).toBe(0);
    // 5 states + 4 gauges + 3 statuses + 11 counters per queue.
    expect(series.size).toBe(2 * (5 + 4 + 3 + 11));
    expect(series.get('spool_queue_paused{queue="emails"}')).toBe(0);
  });

  it('no queue yet: HELP and TYPE only, still valid', () => {
    const text = queueMetrics([]);
    expect(parseExposition(text).size).toBe(0);
    expect(text).toContain('# TYPE spool_jobs_total counter');
  });
});

describe('GET /metrics', () => {
  it('answers the text format with its content type, from the queues in Redis', async () => {
    const { rt } = await testRuntime('metrics');
    await rt.spool.enqueue('m1', [{ handler: 'echo' }, { handler: 'echo', delayMs: 60_000 }]);
    const r = json(await createHealthHandler(rt)(apiEvent('GET', '/metrics'), lambdaContext()));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe(PROMETHEUS_CONTENT_TYPE);
    const series = parseExposition(r.body as string);
    expect(series.get('spool_jobs{queue="m1",state="waiting"}')).toBe(1);
    expect(series.get('spool_jobs{queue="m1",state="delayed"}')).toBe(1);
    expect(series.get('spool_jobs_total{queue="m1",event="enqueued"}')).toBe(2);
  });
});
