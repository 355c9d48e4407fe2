/**
 * scheduler: the schedule routes (`PUT/GET/DELETE /v1/schedules/{id}`, `POST/GET /v1/schedules`), and
 * the firing run (fire the due schedules, wake their queues' workers, arm the next schedule timer),
 * woken by its schedule timers (SQS), its minute rule (the safety net) or a direct invocation (`{}`).
 */
import { lambdaHandler } from '../lib/handler.js';
import { httpApi } from '../lib/http.js';
import { getRuntime, type RuntimeSource } from '../lib/runtime.js';
import { schedulerRoutes } from './routes.js';
import { runInvocation } from './run.js';

export const createSchedulerHandler = (rt: RuntimeSource) =>
  lambdaHandler('scheduler', rt, {
    http: httpApi('scheduler', schedulerRoutes),
    other: runInvocation,
  });

export const handler = createSchedulerHandler(() => getRuntime('scheduler'));
