/**
 * worker: runs jobs. Invoked
 * - by a kick `{"kick": {"queue": "...", "reason"?}}` (enqueue, drain route, scale-out, continuation): drains that queue;
 * - by its schedule (EventBridge, the safety net): reclaims and kicks a worker for each queue with work.
 * It serves no HTTP route: `POST /v1/queues/{queue}/drain` is the enqueue function's, which kicks it
 * (and keeps the HTTP code out of this bundle).
 */
import { isScheduledEvent, lambdaHandler } from '../lib/handler.js';
import { getRuntime, type RuntimeSource } from '../lib/runtime.js';
import { runKick, runSchedule, type WorkerOptions } from './run.js';

export const createWorkerHandler = (rt: RuntimeSource, over: Partial<WorkerOptions> = {}) =>
  lambdaHandler('worker', rt, {
    other: async (event, inv) => {
      if (event && typeof event === 'object' && 'kick' in event) return runKick(event, inv, over);
      if (isScheduledEvent(event) || (event && typeof event === 'object' && Object.keys(event).length === 0))
        return runSchedule(inv);
      throw new Error('worker: expected a kick {"kick": {"queue": ...}} or a scheduled event');
    },
  });

export const handler = createWorkerHandler(() => getRuntime('worker'));
