/**
 * Caller permissions (infra/constructs/callers.ts): the managed policies' resources, evaluated the way
 * IAM matches execute-api ARNs (`*` matches any characters, `/` included), against every route of
 * functions/routes.ts; the stack outputs; and grantEnqueue / grantOperate / grantRead.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FALLBACK_ROUTE, ROUTES } from '../../functions/routes.js';
import { PRODUCER_ROUTES } from '../../infra/constructs/callers.js';
import { Spool } from '../../infra/spool.js';
import { PAGED, projectRootForTests, renderCfn, type Synthesized, synthSpool, synthWith } from '../helpers/synth.js';

type Json = Record<string, any>;

/** IAM's ARN matching: `*` any run of characters (slashes included), `?` one character. */
const iamMatches = (pattern: string, arn: string): boolean =>
  new RegExp(
    `^${pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/]/g, '\\$&')))
      .join('')}$`,
  ).test(arn);

/** The ARN API Gateway authorizes a request against: `<api ARN prefix>/$default/<METHOD><path>`. */
const API = 'arn:aws:execute-api:eu-west-1:123456789012:<ApiHttpApi>';
const requestArn = (method: string, path: string) => `${API}/$default/${method}${path}`;

/**
 * Concrete requests for a route: every path parameter filled with plain and with awkward values
 * (a value that is itself a route word), as a caller could send them.
 */
function requestsOf(method: string, path: string): string[] {
  const values = ['q1', 'jobs', 'dlq', 'purge'];
  let paths = [path];
  for (const param of path.match(/\{[^}]+\}/g) ?? [])
    paths = paths.flatMap((p) => values.map((v) => p.replace(param, v)));
  return paths.map((p) => requestArn(method, p));
}

