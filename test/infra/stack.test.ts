/**
 * SpoolStack template assertions (bundling skipped, built-in CloudFormation validation off,
 * except in the cdk-nag test which keeps it on).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FALLBACK_ROUTE, FUNCTION_NAMES, type FunctionName, ROUTES } from '../../functions/routes.js';
import type { SpoolStack } from '../../infra/stack.js';
import { METRICS } from '../../shared/metrics/names.js';
import { PAGED, renderCfn, type Synthesized, synthSpool } from '../helpers/synth.js';

type Json = Record<string, any>;
const TOPIC_ARN = (name: string) => `arn:aws:sns:eu-west-1:123456789012:${name}`;

const resources = (t: Template, type: string): Array<[string, Json]> =>
  Object.entries(t.findResources(type)) as Array<[string, Json]>;
const logicalIdOf = (s: SpoolStack, fn: FunctionName): string =>
  s.getLogicalId(s.spool.functions[fn].node.defaultChild as import('aws-cdk-lib').CfnElement);
const getAttArn = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const alarms = (t: Template) => resources(t, 'AWS::CloudWatch::Alarm').map(([, r]) => r.Properties as Json);
/** The functions that kick the worker (SPOOL_WORKER_FUNCTION_NAME, lambda:InvokeFunction on it). */
const KICKS_WORKER: readonly FunctionName[] = ['enqueue', 'worker', 'dlq-replay', 'scheduler'];

