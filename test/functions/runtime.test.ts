import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEnqueueHandler } from '../../functions/enqueue/handler.js';
import { createRuntime, redisCredentials } from '../../functions/lib/runtime.js';
import { createPurgeHandler } from '../../functions/purge/handler.js';
import type { PurgeRunReport } from '../../functions/purge/run.js';
import { loadConfig } from '../../shared/config/index.js';
import { globalKey } from '../../shared/queue/keys.js';
import { queues } from '../../shared/queue/ops/snapshot.js';
import { apiEvent, json, lambdaContext, scheduledEvent } from '../helpers/fixtures.js';
import { upstashConfig } from '../helpers/redis.js';
import { testRuntime } from '../helpers/runtime.js';

const lambda = mockClient(LambdaClient);
const secrets = mockClient(SecretsManagerClient);
afterEach(() => {
  lambda.reset();
  secrets.reset();
});

describe('runtime', () => {
  it('reads Redis credentials from Secrets Manager when SPOOL_REDIS_SECRET_ARN is set, once', async () => {
    const { url, token } = upstashConfig();
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:spool-redis-AbCdEf';
    secrets
      .on(GetSecretValueCommand, { SecretId: arn })
      .resolves({ SecretString: JSON.stringify({ UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token }) });
    const rt = await createRuntime({
      fn: 'enqueue',
      env: { SPOOL_REDIS_SECRET_ARN: arn, SPOOL_KEY_PREFIX: 'test:rt:secret' },
      kickWorker: async () => {},
    });
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(await queues(rt.spool)).toEqual([]);
  });

  it('a bad secret fails without revealing its content', async () => {
    secrets
      .on(GetSecretValueCommand)
      .resolves({ SecretString: '{"UPSTASH_REDIS_REST_URL":"not-a-url","UPSTASH_REDIS_REST_TOKEN":"hunter2"}' });
    const cfg = loadConfig({ SPOOL_REDIS_SECRET_ARN: 'arn:x' });
    const err = await redisCredentials(cfg).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).not.toContain('hunter2');
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'hunter2' });
    expect(((await redisCredentials(cfg).catch((e: Error) => e)) as Error).message).toBe(
      'the Redis secret is not JSON',
    );
  });

  it('an HTTP event answers a JSON 500 when the runtime cannot be built (no credentials)', async () => {
    const h = createEnqueueHandler(() => createRuntime({ env: {} }));
    const r = json(await h(apiEvent('GET', '/v1/queues/q/jobs/x'), lambdaContext()));
    expect(r.status).toBe(500);
    expect(r.body.error.code).toBe('config_error');
  });

  it('the production kick invokes the worker asynchronously with {kick: {queue}}', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
    const { rt } = await testRuntime('rt-kick', { SPOOL_WORKER_FUNCTION_NAME: 'Spool-worker' });
    const prod = await createRuntime({ fn: 'enqueue', config: rt.config, spool: rt.spool, logger: rt.logger });
    const h = createEnqueueHandler(prod);
    const r = json(await h(apiEvent('POST', '/v1/queues/kq/jobs', { body: { handler: 'echo' } }), lambdaContext()));
    expect(r.status).toBe(201);
    const calls = lambda.commandCalls(InvokeCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input).toMatchObject({ FunctionName: 'Spool-worker', InvocationType: 'Event' });
    expect(JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array))).toEqual({
      kick: { queue: 'kq', reason: 'enqueue' },
    });
  });

  it('a failed kick does not fail the enqueue (the schedule runs the queue)', async () => {
    lambda.on(InvokeCommand).rejects(new Error('TooManyRequestsException'));
    const { rt } = await testRuntime('rt-kick-fail', { SPOOL_WORKER_FUNCTION_NAME: 'Spool-worker' });
    const prod = await createRuntime({ fn: 'enqueue', config: rt.config, spool: rt.spool, logger: rt.logger });
    const r = json(
      await createEnqueueHandler(prod)(
        apiEvent('POST', '/v1/queues/kq/jobs', { body: { handler: 'echo' } }),
        lambdaContext(),
      ),
    );
    expect(r.status).toBe(201);
  });
});

