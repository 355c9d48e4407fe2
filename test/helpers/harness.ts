import { afterAll } from 'vitest';
import { Spool, type SpoolOptions } from '../../shared/queue/index.js';
import { cleanupPrefix, testRedis, uniquePrefix } from './redis.js';

/** A Spool under its own key prefix with a settable clock; keys are removed after the file's tests. */
export function harness(name: string, opts: Omit<SpoolOptions, 'clock'> & { start?: number } = {}) {
  const prefix = uniquePrefix(name);
  let now = opts.start ?? 1_800_000_000_000;
  const clock = { now: () => now, set: (t: number) => (now = t), advance: (ms: number) => (now += ms) };
  const spool = new Spool(testRedis(), { ...opts, config: { ...opts.config, prefix }, clock: () => now });
  afterAll(async () => {
    await cleanupPrefix(prefix);
  });
  return { spool, clock, prefix, redis: spool.redis };
}

export const job = (payload: unknown = {}, extra: Record<string, unknown> = {}) => ({
  payload,
  handler: 'test',
  ...extra,
});
