/**
 * purge: the hourly schedule (every queue, for real) and `POST /v1/queues/{queue}/purge`
 * (`{"dryRun": true (default), "limit"?}`). Direct invocation: `{"queues"?: [...], "dryRun"?: true, "limit"?}`.
 */
import * as z from 'zod/mini';
import { queues as listQueues } from '../../shared/queue/ops/snapshot.js';
import { assertQueueName } from '../../shared/queue/schema.js';
import { isScheduledEvent, lambdaHandler } from '../lib/handler.js';
import { httpApi, parseWith, type RouteImpls, readJson } from '../lib/http.js';
import { getRuntime, type RuntimeSource } from '../lib/runtime.js';
import { runPurge } from './run.js';

/** Time kept back from the invocation's deadline: no purge round starts in it. */
const RESERVE_MS = 5_000;

const purgeBody = z.strictObject({
  dryRun: z.optional(z.boolean()),
  limit: z.optional(z.int().check(z.gte(1), z.lte(100_000))),
});
const directInput = z.strictObject({
  dryRun: z.optional(z.boolean()),
  limit: z.optional(z.int().check(z.gte(1), z.lte(100_000))),
  queues: z.optional(z.array(z.string())),
});

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
    return { status: 200, body: { queue, ...report } };
  },
};

export const createPurgeHandler = (rt: RuntimeSource) =>
  lambdaHandler('purge', rt, {
    http: httpApi('purge', purgeRoutes),
    other: async (event, inv) => {
      const deadline = inv.deadline - RESERVE_MS;
      if (isScheduledEvent(event))
        return runPurge(inv.rt, inv.log, { queues: await listQueues(inv.rt.spool), dryRun: false, deadline });
      const input = parseWith(directInput, event ?? {});
      const queues = input.queues ?? (await listQueues(inv.rt.spool));
      for (const [i, q] of queues.entries()) assertQueueName(q, `queues[${i}]`);
      return runPurge(inv.rt, inv.log, {
        queues,
        dryRun: input.dryRun ?? true,
        ...(input.limit ? { limit: input.limit } : {}),
        deadline,
      });
    },
  });

export const handler = createPurgeHandler(() => getRuntime('purge'));
