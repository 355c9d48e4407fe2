/**
 * dlq-replay: `GET /v1/queues/{queue}/dlq` (dead jobs grouped by fingerprint), `DELETE .../dlq/{id}`,
 * `POST .../dlq/replay`; and direct invocation with the same input plus `queue` (and `actor`):
 *   aws lambda invoke --function-name <stack>-DlqReplay... --payload '{"queue":"emails","dryRun":false,"fingerprint":"..."}' out.json
 */
import { lambdaHandler } from '../lib/handler.js';
import { httpApi } from '../lib/http.js';
import { getRuntime, type RuntimeSource } from '../lib/runtime.js';
import { dlqRoutes } from './routes.js';
import { runInvocation } from './run.js';

export const createDlqReplayHandler = (rt: RuntimeSource) =>
  lambdaHandler('dlq-replay', rt, {
    http: httpApi('dlq-replay', dlqRoutes),
    other: runInvocation,
  });

export const handler = createDlqReplayHandler(() => getRuntime('dlq-replay'));
