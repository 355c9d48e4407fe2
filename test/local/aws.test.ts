import { describe, expect, it } from 'vitest';
import { createEnqueueHandler } from '../../functions/enqueue/handler.js';
import { createHealthHandler } from '../../functions/health/handler.js';
import { createRuntime } from '../../functions/lib/runtime.js';
import { createWorkerHandler } from '../../functions/worker/handler.js';
import { lambdaContext } from '../../local/apigw.js';
import { inProcessKick, loggingSender } from '../../local/aws.js';
import type { Logger } from '../../shared/log/logger.js';
import { getJob } from '../../shared/queue/ops/jobs.js';
import { apiEvent, json, scheduledEvent } from '../helpers/fixtures.js';
import { testRedis } from '../helpers/redis.js';
import { testRuntime } from '../helpers/runtime.js';

describe('local seams', () => {
  it('AWS clients replaced by loggers and the kick run in-process: an enqueued job completes', async () => {
    const { rt: base } = await testRuntime('local');
    const lines: Array<{ message: string; input?: unknown }> = [];
    const sink = {
      info: (message: string, extra?: { input?: unknown }) => lines.push({ message, input: extra?.input }),
    } as unknown as Logger;
    const rt = await createRuntime({
      fn: 'local',
      config: { ...base.config, SPOOL_ALERT_TOPIC_ARN: 'arn:local:topic' },
      redis: testRedis(),
      logger: base.logger,
      aws: {
        cloudwatch: loggingSender(sink, 'cloudwatch'),
        sns: loggingSender(sink, 'sns'),
        lambda: loggingSender(sink, 'lambda'),
      },
    });
    const worker = createWorkerHandler(rt, { lingerMs: 0 });
    const finished = new Promise<unknown>((resolve, reject) => {
      rt.kickWorker = inProcessKick(
        (event) => worker(event, lambdaContext('spool-local-worker', 60_000)).then(resolve),
        (line) => reject(new Error(line)),
      );
    });
    const r = json(
      await createEnqueueHandler(rt)(apiEvent('POST', '/v1/queues/loc/jobs', { body: { handler: 'echo' } })),
    );
    expect(r.status).toBe(201);
    expect(await finished).toMatchObject({ queue: 'loc', completed: 1 });
    expect((await getJob(rt.spool, 'loc', r.body.id))!.state).toBe('completed');

    await createHealthHandler(rt)(scheduledEvent('health'));
    expect(lines.map((l) => l.message)).toContain('aws cloudwatch PutMetricDataCommand');
  });
});
