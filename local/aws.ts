/**
 * AWS, locally: the stand-ins the function host (local/functions.ts) gives the real handlers in place
 * of the AWS clients and of Lambda's asynchronous invoke of the worker. Production never loads them.
 */
import type { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { InvokeCommand } from '@aws-sdk/client-lambda';
import type { PublishCommand } from '@aws-sdk/client-sns';
import type { AwsClients, KickEvent, KickWorker, Sender } from '../functions/lib/runtime.js';
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
      const note = extra.service === 'lambda' ? ' (not sent: the local worker kick runs in-process)' : '';
      log(`[${extra.service}] ${extra.command.replace(/Command$/, '')} ${JSON.stringify(extra.input)}${note}`);
    },
  } as unknown as Pick<Logger, 'info'>;
  return {
    cloudwatch: loggingSender<PutMetricDataCommand>(logger, 'cloudwatch'),
    sns: loggingSender<PublishCommand>(logger, 'sns'),
    lambda: loggingSender<InvokeCommand>(logger, 'lambda'),
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
