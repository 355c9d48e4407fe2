/**
 * The worker kick without Lambda: runs the worker handler in this process, detached (like an async
 * invocation), with a simulated remaining time. For the local server:
 *   const rt = await createRuntime({ fn: 'local', aws: { cloudwatch: loggingSender(log, 'cloudwatch'), ... } });
 *   rt.kickWorker = inProcessKick(() => rt);
 */

import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import type { KickWorker, Runtime } from '../lib/runtime.js';
import { createWorkerHandler } from './handler.js';
import type { WorkerOptions } from './run.js';

export interface InProcessKickOptions {
  /** The simulated invocation length (default 60 s; Lambda's worker has up to 900 s). */
  remainingMs?: number;
  worker?: Partial<WorkerOptions>;
  /** Called with each run's result or error (tests, the local dashboard). */
  onDone?: (queue: string, result: unknown, error?: unknown) => void;
}

export function fakeContext(remainingMs: number, fn = 'worker'): Partial<Context> {
  const end = Date.now() + remainingMs;
  return {
    awsRequestId: `local-${randomUUID()}`,
    functionName: `spool-${fn}-local`,
    getRemainingTimeInMillis: () => Math.max(0, end - Date.now()),
  };
}

export function inProcessKick(rt: () => Runtime, o: InProcessKickOptions = {}): KickWorker {
  return async (queue, opts) => {
    const handler = createWorkerHandler(rt(), o.worker);
    setImmediate(() => {
      handler({ kick: { queue, reason: opts.reason } }, fakeContext(o.remainingMs ?? 60_000)).then(
        (r) => o.onDone?.(queue, r),
        (err: unknown) => {
          rt().logger.error('in-process worker failed', {
            queue,
            error: err instanceof Error ? err.message : String(err),
          });
          o.onDone?.(queue, undefined, err);
        },
      );
    });
  };
}
