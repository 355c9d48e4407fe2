/**
 * Alarms in two severities, and the dashboard.
 *
 * - A **page** is a symptom someone must act on now. Metric alarms for page symptoms have no action
 *   of their own: each feeds one composite alarm, so one incident is one page. Composites: one per
 *   named queue (its oldest waiting age, its new dead jobs, its DLQ trimmed), one for all queues
 *   (the same figures fleet-wide; quiet while a named queue's composite or the deployment composite
 *   already pages) and one for the deployment (health heartbeat missing, API 5xx rate, worker error
 *   rate; it quiets the queue composites while it pages). A composite's recovery is a ticket.
 * - A **ticket** is everything else (dead stock above 0, expired leases, function errors, throttles,
 *   durations near the timeout, failed async worker invocations, failed queue and schedule timers,
 *   schedule fires that enqueued no job): ALARM and OK go to the ticket topic.
 *
 * Every description says the severity, the deployment, the queue, the symptom against its threshold,
 * the next step with every placeholder filled and the runbook URL (`<runbookBaseUrl>#<section>`).
 * Queue metrics follow shared/metrics/names.ts: fleet-wide (no dimension) for every queue, per queue
 * (`Queue` dimension) for the named queues only. Metrics from log lines (the API access log, the
 * scheduler's log) come from metric filters: they cost no Redis command.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FUNCTION_NAMES, type FunctionName } from '../../functions/routes.js';
import { SCHEDULE_FIRED_NO_JOB } from '../../functions/scheduler/run.js';
import {
  CHECKS,
  fillStep,
  RUNBOOK,
  type RunbookAnchor,
  runbookUrl,
  type Severity,
} from '../../shared/health/runbook.js';
import { LOG_METRICS, METRICS, type MetricKey, QUEUE_DIMENSION } from '../../shared/metrics/names.js';
import type { StackConfig } from '../config.js';
import { constructIdOf, timeoutOf } from './functions.js';

/** A worker stops leasing 10 s before its timeout (SPOOL_WORKER_TIME_MARGIN_MS); alarm past half of that. */
const WORKER_STOP_SLACK_MS = 5_000;

/** Published by metric filters on the API access logs; `GET /v1/health` is not counted in either. */
export const API_METRICS = { requests: 'ApiRequests', serverErrors: 'ApiServerErrors' } as const;
/** The route an uptime probe polls; its answers are not API traffic for the 5xx page. */
export const HEALTH_ROUTE_KEY = 'GET /v1/health';

/**
 * How long a page composite waits for its suppressor to go into ALARM before paging (two alarms fed
 * by the same health run change state within about a minute), and how long it stays quiet after the
 * suppressor recovers (a backlog drains for a while after its cause is fixed).
 */
export const SUPPRESSOR_WAIT = Duration.minutes(2);
export const SUPPRESSOR_EXTENSION = Duration.minutes(10);

/** Widgets of the dashboard: the fixed ones, and the row of each named queue (a heading and 4 graphs). */
export const DASHBOARD_WIDGETS = { base: 10, perQueue: 5 } as const;

export interface SpoolMonitoringProps {
  readonly config: StackConfig;
  readonly pageTopic: ITopic;
  readonly ticketTopic: ITopic;
  readonly functions: Readonly<Record<FunctionName, lambda.Function>>;
  readonly stage: apigw.IHttpStage;
  readonly accessLogs: logs.ILogGroup;
  /** The scheduler function's log group: its line for a fire that enqueued no job is counted. */
  readonly schedulerLogs: logs.ILogGroup;
  /** On-failure destination of the worker's async invocations. */
  readonly workerFailures: IQueue;
  /** Timer messages the worker failed to handle (the timer queue's dead-letter queue). */
  readonly timerFailures: IQueue;
  /** Schedule timer messages the scheduler failed to handle (the schedule timer queue's dead-letter queue). */
  readonly scheduleTimerFailures: IQueue;
  /** `<stack> (account <id>, <region>)`; tokens resolved at deploy time. */
  readonly deployment: string;
}

/** What an alarm's description says (see `describe`). */
interface Words {
  /** One line: what is wrong. */
  readonly headline: string;
  readonly queue?: string;
  /** The condition: figure, statistic, threshold, period. */
  readonly symptom: string;
  readonly next: string;
  readonly runbook: readonly RunbookAnchor[];
}

