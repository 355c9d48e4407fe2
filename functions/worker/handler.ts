/**
 * worker: runs jobs. Invoked
 * - by a kick `{"kick": {"queue": "...", "reason"?}}` (enqueue, drain route, scale-out, continuation): drains that queue;
 * - by its schedule (EventBridge, the safety net): reclaims and kicks a worker for each queue with work.
 * It serves no HTTP route: `POST /v1/queues/{queue}/drain` is the enqueue function's, which kicks it
 * (and keeps the HTTP code out of this bundle).
 */
import { lambdaHandler } from '../lib/handler.js';
import { getRuntime, type RuntimeSource } from '../lib/runtime.js';
import { runInvocation, type WorkerOptions } from './run.js';

export const createWorkerHandler = (rt: RuntimeSource, over: Partial<WorkerOptions> = {}) =>
  lambdaHandler('worker', rt, {
    other: (event, inv) => runInvocation(event, inv, over),
  });

export const handler = createWorkerHandler(() => getRuntime('worker'));
