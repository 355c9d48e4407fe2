/**
 * Health: a snapshot of every queue judged against the thresholds. The API (`GET /v1/health`) and the
 * scheduled run share `assess`; the scheduled run also publishes the metrics (every figure fleet-wide,
 * per queue for the named queues of SPOOL_METRIC_QUEUES, plus the heartbeat), sends its own pages and
 * tickets once a status has held (shared/health/notify.ts), and keeps the last run and a short
 * history in Redis:
 *   <prefix>:health:last     (keys.ts healthLast) STRING JSON { at, status, queues: { <queue>: { snapshot, ...QueueMemory } } }
 *   <prefix>:health:history  (keys.ts healthHistory) LIST of JSON { at, status, queues: { <queue>: [status, waiting, dead, oldestWaitingS, leaseExpired] } }, newest first, capped
 *
 * The scheduled run snapshots only the queues that may have changed: those the last run left
 * unsettled (with jobs, or a status not yet settled healthy) and those enqueued to since (the touched
 * index). Every other queue was empty and healthy and nothing has been enqueued to it, so its last
 * record stands for it (its figures are published from it) and nothing of it is read or written. A run
 * that snapshots nothing writes nothing either: an idle Spool's health run costs two reads, however
 * many queues it has (test/functions/idle.test.ts).
 *
 * The CloudWatch and SNS modules are imported when the run publishes, not when the module loads:
 * the HTTP routes (and a cold start) never pay for them.
 */
import {
  deltasOf,
  evaluateQueue,
  type HealthStatus,
  type QueueHealth,
  thresholdsFrom,
  worst,
} from '../../shared/health/evaluate.js';
import { chunk, MAX_DATA_PER_REQUEST, metricData, metricQueues } from '../../shared/health/metrics.js';
import {
  decide,
  isSettled,
  type QueueMemory,
  type Route,
  remember,
  renderMessage,
} from '../../shared/health/notify.js';
import type { Logger } from '../../shared/log/logger.js';
import { globalKey } from '../../shared/queue/keys.js';
import { queues as listQueues, snapshot, touchedSince } from '../../shared/queue/ops/snapshot.js';
import type { QueueSnapshot } from '../../shared/queue/types.js';
import { guard } from '../../shared/redis/client.js';
import type { Runtime } from '../lib/runtime.js';

export interface LastRun {
  at: number;
  status: HealthStatus;
  /** Per queue: its snapshot (for deltas) and what the notifier remembers (older records lack the latter). */
  queues: Record<string, Partial<QueueMemory> & { status: HealthStatus; snapshot: QueueSnapshot }>;
}

export interface Assessment {
  at: number;
  status: HealthStatus;
  queues: QueueHealth[];
  last: LastRun | null;
}

export async function readLast(rt: Runtime): Promise<LastRun | null> {
  const raw = await guard(() => rt.spool.redis.get<unknown>(globalKey(rt.spool.config.prefix, 'healthLast')));
  if (!raw) return null;
  try {
    return (typeof raw === 'string' ? JSON.parse(raw) : raw) as LastRun;
  } catch {
    return null;
  }
}

/** Every queue's snapshot and status (deltas against the last scheduled run). Reads only. */
export async function assess(rt: Runtime): Promise<Assessment> {
  const [snaps, last] = await Promise.all([snapshot(rt.spool), readLast(rt)]);
  return judge(rt, snaps, last);
}

function judge(rt: Runtime, snaps: QueueSnapshot[], last: LastRun | null): Assessment {
  const t = thresholdsFrom(rt.config);
  const base = rt.config.SPOOL_RUNBOOK_BASE_URL;
  const queues = snaps.map((s) =>
    evaluateQueue(s, deltasOf(s, last?.queues[s.queue]?.snapshot, last !== null), t, base),
  );
  return { at: rt.clock(), status: worst(queues.map((q) => q.status)), queues, last };
}

/** How far back before the last run the touched index is read: the two clocks may disagree by this much. */
const TOUCHED_SLACK_MS = 60_000;

/** Nothing in the queue, and nothing that changes with time alone (a pause has an age). */
const isEmpty = (s: QueueSnapshot): boolean =>
  s.waiting + s.delayed + s.active + s.completed + s.dead === 0 && s.pausedForMs === undefined;

/**
 * The scheduled run's assessment: snapshots of the queues that may have changed since the last run
 * (every queue when there is none), and the last records of the rest (`carried`: settled, empty and
 * untouched; their snapshot stands, with no deltas).
 */
async function assessChanged(rt: Runtime): Promise<Assessment & { carried: string[] }> {
  const last = await readLast(rt);
  if (!last) return { ...(await assess(rt)), carried: [] };
  const touched = await touchedSince(rt.spool, last.at - TOUCHED_SLACK_MS);
  const carried: string[] = [];
  const look = new Set(touched);
  for (const [queue, rec] of Object.entries(last.queues)) {
    const mem = memoryOf(rec, last.at);
    if (!look.has(queue) && mem && isSettled(mem) && isEmpty(rec.snapshot)) carried.push(queue);
    else look.add(queue);
  }
  const snaps = look.size > 0 ? await snapshot(rt.spool, [...look].sort()) : [];
  const held = carried.map((q) => last.queues[q]!.snapshot);
  // A carried queue's snapshot is its own last one: its deltas are zero.
  const a = judge(rt, [...snaps, ...held], last);
  return { ...a, carried };
}

export interface HealthRunReport {
  status: HealthStatus;
  queues: number;
  metrics: number;
  metricRequests: number;
  /** Statuses announced (or dropped) by this run. */
  messages: Array<{ queue: string; from: HealthStatus; to: HealthStatus; route: Route }>;
}

