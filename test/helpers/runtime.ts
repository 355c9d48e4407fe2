import { afterAll, expect, onTestFinished, vi } from 'vitest';
import { createRuntime, type Runtime, type RuntimeOptions } from '../../functions/lib/runtime.js';
import { loadConfig, queueConfig } from '../../shared/config/index.js';
import { Logger } from '../../shared/log/logger.js';
import { Spool } from '../../shared/queue/index.js';
import { cleanupPrefix, testRedis, uniquePrefix } from './redis.js';

/**
 * A runtime on real Redis (the local Upstash endpoint) under its own prefix, keys removed after the
 * file. The kick is a spy unless given; AWS clients are the real defaults (mock them with
 * aws-sdk-client-mock) unless given. `random` is the engine's backoff jitter (default Math.random).
 */
export async function testRuntime(
  name: string,
  env: Record<string, string> = {},
  { random, ...o }: RuntimeOptions & { random?: () => number } = {},
) {
  const prefix = uniquePrefix(name);
  const kicks: Array<{ queue: string; reason: string }> = [];
  const kickWorker = vi.fn(async (queue: string, opts: { reason: string }) => {
    kicks.push({ queue, reason: opts.reason });
  });
  const config = loadConfig({ SPOOL_KEY_PREFIX: prefix, SPOOL_TARGET_ALLOW_PRIVATE: 'true', ...env });
  // The whole engine (a Spool) so that tests can arrange queues with its methods; handlers use its core.
  const spool = new Spool(o.redis ?? testRedis(), {
    config: queueConfig(config),
    ...(o.clock ? { clock: o.clock } : {}),
    ...(random ? { random } : {}),
  });
  const rt = (await createRuntime({
    fn: 'local',
    config,
    spool,
    kickWorker,
    logger: new Logger({ serviceName: 'spool-test', logLevel: (process.env.TEST_LOG_LEVEL as 'INFO') ?? 'SILENT' }),
    ...o,
  })) as Runtime & { spool: Spool };
  // Called inside a test, clean up when that test ends (a hook registered there would never run);
  // called at file or describe level, after its tests.
  const cleanup = async () => void (await cleanupPrefix(prefix));
  if (expect.getState().currentTestName !== undefined) onTestFinished(cleanup);
  else afterAll(cleanup);
  return { rt, prefix, kicks, kickWorker };
}
