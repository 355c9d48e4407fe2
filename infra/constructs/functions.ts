/**
 * One Lambda function per entry of FUNCTION_NAMES (functions/routes.ts), bundled by the local
 * esbuild (never Docker), each with its own role, log group and exactly the permissions it needs.
 */
import * as path from 'node:path';
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FUNCTION_NAMES, type FunctionName, functionEntry } from '../../functions/routes.js';
import type { StackConfig } from '../config.js';

/** Runtime of every function; bundles target the same Node major. */
export const RUNTIME = lambda.Runtime.NODEJS_22_X;
const ESBUILD_TARGET = 'node22';
export const DEFAULT_TIMEOUT = Duration.seconds(30);

/** A function's timeout: `workerTimeoutSeconds` for the worker, 30 s for the others. */
export const timeoutOf = (config: StackConfig, fn: FunctionName): Duration =>
  fn === 'worker' ? Duration.seconds(config.workerTimeoutSeconds) : DEFAULT_TIMEOUT;

interface FunctionSpec {
  readonly description: string;
  /** Reads the Upstash REST URL/token from the secret. */
  readonly readsRedisSecret: boolean;
  /** Invokes the worker asynchronously (gets SPOOL_WORKER_FUNCTION_NAME and lambda:InvokeFunction on it). */
  readonly invokesWorker: boolean;
  /** Publishes the Spool metrics (cloudwatch:PutMetricData in the Spool namespace only). */
  readonly publishesMetrics: boolean;
  /** Arms queue timers (gets SPOOL_TIMER_QUEUE_URL and sqs:SendMessage on the timer queue). */
  readonly armsTimers?: boolean;
  /**
   * Arms the schedule timer (gets SPOOL_SCHEDULE_TIMER_QUEUE_URL and sqs:SendMessage on the schedule
   * timer queue, whose event source mapping invokes the scheduler).
   */
  readonly armsScheduleTimers?: boolean;
  /**
   * Lambda's recursive-loop detection off (RecursiveLoop.ALLOW), for a function whose loop through
   * SQS is its design; the reason is at its entry below.
   */
  readonly loopsThroughSqs?: boolean;
  /**
   * Pages and tickets of its own: gets SPOOL_ALERT_TOPIC_ARN (pages), SPOOL_TICKET_TOPIC_ARN (tickets),
   * sns:Publish on both, and what a message must say (SPOOL_DEPLOYMENT_NAME, SPOOL_RUNBOOK_BASE_URL).
   */
  readonly publishesAlerts: boolean;
  /**
   * Lambda's own retries of a failed asynchronous invocation (schedule ticks, kicks), set on purpose;
   * undefined for a function only ever invoked synchronously (the API, an operator's `aws lambda invoke`).
   */
  readonly asyncRetries?: 0 | 1;
}

