import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { createHealthHandler } from '../../functions/health/handler.js';
import type { HealthRunReport } from '../../functions/health/run.js';
import { METRICS } from '../../shared/metrics/names.js';
import { globalKey } from '../../shared/queue/keys.js';
import { lambdaContext, scheduledEvent } from '../helpers/fixtures.js';
import { testRuntime } from '../helpers/runtime.js';

const cw = mockClient(CloudWatchClient);
const sns = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:spool-alerts';
const TICKETS = 'arn:aws:sns:eu-west-1:123456789012:spool-tickets';

let now = 1_900_000_000_000;
const { rt, prefix } = await testRuntime(
  'health',
  {
    SPOOL_ALERT_TOPIC_ARN: TOPIC,
    SPOOL_TICKET_TOPIC_ARN: TICKETS,
    SPOOL_METRIC_QUEUES: '*',
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
    expect(r).toMatchObject({ status: 'healthy', queues: 0, metricRequests: 1, messages: [] });
    const calls = cw.commandCalls(PutMetricDataCommand);
    expect(calls).toHaveLength(1);
    const data = calls[0]!.args[0].input.MetricData!;
    expect(calls[0]!.args[0].input.Namespace).toBe('SpoolTest');
    expect(data).toHaveLength(17);
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
    expect(r).toMatchObject({ status: 'healthy', queues: 2, metrics: 16 * 3 + 1 });
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
      datum('OpenCircuitBreakers', 0, 'Count', 'mail'),
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

  it('keeps the last run and a history in Redis, newest first, one entry per run', async () => {
    const history = () => rt.spool.redis.lrange(globalKey(prefix, 'healthHistory'), 0, -1);
    const before = (await history()).length;
    now += 60_000;
    await run();
    const hist = await history();
    expect(hist).toHaveLength(before + 1);
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
    const data = metricData(fake, now, '*');
    expect(data).toHaveLength(70 * 16 + 17);
    expect(chunk(data, MAX_DATA_PER_REQUEST).map((c) => c.length)).toEqual([1000, 137]);
  });

  it('publishes per-queue metrics only for the queues of SPOOL_METRIC_QUEUES; fleet-wide ones cover all', async () => {
    const t = await fresh({ SPOOL_METRIC_QUEUES: 'named' });
    await t.rt.spool.enqueue('named', { handler: 'echo' });
    await t.rt.spool.enqueue('other', [{ handler: 'echo' }, { handler: 'echo' }]);
    const r = await t.run();
    expect(r).toMatchObject({ queues: 2, metrics: 16 + 16 + 1 });
    const data = cw.commandCalls(PutMetricDataCommand).at(-1)!.args[0].input.MetricData!;
    expect(new Set(data.filter((d) => d.Dimensions).map((d) => d.Dimensions![0]!.Value))).toEqual(new Set(['named']));
    expect(data.find((d) => d.MetricName === 'WaitingJobs' && !d.Dimensions)!.Value).toBe(3);
    // None named (a stack without context queues; also the default): fleet-wide figures and the heartbeat only.
    const none = await fresh();
    await none.rt.spool.enqueue('q', { handler: 'echo' });
    expect((await none.run()).metrics).toBe(17);
  });
});

/** A health function on its own prefix and clock, announcing after 3 runs (the default). */
async function fresh(env: Record<string, string> = {}) {
  const clock = { now: 1_900_000_000_000 };
  const t = await testRuntime(
    'health-notify',
    {
      SPOOL_ALERT_TOPIC_ARN: TOPIC,
      SPOOL_TICKET_TOPIC_ARN: TICKETS,
      SPOOL_DEPLOYMENT_NAME: 'Spool (account 123456789012, eu-west-1)',
      SPOOL_RUNBOOK_BASE_URL: 'https://wiki.example.com/spool/runbook',
      SPOOL_HEALTH_WAITING_DEGRADED: '2',
      SPOOL_HEALTH_WAITING_UNHEALTHY: '4',
      SPOOL_HEALTH_DEAD_DEGRADED: '100',
      SPOOL_HEALTH_DEAD_UNHEALTHY: '1',
      ...env,
    },
    { clock: () => clock.now },
  );
  const h = createHealthHandler(t.rt);
  /** One scheduled run, a minute after the previous one. */
  const run = async () => {
    clock.now += 60_000;
    return (await h(scheduledEvent('health'), lambdaContext(60_000, 'health'))) as HealthRunReport;
  };
  const published = () => sns.commandCalls(PublishCommand).map((c) => c.args[0].input);
  return { ...t, clock, run, published };
}

