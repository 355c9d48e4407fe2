/**
 * A worker that throws still clears its queue's worker mark: else enqueues stop kicking workers and
 * the schedule skips the queue until the mark expires (up to the whole invocation). Real Redis: the
 * ack fails for real (the `completed` key is made a string, so the complete script's ZADD is a
 * WRONGTYPE), the lease that clears the mark does not touch that key.
 */
import { expect, it } from 'vitest';
import * as z from 'zod/mini';
import { createWorkerHandler } from '../../functions/worker/handler.js';
import { BUILTIN_HANDLERS } from '../../shared/jobs/builtin.js';
import { defineHandler, HandlerRegistry } from '../../shared/jobs/registry.js';
import { queueKey } from '../../shared/queue/keys.js';
import { lambdaContext } from '../helpers/fixtures.js';
import { testRuntime } from '../helpers/runtime.js';

const registry = new HandlerRegistry(BUILTIN_HANDLERS);
let sabotage: () => Promise<unknown> = async () => {};
registry.register(defineHandler({ name: 'sabotage', schema: z.unknown(), run: () => sabotage().then(() => {}) }));

const { rt, prefix, kicks } = await testRuntime(
  'worker-mark',
  { SPOOL_WORKER_TIME_MARGIN_MS: '500', SPOOL_JOB_TIMEOUT_MS: '2000' },
  { handlers: registry },
);

it('a worker whose ack throws clears the mark; the next enqueue kicks a worker again', async () => {
  const q = 'marked';
  const key = (k: 'worker' | 'completed') => queueKey(prefix, q, k);
  sabotage = () => rt.spool.redis.set(key('completed'), 'not a sorted set');
  await rt.spool.enqueue(q, { handler: 'sabotage' }, { kick: false });
  const worker = createWorkerHandler(rt, { lingerMs: 0 });
  const err = await Promise.resolve(worker({ kick: { queue: q } }, lambdaContext(20_000))).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Error);
  expect(String((err as Error).message)).toMatch(/WRONGTYPE/);
  expect(await rt.spool.redis.exists(key('worker'))).toBe(0);
  await rt.spool.redis.del(key('completed'));
  kicks.length = 0;
  const out = await rt.spool.enqueue(q, { handler: 'echo' });
  expect(out.kick).toBe(true);
});
