/**
 * The purge routes: `POST /v1/queues/{queue}/purge` (`{"dryRun": true (default), "limit"?}`), one
 * queue; `DELETE /v1/queues/{queue}?confirm=<queue>[&includeDead=true][&force=true]`, clear it.
 */
import { ValidationError } from '../../shared/queue/errors.js';
import { clearQueue } from '../../shared/queue/ops/clear.js';
import { assertQueueName } from '../../shared/queue/schema.js';
import { auditRecord } from '../lib/audit.js';
import { parseWith, type RouteImpls, readJson } from '../lib/http.js';
import { type Body, clearQuery, type clearResponse, purgeBody, type purgeResponse } from '../lib/schemas.js';
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
  /** Clear a queue; `confirm` repeats its name, so that a wrong path clears nothing. */
  'DELETE /v1/queues/{queue}': async (req, rt) => {
    const queue = req.params.queue!;
    assertQueueName(queue);
    const q = parseWith(clearQuery, req.query);
    if (q.confirm !== queue)
      throw new ValidationError('confirm', `must repeat the queue name (confirm=${queue}) to clear it`);
    const includeDead = q.includeDead === 'true';
    const force = q.force === 'true';
    const who = { actor: req.caller ?? 'anonymous', requestId: req.requestId };
    const r = await clearQueue(rt.spool, queue, {
      includeDead,
      force,
      audit: auditRecord(rt.clock(), who, queue, { action: 'clear', selection: { includeDead, force } }),
    });
    req.log.info('queue cleared', { queue, ...who, includeDead, force, removed: r.removed, left: r.left });
    return { status: 200, body: { queue, ...r } satisfies Body<typeof clearResponse> };
  },
};
