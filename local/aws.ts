/**
 * AWS, locally: the stand-ins the function host (local/functions.ts) gives the real handlers in place
 * of the AWS clients, of Lambda's asynchronous invoke of the worker and of the SQS timer queues.
 * Production never loads them.
 */

import { randomUUID } from 'node:crypto';
import type { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { InvokeCommand } from '@aws-sdk/client-lambda';
import type { PublishCommand } from '@aws-sdk/client-sns';
import type { SendMessageCommand } from '@aws-sdk/client-sqs';
import {
  type AwsClients,
  type KickEvent,
  type KickWorker,
  MAX_TIMER_DELAY_S,
  type ScheduleTimer,
  type ScheduleTimerMessage,
  type Sender,
  type Timer,
  type TimerMessage,
} from '../functions/lib/runtime.js';
import type { Logger } from '../shared/log/logger.js';

/**
 * A stand-in AWS client: logs each command's name and input instead of calling AWS, and answers `{}`
 * (`aws: { cloudwatch: loggingSender(logger, 'cloudwatch'), sns: ..., lambda: ... }`).
 */
export function loggingSender<C extends { input: unknown }>(logger: Pick<Logger, 'info'>, service: string): Sender<C> {
  return {
    send: async (command: C) => {
      logger.info(`aws ${service} ${command.constructor.name}`, {
        service,
        command: command.constructor.name,
        input: command.input as Record<string, unknown>,
      });
      return {};
    },
  };
}

/**
 * AWS clients that write what they would send to the log, in the shape it would be sent,
 * printing `[cloudwatch] PutMetricData {input}` lines.
 */
export function loggingAwsClients(log: (line: string) => void): AwsClients {
  const logger = {
    info: (_message: string, extra: { service: string; command: string; input: unknown }) => {
      const note =
        extra.service === 'lambda'
          ? ' (not sent: the local worker kick runs in-process)'
          : extra.service === 'sqs'
            ? ' (not sent: the local timers run in-process)'
            : '';
      log(`[${extra.service}] ${extra.command.replace(/Command$/, '')} ${JSON.stringify(extra.input)}${note}`);
    },
  } as unknown as Pick<Logger, 'info'>;
  return {
    cloudwatch: loggingSender<PutMetricDataCommand>(logger, 'cloudwatch'),
    sns: loggingSender<PublishCommand>(logger, 'sns'),
    lambda: loggingSender<InvokeCommand>(logger, 'lambda'),
    sqs: loggingSender<SendMessageCommand>(logger, 'sqs'),
  };
}

/**
 * The worker kick, in this process: Lambda's asynchronous invoke becomes `invokeWorker(event)` run
 * detached (the caller's response does not wait for it); a failure is written to `log`.
 */
export function inProcessKick(
  invokeWorker: (event: KickEvent) => Promise<unknown>,
  log: (line: string) => void,
): KickWorker {
  return async (queue, o) => {
    const event: KickEvent = { kick: { queue, reason: o.reason } };
    setImmediate(() => {
      invokeWorker(event).catch((e: unknown) =>
        log(`[worker] kick for ${queue} (${o.reason}) failed: ${(e as Error).stack ?? String(e)}`),
      );
    });
  };
}

/** SQS message timers, in this process: `send` delivers `body` as an SQS event at `at`, at most 900 s later. */
function inProcessDelays(
  deliver: (event: unknown) => Promise<unknown>,
  log: (line: string) => void,
  clock: () => number,
) {
  const timers = new Set<NodeJS.Timeout>();
  return {
    send(at: number, body: unknown, what: string) {
      const wait = Math.min(MAX_TIMER_DELAY_S * 1000, Math.max(0, Math.round(at - clock())));
      const t = setTimeout(() => {
        timers.delete(t);
        const event = {
          Records: [{ messageId: randomUUID(), eventSource: 'aws:sqs', body: JSON.stringify(body) }],
        };
        deliver(event).catch((e: unknown) => log(`[timer] ${what} failed: ${(e as Error).stack ?? String(e)}`));
      }, wait);
      timers.add(t);
    },
    cancel() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
    get pending() {
      return timers.size;
    },
  };
}

/**
 * The timer queue, in this process: `arm` sets a timer that delivers the event the timer queue's
 * event source mapping would (`{ Records: [{ eventSource: 'aws:sqs', body }] }`) to `invokeWorker`
 * when it fires, at most 900 s later as SQS would (the worker re-arms a later one). To the
 * millisecond, where SQS counts whole seconds. `cancel()` clears every pending timer (on close).
 */
export function inProcessTimer(
  invokeWorker: (event: unknown) => Promise<unknown>,
  log: (line: string) => void,
  clock: () => number = Date.now,
): Timer & { cancel(): void; readonly pending: number } {
  const delays = inProcessDelays(invokeWorker, log, clock);
  return {
    async arm(queue, at) {
      const body: TimerMessage = { timer: { queue, at: Math.round(at) } };
      delays.send(at, body, queue);
    },
    cancel: () => delays.cancel(),
    get pending() {
      return delays.pending;
    },
  };
}

/**
 * The schedule timer queue, in this process: as inProcessTimer, for the scheduler (the body is a
 * ScheduleTimerMessage; a timer past 900 s is re-armed by the scheduler it wakes).
 */
export function inProcessScheduleTimer(
  invokeScheduler: (event: unknown) => Promise<unknown>,
  log: (line: string) => void,
  clock: () => number = Date.now,
): ScheduleTimer & { cancel(): void; readonly pending: number } {
  const delays = inProcessDelays(invokeScheduler, log, clock);
  return {
    async arm(at) {
      const body: ScheduleTimerMessage = { scheduleTimer: { at: Math.round(at) } };
      delays.send(at, body, 'schedules');
    },
    cancel: () => delays.cancel(),
    get pending() {
      return delays.pending;
    },
  };
}
