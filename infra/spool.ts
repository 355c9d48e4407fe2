/**
 * `Spool`: the whole deployment as one L3 construct — functions, HTTP API, schedules, on-call topic,
 * alarms and dashboard — for your own CDK app. Its props are the context keys of the `Spool` stack
 * (infra/stack.ts, a thin wrapper over it), typed. Environment-agnostic: no account or region lookups.
 *
 *   import { Spool } from 'spool/infra/spool.js';
 *   const spool = new Spool(stack, 'Spool', { alarmEmail: 'oncall@example.com', queues: ['emails'] });
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Annotations, ArnFormat, CfnResource, RemovalPolicy, SecretValue, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { FunctionName } from '../functions/routes.js';
import { ConfigError, readConfig, type SpoolProps, type StackConfig } from './config.js';
import { SpoolApi } from './constructs/api.js';
import { SpoolCallers } from './constructs/callers.js';
import { SpoolFunctions } from './constructs/functions.js';
import { DASHBOARD_WIDGETS, SpoolMonitoring } from './constructs/monitoring.js';
import { SpoolSchedules } from './constructs/schedules.js';
import { acknowledgeNagFindings, type NagAcknowledgement } from './nag.js';

/** Repository root: holds package-lock.json and functions/<fn>/handler.ts. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Keys of the secret's JSON value, read by the functions at run time. */
export const REDIS_SECRET_KEYS = ['UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN'] as const;

export interface SpoolConstructProps extends SpoolProps {
  /** Where functions/<fn>/handler.ts and package-lock.json are; defaults to this repository's root. */
  readonly projectRoot?: string;
}

export class Spool extends Construct {
  readonly config: StackConfig;
  readonly redisSecret: secretsmanager.ISecret;
  /** The worker signs every delivery with it (spool-signature); targets verify with the same value. */
  readonly signingSecret: secretsmanager.Secret;
  /** Where pages go (created, or the topic of alarmTopicArn). Output AlertTopicArn. */
  readonly alertTopic: sns.ITopic;
  /** Where tickets go (created, or the topic of ticketTopicArn). */
  readonly ticketTopic: sns.ITopic;
  /** `<stack> (account <id>, <region>)` (tokens): what pages name, SPOOL_DEPLOYMENT_NAME. */
  readonly deploymentName: string;
  readonly functions: Readonly<Record<FunctionName, NodejsFunction>>;
  readonly spoolFunctions: SpoolFunctions;
  readonly api: SpoolApi;
  /** The managed policies SpoolProducer / SpoolOperator / SpoolReadOnly (named after the stack). */
  readonly callers: SpoolCallers;
  readonly schedules: SpoolSchedules;
  readonly monitoring: SpoolMonitoring;
  readonly nagAcknowledgements: readonly NagAcknowledgement[];