const echo = (n: number) => Array.from({ length: n }, () => ({ handler: 'echo' }));

describe('the health function’s own pages and tickets', () => {
  it('pages once a status has held 3 runs, saying what to do; then nothing; the recovery is a ticket', async () => {
    const t = await fresh();
    await t.rt.spool.enqueue('mail', echo(5));
    const start = t.clock.now + 60_000;
    expect((await t.run()).messages).toEqual([]);
    expect((await t.run()).messages).toEqual([]);
    expect(t.published()).toEqual([]);
    expect((await t.run()).messages).toEqual([{ queue: 'mail', from: 'healthy', to: 'unhealthy', route: 'page' }]);
    const [page] = t.published();
    expect(page!.TopicArn).toBe(TOPIC);
    expect(page!.Subject).toBe('PAGE queue mail is unhealthy - Spool (account 123456789012, eu-west-1)');
    expect(page!.Message).toBe(
      [
        'PAGE: queue mail is unhealthy',
        'Deployment: Spool (account 123456789012, eu-west-1)',
        'Queue: mail',
        `Status: unhealthy since ${new Date(start).toISOString()} (3 health runs, 2 min)`,
        'Symptoms:',
        '- UNHEALTHY: waiting jobs = 5 jobs (above 4 jobs)',
        '  Runbook: https://wiki.example.com/spool/runbook#waiting-backlog',
        '  Next: spool status; spool jobs ls mail --state waiting; if no worker runs (worker errors, throttles): awscurl --service execute-api --region "$AWS_REGION" -X POST "$API_URL/v1/queues/mail/drain"',
        'Figures: waiting 5, delayed 0, active 0, dead 0, lease expired 0, oldest waiting 180 s',
        'About these messages: https://wiki.example.com/spool/runbook#health-function-messages',
      ].join('\n'),
    );
    expect(page!.MessageAttributes).toEqual({
      queue: { DataType: 'String', StringValue: 'mail' },
      status: { DataType: 'String', StringValue: 'unhealthy' },
      severity: { DataType: 'String', StringValue: 'page' },
    });
    expect((await t.run()).messages).toEqual([]);

    const leased = (await t.rt.spool.lease('mail', { count: 100 })).jobs;
    await t.rt.spool.complete(
      'mail',
      leased.map((j) => ({ id: j.id, token: j.token })),
    );
    const healthyFrom = t.clock.now + 60_000;
    await t.run();
    await t.run();
    expect((await t.run()).messages).toEqual([{ queue: 'mail', from: 'unhealthy', to: 'healthy', route: 'ticket' }]);
    const recovery = t.published()[1]!;
    expect(recovery.TopicArn).toBe(TICKETS);
    expect(recovery.Message!.split('\n').slice(0, 5)).toEqual([
      'TICKET: queue mail recovered (was unhealthy)',
      'Deployment: Spool (account 123456789012, eu-west-1)',
      'Queue: mail',
      `Status: healthy since ${new Date(healthyFrom).toISOString()} (3 health runs, 2 min)`,
      'Symptoms: none; every figure is within its threshold',
    ]);
    expect(t.published()).toHaveLength(2);
  });

  it('announces nothing for a status that does not hold (a blip, a flapping queue)', async () => {
    const t = await fresh();
    await t.rt.spool.enqueue('blip', echo(5));
    await t.run();
    await t.run();
    const leased = (await t.rt.spool.lease('blip', { count: 100 })).jobs;
    await t.rt.spool.complete(
      'blip',
      leased.map((j) => ({ id: j.id, token: j.token })),
    );
    for (let i = 0; i < 4; i++) expect((await t.run()).messages).toEqual([]);
    expect(t.published()).toEqual([]);
  });

  it('tickets a degraded queue, never pages it', async () => {
    const t = await fresh();
    await t.rt.spool.enqueue('slow', echo(3));
    await t.run();
    await t.run();
    expect((await t.run()).messages).toEqual([{ queue: 'slow', from: 'healthy', to: 'degraded', route: 'ticket' }]);
    const [m] = t.published();
    expect(m!.TopicArn).toBe(TICKETS);
    expect(m!.Message).toContain('- DEGRADED: waiting jobs = 3 jobs (above 2 jobs)');
    expect(m!.Subject).toMatch(/^TICKET queue slow is degraded/);
  });

  it('drops the page where an alarm pages for the same symptom (oldest waiting age), and tickets what alarms ticket (dead)', async () => {
    const t = await fresh({
      SPOOL_HEALTH_OLDEST_WAITING_UNHEALTHY_MS: '60000',
      SPOOL_HEALTH_OLDEST_WAITING_DEGRADED_MS: '30000',
    });
    await t.rt.spool.enqueue('old', echo(5));
    await t.run();
    await t.run();
    const r = await t.run();
    expect(r.messages).toEqual([{ queue: 'old', from: 'healthy', to: 'unhealthy', route: 'dropped' }]);
    expect(t.published()).toEqual([]);
    // Unhealthy from the dead stock alone: the dead-jobs ticket's business, so a ticket.
    const d = await fresh();
    await d.rt.spool.enqueue('deadq', echo(2));
    const leased = (await d.rt.spool.lease('deadq', { count: 2 })).jobs;
    await d.rt.spool.fail(
      'deadq',
      leased.map((j) => ({ id: j.id, token: j.token, error: { message: 'no', retryable: false } })),
    );
    await d.run();
    await d.run();
    expect((await d.run()).messages).toEqual([{ queue: 'deadq', from: 'healthy', to: 'unhealthy', route: 'ticket' }]);
    expect(d.published()[0]!.TopicArn).toBe(TICKETS);
    expect(d.published()[0]!.Message).toContain('- UNHEALTHY: dead jobs = 2 jobs (above 1 jobs)');
  });

  it('DLQ trimming is a one-run degraded symptom with DeadTrimmed as a delta: the dlq-trimmed alarm pages it', async () => {
    const t = await fresh({ SPOOL_DEAD_CAP: '2', SPOOL_HEALTH_DEAD_UNHEALTHY: '100', SPOOL_METRIC_QUEUES: 'trim' });
    await t.run(); // deltas count from a previous run
    await t.rt.spool.enqueue('trim', echo(3));
    const leased = (await t.rt.spool.lease('trim', { count: 3 })).jobs;
    await t.rt.spool.fail(
      'trim',
      leased.map((j) => ({ id: j.id, token: j.token, error: { message: 'no', retryable: false } })),
    );
    await t.run();
    const data = cw.commandCalls(PutMetricDataCommand).at(-1)!.args[0].input.MetricData!;
    expect(data.find((d) => d.MetricName === 'DeadTrimmed' && d.Dimensions?.[0]?.Value === 'trim')!.Value).toBe(1);
    expect(data.find((d) => d.MetricName === 'DeadTrimmed' && !d.Dimensions)!.Value).toBe(1);
    // Next run: nothing trimmed since, so not degraded any more; it never held, nothing was sent.
    expect((await t.run()).status).toBe('healthy');
    await t.run();
    expect(t.published()).toEqual([]);
  });

  it('a failed SNS publish is sent again by the next run', async () => {
    const t = await fresh();
    sns.on(PublishCommand).rejects(new Error('throttled'));
    await t.rt.spool.enqueue('flap', echo(5));
    await t.run();
    await t.run();
    expect((await t.run()).messages).toEqual([]);
    sns.on(PublishCommand).resolves({ MessageId: 'm-2' });
    expect((await t.run()).messages).toEqual([{ queue: 'flap', from: 'healthy', to: 'unhealthy', route: 'page' }]);
    expect((await t.run()).messages).toEqual([]);
  });
});

