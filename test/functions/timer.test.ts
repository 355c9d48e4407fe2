/**
 * The timer path deployed: SQS message timers (aws-sdk-client-mock stands in for SQS; Redis is
 * real). The right DelaySeconds, re-arming past 900 s, a due message kicking a worker, and a
 * worker leaving with delayed jobs arming the first one's timer.
 */
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  armTimer,
  MAX_TIMER_DELAY_S,
  sqsTimer,
  type TimerMessage,
  timerDelaySeconds,
} from '../../functions/lib/runtime.js';
import { createWorkerHandler } from '../../functions/worker/handler.js';
import type { DrainReport, TimerReport } from '../../functions/worker/run.js';
import { loadConfig } from '../../shared/config/index.js';
import { Logger } from '../../shared/log/logger.js';
import { queueKey } from '../../shared/queue/keys.js';
import { lambdaContext } from '../helpers/fixtures.js';
import { testRuntime } from '../helpers/runtime.js';

const sqs = mockClient(SQSClient);
beforeEach(() => {
  sqs.reset();
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm' });
});

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/spool-timers';
const silent = new Logger({ serviceName: 'spool-test', logLevel: 'SILENT' });
const sent = () => sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
const bodyOf = (x: { MessageBody?: string }) => JSON.parse(x.MessageBody ?? '{}') as TimerMessage;

describe('the SQS timer', () => {
  const config = loadConfig({ SPOOL_TIMER_QUEUE_URL: QUEUE_URL });
  const now = 1_800_000_000_000;
  const timer = sqsTimer(config, new SQSClient({}), silent, () => now);

  it('rounds the delay down to whole seconds, 0 to 900', () => {
    expect([0, 999, 1_000, 2_500, 899_999, 900_000, 3_600_000, -5].map(timerDelaySeconds)).toEqual([
      0, 0, 1, 2, 899, 900, 900, 0,
    ]);
  });

  it('sends one message on the timer queue, with the due time in its body', async () => {
    await timer.arm('emails', now + 2_500);
    await timer.arm('emails', now + 3_600_000);
    const [a, b] = sent();
    expect(a).toMatchObject({ QueueUrl: QUEUE_URL, DelaySeconds: 2 });
    expect(bodyOf(a!)).toEqual({ timer: { queue: 'emails', at: now + 2_500 } });
    expect(b).toMatchObject({ QueueUrl: QUEUE_URL, DelaySeconds: MAX_TIMER_DELAY_S });
    expect(bodyOf(b!)).toEqual({ timer: { queue: 'emails', at: now + 3_600_000 } });
  });

  it('without SPOOL_TIMER_QUEUE_URL sends nothing (the worker schedule runs delayed jobs)', async () => {
    await sqsTimer(loadConfig({}), new SQSClient({}), silent).arm('emails', Date.now() + 5_000);
    expect(sent()).toEqual([]);
  });

  it('a process that cannot arm (no timer queue: the CLI) leaves the queue timer unclaimed', async () => {
    const { rt: off, prefix } = await testRuntime('timer-off', {}, { aws: { sqs: new SQSClient({}) } });
    await armTimer(off, silent, 'emails', 5_000);
    expect(sent()).toEqual([]);
    expect(await off.spool.redis.exists(queueKey(prefix, 'emails', 'timer'))).toBe(0);
  });
});

const { rt, kicks } = await testRuntime(
  'timer',
  { SPOOL_TIMER_QUEUE_URL: QUEUE_URL, SPOOL_WORKER_TIME_MARGIN_MS: '500', SPOOL_JOB_TIMEOUT_MS: '1000' },
  { aws: { sqs: new SQSClient({}) } },
);