/** A record written before the notifier existed: its status counts as announced, since then. */
function memoryOf(prev: LastRun['queues'][string] | undefined, lastAt: number): QueueMemory | undefined {
  if (!prev) return undefined;
  return {
    status: prev.status,
    since: prev.since ?? lastAt,
    runs: prev.runs ?? 1,
    notified: prev.notified ?? prev.status,
    announced: prev.announced ?? prev.status !== 'healthy',
  };
}

/** The scheduled run: assess, publish metrics, send the pages and tickets that are due, remember. */
export async function runHealth(rt: Runtime, log: Logger): Promise<HealthRunReport> {
  const a = await assessChanged(rt);
  const carried = new Set(a.carried);
  const data = metricData(a.queues, a.at, metricQueues(rt.config.SPOOL_METRIC_QUEUES));
  const batches = chunk(data, MAX_DATA_PER_REQUEST);
  const { PutMetricDataCommand } = await import('@aws-sdk/client-cloudwatch');
  for (const b of batches) {
    await rt.aws.cloudwatch.send(
      new PutMetricDataCommand({ Namespace: rt.config.SPOOL_METRIC_NAMESPACE, MetricData: b }),
    );
  }

  const c = rt.config;
  const ctx = {
    deployment: c.SPOOL_DEPLOYMENT_NAME ?? `Spool (key prefix ${rt.spool.config.prefix})`,
    runbookBase: c.SPOOL_RUNBOOK_BASE_URL,
    at: a.at,
  };
  const topics = { page: c.SPOOL_ALERT_TOPIC_ARN, ticket: c.SPOOL_TICKET_TOPIC_ARN };
  const messages: HealthRunReport['messages'] = [];
  const remembered: LastRun['queues'] = {};
  for (const q of a.queues) {
    if (carried.has(q.queue)) {
      // Settled, empty, untouched: its record stands as it is (nothing to announce, nothing new to remember).
      remembered[q.queue] = a.last!.queues[q.queue]!;
      continue;
    }
    const mem = remember(memoryOf(a.last?.queues[q.queue], a.last?.at ?? a.at), q.status, a.at);
    const d = decide(q, mem, c.SPOOL_HEALTH_NOTIFY_AFTER_RUNS);
    if (d) {
      const entry = { queue: q.queue, from: mem.notified, to: q.status, route: d.route };
      if (d.route === 'dropped') {
        log.info('status not announced', { ...entry, why: d.why });
        mem.notified = q.status;
        mem.announced = false;
        messages.push(entry);
      } else {
        const { subject, message } = renderMessage(q, mem, d.route, ctx);
        try {
          const topic = topics[d.route];
          if (topic) {
            const { PublishCommand } = await import('@aws-sdk/client-sns');
            await rt.aws.sns.send(
              new PublishCommand({
                TopicArn: topic,
                Subject: subject,
                Message: message,
                MessageAttributes: {
                  queue: { DataType: 'String', StringValue: q.queue },
                  status: { DataType: 'String', StringValue: q.status },
                  severity: { DataType: 'String', StringValue: d.route },
                },
              }),
            );
          } else {
            log.warn(
              `no topic for ${d.route}s (SPOOL_${d.route === 'page' ? 'ALERT' : 'TICKET'}_TOPIC_ARN): not sent`,
              {
                queue: q.queue,
                subject,
              },
            );
          }
          mem.notified = q.status;
          mem.announced = q.status !== 'healthy';
          messages.push(entry);
          log.info('status announced', { ...entry, why: d.why, symptoms: q.symptoms.map((s) => s.check) });
        } catch (err) {
          // Remember nothing as announced: the next run sends it again.
          log.error('health message publish failed', {
            queue: q.queue,
            route: d.route,
            error: err instanceof Error ? err.message : String(err),
          });
        }
      }
    }
    remembered[q.queue] = { ...mem, snapshot: q.snapshot };
  }

  // Nothing looked at (every queue settled, empty and untouched): the last record stands, and the
  // history has nothing new to say. Otherwise the record keeps the queues still registered.
  if (carried.size < a.queues.length || a.last === null) {
    const lastKey = globalKey(rt.spool.config.prefix, 'healthLast');
    const historyKey = globalKey(rt.spool.config.prefix, 'healthHistory');
    const registered = new Set(a.carried.length > 0 ? await listQueues(rt.spool) : []);
    const kept = Object.fromEntries(
      Object.entries(remembered).filter(([queue]) => !carried.has(queue) || registered.has(queue)),
    );
    const last: LastRun = { at: a.at, status: a.status, queues: kept };
    const entry = {
      at: a.at,
      status: a.status,
      queues: Object.fromEntries(
        a.queues.map((q) => [
          q.queue,
          [
            q.status,
            q.snapshot.waiting,
            q.snapshot.dead,
            Math.floor(q.snapshot.oldestWaitingAgeMs / 1000),
            q.snapshot.leaseExpired,
          ],
        ]),
      ),
    };
    const redis = rt.spool.redis;
    await guard(() =>
      Promise.all([
        redis.set(lastKey, JSON.stringify(last)),
        redis.lpush(historyKey, JSON.stringify(entry)),
        redis.ltrim(historyKey, 0, rt.config.SPOOL_HEALTH_HISTORY - 1),
      ]),
    );
  }
  const report: HealthRunReport = {
    status: a.status,
    queues: a.queues.length,
    metrics: data.length,
    metricRequests: batches.length,
    messages,
  };
  log.info('health run done', { ...report });
  return report;
}

export async function readHistory(rt: Runtime, n: number): Promise<unknown[]> {
  const rows = await guard(() =>
    rt.spool.redis.lrange<unknown>(globalKey(rt.spool.config.prefix, 'healthHistory'), 0, n - 1),
  );
  return rows.map((r) => (typeof r === 'string' ? JSON.parse(r) : r));
}