interface AlarmSpec extends Words {
  readonly metric: cw.IMetric;
  readonly threshold: number;
  readonly comparisonOperator: cw.ComparisonOperator;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm?: number;
  readonly treatMissingData: cw.TreatMissingData;
}

/** Every alarm made, with its severity: a page composite, a child of one, or a ticket. */
export interface AlarmRecord {
  readonly alarm: cw.AlarmBase;
  readonly kind: 'page' | 'page-child' | 'ticket' | 'suppressor';
}

const GT = cw.ComparisonOperator.GREATER_THAN_THRESHOLD;
const LT = cw.ComparisonOperator.LESS_THAN_THRESHOLD;

const FLEET = 'every queue (fleet-wide)';
const FIND_QUEUE = 'spool status names the queue; then follow the runbook section with that queue';

export class SpoolMonitoring extends Construct {
  readonly records: AlarmRecord[] = [];
  readonly dashboard: cw.Dashboard;
  /** Pages for the deployment: heartbeat, API 5xx rate, worker error rate. */
  readonly deploymentPage: cw.CompositeAlarm;
  /** Pages for any queue, from the fleet-wide figures. */
  readonly queuesPage: cw.CompositeAlarm;
  /** One page per named queue. */
  readonly queuePages: Readonly<Record<string, cw.CompositeAlarm>>;
  private readonly prefix: string;
  private readonly props: SpoolMonitoringProps;
  /** The name given to each alarm (their alarmName is a reference token, useless in a rule string). */
  private readonly names = new Map<cw.AlarmBase, string>();

