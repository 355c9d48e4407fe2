import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createHealthHandler } from '../../functions/health/handler.js';
import type { HealthRunReport } from '../../functions/health/run.js';
import { METRICS } from '../../shared/metrics/names.js';
import { globalKey } from '../../shared/queue/keys.js';
import { lambdaContext, scheduledEvent } from '../helpers/fixtures.js';
import { testRuntime } from '../helpers/runtime.js';

const cw = mockClient(CloudWatchClient);
const sns = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:spool-alerts';

let now = 1_900_000_000_000;
const { rt, prefix } = await testRuntime(
  'health',
  {
    SPOOL_ALERT_TOPIC_ARN: TOPIC,
    SPOOL_METRIC_NAMESPACE: 'SpoolTest',
    SPOOL_HEALTH_WAITING_DEGRADED: '2',
    SPOOL_HEALTH_WAITING_UNHEALTHY: '4',
    SPOOL_DEAD_CAP: '2',
  },
  { clock: () => now },
);
const health = createHealthHandler(rt);
const run = async () => (await health(scheduledEvent('health'), lambdaContext(60_000, 'health'))) as HealthRunReport;

const datum = (name: string, value: number, unit: string, queue?: string) => ({
  MetricName: name,
  Value: value,
  Unit: unit,
  Timestamp: new Date(now),
  ...(queue ? { Dimensions: [{ Name: 'Queue', Value: queue }] } : {}),
});

beforeEach(() => {
  cw.reset();
  sns.reset();
  cw.on(PutMetricDataCommand).resolves({});
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
});

