/**
 * The handlers' log lines: cold_start on the first invocation of a container only (this file is its
 * own process, so its first invocation is the container's), the request id on every line, and debug
 * lines for a sampled fraction of invocations (POWERTOOLS_LOGGER_SAMPLE_RATE).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEnqueueHandler } from '../../functions/enqueue/handler.js';
import { Logger } from '../../shared/log/logger.js';
import { apiEvent, lambdaContext } from '../helpers/fixtures.js';
import { testRuntime } from '../helpers/runtime.js';

const lines: Array<Record<string, unknown>> = [];
const logger = new Logger({ serviceName: 'spool-test', logLevel: 'INFO', sink: (l) => void lines.push(JSON.parse(l)) });
const { rt } = await testRuntime('logging', {}, { logger });
const enqueue = createEnqueueHandler(rt);
const call = (queue: string) =>
  enqueue(
    apiEvent('POST', `/v1/queues/${queue}/jobs`, { body: { handler: 'echo' } }),
    lambdaContext(30_000, 'enqueue'),
  );

afterEach(() => {
  delete process.env.POWERTOOLS_LOGGER_SAMPLE_RATE;
  lines.length = 0;
});

describe('log lines of an invocation', () => {
  it('cold_start is true on the first invocation only; every line carries the request id', async () => {
    await call('log-a');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatchObject({ cold_start: true, requestId: expect.any(String) });
    lines.length = 0;
    await call('log-a');
    for (const l of lines) expect(l.cold_start).toBe(false);
    expect(lines.some((l) => l.level === 'DEBUG')).toBe(false);
  });

  it('a sampled invocation logs at DEBUG and says its sampling rate', async () => {
    process.env.POWERTOOLS_LOGGER_SAMPLE_RATE = '1';
    await call('log-b');
    expect(lines.filter((l) => l.level === 'DEBUG').map((l) => l.message)).toContain('worker kicked');
    for (const l of lines) expect(l.sampling_rate).toBe(1);
    lines.length = 0;
    process.env.POWERTOOLS_LOGGER_SAMPLE_RATE = '0';
    await call('log-c');
    expect(lines.some((l) => l.level === 'DEBUG' || 'sampling_rate' in l)).toBe(false);
  });
});
