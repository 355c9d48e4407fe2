/** The job routes: enqueue (one or a batch), get, cancel, list. */
import { ConflictError, NotFoundError, ValidationError } from '../../shared/queue/errors.js';
import { enqueue } from '../../shared/queue/ops/enqueue.js';
import { cancel, getJob, listJobs, runNow } from '../../shared/queue/ops/jobs.js';
import { getSettings, putSettings } from '../../shared/queue/ops/settings.js';
import { assertQueueName } from '../../shared/queue/schema.js';
import type { JobState, QueueSettings } from '../../shared/queue/types.js';
import { requestTrace, toTraceparent, xrayTraceId } from '../../shared/trace/context.js';
import { parseWith, type RouteImpls, readJson } from '../lib/http.js';
import { iso, presentJob } from '../lib/present.js';
import { armTimer, kickIfNeeded } from '../lib/runtime.js';
import {
  API_MAX_BATCH,
  type Body,
  type cancelResponse,
  type drainResponse,
  type enqueueBatchResponse,
  type enqueueResponse,
  type jobPageResponse,
  listJobsQuery,
  type runResponse,
  type settingsResponse,
} from '../lib/schemas.js';

const isObject = (x: unknown): x is Record<string, unknown> => !!x && typeof x === 'object' && !Array.isArray(x);

const presentSettings = (queue: string, st: QueueSettings): Body<typeof settingsResponse> => {
  const { pausedAt, breakers, ...rest } = st;
  return {
    queue,
    ...rest,
    ...(pausedAt !== undefined ? { pausedAt: iso(pausedAt) } : {}),
    breakers: breakers.map(({ openUntil, ...b }) => ({
      ...b,
      ...(openUntil !== undefined ? { openUntil: iso(openUntil) } : {}),
    })),
  };
};

