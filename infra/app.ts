/**
 * CDK app entry (cdk.json "app": "npx tsx infra/app.ts").
 * One environment-agnostic stack, named by context `stackName` (default "Spool"), checked by cdk-nag.
 * A setting the stack refuses is reported as one line naming its context key, not a stack trace.
 */
import { App } from 'aws-cdk-lib';
import { ConfigError } from './config.js';
import { addNagChecks } from './nag.js';
import { SpoolStack } from './stack.js';

const app = new App();
const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? 'Spool';
try {
  new SpoolStack(app, stackName, {
    description: 'Spool: serverless job queue (Lambda, HTTP API, EventBridge) with its state in Upstash Redis',
  });
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  console.error(`Spool: ${e.message}`);
  process.exit(1);
}
addNagChecks(app);
app.synth();