describe('SpoolStack with default context', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthSpool(PAGED);
  });
  afterAll(() => s?.cleanup());

  it('creates one arm64 Node 22 function per FUNCTION_NAMES entry, traced, with its own log group', () => {
    const fns = resources(s.template, 'AWS::Lambda::Function');
    expect(fns).toHaveLength(FUNCTION_NAMES.length);
    for (const fn of FUNCTION_NAMES) {
      const id = logicalIdOf(s.stack, fn);
      const props = s.template.toJSON().Resources[id].Properties as Json;
      expect(props.Runtime).toBe('nodejs22.x');
      expect(props.Architectures).toEqual(['arm64']);
      expect(props.Handler).toBe('index.handler');
      expect(props.TracingConfig).toEqual({ Mode: 'Active' });
      expect(props.Timeout).toBe(fn === 'worker' ? 900 : 30);
      const logGroupRef = props.LoggingConfig?.LogGroup?.Ref as string;
      expect(logGroupRef).toBeTruthy();
      expect(s.template.toJSON().Resources[logGroupRef].Properties.RetentionInDays).toBe(30);
    }
    // No reserved concurrency unless asked.
    for (const [, f] of fns) expect(f.Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it('creates exactly the routes of ROUTES plus ANY /{proxy+}, each on the right function and IAM-authorized', () => {
    const routes = resources(s.template, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties as Json);
    const expected = [
      ...ROUTES.map((r) => ({ key: `${r.method} ${r.path}`, fn: r.fn })),
      { key: `ANY ${FALLBACK_ROUTE.path}`, fn: FALLBACK_ROUTE.fn },
    ];
    expect(routes.map((r) => r.RouteKey).sort()).toEqual(expected.map((e) => e.key).sort());
    const integrations = s.template.toJSON().Resources as Json;
    for (const e of expected) {
      const route = routes.find((r) => r.RouteKey === e.key)!;
      expect(route.AuthorizationType, e.key).toBe('AWS_IAM');
      // Target: "integrations/<IntegrationId>"
      const integrationId = (route.Target['Fn::Join'][1] as unknown[]).find((p): p is Json => typeof p === 'object')!
        .Ref as string;
      expect(integrations[integrationId].Properties.IntegrationUri, e.key).toEqual(
        getAttArn(logicalIdOf(s.stack, e.fn)),
      );
    }
  });

  it('gives the default stage access logs and throttling defaults', () => {
    s.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      AccessLogSettings: {
        DestinationArn: getAttArn(
          s.stack.getLogicalId(s.stack.spool.api.accessLogs.node.defaultChild as import('aws-cdk-lib').CfnElement),
        ),
        Format: Match.stringLikeRegexp('\\$context\\.requestId'),
      },
    });
    // One JSON object per line; status is a number, so metric filters can compare it.
    const [[, stage]] = resources(s.template, 'AWS::ApiGatewayV2::Stage') as [[string, Json]];
    const line = (stage.Properties.AccessLogSettings.Format as string)
      .replace('$context.status', '503')
      .replace(/\$context\.[A-Za-z.]+/g, 'x');
    expect(JSON.parse(line)).toMatchObject({ status: 503, routeKey: 'x', requestId: 'x' });
  });

  it('schedules worker, health and scheduler every minute, purge and dlq-replay every hour, each targeting its own function', () => {
    const rules = resources(s.template, 'AWS::Events::Rule').map(([, r]) => r.Properties as Json);
    expect(rules).toHaveLength(5);
    const expectations: Array<[FunctionName, string]> = [
      ['worker', 'rate(1 minute)'],
      ['health', 'rate(1 minute)'],
      ['purge', 'rate(1 hour)'],
      ['dlq-replay', 'rate(1 hour)'],
      // The safety net of the schedule timers.
      ['scheduler', 'rate(1 minute)'],
    ];
    for (const [fn, expr] of expectations) {
      const matching = rules.filter((r) =>
        r.Targets.some((t: Json) => JSON.stringify(t.Arn) === JSON.stringify(getAttArn(logicalIdOf(s.stack, fn)))),
      );
      expect(matching, fn).toHaveLength(1);
      expect(matching[0]!.ScheduleExpression, fn).toBe(expr);
      expect(matching[0]!.Targets).toHaveLength(1);
    }
    // EventBridge may invoke each scheduled function.
    for (const [fn] of expectations) {
      s.template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'events.amazonaws.com',
        FunctionName: getAttArn(logicalIdOf(s.stack, fn)),
      });
    }
  });

  it('keeps the Upstash URL and token out of every function environment', () => {
    const secretRef = {
      Ref: s.stack.getLogicalId(s.stack.spool.redisSecret.node.defaultChild as import('aws-cdk-lib').CfnElement),
    };
    for (const [id, f] of resources(s.template, 'AWS::Lambda::Function')) {
      const env = f.Properties.Environment.Variables as Json;
      for (const [k, v] of Object.entries(env)) {
        expect(k, id).not.toMatch(/UPSTASH|REDIS_REST|TOKEN|PASSWORD|API_KEY/);
        if (/SECRET/.test(k)) {
          expect(['SPOOL_REDIS_SECRET_ARN', 'SPOOL_SIGNING_SECRET_ARN']).toContain(k);
          if (k === 'SPOOL_REDIS_SECRET_ARN') expect(v).toEqual(secretRef);
        }
        if (typeof v === 'string') {
          expect(v, `${id}.${k}`).not.toMatch(/upstash\.io|^https?:\/\/|[A-Za-z0-9+/=_-]{32,}/);
        }
      }
      expect(env.SPOOL_REDIS_SECRET_ARN, id).toEqual(secretRef);
    }
    // The created Redis secret is an empty placeholder, never a value; the signing secret is generated.
    const secrets = resources(s.template, 'AWS::SecretsManager::Secret');
    expect(secrets).toHaveLength(2);
    const secret = secrets.filter(([, r]) => r.Properties.SecretString !== undefined);
    expect(secret).toHaveLength(1);
    expect(JSON.parse(secret[0]![1].Properties.SecretString)).toEqual({
      UPSTASH_REDIS_REST_URL: '',
      UPSTASH_REDIS_REST_TOKEN: '',
    });
  });

  it('sets the environment each function reads', () => {
    const env = (fn: FunctionName) =>
      s.template.toJSON().Resources[logicalIdOf(s.stack, fn)].Properties.Environment.Variables as Json;
    const workerName = s.template.toJSON().Resources[logicalIdOf(s.stack, 'worker')].Properties.FunctionName as string;
    expect(workerName).toBe('Spool-worker');
    for (const fn of FUNCTION_NAMES) {
      const e = env(fn);
      expect(e).toMatchObject({
        POWERTOOLS_SERVICE_NAME: 'spool',
        LOG_LEVEL: 'INFO',
        SPOOL_KEY_PREFIX: 'spool',
        SPOOL_METRIC_NAMESPACE: 'Spool',
      });
      // Every function that kicks the worker knows its name (dlq-replay kicks it after a replay, the
      // scheduler after a fire).
      expect(e.SPOOL_WORKER_FUNCTION_NAME, fn).toBe(KICKS_WORKER.includes(fn) ? workerName : undefined);
      for (const k of [
        'SPOOL_ALERT_TOPIC_ARN',
        'SPOOL_TICKET_TOPIC_ARN',
        'SPOOL_DEPLOYMENT_NAME',
        'SPOOL_METRIC_QUEUES',
      ])
        if (fn !== 'health') expect(e[k], `${fn} ${k}`).toBeUndefined();
    }
    const health = env('health');
    expect(health.SPOOL_ALERT_TOPIC_ARN).toEqual({ Ref: expect.stringMatching(/^AlertTopic/) });
    expect(health.SPOOL_TICKET_TOPIC_ARN).toEqual({ Ref: expect.stringMatching(/^TicketTopic/) });
    // The stack names the deployment a page comes from: stack, account, region.
    expect(renderCfn(health.SPOOL_DEPLOYMENT_NAME)).toBe('Spool (account 123456789012, eu-west-1)');
    // No named queues: no per-queue metrics (the fleet-wide ones cover every queue).
    expect(health.SPOOL_METRIC_QUEUES).toBe('');
    expect(health.SPOOL_RUNBOOK_BASE_URL).toBeUndefined();
    expect(env('worker').SPOOL_TARGET_ALLOWED_HOSTS).toBe('');
    // Only the worker signs deliveries, with the generated secret; it may read that secret and no other function may.
    const signing = s.stack.getLogicalId(
      s.stack.spool.signingSecret.node.defaultChild as import('aws-cdk-lib').CfnElement,
    );
    expect(env('worker').SPOOL_SIGNING_SECRET_ARN).toEqual({ Ref: signing });
    for (const fn of FUNCTION_NAMES) if (fn !== 'worker') expect(env(fn).SPOOL_SIGNING_SECRET_ARN, fn).toBeUndefined();
    const generated = s.template.toJSON().Resources[signing].Properties.GenerateSecretString;
    expect(generated).toMatchObject({ PasswordLength: 64, ExcludePunctuation: true });
    const readers = resources(s.template, 'AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Properties.PolicyDocument).includes(`"Ref":"${signing}"`))
      .map(([, p]) => JSON.stringify(p.Properties.Roles));
    expect(readers).toEqual([
      JSON.stringify([
        {
          Ref: s.stack.getLogicalId(
            s.stack.spool.spoolFunctions.roles.worker.node.defaultChild as import('aws-cdk-lib').CfnElement,
          ),
        },
      ]),
    ]);
    expect(Object.keys(health).filter((k) => k.startsWith('SPOOL_HEALTH_'))).toEqual([]);
  });

  it('makes every kick path work: dlq-replay may invoke the worker; failed async worker runs go to a queue', () => {
    const res = s.template.toJSON().Resources as Json;
    // Async retries set on purpose: worker 0 (nudges; jobs live in Redis), health 0 (the next tick
    // supersedes), scheduler 0 (the next minute tick fires what a failed one missed), purge 1
    // (hourly); enqueue and dlq-replay are only invoked synchronously.
    const configs = resources(s.template, 'AWS::Lambda::EventInvokeConfig').map(([, r]) => r.Properties as Json);
    const byFn = Object.fromEntries(
      FUNCTION_NAMES.map((fn) => [fn, configs.find((c) => c.FunctionName.Ref === logicalIdOf(s.stack, fn))]),
    );
    expect(byFn.worker).toMatchObject({ MaximumRetryAttempts: 0, Qualifier: '$LATEST' });
    expect(byFn.health).toMatchObject({ MaximumRetryAttempts: 0 });
    expect(byFn.scheduler).toMatchObject({ MaximumRetryAttempts: 0 });
    // Only the worker has an on-failure destination (the scheduler's failures are its errors ticket).
    expect(configs.filter((c) => c.DestinationConfig !== undefined).map((c) => c.FunctionName.Ref)).toEqual([
      logicalIdOf(s.stack, 'worker'),
    ]);
    expect(byFn.purge).toMatchObject({ MaximumRetryAttempts: 1 });
    expect(byFn.enqueue).toBeUndefined();
    expect(byFn['dlq-replay']).toBeUndefined();
    const queueId = s.stack.getLogicalId(
      s.stack.spool.spoolFunctions.workerFailures.node.defaultChild as import('aws-cdk-lib').CfnElement,
    );
    expect(byFn.worker!.DestinationConfig).toEqual({ OnFailure: { Destination: getAttArn(queueId) } });
    expect(res[queueId].Properties).toMatchObject({ MessageRetentionPeriod: 14 * 86400, SqsManagedSseEnabled: true });
    // The worker may send its failures there; the ticket alarm watches the queue.
    const workerRole = s.stack.getLogicalId(
      s.stack.spool.spoolFunctions.roles.worker.node.defaultChild as import('aws-cdk-lib').CfnElement,
    );
    const workerPolicy = resources(s.template, 'AWS::IAM::Policy').find(([, p]) =>
      p.Properties.Roles.some((r: Json) => r.Ref === workerRole),
    )![1];
    const sends = [workerPolicy.Properties.PolicyDocument.Statement]
      .flat()
      .filter((st: Json) => [st.Action].flat().includes('sqs:SendMessage'));
    expect(sends.map((st: Json) => st.Resource)).toContainEqual(getAttArn(queueId));
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Spool-worker-async-failures',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
    });
  });

  it('wakes the worker with queue timers: a timer queue mapped to the worker, its failures to a DLQ with a ticket', () => {
    const res = s.template.toJSON().Resources as Record<string, Json>;
    const id = (c: { node: { defaultChild?: unknown } }) =>
      s.stack.getLogicalId(c.node.defaultChild as import('aws-cdk-lib').CfnElement);
    const fns = s.stack.spool.spoolFunctions;
    const timers = id(fns.timerQueue);
    const failures = id(fns.timerFailures);
    // The mapping's batches need a visibility timeout of at least the worker's timeout.
    expect(res[timers]!.Properties).toMatchObject({
      VisibilityTimeout: 900,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: getAttArn(failures), maxReceiveCount: 3 },
    });
    s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: getAttArn(timers),
      FunctionName: { Ref: id(fns.functions.worker) },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    // The worker's loop through the timer queue is by design (timers past 900 s are re-armed).
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: fns.workerFunctionName,
      RecursiveLoop: 'Allow',
    });
    // Who arms timers: the enqueue function (delayed jobs) and the worker; they get the URL and SendMessage.
    const roleOf = (fn: 'enqueue' | 'worker' | 'health') => id(fns.roles[fn]);
    const sendsTo = (fn: 'enqueue' | 'worker' | 'health') =>
      resources(s.template, 'AWS::IAM::Policy')
        .filter(([, p]) => p.Properties.Roles.some((r: Json) => r.Ref === roleOf(fn)))
        .flatMap(([, p]) => [p.Properties.PolicyDocument.Statement].flat())
        .filter((st: Json) => [st.Action].flat().includes('sqs:SendMessage'))
        .map((st: Json) => st.Resource);
    expect(sendsTo('enqueue')).toEqual([getAttArn(timers)]);
    expect(sendsTo('worker')).toContainEqual(getAttArn(timers));
    expect(sendsTo('health')).toEqual([]);
    const envOf = (fn: 'enqueue' | 'worker' | 'health') =>
      (res[id(fns.functions[fn])]!.Properties.Environment.Variables as Json).SPOOL_TIMER_QUEUE_URL;
    expect(envOf('enqueue')).toEqual({ Ref: timers });
    expect(envOf('worker')).toEqual({ Ref: timers });
    expect(envOf('health')).toBeUndefined();
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Spool-timer-failures',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [failures, 'QueueName'] } }],
    });
  });

  it('wakes the scheduler with schedule timers: a queue mapped to the scheduler, its failures to a DLQ with a ticket', () => {
    const res = s.template.toJSON().Resources as Record<string, Json>;
    const id = (c: { node: { defaultChild?: unknown } }) =>
      s.stack.getLogicalId(c.node.defaultChild as import('aws-cdk-lib').CfnElement);
    const fns = s.stack.spool.spoolFunctions;
    const timers = id(fns.scheduleTimerQueue);
    const failures = id(fns.scheduleTimerFailures);
    const scheduler = res[logicalIdOf(s.stack, 'scheduler')]!.Properties as Json;
    // The mapping's batches need a visibility timeout of at least the scheduler's timeout.
    expect(scheduler.Timeout).toBe(30);
    expect(res[timers]!.Properties).toMatchObject({
      VisibilityTimeout: scheduler.Timeout,
      MessageRetentionPeriod: 86_400,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: getAttArn(failures), maxReceiveCount: 3 },
    });
    expect(res[failures]!.Properties).toMatchObject({
      MessageRetentionPeriod: 14 * 86_400,
      SqsManagedSseEnabled: true,
    });
    // Both queues refuse requests without TLS.
    for (const q of [timers, failures]) {
      const [[, policy]] = resources(s.template, 'AWS::SQS::QueuePolicy').filter(([, p]) =>
        p.Properties.Queues.some((r: Json) => r.Ref === q),
      ) as [[string, Json]];
      expect([policy.Properties.PolicyDocument.Statement].flat(), q).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
    // Partial batch responses: a record the scheduler could not handle comes back, the others do not.
    const mappings = resources(s.template, 'AWS::Lambda::EventSourceMapping')
      .map(([, m]) => m.Properties as Json)
      .filter((m) => JSON.stringify(m.EventSourceArn) === JSON.stringify(getAttArn(timers)));
    expect(mappings).toEqual([
      expect.objectContaining({
        FunctionName: { Ref: logicalIdOf(s.stack, 'scheduler') },
        BatchSize: 10,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 2 },
      }),
    ]);
    // Scheduler -> schedule timer queue -> scheduler is by design, as is the worker's loop; no other
    // function turns Lambda's recursive-loop detection off.
    const loops = FUNCTION_NAMES.filter((fn) => res[logicalIdOf(s.stack, fn)]!.Properties.RecursiveLoop === 'Allow');
    expect(loops.sort()).toEqual(['scheduler', 'worker']);
    // Only the scheduler gets the URL and SendMessage on it; it also arms queue timers, like enqueue.
    const sendsTo = (fn: FunctionName) =>
      resources(s.template, 'AWS::IAM::Policy')
        .filter(([, p]) => p.Properties.Roles.some((r: Json) => r.Ref === id(fns.roles[fn])))
        .flatMap(([, p]) => [p.Properties.PolicyDocument.Statement].flat())
        .filter((st: Json) => [st.Action].flat().includes('sqs:SendMessage'))
        .map((st: Json) => st.Resource);
    expect(sendsTo('scheduler')).toEqual([getAttArn(id(fns.timerQueue)), getAttArn(timers)]);
    for (const fn of FUNCTION_NAMES) {
      const env = res[logicalIdOf(s.stack, fn)]!.Properties.Environment.Variables as Json;
      if (fn === 'scheduler') {
        expect(env.SPOOL_SCHEDULE_TIMER_QUEUE_URL).toEqual({ Ref: timers });
        expect(env.SPOOL_TIMER_QUEUE_URL).toEqual({ Ref: id(fns.timerQueue) });
      } else {
        expect(env.SPOOL_SCHEDULE_TIMER_QUEUE_URL, fn).toBeUndefined();
        expect(sendsTo(fn), fn).not.toContainEqual(getAttArn(timers));
      }
    }
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Spool-schedule-timer-failures',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [failures, 'QueueName'] } }],
    });
    const outputs = s.template.toJSON().Outputs as Json;
    expect(outputs.ScheduleTimerQueueUrl.Value).toEqual({ Ref: timers });
    expect(outputs.ScheduleTimerFailureQueueUrl.Value).toEqual({ Ref: failures });
    expect(outputs.SchedulerFunctionName.Value).toEqual({ Ref: logicalIdOf(s.stack, 'scheduler') });
  });

  it('grants least privilege: no * actions, no managed policies, invoke only on the worker, metrics only to health', () => {
    const statementsOf = (doc: Json): Json[] => [doc.Statement].flat();
    const policies = resources(s.template, 'AWS::IAM::Policy');
    const docs: Array<[string, Json]> = [
      ...policies.map(([id, p]) => [id, p.Properties.PolicyDocument] as [string, Json]),
      ...resources(s.template, 'AWS::SNS::TopicPolicy').map(
        ([id, p]) => [id, p.Properties.PolicyDocument] as [string, Json],
      ),
      ...resources(s.template, 'AWS::IAM::Role').flatMap(([id, r]) =>
        [
          r.Properties.AssumeRolePolicyDocument as Json,
          ...((r.Properties.Policies ?? []) as Json[]).map((p) => p.PolicyDocument as Json),
        ].map((d) => [id, d] as [string, Json]),
      ),
    ];
    expect(policies.length).toBe(FUNCTION_NAMES.length);
    for (const [id, doc] of docs) {
      for (const st of statementsOf(doc)) {
        for (const action of [st.Action ?? st.NotAction].flat()) {
          expect(action, id).toBeTypeOf('string');
          expect(action, id).not.toBe('*');
          expect(action, id).not.toMatch(/^[a-z0-9-]+:\*$/i);
        }
      }
    }
    for (const [id, r] of resources(s.template, 'AWS::IAM::Role'))
      expect(r.Properties.ManagedPolicyArns, id).toBeUndefined();

    const policyOf = (fn: FunctionName): Json[] => {
      const roleId = s.stack.getLogicalId(
        s.stack.spool.spoolFunctions.roles[fn].node.defaultChild as import('aws-cdk-lib').CfnElement,
      );
      const found = policies.filter(([, p]) => p.Properties.Roles.some((r: Json) => r.Ref === roleId));
      expect(found, fn).toHaveLength(1);
      return statementsOf(found[0]![1].Properties.PolicyDocument);
    };
    for (const fn of FUNCTION_NAMES) {
      const sts = policyOf(fn);
      const actions = sts.flatMap((st) => [st.Action].flat() as string[]);
      const invoke = sts.filter((st) => [st.Action].flat().includes('lambda:InvokeFunction'));
      if (KICKS_WORKER.includes(fn)) {
        expect(invoke, fn).toHaveLength(1);
        expect(JSON.stringify(invoke[0]!.Resource)).toMatch(/:function:Spool-worker"\]\]\}$/);
      } else expect(invoke, fn).toEqual([]);
      const put = sts.filter((st) => [st.Action].flat().includes('cloudwatch:PutMetricData'));
      if (fn === 'health') {
        expect(put).toEqual([
          expect.objectContaining({ Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': 'Spool' } } }),
        ]);
        // Pages and tickets: publish on the two topics, nothing else.
        const publish = sts.filter((st) => [st.Action].flat().includes('sns:Publish'));
        expect(publish.map((st) => st.Resource.Ref).sort()).toEqual([
          expect.stringMatching(/^AlertTopic/),
          expect.stringMatching(/^TicketTopic/),
        ]);
      } else {
        expect(put, fn).toEqual([]);
        expect(actions, fn).not.toContain('sns:Publish');
      }
      expect(actions, fn).toEqual(expect.arrayContaining(['secretsmanager:GetSecretValue', 'logs:PutLogEvents']));
      // Resource "*" only for actions without resource-level permissions.
      for (const st of sts.filter((x) => x.Resource === '*')) {
        for (const a of [st.Action].flat())
          expect(['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'cloudwatch:PutMetricData'], fn).toContain(a);
      }
    }
  });

  it("enforces SSL on the page and ticket topics and lets only this account's CloudWatch alarms publish", () => {
    const policies = resources(s.template, 'AWS::SNS::TopicPolicy');
    expect(policies.map(([, p]) => p.Properties.Topics[0].Ref).sort()).toEqual([
      expect.stringMatching(/^AlertTopic/),
      expect.stringMatching(/^TicketTopic/),
    ]);
    for (const [, policy] of policies) {
      const sts = [policy.Properties.PolicyDocument.Statement].flat() as Json[];
      expect(sts).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Principal: '*',
          Action: 'sns:Publish',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
      const allows = sts.filter((st) => st.Effect === 'Allow');
      expect(allows).toEqual([
        expect.objectContaining({
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Action: 'sns:Publish',
          Condition: expect.objectContaining({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
        }),
      ]);
    }
  });

  it('has a dashboard with depth, age, throughput and failures', () => {
    const [[, dash]] = resources(s.template, 'AWS::CloudWatch::Dashboard') as [[string, Json]];
    const body = JSON.stringify(dash.Properties.DashboardBody);
    for (const m of [
      METRICS.waiting,
      METRICS.delayed,
      METRICS.active,
      METRICS.oldestWaitingAge,
      METRICS.enqueued,
      METRICS.completedDelta,
      METRICS.failed,
      METRICS.dead,
    ]) {
      expect(body).toContain(`\\"${m}\\"`);
    }
  });
});

describe('SpoolStack with context', () => {
  let s: Synthesized;
  const context = {
    secretName: 'prod/spool/upstash',
    queues: ['emails', 'reports'],
    alarmEmail: 'oncall@example.com',
    pagerUrl: 'https://events.example.com/integration/abc',
    keyPrefix: 'spool-prod',
    metricNamespace: 'SpoolProd',
    workerTimeoutSeconds: '600',
    workerReservedConcurrency: 20,
    targetAllowedHosts: 'api.example.com, hooks.example.org',
    healthThresholds: { maxWaitingAgeSeconds: 120, SPOOL_HEALTH_MAX_DEAD: 5 },
    functionEnv: { SPOOL_MAX_ATTEMPTS: 8, SPOOL_DEAD_CAP: 50000 },
    logLevel: 'debug',
    logRetentionDays: 90,
    apiThrottleRate: 10,
    apiThrottleBurst: 20,
    workerSchedule: 5,
    healthSchedule: 'rate(2 minutes)',
    purgeSchedule: 'cron(0 3 * * ? *)',
    oldestWaitingAgeSeconds: 300,
    ticketEmail: 'tickets@example.com',
    runbookBaseUrl: 'https://wiki.example.com/spool/runbook',
  };
  beforeAll(() => {
    s = synthSpool(context);
  });
  afterAll(() => s?.cleanup());

  it('uses the named secret instead of creating one, and grants read on it', () => {
    // Only the generated signing secret is created.
    s.template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    const json = JSON.stringify(s.template.toJSON());
    expect(json).toContain(':secret:prod/spool/upstash');
    for (const [, f] of resources(s.template, 'AWS::Lambda::Function')) {
      expect(JSON.stringify(f.Properties.Environment.Variables.SPOOL_REDIS_SECRET_ARN)).toContain(
        ':secret:prod/spool/upstash',
      );
    }
  });

  it('applies schedules given as minutes, rate and cron', () => {
    const byFn = (fn: FunctionName) =>
      resources(s.template, 'AWS::Events::Rule')
        .map(([, r]) => r.Properties as Json)
        .find((r) => JSON.stringify(r.Targets[0].Arn) === JSON.stringify(getAttArn(logicalIdOf(s.stack, fn))))!
        .ScheduleExpression;
    expect(byFn('worker')).toBe('rate(5 minutes)');
    expect(byFn('health')).toBe('rate(2 minutes)');
    expect(byFn('purge')).toBe('cron(0 3 * * ? *)');
  });

  it('passes configuration through to functions, API stage and topic subscriptions', () => {
    const props = (fn: FunctionName) => s.template.toJSON().Resources[logicalIdOf(s.stack, fn)].Properties as Json;
    expect(props('worker')).toMatchObject({ Timeout: 600, ReservedConcurrentExecutions: 20 });
    expect(props('worker').Environment.Variables.SPOOL_TARGET_ALLOWED_HOSTS).toBe('api.example.com,hooks.example.org');
    expect(props('health').Environment.Variables).toMatchObject({
      SPOOL_HEALTH_MAX_WAITING_AGE_SECONDS: '120',
      SPOOL_HEALTH_MAX_DEAD: '5',
      SPOOL_KEY_PREFIX: 'spool-prod',
      SPOOL_METRIC_NAMESPACE: 'SpoolProd',
      LOG_LEVEL: 'DEBUG',
      SPOOL_RUNBOOK_BASE_URL: 'https://wiki.example.com/spool/runbook',
      // Per-queue metrics for the named queues only.
      SPOOL_METRIC_QUEUES: 'emails,reports',
    });
    for (const fn of FUNCTION_NAMES)
      expect(props(fn).Environment.Variables, fn).toMatchObject({ SPOOL_MAX_ATTEMPTS: '8', SPOOL_DEAD_CAP: '50000' });
    for (const fn of FUNCTION_NAMES)
      if (fn !== 'health')
        expect(
          Object.keys(props(fn).Environment.Variables).some((k) => k.startsWith('SPOOL_HEALTH_')),
          fn,
        ).toBe(false);
    const workerDuration = alarms(s.template).find(
      (a) => a.MetricName === 'Duration' && JSON.stringify(a.Dimensions).includes(logicalIdOf(s.stack, 'worker')),
    )!;
    expect(workerDuration.Threshold).toBe(600 * 1000 - 5000);
    for (const [, lg] of resources(s.template, 'AWS::Logs::LogGroup')) expect(lg.Properties.RetentionInDays).toBe(90);
    s.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 },
    });
    // Pages: the email and the pager; tickets: their own email (no fallback to the page email).
    const subs = resources(s.template, 'AWS::SNS::Subscription').map(([, r]) => ({
      topic: (r.Properties.TopicArn.Ref as string).replace(/[0-9A-F]{8}$/, ''),
      protocol: r.Properties.Protocol,
      endpoint: r.Properties.Endpoint,
    }));
    expect(subs.sort((a, b) => a.endpoint.localeCompare(b.endpoint))).toEqual([
      { topic: 'AlertTopic', protocol: 'https', endpoint: 'https://events.example.com/integration/abc' },
      { topic: 'AlertTopic', protocol: 'email', endpoint: 'oncall@example.com' },
      { topic: 'TicketTopic', protocol: 'email', endpoint: 'tickets@example.com' },
    ]);
    s.template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'cloudwatch:PutMetricData',
            Condition: { StringEquals: { 'cloudwatch:namespace': 'SpoolProd' } },
          }),
        ]),
      },
    });
  });
});