/** Keyed by FunctionName so that a new function in routes.ts does not compile until it is described here. */
const SPECS: Record<FunctionName, FunctionSpec> = {
  enqueue: {
    description: 'Spool API: enqueue, list, get and cancel jobs; kicks the worker',
    readsRedisSecret: true,
    invokesWorker: true,
    publishesMetrics: false,
    publishesAlerts: false,
    // A delayed job sooner than its queue's first arms the queue's timer.
    armsTimers: true,
  },
  worker: {
    description:
      'Spool worker: keeps its slots busy with leased jobs, acknowledges as they finish; woken by kicks, timers and its schedule',
    readsRedisSecret: true,
    invokesWorker: true,
    publishesMetrics: false,
    publishesAlerts: false,
    // A worker leaving delayed jobs arms the first one's timer; a timer due past 900 s is re-armed.
    armsTimers: true,
    // Worker -> timer queue -> worker is by design: a worker leaving delayed jobs arms a timer that
    // invokes the worker, which arms the next (retries, and timers past 900 s re-armed every 900 s).
    // Each hop waits for a delayed job in Redis, so the chain is bounded by real work, but it is
    // long: a job delayed a day is 96 hops, and Lambda's detection would drop it after about 16.
    // Its kicks to itself are direct invokes either way.
    loopsThroughSqs: true,
    // Invocations are nudges (scheduled or kicked); the jobs live in Redis and expired leases are
    // re-leased, so Lambda's retries would only add parallel workers. A failed one goes to the
    // on-failure queue (a ticket) instead.
    asyncRetries: 0,
  },
  purge: {
    description: 'Spool purge: removes completed jobs past retention and stale state; API purge endpoint',
    readsRedisSecret: true,
    invokesWorker: false,
    publishesMetrics: false,
    publishesAlerts: false,
    // Hourly and resumable: one retry gets past a passing Upstash error now rather than in an hour;
    // more would only repeat a persistent failure (which the purge-errors ticket reports).
    asyncRetries: 1,
  },
  health: {
    description: 'Spool health: publishes queue metrics and the heartbeat; API health/queues and JSON 404/405 fallback',
    readsRedisSecret: true,
    invokesWorker: false,
    publishesMetrics: true,
    publishesAlerts: true,
    // The next tick comes within the schedule's interval; a retry would publish the same run twice
    // and count one failure as several runs of a status.
    asyncRetries: 0,
  },
  'dlq-replay': {
    description: 'Spool DLQ API: list, delete and replay dead jobs; kicks the worker after a replay',
    readsRedisSecret: true,
    invokesWorker: true,
    publishesMetrics: false,
    publishesAlerts: false,
  },
  scheduler: {
    description: 'Spool scheduler: the schedule API; fires due schedules and kicks the workers of their queues',
    readsRedisSecret: true,
    // A fire's job kicks its queue's worker, or (delayed) arms the queue's worker timer.
    invokesWorker: true,
    armsTimers: true,
    // Each run (and a PUT or POST that makes a fire sooner) arms the schedule timer for the next fire.
    armsScheduleTimers: true,
    // Scheduler -> schedule timer queue -> scheduler is by design: each run arms the timer of the next
    // fire, so an every-2-s schedule is a chain of 1,800 hops an hour for as long as it lives, and
    // Lambda's detection would drop it after about 16 (the schedule would then fire on the minute
    // tick only). The chain does not fan out: a run arms a timer only when it claims the single
    // pending one (claimScheduleTimer), and each hop waits for a due fire (everyMs >= 1000).
    loopsThroughSqs: true,
    publishesMetrics: false,
    publishesAlerts: false,
    // Its minute tick is the retry: fires are idempotent (the job's idempotency key is the schedule
    // and the fire time), and the next tick fires what a failed one missed. Lambda's retries (1 and
    // 2 minutes later) would only run alongside those ticks. A failed run is a ticket (scheduler-errors).
    asyncRetries: 0,
  },
};

export interface SpoolFunctionsProps {
  readonly config: StackConfig;
  /** Directory holding package-lock.json and functions/<fn>/handler.ts. */
  readonly projectRoot: string;
  readonly redisSecret: ISecret;
  /** The delivery signing secret: the worker reads it (SPOOL_SIGNING_SECRET_ARN). */
  readonly signingSecret: ISecret;
  /** Where pages go. */
  readonly pageTopic: ITopic;
  /** Where tickets go. */
  readonly ticketTopic: ITopic;
  /** `<stack> (account <id>, <region>)`, for the health function's messages. */
  readonly deployment: string;
}

/** `dlq-replay` → `DlqReplay` */
export const constructIdOf = (fn: FunctionName): string =>
  fn
    .split(/[^A-Za-z0-9]+/)
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join('');

export class SpoolFunctions extends Construct {
  readonly functions: Readonly<Record<FunctionName, NodejsFunction>>;
  readonly logGroups: Readonly<Record<FunctionName, logs.LogGroup>>;
  readonly roles: Readonly<Record<FunctionName, iam.Role>>;
  /** Fixed, so that the worker (and enqueue) can name it without a reference cycle. */
  readonly workerFunctionName: string;
  /** On-failure destination of the worker's asynchronous invocations (kicks and ticks that failed). */
  readonly workerFailures: sqs.Queue;
  /**
   * The timer queue: SQS message timers (DelaySeconds up to 900 s) that wake the worker when a queue's
   * first delayed job is due; its event source mapping invokes the worker.
   */
  readonly timerQueue: sqs.Queue;
  /** Timer messages the worker failed to handle 3 times (the timer queue's dead-letter queue). */
  readonly timerFailures: sqs.Queue;
  /**
   * The schedule timer queue: one SQS message timer at a time (DelaySeconds up to 900 s) that wakes the
   * scheduler when the next fire of a schedule is due; its event source mapping invokes the scheduler.
   */
  readonly scheduleTimerQueue: sqs.Queue;
  /** Schedule timer messages the scheduler failed to handle 3 times (its dead-letter queue). */
  readonly scheduleTimerFailures: sqs.Queue;