  constructor(scope: Construct, id: string, props: SpoolMonitoringProps) {
    super(scope, id);
    this.props = props;
    const { config } = props;
    this.prefix = Stack.of(this).stackName;

    // Alarm periods follow the health schedule: at least 5 minutes, at least one health run per period
    // (config refuses schedules without a fixed interval, or slower than two periods can span).
    const period = Duration.minutes(Math.max(5, config.healthSchedule.intervalMinutes));
    const periodText = `${period.toMinutes()} minutes`;
    const spool = (key: MetricKey, statistic: string, queue?: string, p: Duration = period): cw.Metric =>
      new cw.Metric({
        namespace: config.metricNamespace,
        metricName: METRICS[key],
        statistic,
        period: p,
        dimensionsMap: queue === undefined ? undefined : { [QUEUE_DIMENSION]: queue },
        // No label: a labelled metric makes CloudFormation alarms use the metric-math form.
      });

    // ---- Deployment: heartbeat, API 5xx, worker error rate ----
    const deploymentName = 'page-deployment';
    const heartbeat = this.child(deploymentName, 'HealthHeartbeatMissing', 'health-heartbeat-missing', {
      headline: 'no health heartbeat: nothing is watching the queues',
      symptom: `HealthHeartbeat sum below 1 for 2 periods of ${periodText} (missing data counts)`,
      next: 'read the health function log and its Errors; check the Upstash secret; until it is back run spool status by hand',
      runbook: [RUNBOOK.heartbeatMissing],
      metric: spool('heartbeat', 'Sum'),
      threshold: 1,
      comparisonOperator: LT,
      evaluationPeriods: 2,
      treatMissingData: cw.TreatMissingData.BREACHING,
    });

    const apiPeriod = Duration.minutes(5);
    const apiMetric = (name: string): cw.Metric =>
      new cw.Metric({ namespace: config.metricNamespace, metricName: name, statistic: 'Sum', period: apiPeriod });
    for (const [cid, name, pattern] of [
      ['ApiRequestsFilter', API_METRICS.requests, logs.FilterPattern.stringValue('$.routeKey', '!=', HEALTH_ROUTE_KEY)],
      [
        'ApiServerErrorsFilter',
        API_METRICS.serverErrors,
        logs.FilterPattern.all(
          logs.FilterPattern.numberValue('$.status', '>=', 500),
          logs.FilterPattern.stringValue('$.routeKey', '!=', HEALTH_ROUTE_KEY),
        ),
      ],
    ] as const) {
      new logs.MetricFilter(this, cid, {
        logGroup: props.accessLogs,
        filterPattern: pattern,
        metricNamespace: config.metricNamespace,
        metricName: name,
        metricValue: '1',
        defaultValue: 0,
      });
    }
    const api5xx = this.child(deploymentName, 'Api5xxRate', 'api-5xx-rate', {
      headline: 'the API answers 5xx: producers cannot enqueue or operators cannot act',
      symptom:
        `more than ${config.api5xxRatePercent}% of API requests answered 5xx in 2 periods of 5 minutes in a row, ` +
        `with at least ${config.api5xxMinRequests} requests per period (${HEALTH_ROUTE_KEY} not counted)`,
      next: 'read the API access log (status, routeKey, integrationError) and the log of the function behind the route',
      runbook: [RUNBOOK.api5xx],
      metric: new cw.MathExpression({
        expression: `IF(requests >= ${config.api5xxMinRequests}, 100 * errors / requests, 0)`,
        usingMetrics: { errors: apiMetric(API_METRICS.serverErrors), requests: apiMetric(API_METRICS.requests) },
        period: apiPeriod,
        label: 'API 5xx %',
      }),
      threshold: config.api5xxRatePercent,
      comparisonOperator: GT,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });

    const worker = props.functions.worker;
    const workerErrors = this.child(deploymentName, 'WorkerErrorRate', 'worker-error-rate', {
      headline: 'worker invocations fail: jobs are not being run',
      symptom: `more than ${config.workerErrorRatePercent}% of worker invocations failed in 2 of 3 periods of 5 minutes`,
      next: 'read the worker log (level ERROR, "Task timed out"); Upstash errors: check the secret and Upstash status',
      runbook: [RUNBOOK.workerErrorRate],
      metric: new cw.MathExpression({
        expression: 'IF(invocations > 0, 100 * errors / invocations, 0)',
        usingMetrics: {
          errors: worker.metricErrors({ period: apiPeriod, statistic: 'Sum' }),
          invocations: worker.metricInvocations({ period: apiPeriod, statistic: 'Sum' }),
        },
        period: apiPeriod,
        label: 'worker error %',
      }),
      threshold: config.workerErrorRatePercent,
      comparisonOperator: GT,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });

    const deployment = this.page('PageDeployment', deploymentName, [heartbeat, api5xx, workerErrors], {
      headline: 'the deployment is failing',
      symptom: 'one of: health heartbeat missing; API 5xx rate; worker error rate (NewStateReason names which)',
      next: 'open the runbook section of the alarm that fired; queue pages stay quiet while this one is in ALARM',
      runbook: [RUNBOOK.heartbeatMissing, RUNBOOK.api5xx, RUNBOOK.workerErrorRate],
    });

    // ---- Queues: fleet-wide for every queue, and per named queue ----
    const cidOf = (queue: string | undefined) =>
      queue === undefined ? '' : `Queue${queue.replace(/[^A-Za-z0-9]/g, '')}${config.queues.indexOf(queue)}`;
    const pageNameOf = (queue: string | undefined) => (queue === undefined ? 'page-queues' : `page-queue-${queue}`);
    const queueChildren = (queue: string | undefined): cw.Alarm[] => {
      const where = queue ?? FLEET;
      const idSuffix = queue === undefined ? '' : `-${queue}`;
      const cidSuffix = cidOf(queue);
      const pageName = pageNameOf(queue);
      const step = (check: keyof typeof CHECKS): string =>
        queue === undefined ? FIND_QUEUE : fillStep(CHECKS[check].step, { queue });
      // The gauge keeps its state while the health function is silent (IGNORE): the heartbeat
      // alarm reports the silence, and on-call does not get a false OK.
      const age = this.child(pageName, `OldestWaitingAge${cidSuffix}`, `oldest-waiting-age${idSuffix}`, {
        headline: `jobs wait too long (${where})`,
        queue: where,
        symptom: `${METRICS.oldestWaitingAge} maximum above ${config.oldestWaitingAgeSeconds} s over ${periodText}: a job has waited longer than that without being leased`,
        next: step('oldestWaitingAge'),
        runbook: [RUNBOOK.oldestWaitingAge],
        metric: spool('oldestWaitingAge', 'Maximum', queue),
        threshold: config.oldestWaitingAgeSeconds,
        comparisonOperator: GT,
        evaluationPeriods: 1,
        treatMissingData: cw.TreatMissingData.IGNORE,
      });
      // The RATE of dead-lettering, not the stock: the stock stays up for the DLQ's TTL (7 days) and
      // would hide every later incident. A delta published on every health run; absence means none.
      // config keeps the window at least 5 minutes and at least one health interval (so >= period).
      const window = Duration.minutes(config.newDeadJobsWindowMinutes);
      const newDead = this.child(pageName, `NewDeadJobs${cidSuffix}`, `new-dead-jobs${idSuffix}`, {
        headline: `jobs are going dead (${where})`,
        queue: where,
        symptom: `${METRICS.deadDelta} sum above ${config.newDeadJobsThreshold} within ${window.toMinutes()} minutes: that many jobs failed for good just now`,
        next: step('dead'),
        runbook: [RUNBOOK.newDeadJobs],
        metric: spool('deadDelta', 'Sum', queue, window),
        threshold: config.newDeadJobsThreshold,
        comparisonOperator: GT,
        evaluationPeriods: 1,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      });
      const trimmed = this.child(pageName, `DeadTrimmed${cidSuffix}`, `dlq-trimmed${idSuffix}`, {
        headline: `dead jobs were lost: the DLQ cap removed them (${where})`,
        queue: where,
        symptom: `${METRICS.deadTrimmed} sum above 0 over ${periodText}: their failure records are gone`,
        next: step('deadTrimmed'),
        runbook: [RUNBOOK.dlqTrimmed],
        metric: spool('deadTrimmed', 'Sum', queue),
        threshold: 0,
        comparisonOperator: GT,
        evaluationPeriods: 1,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      });
      return [age, newDead, trimmed];
    };
    const queueWords = (queue: string | undefined): Words => ({
      headline: queue === undefined ? 'a queue needs someone now' : `queue ${queue} needs someone now`,
      queue: queue ?? FLEET,
      symptom:
        `one of: oldest waiting job above ${config.oldestWaitingAgeSeconds} s; more than ${config.newDeadJobsThreshold} ` +
        `jobs dead within ${config.newDeadJobsWindowMinutes} minutes; the DLQ cap removed dead jobs (NewStateReason names which)` +
        (queue === undefined && config.queues.length > 0 ? '. Quiet while a named queue pages' : ''),
      next:
        queue === undefined
          ? 'spool status names the queue; then the runbook section of the alarm that fired, with that queue'
          : `spool status; spool dlq ls ${queue}; then the runbook section of the alarm that fired`,
      runbook: [RUNBOOK.oldestWaitingAge, RUNBOOK.newDeadJobs, RUNBOOK.dlqTrimmed],
    });

    const fleetChildren = queueChildren(undefined);
    const queuePages: Record<string, cw.CompositeAlarm> = {};
    for (const q of config.queues)
      queuePages[q] = this.page(`PageQueue${cidOf(q)}`, pageNameOf(q), queueChildren(q), queueWords(q), deployment);
    const named = Object.values(queuePages);
    // The all-queues page is quiet while a named queue (or the deployment) pages for the same incident.
    const suppressor =
      named.length === 0
        ? deployment
        : this.composite('PageSuppressor', 'paging-deployment-or-named-queue', [deployment, ...named], {
            headline: 'in ALARM while the deployment or a named queue pages',
            symptom: 'quiets the all-queues page so that one incident pages once',
            next: 'nothing: see the page that fired',
            runbook: [RUNBOOK.pagesAndTickets],
          });
    if (suppressor !== deployment) this.records.push({ alarm: suppressor, kind: 'suppressor' });
    this.deploymentPage = deployment;
    this.queuePages = queuePages;
    this.queuesPage = this.page('PageQueues', pageNameOf(undefined), fleetChildren, queueWords(undefined), suppressor);

    // ---- Tickets: dead stock and expired leases (fleet-wide; spool status says where) ----
    this.ticket('DeadJobs', 'dead-jobs', {
      headline: 'dead jobs wait in a DLQ',
      queue: FLEET,
      symptom: `${METRICS.dead} maximum above 0 over ${periodText}: jobs failed for good and wait for a decision`,
      next: FIND_QUEUE,
      runbook: [RUNBOOK.deadJobs],
      metric: spool('dead', 'Maximum'),
      threshold: 0,
      comparisonOperator: GT,
      evaluationPeriods: 1,
      treatMissingData: cw.TreatMissingData.IGNORE,
    });
    this.ticket('LeaseExpired', 'lease-expired', {
      headline: 'active jobs whose lease expired, two periods in a row',
      queue: FLEET,
      symptom: `${METRICS.leaseExpired} minimum above 0 for 2 periods of ${periodText}: workers die mid-job`,
      next: FIND_QUEUE,
      runbook: [RUNBOOK.leaseExpired],
      metric: spool('leaseExpired', 'Minimum'),
      threshold: 0,
      comparisonOperator: GT,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      treatMissingData: cw.TreatMissingData.IGNORE,
    });

    // ---- Tickets per function ----
    const fnPeriod = Duration.minutes(5);
    for (const fn of FUNCTION_NAMES) {
      const f = props.functions[fn];
      const cid = constructIdOf(fn);
      const timeoutMs = timeoutOf(config, fn).toMilliseconds();
      const isWorker = fn === 'worker';
      // The worker's errors page as a rate (above) and each failed async invocation is a ticket (below).
      if (!isWorker) {
        // Scheduled functions hold the state between runs (IGNORE): a purge that fails every hour stays
        // in ALARM instead of flapping between ALARM and OK.
        const scheduled = fn === 'purge' || fn === 'health' || fn === 'scheduler';
        // The scheduler's errors have their own section: schedules fire late (or not) while it fails.
        const isScheduler = fn === 'scheduler';
        this.ticket(`${cid}Errors`, `${fn}-errors`, {
          headline: isScheduler
            ? 'the scheduler function failed: schedules may fire late or not at all'
            : `the ${fn} function failed`,
          symptom: `Lambda Errors sum above 0 over 5 minutes${scheduled ? ' (held until a run succeeds)' : ''}`,
          next: isScheduler
            ? 'read the scheduler function log (level ERROR, "Task timed out"); spool schedules: a NEXT in the past is a late fire'
            : `read the ${fn} function log (level ERROR, "Task timed out")`,
          runbook: [isScheduler ? RUNBOOK.schedulerErrors : RUNBOOK.functionErrors],
          metric: f.metricErrors({ period: fnPeriod, statistic: 'Sum' }),
          threshold: 0,
          comparisonOperator: GT,
          evaluationPeriods: 1,
          treatMissingData: scheduled ? cw.TreatMissingData.IGNORE : cw.TreatMissingData.NOT_BREACHING,
        });
      }
      // The worker kicks itself asynchronously; with reserved concurrency a short burst of throttles is expected.
      this.ticket(`${cid}Throttles`, `${fn}-throttles`, {
        headline: `the ${fn} function is throttled`,
        symptom: `Lambda Throttles sum above 0 over 5 minutes${isWorker ? ', 3 periods in a row' : ''}`,
        next: 'check reserved and account concurrency (Lambda ConcurrentExecutions)',
        runbook: [RUNBOOK.functionThrottles],
        metric: f.metricThrottles({ period: fnPeriod, statistic: 'Sum' }),
        threshold: 0,
        comparisonOperator: GT,
        evaluationPeriods: isWorker ? 3 : 1,
        datapointsToAlarm: isWorker ? 3 : 1,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      });
      // A busy worker runs until its own stop time (timeout minus SPOOL_WORKER_TIME_MARGIN_MS, 10 s by
      // default) and hands off to a fresh worker by design, so a high p99 is normal for it. What is not:
      // a worker that ran past its stop time (a job ignoring its timeout), on its way to being killed.
      const limit = isWorker
        ? timeoutMs - WORKER_STOP_SLACK_MS
        : Math.round((timeoutMs * config.durationAlarmPercent) / 100);
      this.ticket(`${cid}DurationNearTimeout`, `${fn}-duration-near-timeout`, {
        headline: isWorker ? 'a worker ran past its stop time' : `the ${fn} function runs close to its timeout`,
        symptom: isWorker
          ? `Lambda Duration maximum above ${limit} ms (within ${WORKER_STOP_SLACK_MS / 1000} s of its ${timeoutMs / 1000} s timeout)`
          : `Lambda Duration p99 above ${limit} ms (${config.durationAlarmPercent}% of its ${timeoutMs / 1000} s timeout) in 2 of 3 periods of 5 minutes`,
        next: isWorker
          ? 'find the job that ignores its timeout in the worker log; give it a timeoutMs it keeps or raise SPOOL_WORKER_TIME_MARGIN_MS'
          : 'check Upstash latency and the X-Ray traces of the function',
        runbook: [RUNBOOK.functionDuration],
        metric: f.metricDuration({ period: fnPeriod, statistic: isWorker ? 'Maximum' : 'p99' }),
        threshold: limit,
        comparisonOperator: GT,
        evaluationPeriods: isWorker ? 1 : 3,
        datapointsToAlarm: isWorker ? 1 : 2,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      });
    }
    this.ticket('WorkerAsyncFailures', 'worker-async-failures', {
      headline: 'worker invocations failed and went to the on-failure queue',
      symptom: 'ApproximateNumberOfMessagesVisible of the worker failure queue above 0 over 5 minutes',
      next: 'read the records in the worker failure queue (output WorkerFailureQueueUrl), then purge it',
      runbook: [RUNBOOK.workerAsyncFailures],
      metric: props.workerFailures.metricApproximateNumberOfMessagesVisible({ period: fnPeriod, statistic: 'Maximum' }),
      threshold: 0,
      comparisonOperator: GT,
      evaluationPeriods: 1,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });

    this.ticket('TimerFailures', 'timer-failures', {
      headline: 'queue timers failed and went to the timer dead-letter queue',
      symptom:
        'ApproximateNumberOfMessagesVisible of the timer failure queue above 0 over 5 minutes: delayed jobs of those queues wait for the worker schedule',
      next: 'read the records in the timer failure queue (output TimerFailureQueueUrl) and the worker log ("timer failed"), then purge it',
      runbook: [RUNBOOK.timerFailures],
      metric: props.timerFailures.metricApproximateNumberOfMessagesVisible({ period: fnPeriod, statistic: 'Maximum' }),
      threshold: 0,
      comparisonOperator: GT,
      evaluationPeriods: 1,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });

    this.ticket('ScheduleTimerFailures', 'schedule-timer-failures', {
      headline: 'schedule timers failed and went to the schedule timer dead-letter queue',
      symptom:
        'ApproximateNumberOfMessagesVisible of the schedule timer failure queue above 0 over 5 minutes: fires due between minute ticks wait for the next tick',
      next: 'read the records in the schedule timer failure queue (output ScheduleTimerFailureQueueUrl) and the scheduler log ("firing failed", "re-arm failed"), then purge it',
      runbook: [RUNBOOK.scheduleTimerFailures],
      metric: props.scheduleTimerFailures.metricApproximateNumberOfMessagesVisible({
        period: fnPeriod,
        statistic: 'Maximum',
      }),
      threshold: 0,
      comparisonOperator: GT,
      evaluationPeriods: 1,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });

    // A fire whose job no longer validates enqueues nothing and only logs it (SCHEDULE_FIRED_NO_JOB,
    // level ERROR): a metric filter counts those lines, so the ticket costs no Redis command. No
    // default value: the metric has data only when such a fire happened (no data is not breaching),
    // so it costs nothing in the months it is quiet.
    new logs.MetricFilter(this, 'ScheduleFiresWithoutJobFilter', {
      logGroup: props.schedulerLogs,
      filterPattern: logs.FilterPattern.all(
        logs.FilterPattern.stringValue('$.level', '=', 'ERROR'),
        logs.FilterPattern.stringValue('$.message', '=', SCHEDULE_FIRED_NO_JOB),
      ),
      metricNamespace: config.metricNamespace,
      metricName: LOG_METRICS.scheduleFiresWithoutJob,
      metricValue: '1',
    });
    this.ticket('ScheduleFiresWithoutJob', 'schedule-fires-without-job', {
      headline: 'schedules fired no job: their job no longer validates',
      symptom: `${LOG_METRICS.scheduleFiresWithoutJob} sum of 1 or more over 5 minutes: a schedule fired, enqueued nothing and kept the reason in its lastError`,
      next: `the scheduler log ("${SCHEDULE_FIRED_NO_JOB}", level ERROR) names the schedule; npx spool schedule get with its id shows lastError; PUT the schedule with a job that validates, or delete it`,
      runbook: [RUNBOOK.scheduleFiresWithoutJob],
      metric: new cw.Metric({
        namespace: config.metricNamespace,
        metricName: LOG_METRICS.scheduleFiresWithoutJob,
        statistic: 'Sum',
        period: fnPeriod,
      }),
      threshold: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });

    // ---- Dashboard ----
    this.dashboard = new cw.Dashboard(this, 'Dashboard', {
      dashboardName: `${this.prefix}-spool`.slice(0, 255),
      defaultInterval: Duration.hours(3),
    });
    const dash = Duration.minutes(1);
    const addRow = (title: string, queue: string | undefined): void => {
      this.dashboard.addWidgets(new cw.TextWidget({ markdown: `## ${title}`, width: 24, height: 1 }));
      this.dashboard.addWidgets(
        new cw.GraphWidget({
          title: `Depth (${title})`,
          left: [
            spool('waiting', 'Maximum', queue, dash),
            spool('delayed', 'Maximum', queue, dash),
            spool('active', 'Maximum', queue, dash),
          ],
          width: 6,
        }),
        new cw.GraphWidget({
          title: `Oldest age, s (${title})`,
          left: [spool('oldestWaitingAge', 'Maximum', queue, dash), spool('oldestDeadAge', 'Maximum', queue, dash)],
          leftAnnotations: [{ value: config.oldestWaitingAgeSeconds, label: 'waiting-age page' }],
          width: 6,
        }),
        new cw.GraphWidget({
          title: `Throughput (${title})`,
          left: [spool('enqueued', 'Sum', queue, dash), spool('completedDelta', 'Sum', queue, dash)],
          width: 6,
        }),
        new cw.GraphWidget({
          title: `Failures and dead jobs (${title})`,
          left: [
            spool('failed', 'Sum', queue, dash),
            spool('retried', 'Sum', queue, dash),
            spool('deadDelta', 'Sum', queue, dash),
          ],
          right: [
            spool('dead', 'Maximum', queue, dash),
            spool('leaseExpired', 'Maximum', queue, dash),
            spool('deadTrimmed', 'Sum', queue, dash),
          ],
          width: 6,
        }),
      );
    };
    // Pages first; the alarm status widget shows at most 100 alarms.
    const shown = [
      ...this.alarmsOf('page'),
      ...this.records.filter((r) => r.kind === 'ticket').map((r) => r.alarm),
      ...this.records.filter((r) => r.kind === 'page-child').map((r) => r.alarm),
    ];
    this.dashboard.addWidgets(
      new cw.AlarmStatusWidget({ title: 'Spool pages and tickets', alarms: shown.slice(0, 100), width: 24, height: 6 }),
    );
    addRow('all queues', undefined);
    for (const q of config.queues) addRow(`queue ${q}`, q);
    this.dashboard.addWidgets(new cw.TextWidget({ markdown: '## Functions and API', width: 24, height: 1 }));
    this.dashboard.addWidgets(
      new cw.GraphWidget({
        title: 'Function errors',
        left: FUNCTION_NAMES.map((fn) =>
          props.functions[fn].metricErrors({ period: dash, statistic: 'Sum', label: fn }),
        ),
        width: 8,
      }),
      new cw.GraphWidget({
        title: 'Function duration p99, ms',
        left: FUNCTION_NAMES.map((fn) =>
          props.functions[fn].metricDuration({ period: dash, statistic: 'p99', label: fn }),
        ),
        width: 8,
      }),
      new cw.GraphWidget({
        title: 'API requests, 4xx, 5xx',
        left: [
          props.stage.metricCount({ period: dash, statistic: 'Sum', label: 'requests' }),
          props.stage.metricClientError({ period: dash, statistic: 'Sum', label: '4xx' }),
          props.stage.metricServerError({ period: dash, statistic: 'Sum', label: '5xx' }),
        ],
        width: 8,
      }),
    );
  }