  constructor(scope: Construct, id: string, props: SpoolConstructProps = {}) {
    super(scope, id);
    const { projectRoot, ...settings } = props;
    this.config = readConfig((key) => (settings as Record<string, unknown>)[key]);
    const config = this.config;
    const stack = Stack.of(this);

    // ---- Upstash credentials: never in the template, only the secret's ARN reaches the functions ----
    this.redisSecret =
      config.secretName !== undefined
        ? secretsmanager.Secret.fromSecretNameV2(this, 'RedisSecret', config.secretName)
        : new secretsmanager.Secret(this, 'RedisSecret', {
            description: `Spool (${stack.stackName}): Upstash REST URL and token. Fill in: {"UPSTASH_REDIS_REST_URL": "https://...", "UPSTASH_REDIS_REST_TOKEN": "..."}`,
            // An empty placeholder of the expected shape, not a secret: the operator fills it in after
            // the first deploy. CloudFormation does not rewrite it as long as this template value stays the same.
            secretStringValue: SecretValue.unsafePlainText(
              JSON.stringify(Object.fromEntries(REDIS_SECRET_KEYS.map((k) => [k, '']))),
            ),
            removalPolicy: RemovalPolicy.RETAIN,
          });

    // ---- Delivery signing secret: generated here, read by the worker, given to targets by the operator ----
    this.signingSecret = new secretsmanager.Secret(this, 'SigningSecret', {
      description: `Spool (${stack.stackName}): HMAC secret of the spool-signature header on every delivery (one secret, or "new,old" during a rotation)`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // ---- Where pages and tickets go (config refuses a deployment that pages nobody) ----
    this.alertTopic =
      config.alarmTopicArn !== undefined
        ? sns.Topic.fromTopicArn(this, 'AlertTopic', config.alarmTopicArn)
        : this.topic('AlertTopic', 'Spool pages');
    if (config.alarmEmail !== undefined) this.alertTopic.addSubscription(new subs.EmailSubscription(config.alarmEmail));
    if (config.pagerUrl !== undefined) {
      this.alertTopic.addSubscription(
        new subs.UrlSubscription(config.pagerUrl, { protocol: sns.SubscriptionProtocol.HTTPS }),
      );
    }
    this.ticketTopic =
      config.ticketTopicArn !== undefined
        ? sns.Topic.fromTopicArn(this, 'TicketTopic', config.ticketTopicArn)
        : this.topic('TicketTopic', 'Spool tickets');
    // Tickets fall back to the page destination's email, never to the pager.
    const ticketEmail = config.ticketEmail ?? (config.ticketTopicArn === undefined ? config.alarmEmail : undefined);
    if (ticketEmail !== undefined) this.ticketTopic.addSubscription(new subs.EmailSubscription(ticketEmail));
    for (const w of config.warnings) Annotations.of(this).addWarningV2(`spool:${w.split(':')[0]}`, w);
    if (config.pagesOff)
      Annotations.of(this).addInfo(
        'pages=none: pages go to the page topic (output AlertTopicArn), which nobody receives',
      );

    /** `Spool (account 123456789012, eu-west-1)`: what a page names. */
    this.deploymentName = `${stack.stackName} (account ${stack.account}, ${stack.region})`;

    this.spoolFunctions = new SpoolFunctions(this, 'Functions', {
      config,
      projectRoot: projectRoot ?? REPO_ROOT,
      redisSecret: this.redisSecret,
      signingSecret: this.signingSecret,
      pageTopic: this.alertTopic,
      ticketTopic: this.ticketTopic,
      deployment: this.deploymentName,
    });
    this.functions = this.spoolFunctions.functions;

    this.api = new SpoolApi(this, 'Api', { config, functions: this.functions });
    this.callers = new SpoolCallers(this, 'Callers', { api: this.api.api });
    this.schedules = new SpoolSchedules(this, 'Schedules', { config, functions: this.functions });
    this.monitoring = new SpoolMonitoring(this, 'Monitoring', {
      config,
      pageTopic: this.alertTopic,
      ticketTopic: this.ticketTopic,
      functions: this.functions,
      stage: this.api.stage,
      accessLogs: this.api.accessLogs,
      schedulerLogs: this.spoolFunctions.logGroups.scheduler,
      workerFailures: this.spoolFunctions.workerFailures,
      timerFailures: this.spoolFunctions.timerFailures,
      scheduleTimerFailures: this.spoolFunctions.scheduleTimerFailures,
      deployment: this.deploymentName,
    });

    this.nagAcknowledgements = acknowledgeNagFindings(this);
    checkQueueLimits(this, config.queues.length);
  }

  /** Lets `grantee` enqueue, get, list and cancel jobs: the routes of the producer policy, nothing else. */
  grantEnqueue(grantee: iam.IGrantable): iam.Grant {
    return SpoolCallers.grant(grantee, this.callers.producerArns);
  }

  /** Lets `grantee` call every route (DLQ, replay, purge, drain included): the operator policy. */
  grantOperate(grantee: iam.IGrantable): iam.Grant {
    return SpoolCallers.grant(grantee, this.callers.operatorArns);
  }

  /** Lets `grantee` call every GET route: the read-only policy. */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    return SpoolCallers.grant(grantee, this.callers.readOnlyArns);
  }

  /** A topic of this deployment: TLS enforced, and this account's CloudWatch alarms may publish. */
  private topic(id: string, displayName: string): sns.Topic {
    const stack = Stack.of(this);
    const topic = new sns.Topic(this, id, { displayName, enforceSSL: true });
    // The topic has a resource policy (enforceSSL), so CloudWatch alarms of this account need an explicit allow.
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarms',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    return topic;
  }
}

/** CloudFormation's limit of resources per stack. */
export const CFN_MAX_RESOURCES = 500;
/** Resources each named queue adds: three page alarms and their composite. */
export const RESOURCES_PER_QUEUE = 4;
/** A composite alarm takes at most 100 children; the suppressor has the deployment page plus one per queue. */
const MAX_COMPOSITE_CHILDREN = 100;
/** A dashboard holds at most 500 widgets; each named queue has a row of 5. */
const MAX_DASHBOARD_WIDGETS = 500;

/**
 * Named queues against the limits they run into, after the deployment is built: CloudFormation's 500
 * resources in the stack, 100 children of the suppressor composite, 500 widgets of the dashboard.
 * The refusal names `queues` and says the maximum for this stack.
 */
function checkQueueLimits(spool: Spool, named: number): void {
  const stack = Stack.of(spool);
  const resources = stack.node.findAll().filter((c) => CfnResource.isCfnResource(c)).length;
  const base = resources - named * RESOURCES_PER_QUEUE;
  const byResources = Math.floor((CFN_MAX_RESOURCES - base) / RESOURCES_PER_QUEUE);
  const byComposite = MAX_COMPOSITE_CHILDREN - 1;
  const byDashboard = Math.floor((MAX_DASHBOARD_WIDGETS - DASHBOARD_WIDGETS.base) / DASHBOARD_WIDGETS.perQueue);
  const max = Math.min(byResources, byComposite, byDashboard);
  if (named > max)
    throw new ConfigError(
      'queues',
      `${named} named queues are too many: at most ${max} here (stack ${stack.stackName} has ${base} resources ` +
        `without them, each adds ${RESOURCES_PER_QUEUE}, and CloudFormation allows ${CFN_MAX_RESOURCES}; ` +
        `a composite alarm takes ${MAX_COMPOSITE_CHILDREN} children; a dashboard ${MAX_DASHBOARD_WIDGETS} widgets). ` +
        'Queues not named are still watched by the fleet-wide alarms',
    );
}
