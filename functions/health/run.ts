/**
 * Health: a snapshot of every queue judged against the thresholds. The API (`GET /v1/health`) and the
 * scheduled run share `assess`; the scheduled run also publishes the metrics (every figure per queue
 * and fleet-wide, plus the heartbeat), alerts on status changes only, and keeps the last run and a
 * short history in Redis:
 *   <prefix>:health:last     (keys.ts healthLast) STRING JSON { at, status, queues: { <queue>: { status, snapshot } } }
 *   <prefix>:health:history  (keys.ts healthHistory) LIST of JSON { at, status, queues: { <queue>: [status, waiting, dead, oldestWaitingS, leaseExpired] } }, newest first, capped
 *
 * The CloudWatch and SNS modules are imported when the run publishes, not when the module loads:
 * the HTTP routes (and a cold start) never pay for them.
 */
import {
  alertMessage,
  deltasOf,
  evaluateQueue,
  type HealthStatus,
  type QueueHealth,
  thresholdsFrom,
  worst,
} from '../../shared/health/evaluate.js';
import { chunk, MAX_DATA_PER_REQUEST, metricData } from '../../shared/health/metrics.js';
import type { Logger } from '../../shared/log/logger.js';
import { globalKey } from '../../shared/queue/keys.js';
import { snapshot } from '../../shared/queue/ops/snapshot.js';
import type { QueueSnapshot } from '../../shared/queue/types.js';
import { guard } from '../../shared/redis/client.js';
import type { Runtime } from '../lib/runtime.js';

export interface LastRun {
  at: number;
  status: HealthStatus;
  queues: Record<string, { status: HealthStatus; snapshot: QueueSnapshot }>;
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
  const t = thresholdsFrom(rt.config);
  const queues = snaps.map((s) => evaluateQueue(s, deltasOf(s, last?.queues[s.queue]?.snapshot, last !== null), t));
  return { at: rt.clock(), status: worst(queues.map((q) => q.status)), queues, last };
}

export interface HealthRunReport {
  status: HealthStatus;
  queues: number;
  metrics: number;
  metricRequests: number;
  alerts: Array<{ queue: string; from: HealthStatus; to: HealthStatus }>;
}

/** The scheduled run: assess, publish metrics, alert on changes, remember. */
export async function runHealth(rt: Runtime, log: Logger): Promise<HealthRunReport> {
  const a = await assess(rt);
  const data = metricData(a.queues, a.at);
  const batches = chunk(data, MAX_DATA_PER_REQUEST);
  const { PutMetricDataCommand } = await import('@aws-sdk/client-cloudwatch');
  for (const b of batches) {
    await rt.aws.cloudwatch.send(
      new PutMetricDataCommand({ Namespace: rt.config.SPOOL_METRIC_NAMESPACE, MetricData: b }),
    );
  }

  const alerts: HealthRunReport['alerts'] = [];
  const remembered: LastRun['queues'] = {};
  for (const q of a.queues) {
    const before: HealthStatus = a.last?.queues[q.queue]?.status ?? 'healthy';
    let kept: HealthStatus = q.status;
    if (before !== q.status) {
      const { subject, message } = alertMessage(q, before, `Spool (${rt.spool.config.prefix})`);
      try {
        if (rt.config.SPOOL_ALERT_TOPIC_ARN) {
          const { PublishCommand } = await import('@aws-sdk/client-sns');
          await rt.aws.sns.send(
            new PublishCommand({
              TopicArn: rt.config.SPOOL_ALERT_TOPIC_ARN,
              Subject: subject,
              Message: message,
              MessageAttributes: {
                queue: { DataType: 'String', StringValue: q.queue },
                status: { DataType: 'String', StringValue: q.status },
              },
            }),
          );
        } else {
          log.warn('no SPOOL_ALERT_TOPIC_ARN: alert not sent', { queue: q.queue, subject });
        }
        alerts.push({ queue: q.queue, from: before, to: q.status });
        log.info('status changed', {
          queue: q.queue,
          from: before,
          to: q.status,
          symptoms: q.symptoms.map((s) => s.check),
        });
      } catch (err) {
        // Keep the old status so the next run alerts again.
        kept = before;
        log.error('alert publish failed', { queue: q.queue, error: err instanceof Error ? err.message : String(err) });
      }
    }
    remembered[q.queue] = { status: kept, snapshot: q.snapshot };
  }

  const lastKey = globalKey(rt.spool.config.prefix, 'healthLast');
  const historyKey = globalKey(rt.spool.config.prefix, 'healthHistory');
  const last: LastRun = { at: a.at, status: a.status, queues: remembered };
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
  const report: HealthRunReport = {
    status: a.status,
    queues: a.queues.length,
    metrics: data.length,
    metricRequests: batches.length,
    alerts,
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