describe('the scheduled run looks only at queues that may have changed (issue 14, item 4)', () => {
  it('an empty, settled, untouched queue is not read; its figures are still published; an idle run writes nothing', async () => {
    const t = await fresh({ SPOOL_METRIC_QUEUES: '*' });
    await t.rt.spool.enqueue('quiet', { handler: 'echo' });
    const { jobs } = await t.rt.spool.lease('quiet', { count: 1 });
    await t.rt.spool.complete(
      'quiet',
      jobs.map((j) => ({ id: j.id, token: j.token })),
    );
    // retention: the completed job leaves (purge)
    t.clock.now += 2 * 3_600_000;
    await t.rt.spool.purge('quiet');
    await t.rt.spool.enqueue('busy', [{ handler: 'echo' }, { handler: 'echo' }]);
    await t.run();
    const lastKey = globalKey(t.prefix, 'healthLast');
    const historyKey = globalKey(t.prefix, 'healthHistory');
    const snaps = vi.spyOn(t.rt.spool, 'run');
    // busy has jobs: looked at every run; quiet is empty, healthy and untouched: its record stands
    const r = await t.run();
    expect(r.queues).toBe(2);
    expect(snaps.mock.calls.map(([def, q]) => `${def.name}:${q}`)).toEqual(['snapshot:busy']);
    const data = cw.commandCalls(PutMetricDataCommand).at(-1)!.args[0].input.MetricData!;
    expect(data.find((d) => d.MetricName === 'WaitingJobs' && d.Dimensions?.[0]?.Value === 'quiet')!.Value).toBe(0);
    expect(data.find((d) => d.MetricName === 'WaitingJobs' && d.Dimensions?.[0]?.Value === 'busy')!.Value).toBe(2);
    // busy drained and purged: once settled (healthy, announced nothing), nothing is read or written
    const held = await t.rt.spool.lease('busy', { count: 2 });
    await t.rt.spool.complete(
      'busy',
      held.jobs.map((j) => ({ id: j.id, token: j.token })),
    );
    t.clock.now += 2 * 3_600_000;
    await t.rt.spool.purge('busy');
    await t.run();
    await t.run();
    snaps.mockClear();
    const before = [await t.rt.spool.redis.get(lastKey), await t.rt.spool.redis.llen(historyKey)];
    const idle = await t.run();
    expect(idle).toMatchObject({ status: 'healthy', queues: 2, messages: [] });
    expect(snaps).not.toHaveBeenCalled();
    expect([await t.rt.spool.redis.get(lastKey), await t.rt.spool.redis.llen(historyKey)]).toEqual(before);
    // an enqueue touches the queue: the next run looks at it again
    await t.rt.spool.enqueue('quiet', { handler: 'echo' });
    snaps.mockClear();
    await t.run();
    expect(snaps.mock.calls.map(([def, q]) => `${def.name}:${q}`)).toEqual(['snapshot:quiet']);
    snaps.mockRestore();
  });

  it('an empty queue that is paused is looked at every run, so a long pause still tickets', async () => {
    const t = await fresh({ SPOOL_HEALTH_PAUSED_DEGRADED_MS: '120000' });
    await t.rt.spool.enqueue('held', { handler: 'echo' });
    await t.rt.spool.cancel('held', (await t.rt.spool.list('held', 'waiting')).jobs[0]!.id);
    for (let i = 0; i < 3; i++) await t.run();
    const snaps = vi.spyOn(t.rt.spool, 'run');
    await t.run();
    expect(snaps.mock.calls.filter(([def]) => def.name === 'snapshot')).toEqual([]);
    await t.rt.spool.putSettings('held', { paused: true });
    const messages = [];
    for (let i = 0; i < 6; i++) messages.push(...(await t.run()).messages);
    expect(snaps.mock.calls.filter(([def]) => def.name === 'snapshot').length).toBeGreaterThanOrEqual(6);
    expect(messages).toEqual([{ queue: 'held', from: 'healthy', to: 'degraded', route: 'ticket' }]);
    snaps.mockRestore();
  });
});
