/**
 * Pages and tickets (infra/constructs/monitoring.ts): each alarm's topic and severity, one composite
 * page per named queue, the runbook URLs, and each alarm's text as it reads once deployed.
 */
import * as path from 'node:path';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_NAMES, type FunctionName } from '../../functions/routes.js';
import { SCHEDULE_FIRED_NO_JOB } from '../../functions/scheduler/run.js';
import { API_METRICS, DASHBOARD_WIDGETS, HEALTH_ROUTE_KEY } from '../../infra/constructs/monitoring.js';
import { RESOURCES_PER_QUEUE } from '../../infra/spool.js';
import { REPO_ROOT, type SpoolStack } from '../../infra/stack.js';
import { RUNBOOK_FILE } from '../../shared/health/runbook.js';
import { LOG_METRICS, METRICS, QUEUE_DIMENSION } from '../../shared/metrics/names.js';
import { markdownAnchors } from '../helpers/markdown.js';
import { PAGED, renderCfn, type Synthesized, synthSpool } from '../helpers/synth.js';

type Json = Record<string, any>;

const BASE = 'https://wiki.example.com/spool/runbook';
const ANCHORS = markdownAnchors(path.join(REPO_ROOT, RUNBOOK_FILE));

interface AnyAlarm {
  id: string;
  type: 'metric' | 'composite';
  name: string;
  p: Json;
  /** The description as it reads once deployed (account 123456789012, eu-west-1). */
  text: string;
}

function allAlarms(t: Template): AnyAlarm[] {
  const out: AnyAlarm[] = [];
  for (const [type, kind] of [
    ['AWS::CloudWatch::Alarm', 'metric'],
    ['AWS::CloudWatch::CompositeAlarm', 'composite'],
  ] as const) {
    for (const [id, r] of Object.entries(t.findResources(type)) as Array<[string, Json]>) {
      const p = r.Properties as Json;
      out.push({
        id,
        type: kind,
        name: kind === 'metric' ? p.AlarmName : p.AlarmName,
        p,
        text: renderCfn(p.AlarmDescription),
      });
    }
  }
  return out;
}

const refOf = (s: SpoolStack, c: { node: { defaultChild?: unknown } }): string =>
  s.getLogicalId(c.node.defaultChild as import('aws-cdk-lib').CfnElement);
const fnId = (s: SpoolStack, fn: FunctionName) => refOf(s, s.spool.functions[fn]);

