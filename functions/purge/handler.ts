/**
 * purge: the hourly schedule (every queue, for real) and `POST /v1/queues/{queue}/purge`
 * (`{"dryRun": true (default), "limit"?}`). Direct invocation: `{"queues"?: [...], "dryRun"?: true, "limit"?}`.
 */
import { lambdaHandler } from '../lib/handler.js';
import { httpApi } from '../lib/http.js';
import { getRuntime, type RuntimeSource } from '../lib/runtime.js';
import { purgeRoutes } from './routes.js';
import { runInvocation } from './run.js';

export const createPurgeHandler = (rt: RuntimeSource) =>
  lambdaHandler('purge', rt, {
    http: httpApi('purge', purgeRoutes),
    other: runInvocation,
  });

export const handler = createPurgeHandler(() => getRuntime('purge'));