describe('cdk-nag AwsSolutionsChecks (built-in CloudFormation validation on)', () => {
  for (const [name, context] of [
    ['created secret', PAGED],
    ['imported page and ticket topics', { alarmTopicArn: TOPIC_ARN('pager'), ticketTopicArn: TOPIC_ARN('tickets') }],
    ['pages=none', { pages: 'none' }],
    [
      'named secret and queues',
      {
        secretName: 'prod/spool/upstash',
        queues: 'a,b',
        alarmEmail: 'o@example.com',
        pagerUrl: 'https://p.example.com/x',
      },
    ],
  ] as const) {
    it(`synthesizes with zero unacknowledged findings (${name}), every acknowledgement with a reason`, () => {
      const s = synthSpool(context, { nag: true, validation: true });
      try {
        const report = JSON.parse(fs.readFileSync(path.join(s.outdir, 'validation-report.json'), 'utf8')) as Json;
        const nag = (report.pluginReports as Json[]).find((r) => r.pluginName === 'AwsSolutions')!;
        expect(nag, 'AwsSolutions plugin ran').toBeDefined();
        // No finding from any plugin: cdk-nag, nor the built-in CloudFormation schema validation.
        for (const r of report.pluginReports as Json[]) expect(r.violations, r.pluginName).toEqual([]);
        expect(s.stack.spool.nagAcknowledgements.length).toBeGreaterThan(0);
        for (const a of s.stack.spool.nagAcknowledgements) {
          expect(a.id).toMatch(/^AwsSolutions::AwsSolutions-[A-Z]+\d+/);
          expect(a.reason.length, a.id).toBeGreaterThan(40);
        }
      } finally {
        s.cleanup();
      }
    }, 120_000); // nag + CloudFormation validation: about 20 s on a loaded 2-core machine, 40 s seen
  }

  it('fails the synth on a finding nobody acknowledged', () => {
    expect(() =>
      synthSpool(PAGED, {
        nag: true,
        extend: (stack) => {
          stack.spool.spoolFunctions.roles.purge.addToPolicy(
            new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }),
          );
        },
      }),
    ).toThrow(/AwsSolutions-IAM5\[Action::s3:\*\]/);
  });

  it('fails the synth on a CloudFormation schema error (cdk.json turns validation warnings into errors)', () => {
    expect(() =>
      synthSpool(PAGED, {
        validation: true,
        extend: (stack) =>
          (stack.spool.alertTopic.node.defaultChild as import('aws-cdk-lib').CfnResource).addPropertyOverride(
            'NoSuchProperty',
            1,
          ),
      }),
    ).toThrow(/NoSuchProperty/);
  });

  it('records acknowledgements as construct metadata', () => {
    const s = synthSpool(PAGED);
    try {
      const meta = s.stack.spool.functions.worker.node.metadata.filter(
        (m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY,
      );
      expect(JSON.stringify(meta)).toContain('AwsSolutions-L1');
    } finally {
      s.cleanup();
    }
  });
});
