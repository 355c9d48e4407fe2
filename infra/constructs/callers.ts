/**
 * Who may call the API: three managed policies (`<stack>Producer`, `<stack>Operator`,
 * `<stack>ReadOnly`, so `SpoolProducer`… for the default stack) and the resources behind
 * `Spool.grantEnqueue` / `grantOperate` / `grantRead`.
 *
 * execute-api resources are `arn:<partition>:execute-api:<region>:<account>:<apiId>/<stage>/<METHOD>/<path>`,
 * and IAM's `*` matches any characters, `/` included: `POST/v1/queues/*` would also allow
 * `POST /v1/queues/q/purge`, `/dlq/replay` and `/drain`. So a producer's resources name each of its
 * routes to the end (`POST/v1/queues/*\/jobs`), never a prefix; a test checks every other route of
 * functions/routes.ts against them.
 */
import { Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { ROUTES } from '../../functions/routes.js';

/** The key of a route of functions/routes.ts, e.g. `POST /v1/queues/{queue}/jobs`. */
export type RouteKey = `${(typeof ROUTES)[number]['method']} ${(typeof ROUTES)[number]['path']}`;

/** A producer enqueues, gets, lists and cancels its jobs; nothing else (no DLQ, purge, replay, drain, schedules). */
export const PRODUCER_ROUTES = [
  'POST /v1/queues/{queue}/jobs',
  'GET /v1/queues/{queue}/jobs',
  'GET /v1/queues/{queue}/jobs/{id}',
  'DELETE /v1/queues/{queue}/jobs/{id}',
] as const satisfies readonly RouteKey[];

/** The stage every route is on. */
export const STAGE = '$default';

/** `GET /v1/queues/{queue}/jobs/{id}` → method `GET`, path `/v1/queues/*\/jobs/*`. */
export function resourceOf(route: string): { method: string; path: string } {
  const [method, path] = route.split(' ') as [string, string];
  return { method, path: path.replace(/\{[^}]+\}/g, '*') };
}

export interface SpoolCallersProps {
  readonly api: apigw.HttpApi;
}

export class SpoolCallers extends Construct {
  /** execute-api resources of each kind of caller. */
  readonly producerArns: string[];
  readonly operatorArns: string[];
  readonly readOnlyArns: string[];
  readonly producer: iam.ManagedPolicy;
  readonly operator: iam.ManagedPolicy;
  readonly readOnly: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: SpoolCallersProps) {
    super(scope, id);
    const arn = (method: string, path: string) => props.api.arnForExecuteApi(method, path, STAGE);
    this.producerArns = PRODUCER_ROUTES.map((r) => {
      const { method, path } = resourceOf(r);
      return arn(method, path);
    });
    this.operatorArns = [arn('*', '/*')];
    this.readOnlyArns = [arn('GET', '/*')];

    const prefix = Stack.of(this).stackName.slice(0, 100);
    const policy = (cid: string, suffix: string, description: string, resources: string[]) =>
      new iam.ManagedPolicy(this, cid, {
        managedPolicyName: `${prefix}${suffix}`,
        description,
        statements: [new iam.PolicyStatement({ actions: ['execute-api:Invoke'], resources })],
      });
    this.producer = policy(
      'Producer',
      'Producer',
      'Spool API: enqueue, get, list and cancel jobs (no DLQ, purge, replay, drain or schedules)',
      this.producerArns,
    );
    this.operator = policy('Operator', 'Operator', 'Spool API: every route', this.operatorArns);
    this.readOnly = policy('ReadOnly', 'ReadOnly', 'Spool API: every GET route', this.readOnlyArns);
  }

  /** `execute-api:Invoke` on `resources` for `grantee` (a role, user, or anything grantable). */
  static grant(grantee: iam.IGrantable, resources: string[]): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['execute-api:Invoke'], resourceArns: resources });
  }
}