describe('scheduled health run', () => {
  it('with no queue: fleet figures of zero and the heartbeat, no alert', async () => {
    const r = await run();
    expect(r).toMatchObject({ status: 'healthy', queues: 0, metricRequests: 1, alerts: [] });
    const calls = cw.commandCalls(PutMetricDataCommand);
    expect(calls).toHaveLength(1);
    const data = calls[0]!.args[0].input.MetricData!;
    expect(calls[0]!.args[0].input.Namespace).toBe('SpoolTest');
    expect(data).toHaveLength(16);
    expect(data.find((d) => d.MetricName === METRICS.heartbeat)).toEqual(datum('HealthHeartbeat', 1, 'Count'));
    expect(data.every((d) => !d.Dimensions)).toBe(true);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
  });

  it('publishes every figure per queue and fleet-wide, exactly; deltas since the previous run', async () => {
    now += 60_000;
    await rt.spool.enqueue('mail', [{ handler: 'echo' }, { handler: 'echo' }, { handler: 'echo' }]);
    const leased = (await rt.spool.lease('mail', { count: 1 })).jobs;
    await rt.spool.complete(
      'mail',
      leased.map((j) => ({ id: j.id, token: j.token })),
    );
    await rt.spool.enqueue('sms', { handler: 'echo' });
    now += 30_000;
    const r = await run();
    expect(r).toMatchObject({ status: 'healthy', queues: 2, metrics: 15 * 3 + 1 });
    const data = cw.commandCalls(PutMetricDataCommand)[0]!.args[0].input.MetricData!;
    const mail = data.filter((d) => d.Dimensions?.[0]?.Value === 'mail');
    expect(mail).toEqual([
      datum('Status', 0, 'None', 'mail'),
      datum('WaitingJobs', 2, 'Count', 'mail'),
      datum('DelayedJobs', 0, 'Count', 'mail'),
      datum('ActiveJobs', 0, 'Count', 'mail'),
      datum('CompletedJobs', 1, 'Count', 'mail'),
      datum('DeadJobs', 0, 'Count', 'mail'),
      datum('OldestWaitingAgeSeconds', 30, 'Seconds', 'mail'),
      datum('OldestDeadAgeSeconds', 0, 'Seconds', 'mail'),
      datum('LeaseExpiredJobs', 0, 'Count', 'mail'),
      datum('DeadTrimmed', 0, 'Count', 'mail'),
      datum('JobsEnqueued', 3, 'Count', 'mail'),
      datum('JobsCompleted', 1, 'Count', 'mail'),
      datum('JobsFailed', 0, 'Count', 'mail'),
      datum('JobsRetried', 0, 'Count', 'mail'),
      datum('JobsDead', 0, 'Count', 'mail'),
    ]);
    const fleet = data.filter((d) => !d.Dimensions);
    expect(fleet.find((d) => d.MetricName === 'WaitingJobs')!.Value).toBe(3);
    expect(fleet.find((d) => d.MetricName === 'JobsEnqueued')!.Value).toBe(4);
    expect(fleet.find((d) => d.MetricName === 'OldestWaitingAgeSeconds')!.Value).toBe(30);
    expect(fleet.find((d) => d.MetricName === 'Status')!.Value).toBe(0);
    // No status changed (both healthy: waiting 2 is not over 2): nothing published.
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
    // The next run: deltas are zero.
    now += 60_000;
    await run();
    const again = cw.commandCalls(PutMetricDataCommand).at(-1)!.args[0].input.MetricData!;
    expect(again.find((d) => d.MetricName === 'JobsEnqueued' && !d.Dimensions)!.Value).toBe(0);
  });

  it('alerts once on a status change with queue, symptom, value, threshold and runbook step; then nothing; then the recovery', async () => {
    await rt.spool.enqueue('mail', [{ handler: 'echo' }, { handler: 'echo' }, { handler: 'echo' }]);
    now += 60_000;
    const r = await run();
    expect(r.alerts).toEqual([{ queue: 'mail', from: 'healthy', to: 'unhealthy' }]);
    const pubs = sns.commandCalls(PublishCommand);
    expect(pubs).toHaveLength(1);
    const input = pubs[0]!.args[0].input;
    expect(input.TopicArn).toBe(TOPIC);
    expect(input.Subject).toBe(`Spool (${prefix}): queue mail is UNHEALTHY (was healthy)`);
    expect(input.Message).toContain('Queue: mail');
    expect(input.Message).toContain('- UNHEALTHY: waiting jobs = 5 jobs (above 4 jobs)');
    expect(input.Message).toContain('Runbook: docs/runbook.md#queue-unhealthy');
    expect(input.Message).toContain('Next step: check that workers run');
    expect(input.MessageAttributes).toEqual({
      queue: { DataType: 'String', StringValue: 'mail' },
      status: { DataType: 'String', StringValue: 'unhealthy' },
    });

    now += 60_000;
    expect((await run()).alerts).toEqual([]);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);

    const leased = (await rt.spool.lease('mail', { count: 100 })).jobs;
    await rt.spool.complete(
      'mail',
      leased.map((j) => ({ id: j.id, token: j.token })),
    );
    now += 60_000;
    expect((await run()).alerts).toEqual([{ queue: 'mail', from: 'unhealthy', to: 'healthy' }]);
    const rec = sns.commandCalls(PublishCommand)[1]!.args[0].input;
    expect(rec.Subject).toContain('is HEALTHY (was unhealthy)');
    expect(rec.Message).toContain('recovered');
  });

  it('DLQ trimming since the previous run is degraded, with DeadTrimmed as a delta', async () => {
    await rt.spool.enqueue('trim', [{ handler: 'x' }, { handler: 'x' }, { handler: 'x' }]);
    const leased = (await rt.spool.lease('trim', { count: 3 })).jobs;
    await rt.spool.fail(
      'trim',
      leased.map((j) => ({ id: j.id, token: j.token, error: { message: 'no', retryable: false } })),
    );
    now += 60_000;
    const r = await run();
    expect(r.alerts).toContainEqual({ queue: 'trim', from: 'healthy', to: 'degraded' });
    const data = cw.commandCalls(PutMetricDataCommand)[0]!.args[0].input.MetricData!;
    expect(data.find((d) => d.MetricName === 'DeadTrimmed' && d.Dimensions?.[0]?.Value === 'trim')!.Value).toBe(1);
    const msg = sns.commandCalls(PublishCommand).find((c) => c.args[0].input.Subject!.includes('trim'))!.args[0].input
      .Message!;
    expect(msg).toContain('dead jobs trimmed from the DLQ since the previous check = 1 jobs (above 0 jobs)');
    expect(msg).toContain('docs/runbook.md#dlq-trimmed');
  });

  it('a failed SNS publish keeps the old status so the next run alerts again', async () => {
    sns.on(PublishCommand).rejects(new Error('throttled'));
    await rt.spool.enqueue(
      'flap',
      Array.from({ length: 5 }, () => ({ handler: 'echo' })),
    );
    now += 60_000;
    expect((await run()).alerts.find((a) => a.queue === 'flap')).toBeUndefined();
    sns.on(PublishCommand).resolves({ MessageId: 'm-2' });
    now += 60_000;
    expect((await run()).alerts).toContainEqual({ queue: 'flap', from: 'healthy', to: 'unhealthy' });
  });

  it('keeps the last run and a capped history in Redis, shown by GET /v1/health?history=', async () => {
    const hist = await rt.spool.redis.lrange(globalKey(prefix, 'healthHistory'), 0, -1);
    expect(hist.length).toBeGreaterThan(3);
    expect(hist[0]).toMatchObject({ at: now, status: expect.any(String), queues: expect.any(Object) });
  });

  it('batches PutMetricData within the API limit (1,000 metrics per request)', async () => {
    const { metricData, chunk, MAX_DATA_PER_REQUEST } = await import('../../shared/health/metrics.js');
    const fake = Array.from({ length: 70 }, (_, i) => ({
      queue: `q${i}`,
      status: 'healthy' as const,
      symptoms: [],
      snapshot: {
        queue: `q${i}`,
        at: now,
        waiting: 0,
        delayed: 0,
        active: 0,
        completed: 0,
        dead: 0,
        oldestWaitingAgeMs: 0,
        leaseExpired: 0,
        oldestDeadAgeMs: 0,
        counters: {} as never,
      },
      deltas: { enqueued: 0, completed: 0, failed: 0, retried: 0, dead: 0, deadTrimmed: 0 },
    }));
    const data = metricData(fake, now);
    expect(data).toHaveLength(70 * 15 + 16);
    expect(chunk(data, MAX_DATA_PER_REQUEST).map((c) => c.length)).toEqual([1000, 66]);
  });
});
