/**
 * cdk-nag (3.x) AwsSolutions checks, and the findings Spool accepts, each with its reason.
 * cdk-nag 3 uses CDK's native acknowledgements, one per finding id as printed by the report
 * (e.g. `AwsSolutions::AwsSolutions-IAM5[Resource::*]`); there is no prefix matching, so a new kind of
 * finding (a new wildcard, a new rule) fails the synth until someone looks at it.
 */
import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { FUNCTION_NAMES } from '../functions/routes.js';
import { PRODUCER_ROUTES, resourceOf, STAGE } from './constructs/callers.js';
import type { Spool } from './spool.js';

export function addNagChecks(scope: IConstruct): void {
  Validations.of(scope).addPlugins(new AwsSolutionsChecks(scope));
}

/** Every acknowledgement made, for the tests (each must have a reason). */
export interface NagAcknowledgement {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

const REASONS = {
  SMG4:
    'The secret holds an Upstash REST URL and token that only Upstash can issue; Secrets Manager cannot rotate them. ' +
    'Rotation is an operator procedure (docs/runbook.md#rotate-the-upstash-token).',
  SMG4_SIGNING:
    'The signing secret is shared with every target, which must learn a new value before Spool drops the old one; ' +
    'an automatic rotation would break their verification. Rotation is the two-step procedure of the README ' +
    '(Signed deliveries: "new,old", then "new").',
  IAM5_XRAY:
    'Resource::* comes only from xray:PutTraceSegments and xray:PutTelemetryRecords (Tracing.ACTIVE), ' +
    'which support no resource-level permissions.',
  IAM5_XRAY_METRICS:
    'Resource::* comes only from xray:PutTraceSegments/PutTelemetryRecords (Tracing.ACTIVE) and from ' +
    'cloudwatch:PutMetricData, none of which support resource-level permissions; PutMetricData is limited ' +
    'to the Spool metric namespace by a cloudwatch:namespace condition.',
  SQS3:
    "This queue is itself a dead-letter destination: the on-failure destination of the worker's asynchronous " +
    'invocations. Nothing consumes it (an operator reads it, alarmed by the worker-async-failures ticket), so a ' +
    'DLQ of its own would never receive anything.',
  IAM5_CALLERS:
    'execute-api resources name a route with its path parameters as "*" (queue names and job ids are not known ' +
    'at deploy time); each producer resource names its route to the end, never a prefix (IAM\'s * spans "/"), and ' +
    'the operator and read-only policies cover every route or every GET route on purpose.',
  L1:
    'Pinned to the Node.js 22 runtime on purpose: the project is built and tested against Node 20/22 ' +
    '(engines, @types/node, esbuild target node22). Move to a newer runtime with a tested upgrade, not implicitly.',
} as const;

export function acknowledgeNagFindings(spool: Spool): NagAcknowledgement[] {
  const made: NagAcknowledgement[] = [];
  const ack = (scope: IConstruct, rule: string, reason: string): void => {
    const id = `AwsSolutions::AwsSolutions-${rule}`;
    Validations.of(scope).acknowledge({ id, reason });
    made.push({ path: scope.node.path, id, reason });
  };

  if (spool.config.secretName === undefined) ack(spool.redisSecret, 'SMG4', REASONS.SMG4);
  ack(spool.signingSecret, 'SMG4', REASONS.SMG4_SIGNING);
  ack(spool.spoolFunctions.workerFailures, 'SQS3', REASONS.SQS3);

  // cdk-nag names a wildcard resource as it reads in the template, references as <LogicalId>.
  const apiId = Stack.of(spool).getLogicalId(spool.api.api.node.defaultChild as CfnElement);
  const asNag = (method: string, path: string) =>
    `IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<${apiId}>/${STAGE}/${method}${path}]`;
  const { callers } = spool;
  for (const r of PRODUCER_ROUTES) {
    const { method, path } = resourceOf(r);
    ack(callers.producer, asNag(method, path), REASONS.IAM5_CALLERS);
  }
  ack(callers.operator, asNag('*', '/*'), REASONS.IAM5_CALLERS);
  ack(callers.readOnly, asNag('GET', '/*'), REASONS.IAM5_CALLERS);

  for (const fn of FUNCTION_NAMES) {
    const role = spool.spoolFunctions.roles[fn];
    ack(role, 'IAM5[Resource::*]', fn === 'health' ? REASONS.IAM5_XRAY_METRICS : REASONS.IAM5_XRAY);
    ack(spool.functions[fn], 'L1', REASONS.L1);
  }
  return made;
}