describe('purge function', () => {
  it('scheduled: reclaims expired leases and removes completed jobs past retention, for every queue', async () => {
    let now = 1_900_000_000_000;
    const { rt } = await testRuntime(
      'purge',
      {
        SPOOL_COMPLETED_RETENTION_MS: '1000',
        SPOOL_JOB_TIMEOUT_MS: '1000',
        SPOOL_LEASE_MS: '1000',
        SPOOL_LEASE_GRACE_MS: '0',
      },
      { clock: () => now },
    );
    await rt.spool.enqueue('pa', [{ handler: 'echo' }, { handler: 'echo' }]);
    await rt.spool.enqueue('pb', { handler: 'echo' });
    const [a1, a2] = (await rt.spool.lease('pa', { count: 2 })).jobs;
    await rt.spool.complete('pa', [{ id: a1!.id, token: a1!.token }]);
    void a2; // left leased: its lease expires
    now += 5_000;
    const purge = createPurgeHandler(rt);
    const dry = (await purge({ dryRun: true }, lambdaContext(60_000, 'purge'))) as PurgeRunReport;
    expect(dry).toMatchObject({
      dryRun: true,
      queues: { pa: { completed: 1, leaseExpired: 1 }, pb: { completed: 0 } },
    });
    expect((await rt.spool.snapshot(['pa']))[0]).toMatchObject({ completed: 1, active: 1 });
    const r = (await purge(scheduledEvent('purge'), lambdaContext(60_000, 'purge'))) as PurgeRunReport;
    expect(r).toMatchObject({ dryRun: false, more: false, totals: { completed: 1, leaseExpired: 1 } });
    expect((await rt.spool.snapshot(['pa']))[0]).toMatchObject({ completed: 0, active: 0, waiting: 1 });
  });

  it('scheduled: purges only the queues with something to purge; an empty queue unused for the idle TTL leaves the registry', async () => {
    let now = 1_900_000_000_000;
    const { rt } = await testRuntime(
      'purge-plan',
      { SPOOL_COMPLETED_RETENTION_MS: '60000', SPOOL_QUEUE_IDLE_TTL_MS: '86400000' },
      { clock: () => now },
    );
    const purge = createPurgeHandler(rt);
    const tick = async (ms: number) => {
      now += ms;
      return (await purge(scheduledEvent('purge'), lambdaContext(60_000, 'purge'))) as PurgeRunReport;
    };
    await rt.spool.enqueue('used', { handler: 'echo' });
    await rt.spool.enqueue('idle-soon', { handler: 'echo' });
    for (const q of ['used', 'idle-soon']) {
      const { jobs } = await rt.spool.lease(q, { count: 1 });
      await rt.spool.complete(
        q,
        jobs.map((j) => ({ id: j.id, token: j.token })),
      );
    }
    // the first run has no plan: it looks at every queue (nothing past retention yet)
    expect(Object.keys((await tick(1_000)).queues).sort()).toEqual(['idle-soon', 'used']);
    const spy = vi.spyOn(rt.spool, 'run');
    // an hour later both completed jobs are past retention: each queue is looked at when its purge is due
    const r = await tick(3_600_000);
    expect(r.totals.completed).toBe(2);
    // and then nothing is due: no queue is looked at
    spy.mockClear();
    expect(Object.keys((await tick(3_600_000)).queues)).toEqual([]);
    expect(spy).not.toHaveBeenCalled();
    // used again: looked at by the next run
    await rt.spool.enqueue('used', { handler: 'echo' });
    expect(Object.keys((await tick(3_600_000)).queues)).toEqual(['used']);
    // a day after its last enqueue, the empty queue leaves the registry; an enqueue brings it back
    const gone = await tick(86_400_000);
    expect(gone.forgotten).toEqual(['idle-soon']);
    expect(await rt.spool.queues()).toEqual(['used']);
    await rt.spool.enqueue('idle-soon', { handler: 'echo' });
    expect(await rt.spool.queues()).toEqual(['idle-soon', 'used']);
    spy.mockRestore();
  });

  it('scheduled: a queue keeping dead jobs is purged again by its next orphan sweep, before their TTL', async () => {
    let now = 1_900_000_000_000;
    const { rt, prefix } = await testRuntime(
      'purge-sweep',
      { SPOOL_ORPHAN_SWEEP_MS: '86400000' },
      { clock: () => now },
    );
    await rt.spool.enqueue('keeps', { handler: 'echo', maxAttempts: 1 });
    const { jobs } = await rt.spool.lease('keeps', { count: 1 });
    await rt.spool.fail('keeps', [
      { id: jobs[0]!.id, token: jobs[0]!.token, error: { message: 'no', class: 'E', retryable: false } },
    ]);
    const purge = createPurgeHandler(rt);
    now += 1_000;
    await purge(scheduledEvent('purge'), lambdaContext(60_000, 'purge'));
    // the dead job's TTL is 7 days away; the sweep is a day away
    expect(Number(await rt.spool.redis.zscore(globalKey(prefix, 'purgeDue'), 'keeps'))).toBe(now + 86_400_000);
  });

  it('is bounded per invocation and resumable (limit per round, rounds per call)', async () => {
    let now = 1_900_000_000_000;
    const { rt } = await testRuntime('purge-bound', { SPOOL_COMPLETED_RETENTION_MS: '0' }, { clock: () => now });
    await rt.spool.enqueue(
      'pc',
      Array.from({ length: 7 }, () => ({ handler: 'echo' })),
    );
    const jobs = (await rt.spool.lease('pc', { count: 7 })).jobs;
    await rt.spool.complete(
      'pc',
      jobs.map((j) => ({ id: j.id, token: j.token })),
    );
    now += 10;
    const purge = createPurgeHandler(rt);
    const spy = vi.spyOn(rt.spool, 'run');
    const r = (await purge(
      { dryRun: false, limit: 2, queues: ['pc'] },
      lambdaContext(60_000, 'purge'),
    )) as PurgeRunReport;
    expect(r.queues.pc).toMatchObject({ completed: 7 });
    expect(spy.mock.calls.filter(([def]) => def.name === 'purge').length).toBeGreaterThanOrEqual(4);
    spy.mockRestore();
  });
});
