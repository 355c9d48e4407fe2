/**
 * enqueue: the job routes of the HTTP API (POST/GET /v1/queues/{queue}/jobs, GET/DELETE .../jobs/{id}).
 * Kicks the worker (async invoke) when the engine reports new work and no worker running.
 */
import { lambdaHandler } from '../lib/handler.js';
import { httpApi } from '../lib/http.js';
import { getRuntime, type RuntimeSource } from '../lib/runtime.js';
import { enqueueRoutes } from './routes.js';

export const createEnqueueHandler = (rt: RuntimeSource) =>
  lambdaHandler('enqueue', rt, { http: httpApi('enqueue', enqueueRoutes) });

export const handler = createEnqueueHandler(() => getRuntime('enqueue'));