  /** Metric and composite alarms with their kind, for tests and the dashboard. */
  alarmsOf(kind: AlarmRecord['kind']): cw.AlarmBase[] {
    return this.records.filter((r) => r.kind === kind).map((r) => r.alarm);
  }

  private name(name: string): string {
    return `${this.prefix}-${name}`.slice(0, 255);
  }

  /** The description every alarm carries (CloudWatch adds the value and the time to its notification). */
  private describe(severity: string, w: Words): string {
    const base = this.props.config.runbookBaseUrl;
    return [
      `${severity}: ${w.headline}`,
      `Deployment: ${this.props.deployment}`,
      ...(w.queue === undefined ? [] : [`Queue: ${w.queue}`]),
      `Symptom: ${w.symptom}`,
      'Value and since: NewStateReason and StateChangeTime of this notification',
      `Next: ${w.next}`,
      `Runbook: ${w.runbook.map((a) => runbookUrl(a, base)).join(' ')}`,
    ].join('\n');
  }

  private metricAlarm(id: string, name: string, severity: string, spec: AlarmSpec): cw.Alarm {
    const alarm = new cw.Alarm(this, id, {
      alarmName: this.name(name),
      alarmDescription: this.describe(severity, spec),
      metric: spec.metric,
      threshold: spec.threshold,
      comparisonOperator: spec.comparisonOperator,
      evaluationPeriods: spec.evaluationPeriods,
      datapointsToAlarm: spec.datapointsToAlarm,
      treatMissingData: spec.treatMissingData,
    });
    this.names.set(alarm, this.name(name));
    return alarm;
  }

