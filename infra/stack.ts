/**
 * The `Spool` stack: a thin wrapper over the `Spool` construct (infra/spool.ts) that reads its props
 * from CDK context (same names; README "Deploy") and exports the stack outputs.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { FUNCTION_NAMES } from '../functions/routes.js';
import { CONTEXT_KEYS, type SpoolProps } from './config.js';
import { constructIdOf } from './constructs/functions.js';
import { Spool } from './spool.js';

export { REDIS_SECRET_KEYS, REPO_ROOT } from './spool.js';

export interface SpoolStackProps extends StackProps {
  /** Where functions/<fn>/handler.ts and package-lock.json are; defaults to the repository root. */
  readonly projectRoot?: string;
}

export class SpoolStack extends Stack {
  readonly spool: Spool;

  constructor(scope: Construct, id: string, props: SpoolStackProps = {}) {
    super(scope, id, props);
    // Context values may be strings (`-c key=value`); the construct's readers accept both forms.
    const fromContext = Object.fromEntries(CONTEXT_KEYS.map((k) => [k, this.node.tryGetContext(k)])) as SpoolProps;
    // The id "Default" keeps the construct out of every logical ID: a stack deployed before the
    // construct existed updates in place instead of replacing its resources.
    this.spool = new Spool(this, 'Default', { ...fromContext, projectRoot: props.projectRoot });
    const spool = this.spool;

    new CfnOutput(this, 'ApiUrl', {
      value: spool.api.stage.url,
      description: 'Base URL of the Spool HTTP API (SigV4-signed requests)',
    });
    new CfnOutput(this, 'AlertTopicArn', { value: spool.alertTopic.topicArn, description: 'Where pages go' });
    new CfnOutput(this, 'TicketTopicArn', { value: spool.ticketTopic.topicArn, description: 'Where tickets go' });
    new CfnOutput(this, 'RedisSecretArn', {
      value: spool.redisSecret.secretArn,
      description: 'Secret holding the Upstash REST URL and token',
    });
    new CfnOutput(this, 'SigningSecretArn', {
      value: spool.signingSecret.secretArn,
      description: 'Secret whose value targets verify spool-signature with',
    });
    new CfnOutput(this, 'WorkerFunctionName', { value: spool.spoolFunctions.workerFunctionName });
    for (const fn of FUNCTION_NAMES) {
      if (fn === 'worker') continue;
      new CfnOutput(this, `${constructIdOf(fn)}FunctionName`, { value: spool.functions[fn].functionName });
    }
    new CfnOutput(this, 'WorkerFailureQueueUrl', {
      value: spool.spoolFunctions.workerFailures.queueUrl,
      description: 'Failed asynchronous worker invocations (ticket worker-async-failures)',
    });
    new CfnOutput(this, 'TimerQueueUrl', {
      value: spool.spoolFunctions.timerQueue.queueUrl,
      description: 'Queue timers: SQS message timers that wake the worker when a delayed job is due',
    });
    new CfnOutput(this, 'TimerFailureQueueUrl', {
      value: spool.spoolFunctions.timerFailures.queueUrl,
      description: 'Timer messages the worker failed to handle 3 times (ticket timer-failures)',
    });
    new CfnOutput(this, 'ScheduleTimerQueueUrl', {
      value: spool.spoolFunctions.scheduleTimerQueue.queueUrl,
      description: 'Schedule timers: SQS message timers that wake the scheduler when a schedule is due to fire',
    });
    new CfnOutput(this, 'ScheduleTimerFailureQueueUrl', {
      value: spool.spoolFunctions.scheduleTimerFailures.queueUrl,
      description: 'Schedule timer messages the scheduler failed to handle 3 times (ticket schedule-timer-failures)',
    });
    new CfnOutput(this, 'ApiAccessLogGroupName', {
      value: spool.api.accessLogs.logGroupName,
      description: 'API access logs (one JSON line per request)',
    });
    for (const [key, policy, what] of [
      ['SpoolProducerPolicyArn', spool.callers.producer, 'enqueue, get, list and cancel jobs'],
      ['SpoolOperatorPolicyArn', spool.callers.operator, 'every route'],
      ['SpoolReadOnlyPolicyArn', spool.callers.readOnly, 'every GET route'],
    ] as const) {
      new CfnOutput(this, key, {
        value: policy.managedPolicyArn,
        description: `Managed policy for callers of the API: ${what}`,
      });
    }
    new CfnOutput(this, 'DashboardName', { value: spool.monitoring.dashboard.dashboardName });
  }
}
