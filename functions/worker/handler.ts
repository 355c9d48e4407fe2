/**
 * worker: runs jobs. Invoked
 * - by a kick `{"kick": {"queue": "...", "reason"?}}` (enqueue, drain route, scale-out, continuation): drains that queue;
 * - by its schedule (EventBridge, the safety net): reclaims and kicks a worker for each queue with work;
 * - by `POST /v1/queues/{queue}/drain`: answers 202 and kicks a worker for the queue.
 */
import { isScheduledEvent, lambdaHandler } from '../lib/handler.js';
import type { RouteImpls } from '../lib/http.js';
import { getRuntime, type RuntimeSource } from '../lib/runtime.js';
import { assertQueueName } from '../../shared/queue/schema.js';
import type { WorkerOptions } from './drain.js';
import { runKick, runSchedule } from './run.js';

export const workerRoutes: RouteImpls = {
  'POST /v1/queues/{queue}/drain': async (req, rt) => {
    const queue = req.params.queue!;
    assertQueueName(queue);
    await rt.kickWorker(queue, { reason: 'drain' });
    req.log.info('drain requested', { queue });
    return { status: 202, body: { queue, accepted: true } };
  },
};

export const createWorkerHandler = (rt: RuntimeSource, over: Partial<WorkerOptions> = {}) =>
  lambdaHandler('worker', rt, {
    http: workerRoutes,
    other: async (event, inv) => {
      if (event && typeof event === 'object' && 'kick' in event) return runKick(event, inv, over);
      if (isScheduledEvent(event) || (event && typeof event === 'object' && Object.keys(event).length === 0)) return runSchedule(inv);
      throw new Error('worker: expected a kick {"kick": {"queue": ...}} or a scheduled event');
    },
  });

export const handler = createWorkerHandler(() => getRuntime('worker'));