  /** A page symptom: no action of its own, it feeds the page composite `page`. */
  private child(page: string, id: string, name: string, spec: AlarmSpec): cw.Alarm {
    const alarm = this.metricAlarm(id, name, `PAGE through ${this.name(page)}`, spec);
    this.records.push({ alarm, kind: 'page-child' });
    return alarm;
  }

  private ticket(id: string, name: string, spec: AlarmSpec): cw.Alarm {
    const alarm = this.metricAlarm(id, name, 'TICKET', spec);
    const action = new SnsAction(this.props.ticketTopic);
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    this.records.push({ alarm, kind: 'ticket' });
    return alarm;
  }

  /**
   * A composite over `children` (ALARM when any is). Its rule names the children by alarm name,
   * which keeps long rules short (CloudWatch allows 10,240 characters), so it depends on them explicitly.
   */
  private composite(
    id: string,
    name: string,
    children: readonly cw.AlarmBase[],
    w: Words,
    suppressor?: cw.IAlarm,
    severity = 'NOT A PAGE',
  ): cw.CompositeAlarm {
    const rule = children.map((c) => `ALARM("${this.names.get(c)}")`).join(' OR ');
    const alarm = new cw.CompositeAlarm(this, id, {
      compositeAlarmName: this.name(name),
      alarmDescription: this.describe(severity, w),
      alarmRule: cw.AlarmRule.fromString(rule),
      ...(suppressor === undefined
        ? {}
        : {
            actionsSuppressor: suppressor,
            actionsSuppressorWaitPeriod: SUPPRESSOR_WAIT,
            actionsSuppressorExtensionPeriod: SUPPRESSOR_EXTENSION,
          }),
    });
    for (const c of children) alarm.node.addDependency(c);
    this.names.set(alarm, this.name(name));
    return alarm;
  }

  /** A page: ALARM goes to the page topic, the recovery (OK) to the ticket topic. */
  private page(
    id: string,
    name: string,
    children: readonly cw.AlarmBase[],
    w: Words,
    suppressor?: cw.IAlarm,
  ): cw.CompositeAlarm {
    const alarm = this.composite(id, name, children, w, suppressor, 'PAGE');
    alarm.addAlarmAction(new SnsAction(this.props.pageTopic));
    alarm.addOkAction(new SnsAction(this.props.ticketTopic));
    this.records.push({ alarm, kind: 'page' });
    return alarm;
  }
}

export type { Severity };
