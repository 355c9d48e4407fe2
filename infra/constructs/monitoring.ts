/**
 * Alarms (each with alarm and OK actions to the on-call topic and a runbook link) and the dashboard.
 * Queue metrics follow the contract of shared/metrics/names.ts: the health function publishes every
 * figure fleet-wide (no dimension) and per queue (`Queue` dimension).
 */
import { Duration, Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { FUNCTION_NAMES, type FunctionName } from '../../functions/routes.js';
import { RUNBOOK, type RunbookAnchor, runbookUrl } from '../../shared/health/runbook.js';
import { METRICS, type MetricKey, QUEUE_DIMENSION, STATUS_VALUE } from '../../shared/metrics/names.js';
import type { StackConfig } from '../config.js';
import { constructIdOf } from './functions.js';

/** A worker stops leasing 10 s before its timeout (SPOOL_WORKER_TIME_MARGIN_MS); alarm past half of that. */
const WORKER_STOP_SLACK_MS = 5_000;

export interface SpoolMonitoringProps {
  readonly config: StackConfig;
  readonly alertTopic: ITopic;
  readonly functions: Readonly<Record<FunctionName, lambda.Function>>;
  readonly stage: apigw.IHttpStage;
}

interface AlarmSpec {
  readonly metric: cw.IMetric;
  readonly threshold: number;
  readonly comparisonOperator: cw.ComparisonOperator;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm?: number;
  readonly treatMissingData: cw.TreatMissingData;
  readonly summary: string;
  readonly runbook: RunbookAnchor;
}

const GT = cw.ComparisonOperator.GREATER_THAN_THRESHOLD;
const GTE = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD;
const LT = cw.ComparisonOperator.LESS_THAN_THRESHOLD;

export class SpoolMonitoring extends Construct {
  readonly alarms: cw.Alarm[] = [];
  readonly dashboard: cw.Dashboard;
  private readonly action: SnsAction;
  private readonly prefix: string;

  constructor(scope: Construct, id: string, props: SpoolMonitoringProps) {
    super(scope, id);
    const { config } = props;
    this.action = new SnsAction(props.alertTopic);
    this.prefix = Stack.of(this).stackName;

    // Alarm periods follow the health schedule: at least 5 minutes, at least one health run per period.
    const healthEvery = config.healthSchedule.intervalMinutes ?? 5;
    const period = Duration.minutes(Math.min(1440, Math.max(5, healthEvery)));
    const spool = (key: MetricKey, statistic: string, queue?: string, p: Duration = period): cw.Metric =>
      new cw.Metric({
        namespace: config.metricNamespace,
        metricName: METRICS[key],
        statistic,
        period: p,
        dimensionsMap: queue === undefined ? undefined : { [QUEUE_DIMENSION]: queue },
        // No label: a labelled metric makes CloudFormation alarms use the metric-math form.
      });

    // ---- Fleet-wide (no dimension) and per named queue ----
    for (const queue of [undefined, ...config.queues]) {
      const where = queue === undefined ? 'fleet' : `queue ${queue}`;
      const idSuffix = queue === undefined ? '' : `-${queue}`;
      const cidSuffix =
        queue === undefined ? '' : `Queue${queue.replace(/[^A-Za-z0-9]/g, '')}${config.queues.indexOf(queue)}`;
      // Health-fed gauges keep their state while the health function is silent (IGNORE):
      // the heartbeat alarm reports the silence, and on-call does not get a false OK.
      this.addAlarm(`QueueUnhealthy${cidSuffix}`, `queue-unhealthy${idSuffix}`, {
        metric: spool('status', 'Minimum', queue),
        threshold: STATUS_VALUE.unhealthy,
        comparisonOperator: GTE,
        evaluationPeriods: 1,
        treatMissingData: cw.TreatMissingData.IGNORE,
        summary: `Spool ${where}: status unhealthy (Status >= ${STATUS_VALUE.unhealthy}) for a whole period`,
        runbook: RUNBOOK.queueUnhealthy,
      });
      this.addAlarm(`DeadJobs${cidSuffix}`, `dead-jobs${idSuffix}`, {
        metric: spool('dead', 'Maximum', queue),
        threshold: 0,
        comparisonOperator: GT,
        evaluationPeriods: 1,
        treatMissingData: cw.TreatMissingData.IGNORE,
        summary: `Spool ${where} (warning): dead-letter queue is not empty`,
        runbook: RUNBOOK.deadJobs,
      });
      this.addAlarm(`DeadJobsCritical${cidSuffix}`, `dead-jobs-critical${idSuffix}`, {
        metric: spool('dead', 'Maximum', queue),
        threshold: config.deadJobsCritical,
        comparisonOperator: GT,
        evaluationPeriods: 1,
        treatMissingData: cw.TreatMissingData.IGNORE,
        summary: `Spool ${where} (critical): more than ${config.deadJobsCritical} dead jobs`,
        runbook: RUNBOOK.deadJobsCritical,
      });
      this.addAlarm(`OldestWaitingAge${cidSuffix}`, `oldest-waiting-age${idSuffix}`, {
        metric: spool('oldestWaitingAge', 'Maximum', queue),
        threshold: config.oldestWaitingAgeSeconds,
        comparisonOperator: GT,
        evaluationPeriods: 1,
        treatMissingData: cw.TreatMissingData.IGNORE,
        summary: `Spool ${where}: a job has waited more than ${config.oldestWaitingAgeSeconds} s`,
        runbook: RUNBOOK.oldestWaitingAge,
      });
      this.addAlarm(`LeaseExpired${cidSuffix}`, `lease-expired${idSuffix}`, {
        metric: spool('leaseExpired', 'Minimum', queue),
        threshold: 0,
        comparisonOperator: GT,
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
        treatMissingData: cw.TreatMissingData.IGNORE,
        summary: `Spool ${where}: active jobs with expired leases for two periods in a row`,
        runbook: RUNBOOK.leaseExpired,
      });
      // A delta published on every health run: absence means nothing was trimmed.
      this.addAlarm(`DeadTrimmed${cidSuffix}`, `dlq-trimmed${idSuffix}`, {
        metric: spool('deadTrimmed', 'Sum', queue),
        threshold: 0,
        comparisonOperator: GT,
        evaluationPeriods: 1,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
        summary: `Spool ${where}: the DLQ cap removed dead jobs (their failure records are gone)`,
        runbook: RUNBOOK.dlqTrimmed,
      });
    }

    // ---- Heartbeat: the one alarm that must fire on silence ----
    this.addAlarm('HealthHeartbeatMissing', 'health-heartbeat-missing', {
      metric: spool('heartbeat', 'Sum'),
      threshold: 1,
      comparisonOperator: LT,
      evaluationPeriods: period.toMinutes() > 720 ? 1 : 2,
      treatMissingData: cw.TreatMissingData.BREACHING,
      summary: 'Spool: no health heartbeat (the health function is not running or cannot publish)',
      runbook: RUNBOOK.heartbeatMissing,
    });

    // ---- Per function ----
    const fnPeriod = Duration.minutes(5);
    for (const fn of FUNCTION_NAMES) {
      const f = props.functions[fn];
      const cid = constructIdOf(fn);
      const timeoutMs = (fn === 'worker' ? config.workerTimeoutSeconds : 30) * 1000;
      this.addAlarm(`${cid}Errors`, `${fn}-errors`, {
        metric: f.metricErrors({ period: fnPeriod, statistic: 'Sum' }),
        threshold: 0,
        comparisonOperator: GT,
        evaluationPeriods: 1,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
        summary: `Spool ${fn} function: invocations failed`,
        runbook: RUNBOOK.functionErrors,
      });
      // The worker kicks itself asynchronously; with reserved concurrency a short burst of throttles is expected.
      this.addAlarm(`${cid}Throttles`, `${fn}-throttles`, {
        metric: f.metricThrottles({ period: fnPeriod, statistic: 'Sum' }),
        threshold: 0,
        comparisonOperator: GT,
        evaluationPeriods: fn === 'worker' ? 3 : 1,
        datapointsToAlarm: fn === 'worker' ? 3 : 1,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
        summary: `Spool ${fn} function: invocations throttled${fn === 'worker' ? ' for 15 minutes' : ''}`,
        runbook: RUNBOOK.functionThrottles,
      });
      // A busy worker runs until its own stop time (timeout minus SPOOL_WORKER_TIME_MARGIN_MS, 10 s by
      // default) and hands off to a fresh worker by design, so a high p99 is normal for it. What is not:
      // a worker that ran past its stop time (a job ignoring its timeout), on its way to being killed.
      const worker = fn === 'worker';
      const limit = worker
        ? timeoutMs - WORKER_STOP_SLACK_MS
        : Math.round((timeoutMs * config.durationAlarmPercent) / 100);
      this.addAlarm(`${cid}DurationNearTimeout`, `${fn}-duration-near-timeout`, {
        metric: f.metricDuration({ period: fnPeriod, statistic: worker ? 'Maximum' : 'p99' }),
        threshold: limit,
        comparisonOperator: GT,
        evaluationPeriods: worker ? 1 : 3,
        datapointsToAlarm: worker ? 1 : 2,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
        summary: worker
          ? `Spool worker: an invocation ran past its stop time (within ${WORKER_STOP_SLACK_MS / 1000} s of its ${timeoutMs / 1000} s timeout)`
          : `Spool ${fn} function: p99 duration above ${config.durationAlarmPercent}% of its ${timeoutMs / 1000} s timeout`,
        runbook: RUNBOOK.functionDuration,
      });
    }

    // ---- API 5xx rate ----
    const apiPeriod = Duration.minutes(5);
    const api5xxRate = new cw.MathExpression({
      expression: 'IF(requests > 0, 100 * errors / requests, 0)',
      usingMetrics: {
        errors: props.stage.metricServerError({ period: apiPeriod, statistic: 'Sum' }),
        requests: props.stage.metricCount({ period: apiPeriod, statistic: 'Sum' }),
      },
      period: apiPeriod,
      label: 'API 5xx %',
    });
    this.addAlarm('Api5xxRate', 'api-5xx-rate', {
      metric: api5xxRate,
      threshold: config.api5xxRatePercent,
      comparisonOperator: GT,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      summary: `Spool API: more than ${config.api5xxRatePercent}% of requests answered 5xx for 10 minutes`,
      runbook: RUNBOOK.api5xx,
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
          leftAnnotations: [{ value: config.oldestWaitingAgeSeconds, label: 'waiting-age alarm' }],
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
    // The alarm status widget shows at most 100 alarms.
    this.dashboard.addWidgets(
      new cw.AlarmStatusWidget({ title: 'Spool alarms', alarms: this.alarms.slice(0, 100), width: 24, height: 4 }),
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

  private addAlarm(id: string, name: string, spec: AlarmSpec): cw.Alarm {
    const alarm = new cw.Alarm(this, id, {
      alarmName: `${this.prefix}-${name}`.slice(0, 255),
      alarmDescription: `${spec.summary}. Runbook: ${runbookUrl(spec.runbook)}`,
      metric: spec.metric,
      threshold: spec.threshold,
      comparisonOperator: spec.comparisonOperator,
      evaluationPeriods: spec.evaluationPeriods,
      datapointsToAlarm: spec.datapointsToAlarm,
      treatMissingData: spec.treatMissingData,
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    this.alarms.push(alarm);
    return alarm;
  }
}
