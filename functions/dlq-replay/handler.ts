/**
 * dlq-replay: `GET /v1/queues/{queue}/dlq` (dead jobs grouped by fingerprint), `DELETE .../dlq/{id}`,
 * `POST .../dlq/replay`; and direct invocation with the same input plus `queue` (and `actor`):
 *   aws lambda invoke --function-name <stack>-DlqReplay... --payload '{"queue":"emails","dryRun":false,"fingerprint":"..."}' out.json
 */
import * as z from 'zod/mini';
import { NotFoundError } from '../../shared/queue/errors.js';
import { deadGroups, deleteDead } from '../../shared/queue/ops/dead.js';
import { assertQueueName } from '../../shared/queue/schema.js';
import { lambdaHandler } from '../lib/handler.js';
import { httpApi, parseWith, type RouteImpls, readJson } from '../lib/http.js';
import { iso, presentJob } from '../lib/present.js';
import { getRuntime, type RuntimeSource } from '../lib/runtime.js';
import { replayBody, replayInvocation, runReplay } from './run.js';

const groupsQuery = z.object({
  samples: z.optional(z.string().check(z.regex(/^([0-9]|1[0-9]|20)$/, 'must be an integer from 0 to 20'))),
  scan: z.optional(z.string().check(z.regex(/^\d{1,4}$/, 'must be an integer from 1 to 5000'))),
});

export const dlqRoutes: RouteImpls = {
  'GET /v1/queues/{queue}/dlq': async (req, rt) => {
    const q = parseWith(groupsQuery, req.query);
    const opts: { samples?: number; scan?: number } = {};
    if (q.samples !== undefined) opts.samples = Number(q.samples);
    if (q.scan !== undefined) opts.scan = Math.max(1, Math.min(5000, Number(q.scan)));
    const { total, groups } = await deadGroups(rt.spool, req.params.queue!, opts);
    return {
      status: 200,
      body: {
        queue: req.params.queue,
        total,
        groups: groups.map((g) => ({
          fingerprint: g.fingerprint,
          count: g.count,
          errorClass: g.errorClass,
          message: g.message,
          lastDiedAt: iso(g.lastDiedAt),
          samples: g.samples.map(presentJob),
        })),
      },
    };
  },
  'DELETE /v1/queues/{queue}/dlq/{id}': async (req, rt) => {
    const { queue, id } = req.params as { queue: string; id: string };
    const gone = await deleteDead(rt.spool, queue, [id]);
    if (gone.length === 0) throw new NotFoundError(`dead job ${id}`);
    req.log.info('dead job deleted', { queue, jobId: id, actor: req.caller });
    return { status: 200, body: { queue, id, deleted: true } };
  },
  'POST /v1/queues/{queue}/dlq/replay': async (req, rt) => {
    const queue = req.params.queue!;
    assertQueueName(queue);
    const input = parseWith(replayBody, readJson(req, { optional: true }));
    const report = await runReplay(rt, req.log, queue, input, {
      actor: req.caller ?? 'anonymous',
      requestId: req.requestId,
    });
    return { status: 200, body: report };
  },
};

export const createDlqReplayHandler = (rt: RuntimeSource) =>
  lambdaHandler('dlq-replay', rt, {
    http: httpApi('dlq-replay', dlqRoutes),
    other: async (event, inv) => {
      const { queue, actor, ...input } = parseWith(replayInvocation, event);
      assertQueueName(queue);
      return runReplay(inv.rt, inv.log, queue, input, { actor: actor ?? 'direct-invoke', requestId: inv.requestId });
    },
  });

export const handler = createDlqReplayHandler(() => getRuntime('dlq-replay'));
