/**
 * health: `GET /v1/health`, `GET /v1/queues`, `GET /metrics`, `GET /v1/openapi.json`, the JSON
 * 404/405 of the catch-all route, and the scheduled run (metrics, alerts on status changes, history).
 */
import { lambdaHandler } from '../lib/handler.js';
import { httpApi } from '../lib/http.js';
import { getRuntime, type RuntimeSource } from '../lib/runtime.js';
import { healthRoutes } from './routes.js';
import { runHealth } from './run.js';

export const createHealthHandler = (rt: RuntimeSource) =>
  lambdaHandler('health', rt, {
    http: httpApi('health', healthRoutes),
    other: async (_event, inv) => runHealth(inv.rt, inv.log),
  });

export const handler = createHealthHandler(() => getRuntime('health'));