  constructor(scope: Construct, id: string, props: SpoolFunctionsProps) {
    super(scope, id);
    const { config } = props;
    const stack = Stack.of(this);

    // The worker invokes itself: a reference to its own ARN in its role's policy (which the function
    // depends on) would be a cycle, so it gets a fixed name and the ARN is built from that name.
    this.workerFunctionName = `${stack.stackName.slice(0, 57)}-worker`;
    const workerArn = stack.formatArn({
      service: 'lambda',
      resource: 'function',
      resourceName: this.workerFunctionName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    this.workerFailures = new sqs.Queue(this, 'WorkerFailures', {
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
    });

    this.timerFailures = new sqs.Queue(this, 'TimerFailures', {
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
    });
    this.timerQueue = new sqs.Queue(this, 'Timers', {
      // An event source mapping needs a visibility timeout of at least the function's timeout (the
      // worker answers a timer batch in milliseconds: it kicks a worker or re-arms).
      visibilityTimeout: timeoutOf(config, 'worker'),
      // A timer is worth little once the schedule (the safety net) has run its queue.
      retentionPeriod: Duration.days(1),
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      deadLetterQueue: { queue: this.timerFailures, maxReceiveCount: 3 },
    });

    this.scheduleTimerFailures = new sqs.Queue(this, 'ScheduleTimerFailures', {
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
    });
    this.scheduleTimerQueue = new sqs.Queue(this, 'ScheduleTimers', {
      // At least the scheduler's timeout, as an event source mapping requires (a run takes a few
      // Redis calls, and sleeps at most ~1.5 s for a fire due right after).
      visibilityTimeout: timeoutOf(config, 'scheduler'),
      // A timer is worth little once the minute tick (the safety net) has run.
      retentionPeriod: Duration.days(1),
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      deadLetterQueue: { queue: this.scheduleTimerFailures, maxReceiveCount: 3 },
    });

    const functions = {} as Record<FunctionName, NodejsFunction>;
    const logGroups = {} as Record<FunctionName, logs.LogGroup>;
    const roles = {} as Record<FunctionName, iam.Role>;

    for (const fn of FUNCTION_NAMES) {
      const spec = SPECS[fn];
      const cid = constructIdOf(fn);
      const isWorker = fn === 'worker';

      const logGroup = new logs.LogGroup(this, `${cid}Logs`, {
        retention: config.logRetentionDays as logs.RetentionDays,
      });
      // Own role instead of the default one: no AWSLambdaBasicExecutionRole managed policy, logs only to its group.
      const role = new iam.Role(this, `${cid}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `Spool ${fn} function`,
      });
      logGroup.grantWrite(role);

      const environment: Record<string, string> = {
        ...config.functionEnv,
        POWERTOOLS_SERVICE_NAME: 'spool',
        LOG_LEVEL: config.logLevel,
        NODE_OPTIONS: '--enable-source-maps',
        SPOOL_KEY_PREFIX: config.keyPrefix,
        SPOOL_METRIC_NAMESPACE: config.metricNamespace,
      };
      if (spec.readsRedisSecret) {
        environment.SPOOL_REDIS_SECRET_ARN = props.redisSecret.secretArn;
        props.redisSecret.grantRead(role);
      }
      if (spec.invokesWorker) {
        environment.SPOOL_WORKER_FUNCTION_NAME = this.workerFunctionName;
        role.addToPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [workerArn] }));
      }
      if (spec.armsTimers) {
        environment.SPOOL_TIMER_QUEUE_URL = this.timerQueue.queueUrl;
        this.timerQueue.grantSendMessages(role);
      }
      if (spec.armsScheduleTimers) {
        environment.SPOOL_SCHEDULE_TIMER_QUEUE_URL = this.scheduleTimerQueue.queueUrl;
        this.scheduleTimerQueue.grantSendMessages(role);
      }
      if (spec.publishesAlerts) {
        environment.SPOOL_ALERT_TOPIC_ARN = props.pageTopic.topicArn;
        environment.SPOOL_TICKET_TOPIC_ARN = props.ticketTopic.topicArn;
        environment.SPOOL_DEPLOYMENT_NAME = props.deployment;
        if (config.runbookBaseUrl !== undefined) environment.SPOOL_RUNBOOK_BASE_URL = config.runbookBaseUrl;
        // Per-queue metrics for the named queues only (fleet-wide ones cover every queue).
        environment.SPOOL_METRIC_QUEUES = config.queues.join(',');
        props.pageTopic.grantPublish(role);
        props.ticketTopic.grantPublish(role);
      }
      if (spec.publishesMetrics) {
        // PutMetricData has no resource-level permissions; the namespace condition is the scope.
        role.addToPolicy(
          new iam.PolicyStatement({
            actions: ['cloudwatch:PutMetricData'],
            resources: ['*'],
            conditions: { StringEquals: { 'cloudwatch:namespace': config.metricNamespace } },
          }),
        );
      }
      if (fn === 'health') Object.assign(environment, config.healthEnv);
      if (isWorker) {
        environment.SPOOL_TARGET_ALLOWED_HOSTS = config.targetAllowedHosts.join(',');
        environment.SPOOL_SIGNING_SECRET_ARN = props.signingSecret.secretArn;
        props.signingSecret.grantRead(role);
      }

      const f = new NodejsFunction(this, cid, {
        entry: path.join(props.projectRoot, functionEntry(fn)),
        handler: 'handler',
        projectRoot: props.projectRoot,
        depsLockFilePath: path.join(props.projectRoot, 'package-lock.json'),
        runtime: RUNTIME,
        architecture: lambda.Architecture.ARM_64,
        description: spec.description,
        functionName: isWorker ? this.workerFunctionName : undefined,
        memorySize: isWorker ? config.workerMemoryMb : config.functionMemoryMb,
        timeout: timeoutOf(config, fn),
        reservedConcurrentExecutions: isWorker ? config.workerReservedConcurrency : undefined,
        retryAttempts: spec.asyncRetries,
        onFailure: isWorker ? new destinations.SqsDestination(this.workerFailures) : undefined,
        // Off only where a loop through SQS is the design (the worker's and the scheduler's timers).
        recursiveLoop: spec.loopsThroughSqs ? lambda.RecursiveLoop.ALLOW : undefined,
        role,
        logGroup,
        tracing: lambda.Tracing.ACTIVE,
        environment,
        bundling: {
          minify: true,
          sourceMap: true,
          sourceMapMode: SourceMapMode.DEFAULT,
          sourcesContent: false,
          target: ESBUILD_TARGET,
          format: OutputFormat.ESM,
          mainFields: ['module', 'main'],
          // Some CommonJS dependencies call require() on Node built-ins; ESM output has no require.
          banner:
            "import{createRequire as __spoolCreateRequire}from'node:module';const require=__spoolCreateRequire(import.meta.url);",
          externalModules: ['@aws-sdk/*'],
          forceDockerBundling: false,
        },
      });

      functions[fn] = f;
      logGroups[fn] = logGroup;
      roles[fn] = role;
    }

    // Timer messages invoke the worker: it kicks a worker for each due queue and re-arms the rest;
    // a record it could not handle is reported back (partial batch response) and delivered again.
    functions.worker.addEventSource(
      new SqsEventSource(this.timerQueue, { batchSize: 10, reportBatchItemFailures: true, maxConcurrency: 2 }),
    );
    // Schedule timer messages invoke the scheduler: it fires what is due and arms the next timer; a
    // record it could not handle is reported back (partial batch response) and delivered again.
    functions.scheduler.addEventSource(
      new SqsEventSource(this.scheduleTimerQueue, { batchSize: 10, reportBatchItemFailures: true, maxConcurrency: 2 }),
    );

    this.functions = functions;
    this.logGroups = logGroups;
    this.roles = roles;
  }
}