describe('caller policies', () => {
  let s: Synthesized;
  let policies: Record<string, string[]>;
  beforeAll(() => {
    s = synthSpool(PAGED);
    policies = {};
    for (const [, r] of Object.entries(s.template.findResources('AWS::IAM::ManagedPolicy')) as Array<[string, Json]>) {
      const sts = [r.Properties.PolicyDocument.Statement].flat() as Json[];
      expect(sts.map((st) => [st.Effect, st.Action])).toEqual([['Allow', 'execute-api:Invoke']]);
      // Rendered, with the API's reference as the same placeholder the requests use.
      policies[r.Properties.ManagedPolicyName] = [sts[0]!.Resource]
        .flat()
        .map((x: unknown) => renderCfn(x).replace(/<ApiHttpApi[0-9A-F]+>/, '<ApiHttpApi>'));
    }
  });
  afterAll(() => s?.cleanup());

  const allowed = (policy: string, method: string, path: string) =>
    requestsOf(method, path).filter((arn) => policies[policy]!.some((p) => iamMatches(p, arn)));

  it('are three managed policies named after the stack, exported as stack outputs', () => {
    expect(Object.keys(policies).sort()).toEqual(['SpoolOperator', 'SpoolProducer', 'SpoolReadOnly']);
    const outputs = s.template.toJSON().Outputs as Json;
    for (const k of ['SpoolProducerPolicyArn', 'SpoolOperatorPolicyArn', 'SpoolReadOnlyPolicyArn'])
      expect(outputs[k]?.Value, k).toEqual({ Ref: expect.stringMatching(/^Callers/) });
    // No role of the stack gets them: they are for callers.
    for (const [, r] of Object.entries(s.template.findResources('AWS::IAM::Role')) as Array<[string, Json]>)
      expect(r.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('name each producer route to its end on the $default stage', () => {
    expect(policies.SpoolProducer).toEqual([
      `${API}/$default/POST/v1/queues/*/jobs`,
      `${API}/$default/GET/v1/queues/*/jobs`,
      `${API}/$default/GET/v1/queues/*/jobs/*`,
      `${API}/$default/DELETE/v1/queues/*/jobs/*`,
    ]);
    expect(policies.SpoolOperator).toEqual([`${API}/$default/*/*`]);
    expect(policies.SpoolReadOnly).toEqual([`${API}/$default/GET/*`]);
  });

  it('let a producer enqueue, get, list and cancel, and reach no other route: not purge, replay, drain or the DLQ', () => {
    const producer = new Set<string>(PRODUCER_ROUTES);
    for (const r of ROUTES) {
      const key = `${r.method} ${r.path}`;
      const requests = requestsOf(r.method, r.path);
      const got = allowed('SpoolProducer', r.method, r.path);
      if (producer.has(key)) expect(got, key).toEqual(requests);
      else expect(got, key).toEqual([]);
    }
    // The routes the issue names, spelled out.
    for (const [m, p] of [
      ['POST', '/v1/queues/{queue}/purge'],
      ['POST', '/v1/queues/{queue}/dlq/replay'],
      ['POST', '/v1/queues/{queue}/drain'],
      ['GET', '/v1/queues/{queue}/dlq'],
      ['DELETE', '/v1/queues/{queue}/dlq/{id}'],
    ] as const)
      expect(allowed('SpoolProducer', m, p), `${m} ${p}`).toEqual([]);
  });

  it('let the operator reach every route, the read-only caller every GET and nothing else', () => {
    for (const r of [...ROUTES, { method: 'GET', path: '/nowhere' }]) {
      const n = requestsOf(r.method, r.path).length;
      expect(allowed('SpoolOperator', r.method, r.path), r.path).toHaveLength(n);
      expect(allowed('SpoolReadOnly', r.method, r.path), `${r.method} ${r.path}`).toHaveLength(
        r.method === 'GET' ? n : 0,
      );
    }
    expect(FALLBACK_ROUTE.path).toBe('/{proxy+}');
  });

  it('let the read-only caller list and get schedules, and only the operator create, replace or delete them', () => {
    const schedules = ROUTES.filter((r) => r.path.startsWith('/v1/schedules'));
    expect(schedules.map((r) => `${r.method} ${r.path}`).sort()).toEqual([
      'DELETE /v1/schedules/{id}',
      'GET /v1/schedules',
      'GET /v1/schedules/{id}',
      'POST /v1/schedules',
      'PUT /v1/schedules/{id}',
    ]);
    for (const r of schedules) {
      const key = `${r.method} ${r.path}`;
      const n = requestsOf(r.method, r.path).length;
      expect(allowed('SpoolOperator', r.method, r.path), key).toHaveLength(n);
      expect(allowed('SpoolReadOnly', r.method, r.path), key).toHaveLength(r.method === 'GET' ? n : 0);
      // A producer enqueues jobs; a schedule is an operator's standing order to enqueue, not theirs.
      expect(allowed('SpoolProducer', r.method, r.path), key).toEqual([]);
    }
    // A schedule id that reads like a route word changes nothing.
    expect(allowed('SpoolReadOnly', 'GET', '/v1/schedules/jobs')).toHaveLength(1);
    expect(allowed('SpoolProducer', 'PUT', '/v1/schedules/jobs')).toEqual([]);
    expect(allowed('SpoolReadOnly', 'DELETE', '/v1/schedules/jobs')).toEqual([]);
  });

  it('(the pitfall) a prefix with * would have let a producer purge, replay and drain', () => {
    const naive = `${API}/$default/POST/v1/queues/*`;
    for (const p of ['/v1/queues/{queue}/purge', '/v1/queues/{queue}/dlq/replay', '/v1/queues/{queue}/drain'])
      expect(
        requestsOf('POST', p).every((arn) => iamMatches(naive, arn)),
        p,
      ).toBe(true);
  });
});

describe('grantEnqueue / grantOperate / grantRead', () => {
  it('give a principal of your own app exactly the policy resources', () => {
    const own = synthWith({}, {}, (app) => {
      const stack = new Stack(app, 'MyApp');
      const spool = new Spool(stack, 'Jobs', { ...PAGED, projectRoot: projectRootForTests() });
      const assumedBy = new iam.ServicePrincipal('lambda.amazonaws.com');
      spool.grantEnqueue(new iam.Role(stack, 'Producer', { assumedBy }));
      spool.grantOperate(new iam.Role(stack, 'Operator', { assumedBy }));
      spool.grantRead(new iam.Role(stack, 'Reader', { assumedBy }));
      return stack;
    });
    try {
      const t = own.template.toJSON();
      const policyOf = (role: string): string[] => {
        const p = Object.values(t.Resources as Json).find(
          (r: Json) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles[0].Ref.startsWith(role),
        ) as Json;
        const [st] = [p.Properties.PolicyDocument.Statement].flat() as Json[];
        expect(st!.Action).toBe('execute-api:Invoke');
        return [st!.Resource].flat().map((x: unknown) => renderCfn(x).replace(/^.*:<[^>]+>/, ''));
      };
      expect(policyOf('Producer')).toEqual([
        '/$default/POST/v1/queues/*/jobs',
        '/$default/GET/v1/queues/*/jobs',
        '/$default/GET/v1/queues/*/jobs/*',
        '/$default/DELETE/v1/queues/*/jobs/*',
      ]);
      expect(policyOf('Operator')).toEqual(['/$default/*/*']);
      expect(policyOf('Reader')).toEqual(['/$default/GET/*']);
      // The construct's managed policies are named after the stack it is in.
      expect(
        Object.values(Template.fromJSON(t).findResources('AWS::IAM::ManagedPolicy')).map(
          (r: Json) => r.Properties.ManagedPolicyName,
        ),
      ).toEqual(['MyAppProducer', 'MyAppOperator', 'MyAppReadOnly']);
    } finally {
      own.cleanup();
    }
  });
});
