/** The purge route: `POST /v1/queues/{queue}/purge` (`{"dryRun": true (default), "limit"?}`), one queue. */
import { assertQueueName } from '../../shared/queue/schema.js';
import { parseWith, type RouteImpls, readJson } from '../lib/http.js';
import { type Body, purgeBody, type purgeResponse } from '../lib/schemas.js';
import { runPurge } from './run.js';

export const purgeRoutes: RouteImpls = {
  'POST /v1/queues/{queue}/purge': async (req, rt) => {
    const queue = req.params.queue!;
    assertQueueName(queue);
    const body = parseWith(purgeBody, readJson(req, { optional: true }));
    const report = await runPurge(rt, req.log, {
      queues: [queue],
      dryRun: body.dryRun ?? true,
      ...(body.limit ? { limit: body.limit } : {}),
      deadline: rt.clock() + 20_000,
    });
    return { status: 200, body: { queue, ...report } satisfies Body<typeof purgeResponse> };
  },
};