/** Names a composite's rule refers to: ALARM("name") OR ... */
const ruleNames = (a: AnyAlarm): string[] =>
  [...renderCfn(a.p.AlarmRule).matchAll(/ALARM\("([^"]+)"\)/g)].map((m) => m[1]!);

/** Classifies every alarm by its actions: page (ALARM to the page topic), ticket, or neither. */
function severityOf(a: AnyAlarm, page: string, ticket: string): 'page' | 'ticket' | 'none' {
  const alarm = (a.p.AlarmActions ?? []).map(renderCfn);
  const ok = (a.p.OKActions ?? []).map(renderCfn);
  if (alarm.length === 0 && ok.length === 0) return 'none';
  if (JSON.stringify(alarm) === JSON.stringify([page]) && JSON.stringify(ok) === JSON.stringify([ticket]))
    return 'page';
  if (JSON.stringify(alarm) === JSON.stringify([ticket]) && JSON.stringify(ok) === JSON.stringify([ticket]))
    return 'ticket';
  throw new Error(`${a.name}: unexpected actions ${JSON.stringify({ alarm, ok })}`);
}

function topics(s: Synthesized) {
  return {
    page: renderCfn(s.stack.resolve(s.stack.spool.alertTopic.topicArn)),
    ticket: renderCfn(s.stack.resolve(s.stack.spool.ticketTopic.topicArn)),
  };
}

describe('pages and tickets, two named queues', () => {
  let s: Synthesized;
  let all: AnyAlarm[];
  let byName: Map<string, AnyAlarm>;
  let sev: (a: AnyAlarm) => 'page' | 'ticket' | 'none';
  beforeAll(() => {
    s = synthSpool({ ...PAGED, queues: 'emails,reports', runbookBaseUrl: BASE });
    all = allAlarms(s.template);
    byName = new Map(all.map((a) => [a.name, a]));
    const t = topics(s);
    sev = (a) => severityOf(a, t.page, t.ticket);
  });
  afterAll(() => s?.cleanup());

  it('pages only through composites: one for the deployment, one for all queues, one per named queue', () => {
    const pages = all.filter((a) => sev(a) === 'page');
    expect(pages.every((a) => a.type === 'composite')).toBe(true);
    expect(pages.map((a) => a.name).sort()).toEqual([
      'Spool-page-deployment',
      'Spool-page-queue-emails',
      'Spool-page-queue-reports',
      'Spool-page-queues',
    ]);
  });

  it('gives each page symptom to exactly one composite, and no action of its own', () => {
    const children = all.filter((a) => a.type === 'metric' && sev(a) === 'none');
    const composites = all.filter((a) => a.type === 'composite');
    for (const c of children) {
      const parents = composites.filter((p) => ruleNames(p).includes(c.name) && sev(p) === 'page');
      expect(
        parents.map((p) => p.name),
        c.name,
      ).toHaveLength(1);
      expect(c.text, c.name).toMatch(new RegExp(`^PAGE through ${parents[0]!.name}: `));
    }
    expect(children.map((c) => c.name).sort()).toEqual(
      [
        'Spool-health-heartbeat-missing',
        'Spool-api-5xx-rate',
        'Spool-worker-error-rate',
        ...['', '-emails', '-reports'].flatMap((q) => [
          `Spool-oldest-waiting-age${q}`,
          `Spool-new-dead-jobs${q}`,
          `Spool-dlq-trimmed${q}`,
        ]),
      ].sort(),
    );
  });

  it('has one composite per named queue over that queue’s three symptoms, quiet while the deployment pages', () => {
    const deploymentArn = renderCfn(s.stack.resolve(s.stack.spool.monitoring.deploymentPage.alarmArn));
    for (const q of ['emails', 'reports']) {
      const page = byName.get(`Spool-page-queue-${q}`)!;
      expect(ruleNames(page)).toEqual([
        `Spool-oldest-waiting-age-${q}`,
        `Spool-new-dead-jobs-${q}`,
        `Spool-dlq-trimmed-${q}`,
      ]);
      for (const child of ruleNames(page)) {
        expect(byName.get(child)!.p.Dimensions, child).toEqual([{ Name: QUEUE_DIMENSION, Value: q }]);
        // The composite waits for its children: they exist before it does.
        expect(s.template.toJSON().Resources[page.id].DependsOn).toContain(byName.get(child)!.id);
      }
      expect(renderCfn(page.p.ActionsSuppressor)).toBe(deploymentArn);
      expect(page.p).toMatchObject({ ActionsSuppressorWaitPeriod: 120, ActionsSuppressorExtensionPeriod: 600 });
    }
    // All queues: the fleet-wide figures, quiet while the deployment or a named queue pages.
    const fleet = byName.get('Spool-page-queues')!;
    expect(ruleNames(fleet)).toEqual(['Spool-oldest-waiting-age', 'Spool-new-dead-jobs', 'Spool-dlq-trimmed']);
    for (const child of ruleNames(fleet)) expect(byName.get(child)!.p.Dimensions, child).toBeUndefined();
    const suppressor = byName.get('Spool-paging-deployment-or-named-queue')!;
    expect(renderCfn(fleet.p.ActionsSuppressor)).toBe(`<${suppressor.id}.Arn>`);
    expect(ruleNames(suppressor)).toEqual([
      'Spool-page-deployment',
      'Spool-page-queue-emails',
      'Spool-page-queue-reports',
    ]);
    expect(sev(suppressor)).toBe('none');
    expect(ruleNames(byName.get('Spool-page-deployment')!)).toEqual([
      'Spool-health-heartbeat-missing',
      'Spool-api-5xx-rate',
      'Spool-worker-error-rate',
    ]);
  });

  it('tickets everything else, fleet-wide: dead stock, expired leases, function troubles, failed worker invocations, timers and schedule timers, fires without a job', () => {
    const tickets = all.filter((a) => sev(a) === 'ticket');
    expect(tickets.every((a) => a.type === 'metric')).toBe(true);
    expect(tickets.map((a) => a.name).sort()).toEqual(
      [
        'Spool-dead-jobs',
        'Spool-lease-expired',
        'Spool-worker-async-failures',
        'Spool-timer-failures',
        'Spool-schedule-timer-failures',
        'Spool-schedule-fires-without-job',
        ...FUNCTION_NAMES.flatMap((fn) => [
          ...(fn === 'worker' ? [] : [`Spool-${fn}-errors`]),
          `Spool-${fn}-throttles`,
          `Spool-${fn}-duration-near-timeout`,
        ]),
      ].sort(),
    );
    // No ticket is per queue: per-queue alarms are pages (and cost one composite per queue).
    for (const t of tickets)
      expect(
        (t.p.Dimensions ?? []).map((d: Json) => d.Name),
        t.name,
      ).not.toContain(QUEUE_DIMENSION);
    // The dead stock is a ticket; new dead letters (a rate) page.
    expect(byName.get('Spool-dead-jobs')!.p).toMatchObject({ MetricName: METRICS.dead, Threshold: 0 });
  });

  it('pages on new dead letters as a rate over a window, never on the dead stock', () => {
    for (const q of [undefined, 'emails', 'reports']) {
      const a = byName.get(`Spool-new-dead-jobs${q ? `-${q}` : ''}`)!;
      expect(a.p).toMatchObject({
        MetricName: METRICS.deadDelta,
        Statistic: 'Sum',
        Period: 15 * 60,
        Threshold: 10,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
    }
    const pageChildren = all.filter((a) => a.type === 'metric' && sev(a) === 'none');
    expect(pageChildren.filter((a) => a.p.MetricName === METRICS.dead)).toEqual([]);
  });

  it('watches silence only through the heartbeat, and holds scheduled functions’ errors until a run succeeds', () => {
    const breaching = all.filter((a) => a.p.TreatMissingData === 'breaching');
    expect(breaching.map((a) => a.name)).toEqual(['Spool-health-heartbeat-missing']);
    expect(breaching[0]!.p).toMatchObject({
      MetricName: METRICS.heartbeat,
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 2,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
    });
    // A purge failing every hour stays in ALARM (no hourly flap); the API functions' errors do not linger.
    expect(byName.get('Spool-purge-errors')!.p.TreatMissingData).toBe('ignore');
    expect(byName.get('Spool-health-errors')!.p.TreatMissingData).toBe('ignore');
    expect(byName.get('Spool-scheduler-errors')!.p.TreatMissingData).toBe('ignore');
    expect(byName.get('Spool-enqueue-errors')!.p.TreatMissingData).toBe('notBreaching');
  });

  it('pages on the API 5xx rate from the access logs, GET /v1/health excluded, with a minimum request count', () => {
    const accessLogs = refOf(s.stack, s.stack.spool.api.accessLogs);
    const filters = (Object.values(s.template.findResources('AWS::Logs::MetricFilter')) as Json[]).filter(
      (f) => f.Properties.LogGroupName.Ref === accessLogs,
    );
    expect(
      filters.map((f) => ({
        logGroup: f.Properties.LogGroupName.Ref,
        pattern: f.Properties.FilterPattern,
        metric: f.Properties.MetricTransformations[0].MetricName,
        value: f.Properties.MetricTransformations[0].MetricValue,
        dflt: f.Properties.MetricTransformations[0].DefaultValue,
      })),
    ).toEqual([
      {
        logGroup: accessLogs,
        pattern: `{ $.routeKey != "${HEALTH_ROUTE_KEY}" }`,
        metric: API_METRICS.requests,
        value: '1',
        dflt: 0,
      },
      {
        logGroup: accessLogs,
        pattern: `{ ($.status >= 500) && ($.routeKey != "${HEALTH_ROUTE_KEY}") }`,
        metric: API_METRICS.serverErrors,
        value: '1',
        dflt: 0,
      },
    ]);
    const api = byName.get('Spool-api-5xx-rate')!;
    const expr = (api.p.Metrics as Json[]).find((m) => m.Expression)!;
    expect(expr.Expression).toBe('IF(requests >= 20, 100 * errors / requests, 0)');
    expect(
      (api.p.Metrics as Json[])
        .filter((m) => m.MetricStat)
        .map((m) => [m.Id, m.MetricStat.Metric.MetricName])
        .sort(),
    ).toEqual([
      ['errors', API_METRICS.serverErrors],
      ['requests', API_METRICS.requests],
    ]);
    expect(api.p).toMatchObject({ Threshold: 5, EvaluationPeriods: 2, DatapointsToAlarm: 2 });
  });

  it('pages on the worker’s error RATE, 2 of 3 periods; the other functions’ errors are tickets', () => {
    const w = byName.get('Spool-worker-error-rate')!;
    expect((w.p.Metrics as Json[]).find((m) => m.Expression)!.Expression).toBe(
      'IF(invocations > 0, 100 * errors / invocations, 0)',
    );
    const dims = (w.p.Metrics as Json[])
      .filter((m) => m.MetricStat)
      .map((m) => m.MetricStat.Metric.Dimensions[0].Value.Ref);
    expect(dims).toEqual([fnId(s.stack, 'worker'), fnId(s.stack, 'worker')]);
    expect(w.p).toMatchObject({ Threshold: 10, EvaluationPeriods: 3, DatapointsToAlarm: 2 });
  });

  it('links every alarm to <runbookBaseUrl>#<a section the runbook has>', () => {
    for (const a of all) {
      const line = a.text.split('\n').find((l) => l.startsWith('Runbook: '));
      expect(line, a.name).toBeDefined();
      const urls = line!.slice('Runbook: '.length).split(' ');
      expect(urls.length, a.name).toBeGreaterThan(0);
      for (const u of urls) {
        expect(u.startsWith(`${BASE}#`), `${a.name}: ${u}`).toBe(true);
        expect(ANCHORS.has(u.slice(BASE.length + 1)), `${a.name}: ${u}`).toBe(true);
      }
    }
  });

  it('says in every alarm the severity, the deployment, the symptom, the next step (filled) and fits CloudWatch', () => {
    for (const a of all) {
      const lines = a.text.split('\n');
      expect(lines[0], a.name).toMatch(/^(PAGE|PAGE through Spool-page-[a-z-]+|TICKET|NOT A PAGE): \S/);
      expect(lines).toContain('Deployment: Spool (account 123456789012, eu-west-1)');
      expect(
        lines.some((l) => l.startsWith('Symptom: ')),
        a.name,
      ).toBe(true);
      expect(
        lines.some((l) => l.startsWith('Next: ')),
        a.name,
      ).toBe(true);
      expect(a.text, a.name).not.toMatch(/[{}<>]/);
      // CloudWatch takes at most 1,024 characters (with the longest region name, still inside).
      expect(a.text.replace('eu-west-1', 'ap-southeast-2').length, a.name).toBeLessThanOrEqual(1024);
    }
  });

  it('renders the page of a named queue, and its oldest-waiting-age symptom, word for word', () => {
    expect(byName.get('Spool-page-queue-emails')!.text).toBe(
      [
        'PAGE: queue emails needs someone now',
        'Deployment: Spool (account 123456789012, eu-west-1)',
        'Queue: emails',
        'Symptom: one of: oldest waiting job above 900 s; more than 10 jobs dead within 15 minutes; the DLQ cap removed dead jobs (NewStateReason names which)',
        'Value and since: NewStateReason and StateChangeTime of this notification',
        'Next: spool status; spool dlq ls emails; then the runbook section of the alarm that fired',
        `Runbook: ${BASE}#oldest-waiting-age ${BASE}#new-dead-jobs ${BASE}#dlq-trimmed`,
      ].join('\n'),
    );
    expect(byName.get('Spool-oldest-waiting-age-emails')!.text).toBe(
      [
        'PAGE through Spool-page-queue-emails: jobs wait too long (emails)',
        'Deployment: Spool (account 123456789012, eu-west-1)',
        'Queue: emails',
        'Symptom: OldestWaitingAgeSeconds maximum above 900 s over 5 minutes: a job has waited longer than that without being leased',
        'Value and since: NewStateReason and StateChangeTime of this notification',
        'Next: spool status; check the worker runs (errors, throttles) and the targets answer; then awscurl --service execute-api --region "$AWS_REGION" -X POST "$API_URL/v1/queues/emails/drain"',
        `Runbook: ${BASE}#oldest-waiting-age`,
      ].join('\n'),
    );
  });

  it('renders the all-queues page, the deployment page and a ticket word for word', () => {
    expect(byName.get('Spool-page-queues')!.text).toBe(
      [
        'PAGE: a queue needs someone now',
        'Deployment: Spool (account 123456789012, eu-west-1)',
        'Queue: every queue (fleet-wide)',
        'Symptom: one of: oldest waiting job above 900 s; more than 10 jobs dead within 15 minutes; the DLQ cap removed dead jobs (NewStateReason names which). Quiet while a named queue pages',
        'Value and since: NewStateReason and StateChangeTime of this notification',
        'Next: spool status names the queue; then the runbook section of the alarm that fired, with that queue',
        `Runbook: ${BASE}#oldest-waiting-age ${BASE}#new-dead-jobs ${BASE}#dlq-trimmed`,
      ].join('\n'),
    );
    expect(byName.get('Spool-page-deployment')!.text).toBe(
      [
        'PAGE: the deployment is failing',
        'Deployment: Spool (account 123456789012, eu-west-1)',
        'Symptom: one of: health heartbeat missing; API 5xx rate; worker error rate (NewStateReason names which)',
        'Value and since: NewStateReason and StateChangeTime of this notification',
        'Next: open the runbook section of the alarm that fired; queue pages stay quiet while this one is in ALARM',
        `Runbook: ${BASE}#health-heartbeat-missing ${BASE}#api-5xx-rate ${BASE}#worker-error-rate`,
      ].join('\n'),
    );
    expect(byName.get('Spool-purge-errors')!.text).toBe(
      [
        'TICKET: the purge function failed',
        'Deployment: Spool (account 123456789012, eu-west-1)',
        'Symptom: Lambda Errors sum above 0 over 5 minutes (held until a run succeeds)',
        'Value and since: NewStateReason and StateChangeTime of this notification',
        'Next: read the purge function log (level ERROR, "Task timed out")',
        `Runbook: ${BASE}#function-errors`,
      ].join('\n'),
    );
  });

  it('tickets the scheduler’s errors and its failed schedule timers, each with its own runbook section', () => {
    const errors = byName.get('Spool-scheduler-errors')!;
    expect(sev(errors)).toBe('ticket');
    expect(errors.p).toMatchObject({
      MetricName: 'Errors',
      Namespace: 'AWS/Lambda',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId(s.stack, 'scheduler') } }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(errors.text).toBe(
      [
        'TICKET: the scheduler function failed: schedules may fire late or not at all',
        'Deployment: Spool (account 123456789012, eu-west-1)',
        'Symptom: Lambda Errors sum above 0 over 5 minutes (held until a run succeeds)',
        'Value and since: NewStateReason and StateChangeTime of this notification',
        'Next: read the scheduler function log (level ERROR, "Task timed out"); spool schedules: a NEXT in the past is a late fire',
        `Runbook: ${BASE}#scheduler-errors`,
      ].join('\n'),
    );
    const timers = byName.get('Spool-schedule-timer-failures')!;
    expect(sev(timers)).toBe('ticket');
    const failures = refOf(s.stack, s.stack.spool.spoolFunctions.scheduleTimerFailures);
    expect(timers.p).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [failures, 'QueueName'] } }],
      Statistic: 'Maximum',
      Threshold: 0,
      TreatMissingData: 'notBreaching',
    });
    expect(timers.text).toBe(
      [
        'TICKET: schedule timers failed and went to the schedule timer dead-letter queue',
        'Deployment: Spool (account 123456789012, eu-west-1)',
        'Symptom: ApproximateNumberOfMessagesVisible of the schedule timer failure queue above 0 over 5 minutes: fires due between minute ticks wait for the next tick',
        'Value and since: NewStateReason and StateChangeTime of this notification',
        'Next: read the records in the schedule timer failure queue (output ScheduleTimerFailureQueueUrl) and the scheduler log ("firing failed", "re-arm failed"), then purge it',
        `Runbook: ${BASE}#schedule-timer-failures`,
      ].join('\n'),
    );
    // Neither feeds a page composite.
    for (const c of all.filter((a) => a.type === 'composite'))
      expect(ruleNames(c), c.name).not.toEqual(expect.arrayContaining([errors.name]));
    for (const c of all.filter((a) => a.type === 'composite'))
      expect(ruleNames(c), c.name).not.toEqual(expect.arrayContaining([timers.name]));
  });

  it('tickets a schedule fire that enqueued no job, from a metric filter on the scheduler log (no Redis command)', () => {
    const schedulerLogs = refOf(s.stack, s.stack.spool.spoolFunctions.logGroups.scheduler);
    const filters = (Object.values(s.template.findResources('AWS::Logs::MetricFilter')) as Json[]).filter(
      (f) => f.Properties.LogGroupName.Ref === schedulerLogs,
    );
    expect(
      filters.map((f) => ({ pattern: f.Properties.FilterPattern, ...f.Properties.MetricTransformations[0] })),
    ).toEqual([
      {
        pattern: '{ ($.level = "ERROR") && ($.message = "schedule fired no job: its job does not validate") }',
        MetricNamespace: 'Spool',
        MetricName: LOG_METRICS.scheduleFiresWithoutJob,
        MetricValue: '1',
      },
    ]);
    // The pattern names the message the scheduler logs, word for word.
    expect(filters[0]!.Properties.FilterPattern).toContain(`$.message = "${SCHEDULE_FIRED_NO_JOB}"`);
    const a = byName.get('Spool-schedule-fires-without-job')!;
    expect(sev(a)).toBe('ticket');
    expect(a.p).toMatchObject({
      Namespace: 'Spool',
      MetricName: 'ScheduleFiresWithoutJob',
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
    expect(a.p.Dimensions).toBeUndefined();
    expect(a.text).toBe(
      [
        'TICKET: schedules fired no job: their job no longer validates',
        'Deployment: Spool (account 123456789012, eu-west-1)',
        'Symptom: ScheduleFiresWithoutJob sum of 1 or more over 5 minutes: a schedule fired, enqueued nothing and kept the reason in its lastError',
        'Value and since: NewStateReason and StateChangeTime of this notification',
        'Next: the scheduler log ("schedule fired no job: its job does not validate", level ERROR) names the schedule; npx spool schedule get with its id shows lastError; PUT the schedule with a job that validates, or delete it',
        `Runbook: ${BASE}#schedule-fires-without-a-job`,
      ].join('\n'),
    );
    // A ticket, never a page: no composite has it.
    for (const c of all.filter((x) => x.type === 'composite')) expect(ruleNames(c), c.name).not.toContain(a.name);
  });

  it('counts, for the report: alarms per severity', () => {
    const count = (k: string) =>
      all.filter((a) => (a.type === 'composite' ? `composite-${sev(a)}` : `metric-${sev(a)}`) === k).length;
    expect({
      pageComposites: count('composite-page'),
      pageSymptoms: count('metric-none'),
      tickets: count('metric-ticket'),
      suppressors: count('composite-none'),
    }).toEqual({ pageComposites: 4, pageSymptoms: 12, tickets: 23, suppressors: 1 });
  });
});

