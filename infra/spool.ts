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
import { ArnFormat, RemovalPolicy, SecretValue, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { FunctionName } from '../functions/routes.js';
import { readConfig, type SpoolProps, type StackConfig } from './config.js';
import { SpoolApi } from './constructs/api.js';
import { SpoolFunctions } from './constructs/functions.js';
import { SpoolMonitoring } from './constructs/monitoring.js';
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
  readonly alertTopic: sns.Topic;
  readonly functions: Readonly<Record<FunctionName, NodejsFunction>>;
  readonly spoolFunctions: SpoolFunctions;
  readonly api: SpoolApi;
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

    // ---- On-call topic ----
    this.alertTopic = new sns.Topic(this, 'AlertTopic', {
      displayName: 'Spool on-call',
      enforceSSL: true,
    });
    // The topic has a resource policy (enforceSSL), so CloudWatch alarms of this account need an explicit allow.
    this.alertTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarms',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alertTopic.topicArn],
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
    if (config.alarmEmail !== undefined) this.alertTopic.addSubscription(new subs.EmailSubscription(config.alarmEmail));
    if (config.pagerUrl !== undefined) {
      this.alertTopic.addSubscription(
        new subs.UrlSubscription(config.pagerUrl, { protocol: sns.SubscriptionProtocol.HTTPS }),
      );
    }

    this.spoolFunctions = new SpoolFunctions(this, 'Functions', {
      config,
      projectRoot: projectRoot ?? REPO_ROOT,
      redisSecret: this.redisSecret,
      signingSecret: this.signingSecret,
      alertTopic: this.alertTopic,
    });
    this.functions = this.spoolFunctions.functions;

    this.api = new SpoolApi(this, 'Api', { config, functions: this.functions });
    this.schedules = new SpoolSchedules(this, 'Schedules', { config, functions: this.functions });
    this.monitoring = new SpoolMonitoring(this, 'Monitoring', {
      config,
      alertTopic: this.alertTopic,
      functions: this.functions,
      stage: this.api.stage,
    });

    this.nagAcknowledgements = acknowledgeNagFindings(this);
  }
}
