/**
 * The `Spool` stack: a thin wrapper over the `Spool` construct (infra/spool.ts) that reads its props
 * from CDK context (same names; README "Deploy") and exports the stack outputs.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { CONTEXT_KEYS, type SpoolProps } from './config.js';
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
    new CfnOutput(this, 'AlertTopicArn', { value: spool.alertTopic.topicArn, description: 'On-call SNS topic' });
    new CfnOutput(this, 'RedisSecretArn', {
      value: spool.redisSecret.secretArn,
      description: 'Secret holding the Upstash REST URL and token',
    });
    new CfnOutput(this, 'SigningSecretArn', {
      value: spool.signingSecret.secretArn,
      description: 'Secret whose value targets verify spool-signature with',
    });
    new CfnOutput(this, 'WorkerFunctionName', { value: spool.spoolFunctions.workerFunctionName });
    new CfnOutput(this, 'DashboardName', { value: spool.monitoring.dashboard.dashboardName });
  }
}