describe('page and ticket destinations', () => {
  it('refuses to synthesize a stack that pages nobody (cdk.json alone), naming the keys', () => {
    expect(() => synthSpool({})).toThrow(/^context "pagerUrl" \/ "alarmEmail" \/ "alarmTopicArn": no page destination/);
  });

  it('without runbookBaseUrl links the repository path and says so at synth', () => {
    const s = synthSpool(PAGED);
    try {
      for (const a of allAlarms(s.template)) expect(a.text, a.name).toMatch(/\nRunbook: docs\/runbook\.md#[a-z0-9-]+/);
      Annotations.fromStack(s.stack).hasWarning('*', Match.stringLikeRegexp('runbookBaseUrl'));
      // Tickets fall back to the page email: both topics have it, nothing else is subscribed.
      const subs = Object.values(s.template.findResources('AWS::SNS::Subscription')) as Json[];
      expect(
        subs.map((r) => [r.Properties.TopicArn.Ref.replace(/[0-9A-F]{8}$/, ''), r.Properties.Endpoint]).sort(),
      ).toEqual([
        ['AlertTopic', 'oncall@example.com'],
        ['TicketTopic', 'oncall@example.com'],
      ]);
      expect(
        allAlarms(s.template)
          .filter((a) => a.type === 'composite')
          .map((a) => a.name)
          .sort(),
      ).toEqual(['Spool-page-deployment', 'Spool-page-queues']);
      // No named queue: the all-queues page is quiet only while the deployment pages.
      const fleet = allAlarms(s.template).find((a) => a.name === 'Spool-page-queues')!;
      expect(renderCfn(fleet.p.ActionsSuppressor)).toBe(
        renderCfn(s.stack.resolve(s.stack.spool.monitoring.deploymentPage.alarmArn)),
      );
    } finally {
      s.cleanup();
    }
  });

  it('pages to an existing topic (alarmTopicArn) and tickets to another (ticketTopicArn); creates neither', () => {
    const page = 'arn:aws:sns:eu-west-1:123456789012:pager';
    const ticket = 'arn:aws:sns:eu-west-1:123456789012:tickets';
    const s = synthSpool({ alarmTopicArn: page, ticketTopicArn: ticket });
    try {
      s.template.resourceCountIs('AWS::SNS::Topic', 0);
      s.template.resourceCountIs('AWS::SNS::Subscription', 0);
      const all = allAlarms(s.template);
      expect(all.filter((a) => severityOf(a, page, ticket) === 'page').length).toBe(2);
      expect(all.filter((a) => severityOf(a, page, ticket) === 'ticket').length).toBe(23);
      const env = s.template.toJSON().Resources[fnId(s.stack, 'health')].Properties.Environment.Variables as Json;
      expect(env).toMatchObject({ SPOOL_ALERT_TOPIC_ARN: page, SPOOL_TICKET_TOPIC_ARN: ticket });
    } finally {
      s.cleanup();
    }
  });

  it('subscribes the pager to pages only, and warns when tickets have nowhere to go', () => {
    const s = synthSpool({ pagerUrl: 'https://events.example.com/x' });
    try {
      const subs = Object.values(s.template.findResources('AWS::SNS::Subscription')) as Json[];
      expect(subs.map((r) => [r.Properties.TopicArn.Ref.replace(/[0-9A-F]{8}$/, ''), r.Properties.Protocol])).toEqual([
        ['AlertTopic', 'https'],
      ]);
      Annotations.fromStack(s.stack).hasWarning('*', Match.stringLikeRegexp('ticketEmail / ticketTopicArn'));
    } finally {
      s.cleanup();
    }
  });

  it('with pages=none deploys the same alarms with nobody subscribed to pages, and says so', () => {
    const s = synthSpool({ pages: 'none', ticketEmail: 'tickets@example.com' });
    try {
      const subs = Object.values(s.template.findResources('AWS::SNS::Subscription')) as Json[];
      expect(subs.map((r) => r.Properties.TopicArn.Ref.replace(/[0-9A-F]{8}$/, ''))).toEqual(['TicketTopic']);
      expect(allAlarms(s.template).filter((a) => a.type === 'composite')).toHaveLength(2);
      Annotations.fromStack(s.stack).hasInfo('*', Match.stringLikeRegexp('pages=none'));
    } finally {
      s.cleanup();
    }
  });
});

describe('alarm periods follow the health schedule', () => {
  it('uses a cron schedule’s own interval for the periods', () => {
    const s = synthSpool({ ...PAGED, healthSchedule: 'cron(0/10 * * * ? *)' });
    try {
      const hb = allAlarms(s.template).find((a) => a.name === 'Spool-health-heartbeat-missing')!;
      expect(hb.p).toMatchObject({ Period: 600, EvaluationPeriods: 2 });
      const age = allAlarms(s.template).find((a) => a.name === 'Spool-oldest-waiting-age')!;
      expect(age.p.Period).toBe(600);
    } finally {
      s.cleanup();
    }
  });
});

/** The most named queues the default stack holds (README, docs/deploy.md "Synth refusals"). */
const MAX_NAMED_QUEUES = 86;

describe('named queues against the limits', () => {
  const names = (n: number) => Array.from({ length: n }, (_, i) => `q${i}`);

  it(`synthesizes the documented maximum (${MAX_NAMED_QUEUES} named queues) within 500 resources, 100 composite children, 500 widgets`, () => {
    const s = synthSpool({ ...PAGED, queues: names(MAX_NAMED_QUEUES) });
    try {
      const t = s.template.toJSON();
      expect(Object.keys(t.Resources).length).toBeLessThanOrEqual(500);
      const suppressor = allAlarms(s.template).find((a) => a.name === 'Spool-paging-deployment-or-named-queue')!;
      expect(ruleNames(suppressor)).toHaveLength(MAX_NAMED_QUEUES + 1);
      expect(renderCfn(suppressor.p.AlarmRule).length).toBeLessThanOrEqual(10_240);
      const [dash] = Object.values(s.template.findResources('AWS::CloudWatch::Dashboard')) as Json[];
      const widgets = JSON.parse(renderCfn(dash!.Properties.DashboardBody)).widgets as unknown[];
      expect(widgets.length).toBe(DASHBOARD_WIDGETS.base + MAX_NAMED_QUEUES * DASHBOARD_WIDGETS.perQueue);
      expect(widgets.length).toBeLessThanOrEqual(500);
    } finally {
      s.cleanup();
    }
  });

  it('refuses one more, naming queues and saying the maximum', () => {
    const n = MAX_NAMED_QUEUES + 1;
    expect(() => synthSpool({ ...PAGED, queues: names(n) })).toThrow(
      new RegExp(`^context "queues": ${n} named queues are too many: at most ${MAX_NAMED_QUEUES} here`),
    );
  });

  it(`with the default settings CloudFormation’s 500 resources bind (${MAX_NAMED_QUEUES}), before the dashboard’s 500 widgets (98)`, () => {
    const base = synthSpool(PAGED);
    try {
      const resources = Object.keys(base.template.toJSON().Resources).length;
      // The first named queue also brings the suppressor composite (the deployment page or a named
      // queue's page): 500 - base resources - 1, 4 per queue; the dashboard would take (500 - 10) / 5 = 98.
      expect(resources).toBe(152);
      expect(Math.floor((500 - resources - 1) / RESOURCES_PER_QUEUE)).toBe(MAX_NAMED_QUEUES);
      expect(Math.floor((500 - DASHBOARD_WIDGETS.base) / DASHBOARD_WIDGETS.perQueue)).toBe(98);
    } finally {
      base.cleanup();
    }
  });
});