export const enqueueRoutes: RouteImpls = {
  'GET /v1/queues/{queue}/settings': async (req, rt) => {
    const queue = req.params.queue!;
    return { status: 200, body: presentSettings(queue, await getSettings(rt.spool, queue)) };
  },
  /** Merge a change; a resume (or a raised limit) with jobs waiting and no worker running kicks one. */
  'PUT /v1/queues/{queue}/settings': async (req, rt) => {
    const queue = req.params.queue!;
    assertQueueName(queue);
    const body = readJson(req);
    const { settings, kick } = await putSettings(rt.spool, queue, body);
    req.log.info('settings changed', { queue, change: body, kick });
    await kickIfNeeded(rt, queue, kick, req.log, 'settings');
    return { status: 200, body: presentSettings(queue, settings) };
  },
  /** Run the worker now: an asynchronous kick (a worker may run for minutes; the API answers at once). */
  'POST /v1/queues/{queue}/drain': async (req, rt) => {
    const queue = req.params.queue!;
    assertQueueName(queue);
    await rt.kickWorker(queue, { reason: 'drain' });
    req.log.info('drain requested', { queue });
    return { status: 202, body: { queue, accepted: true } satisfies Body<typeof drainResponse> };
  },
  'POST /v1/queues/{queue}/jobs': async (req, rt) => {
    const queue = req.params.queue!;
    // Strings as sent: the engine refuses an idempotency key holding a lone surrogate, repairs the rest.
    const body = readJson(req, { wellFormed: false });
    const headerKey = req.headers['idempotency-key'];
    let input: unknown;
    let batch = false;
    if (Array.isArray(body))
      throw new ValidationError('(body)', 'must be one job (a JSON object) or a batch {"jobs": [...]}, not an array');
    if (isObject(body) && Object.hasOwn(body, 'jobs')) {
      batch = true;
      const extra = Object.keys(body).find((k) => k !== 'jobs');
      if (extra) throw new ValidationError(extra, 'is not a known field (a batch is {"jobs": [...]})');
      if (!Array.isArray(body.jobs)) throw new ValidationError('jobs', 'must be an array of jobs');
      if (body.jobs.length > API_MAX_BATCH)
        throw new ValidationError('jobs', `must hold at most ${API_MAX_BATCH} jobs`);
      if (headerKey !== undefined)
        throw new ValidationError(
          'Idempotency-Key',
          'applies to a single job; give each job of a batch its own idempotencyKey',
        );
      input = body.jobs;
    } else if (isObject(body) && headerKey !== undefined) {
      if (body.idempotencyKey !== undefined && body.idempotencyKey !== headerKey) {
        throw new ValidationError('idempotencyKey', 'differs from the Idempotency-Key header');
      }
      input = { ...body, idempotencyKey: headerKey };
    } else {
      input = body;
    }
    // The request's trace goes with the jobs, to be sent on with their deliveries.
    const trace = requestTrace(req.headers, rt.invocationTrace());
    const out = await enqueue(rt.spool, queue, input, trace ? { trace: toTraceparent(trace) } : {});
    const { wakeAt } = out;
    await Promise.all([
      kickIfNeeded(rt, queue, out.kick, req.log),
      // The queue's first delayed job moved earlier (wakeAt, the Redis server's clock): its timer.
      wakeAt === undefined ? undefined : armTimer(rt, req.log, queue, wakeAt - rt.clock()),
    ]);
    const created = out.jobs.some((j) => !j.deduplicated);
    const status = created ? 201 : 200;
    req.log.info('enqueued', {
      queue,
      jobs: out.jobs.length,
      deduplicated: out.jobs.filter((j) => j.deduplicated).length,
      kick: out.kick,
      ids: out.jobs.map((j) => j.id),
      ...(trace ? { traceId: xrayTraceId(trace) } : {}),
    });
    if (batch) return { status, body: { queue, jobs: out.jobs } satisfies Body<typeof enqueueBatchResponse> };
    const j = out.jobs[0]!;
    return {
      status,
      headers: { location: `/v1/queues/${encodeURIComponent(queue)}/jobs/${j.id}` },
      body: { queue, ...j } satisfies Body<typeof enqueueResponse>,
    };
  },

  'GET /v1/queues/{queue}/jobs/{id}': async (req, rt) => {
    const job = await getJob(rt.spool, req.params.queue!, req.params.id!);
    if (!job) throw new NotFoundError(`job ${req.params.id}`);
    return { status: 200, body: presentJob(job) };
  },

  'DELETE /v1/queues/{queue}/jobs/{id}': async (req, rt) => {
    const { queue, id } = req.params as { queue: string; id: string };
    const r = await cancel(rt.spool, queue, id);
    if (r.status === 'not_found') throw new NotFoundError(`job ${id}`);
    if (r.status === 'conflict')
      throw new ConflictError(`job ${id} is ${r.state}: only waiting or delayed jobs can be cancelled`, {
        state: r.state,
      });
    req.log.info('cancelled', { queue, jobId: id, state: r.state });
    // The cancel script cancels only waiting or delayed jobs (anything else is a conflict).
    const state = r.state as Body<typeof cancelResponse>['state'];
    return { status: 200, body: { queue, id, cancelled: true, state } satisfies Body<typeof cancelResponse> };
  },

  'POST /v1/queues/{queue}/jobs/{id}/run': async (req, rt) => {
    const { queue, id } = req.params as { queue: string; id: string };
    const r = await runNow(rt.spool, queue, id);
    if (r.status === 'not_found') throw new NotFoundError(`job ${id}`);
    if (r.status === 'conflict')
      throw new ConflictError(`job ${id} is ${r.state}: only a delayed job can be run now`, { state: r.state });
    req.log.info('run now', { queue, jobId: id });
    await kickIfNeeded(rt, queue, true, req.log, 'run');
    return { status: 200, body: { queue, id, state: 'waiting' } satisfies Body<typeof runResponse> };
  },

  'GET /v1/queues/{queue}/jobs': async (req, rt) => {
    const q = parseWith(listJobsQuery, req.query);
    const state: JobState = q.state ?? 'waiting';
    const opts: { limit?: number; cursor?: string } = {};
    if (q.limit !== undefined) opts.limit = Number(q.limit);
    if (q.cursor !== undefined) opts.cursor = q.cursor;
    const page = await listJobs(rt.spool, req.params.queue!, state, opts);
    const body: Body<typeof jobPageResponse> = {
      queue: req.params.queue!,
      state,
      total: page.total,
      jobs: page.jobs.map(presentJob),
    };
    if (page.cursor) body.nextCursor = page.cursor;
    return { status: 200, body };
  },
};
