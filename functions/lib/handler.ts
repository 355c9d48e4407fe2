import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { Logger } from '../../shared/log/logger.js';
import type { FunctionName } from '../routes.js';
import { isHttpEvent } from './events.js';
import type { HttpApi } from './http.js';
import { type Runtime, type RuntimeSource, resolveRuntime } from './runtime.js';

/** An EventBridge scheduled event (`rate(...)`/`cron(...)` rule). */
export interface ScheduledEvent {
  source: 'aws.events';
  'detail-type': 'Scheduled Event';
  time?: string;
  resources?: string[];
}

export const isScheduledEvent = (e: unknown): e is ScheduledEvent =>
  !!e &&
  typeof e === 'object' &&
  (e as ScheduledEvent).source === 'aws.events' &&
  (e as ScheduledEvent)['detail-type'] === 'Scheduled Event';

/** What a handler needs beyond the event: its runtime, a logger with the request id, the time left. */
export interface Invocation {
  rt: Runtime;
  log: Logger;
  requestId: string;
  /** Epoch ms the invocation must end by (Lambda: now + remaining time). */
  deadline: number;
}

/** Remaining time when there is no Lambda context (a direct call from a test or the local server). */
export const DEFAULT_REMAINING_MS = 60_000;

/** True until the first invocation of this container has started. */
let coldStart = true;
const sampleRate = (): number => {
  const r = Number(process.env.POWERTOOLS_LOGGER_SAMPLE_RATE ?? 0);
  return Number.isFinite(r) ? Math.min(1, Math.max(0, r)) : 0;
};

export type LambdaHandler = (event: unknown, context?: Partial<Context>) => Promise<unknown>;

/**
 * The common shape of the handlers: HTTP API events go to `http` routes (always answered,
 * errors included, as JSON); every other event to `other`, which throws on failure so Lambda records
 * an error. A child logger per invocation carries the request id (API Gateway's for HTTP).
 */
export function lambdaHandler(
  fn: FunctionName,
  src: RuntimeSource,
  opts: { http?: HttpApi; other?: (event: unknown, inv: Invocation) => Promise<unknown> },
): LambdaHandler {
  return async (event, context) => {
    const http = isHttpEvent(event);
    let rt: Runtime;
    try {
      rt = await resolveRuntime(src);
    } catch (err) {
      if (http && opts.http) return opts.http.fail(err);
      throw err;
    }
    const requestId = http
      ? (event as APIGatewayProxyEventV2).requestContext.requestId
      : (context?.awsRequestId ?? `local-${rt.clock()}`);
    // As Powertools Logger does: cold_start on every line of a container's first invocation, and
    // DEBUG for a sampled fraction of invocations (POWERTOOLS_LOGGER_SAMPLE_RATE, 0 to 1).
    const sampled = sampleRate() > 0 && Math.random() < sampleRate();
    const log = rt.logger.createChild({
      persistentKeys: {
        requestId,
        function: fn,
        cold_start: coldStart,
        ...(sampled ? { sampling_rate: sampleRate() } : {}),
      },
      ...(sampled ? { logLevel: 'DEBUG' as const } : {}),
    });
    coldStart = false;
    if (context?.awsRequestId && context.functionName) log.addContext(context as Context);
    const remaining =
      typeof context?.getRemainingTimeInMillis === 'function'
        ? context.getRemainingTimeInMillis()
        : DEFAULT_REMAINING_MS;
    if (http) {
      if (opts.http) return opts.http.serve(event as APIGatewayProxyEventV2, rt, log);
      return {
        statusCode: 404,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          error: { code: 'not_found', message: `the ${fn} function serves no HTTP route`, details: {} },
        }),
      };
    }
    if (!opts.other) throw new Error(`the ${fn} function takes HTTP API events only`);
    try {
      return await opts.other(event, { rt, log, requestId, deadline: rt.clock() + remaining });
    } catch (err) {
      if (err instanceof Error) log.error(`${fn} failed`, err);
      else log.error(`${fn} failed`, { error: String(err) });
      throw err;
    }
  };
}