describe('the worker and its timers', () => {
  const worker = createWorkerHandler(rt, { lingerMs: 0 });
  const message = (queue: string, at: number, id = 'r1') => ({
    Records: [
      { messageId: id, eventSource: 'aws:sqs', body: JSON.stringify({ timer: { queue, at } } satisfies TimerMessage) },
    ],
  });

  it('a due timer kicks a worker for its queue; one due past 900 s is armed again for the rest', async () => {
    kicks.length = 0;
    const t0 = Date.now();
    const r = (await worker(
      {
        Records: [
          ...message('soon', t0 + 200, 'a').Records,
          ...message('later', t0 + 2_000_000, 'b').Records,
          { messageId: 'c', eventSource: 'aws:sqs', body: 'not json' },
        ],
      },
      lambdaContext(),
    )) as TimerReport;
    expect(r).toMatchObject({ kicked: ['soon'], rearmed: ['later'], batchItemFailures: [] });
    expect(kicks).toEqual([{ queue: 'soon', reason: 'timer' }]);
    const [again] = sent();
    expect(again).toMatchObject({ QueueUrl: QUEUE_URL, DelaySeconds: MAX_TIMER_DELAY_S });
    // The message keeps the time it was armed for.
    expect(bodyOf(again!).timer).toEqual({ queue: 'later', at: t0 + 2_000_000 });
  });

  it('a timer that cannot be handled is reported back to SQS (partial batch response)', async () => {
    sqs.on(SendMessageCommand).rejects(new Error('throttled'));
    const r = (await worker(message('later', Date.now() + 5_000_000, 'x'), lambdaContext())) as TimerReport;
    expect(r.batchItemFailures).toEqual([{ itemIdentifier: 'x' }]);
  });

  it('a worker a timer woke arms the timer of the first delayed job it leaves (the chain goes on)', async () => {
    await rt.spool.enqueue('retry-later', [
      { handler: 'echo', payload: {} },
      { handler: 'echo', payload: {}, delayMs: 30_000 },
      { handler: 'echo', payload: {}, delayMs: 5_000 },
    ]);
    const r = (await worker({ kick: { queue: 'retry-later', reason: 'timer' } }, lambdaContext(20_000))) as DrainReport;
    expect(r).toMatchObject({ completed: 1, stop: 'empty' });
    expect(r.nextDueInMs).toBeGreaterThan(0);
    expect(r.nextDueInMs).toBeLessThanOrEqual(5_000);
    const [m] = sent();
    expect(m).toMatchObject({ QueueUrl: QUEUE_URL, DelaySeconds: timerDelaySeconds(r.nextDueInMs!) });
    expect(bodyOf(m!).timer.queue).toBe('retry-later');
  });

  it("workers leaving the same delayed job arm its timer once (the queue's pending timer is claimed)", async () => {
    await rt.spool.enqueue('covered', [
      { handler: 'echo', payload: {} },
      { handler: 'echo', payload: {}, delayMs: 30_000 },
    ]);
    const r1 = (await worker({ kick: { queue: 'covered' } }, lambdaContext(20_000))) as DrainReport;
    await rt.spool.enqueue('covered', { handler: 'echo', payload: {} });
    const r2 = (await worker({ kick: { queue: 'covered' } }, lambdaContext(20_000))) as DrainReport;
    expect([r1.completed, r2.completed]).toEqual([1, 1]);
    expect(r2.nextDueInMs).toBeGreaterThan(0);
    expect(sent()).toHaveLength(1);
    // A job due sooner than the pending timer gets a timer of its own.
    await rt.spool.enqueue('covered', [
      { handler: 'echo', payload: {} },
      { handler: 'echo', payload: {}, delayMs: 10_000 },
    ]);
    await worker({ kick: { queue: 'covered' } }, lambdaContext(20_000));
    expect(sent()).toHaveLength(2);
    expect(sent()[1]!.DelaySeconds).toBeLessThanOrEqual(10);
  });

  it("a retry sooner than the queue's first delayed job arms a timer when the worker leaves", async () => {
    const { rt: rt2 } = await testRuntime(
      'timer-retry',
      {
        SPOOL_TIMER_QUEUE_URL: QUEUE_URL,
        SPOOL_BACKOFF_BASE_MS: '4000',
        SPOOL_WORKER_TIME_MARGIN_MS: '500',
        SPOOL_JOB_TIMEOUT_MS: '1000',
      },
      { aws: { sqs: new SQSClient({}) }, random: () => 1 },
    );
    await rt2.spool.enqueue('retried', [
      { target: { url: 'http://127.0.0.1:1/refused' }, payload: {} },
      { handler: 'echo', payload: {}, delayMs: 60_000 },
    ]);
    const w = createWorkerHandler(rt2, { lingerMs: 0 });
    const r = (await w({ kick: { queue: 'retried' } }, lambdaContext(20_000))) as DrainReport;
    expect(r).toMatchObject({ retried: 1, stop: 'empty' });
    expect(r.wakeAt).toBeDefined();
    const [m] = sent();
    expect(m).toMatchObject({ DelaySeconds: timerDelaySeconds(r.nextDueInMs!) });
    expect(m!.DelaySeconds).toBeLessThanOrEqual(4);
  });

  it('a worker leaving an empty queue arms nothing', async () => {
    await rt.spool.enqueue('nothing-later', { handler: 'echo', payload: {} });
    const r = (await worker({ kick: { queue: 'nothing-later' } }, lambdaContext(20_000))) as DrainReport;
    expect(r).toMatchObject({ completed: 1, stop: 'empty' });
    expect(r.nextDueInMs).toBeUndefined();
    expect(sent()).toEqual([]);
  });
});
