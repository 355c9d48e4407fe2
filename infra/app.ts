/**
 * CDK app entry (cdk.json "app": "npx tsx infra/app.ts").
 * One environment-agnostic stack, named by context `stackName` (default "Spool"), checked by cdk-nag.
 */
import { App } from 'aws-cdk-lib';
import { addNagChecks } from './nag.js';
import { SpoolStack } from './stack.js';

const app = new App();
const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? 'Spool';
new SpoolStack(app, stackName, {
  description: 'Spool: serverless job queue (Lambda, HTTP API, EventBridge) with its state in Upstash Redis',
});
addNagChecks(app);
app.synth();
