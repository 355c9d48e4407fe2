/** The DLQ routes: dead jobs grouped by fingerprint, delete one, replay a selection. */
import { redactUrls } from '../../shared/log/redact.js';
import { NotFoundError } from '../../shared/queue/errors.js';
import { deadGroups, deleteDead } from '../../shared/queue/ops/dead.js';
import { assertQueueName } from '../../shared/queue/schema.js';
import { parseWith, type RouteImpls, readJson } from '../lib/http.js';
import { iso, presentJob } from '../lib/present.js';
import {
  type Body,
  type deadGroupsResponse,
  type deleteDeadResponse,
  dlqQuery,
  replayBody,
  type replayResponse,
} from '../lib/schemas.js';
import { runReplay } from './run.js';

export const dlqRoutes: RouteImpls = {
  'GET /v1/queues/{queue}/dlq': async (req, rt) => {
    const q = parseWith(dlqQuery, req.query);
    const opts: { samples?: number; scan?: number } = {};
    if (q.samples !== undefined) opts.samples = Number(q.samples);
    if (q.scan !== undefined) opts.scan = Math.max(1, Math.min(5000, Number(q.scan)));
    const { total, groups } = await deadGroups(rt.spool, req.params.queue!, opts);
    return {
      status: 200,
      body: {
        queue: req.params.queue!,
        total,
        groups: groups.map((g) => ({
          fingerprint: g.fingerprint,
          count: g.count,
          errorClass: g.errorClass,
          message: g.message === undefined ? undefined : redactUrls(g.message),
          lastDiedAt: iso(g.lastDiedAt),
          samples: g.samples.map(presentJob),
        })),
      } satisfies Body<typeof deadGroupsResponse>,
    };
  },
  'DELETE /v1/queues/{queue}/dlq/{id}': async (req, rt) => {
    const { queue, id } = req.params as { queue: string; id: string };
    const gone = await deleteDead(rt.spool, queue, [id]);
    if (gone.length === 0) throw new NotFoundError(`dead job ${id}`);
    req.log.info('dead job deleted', { queue, jobId: id, actor: req.caller });
    return { status: 200, body: { queue, id, deleted: true } satisfies Body<typeof deleteDeadResponse> };
  },
  'POST /v1/queues/{queue}/dlq/replay': async (req, rt) => {
    const queue = req.params.queue!;
    assertQueueName(queue);
    const input = parseWith(replayBody, readJson(req, { optional: true }));
    const report = await runReplay(rt, req.log, queue, input, {
      actor: req.caller ?? 'anonymous',
      requestId: req.requestId,
    });
    return { status: 200, body: report satisfies Body<typeof replayResponse> };
  },
};
