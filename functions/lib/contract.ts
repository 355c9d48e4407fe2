/**
 * What each route of ROUTES takes and answers, by route key, with the schemas of ./schemas.ts.
 * `satisfies Record<RouteKey, RouteContract>`: a route added to functions/routes.ts does not compile
 * until it is described here, so the OpenAPI document (./openapi.ts) and the producer client's
 * methods (client/) always cover every route.
 */
import type * as z from 'zod/mini';
import type { RouteKey } from '../routes.js';
import * as s from './schemas.js';

export interface ResponseContract {
  description: string;
  /** A JSON body (a named component of the document). */
  schema?: z.ZodMiniType;
  /** A non-JSON body: its media type. */
  text?: string;
  headers?: Record<string, string>;
}

export interface RouteContract {
  /** The OpenAPI operationId and the producer client's method name. */
  operationId: string;
  summary: string;
  description?: string;
  query?: z.ZodMiniObject;
  /** Request headers the route reads: name → description. */
  headers?: Record<string, string>;
  body?: { schema: z.ZodMiniType; required: boolean };
  /** By status. Every route also answers the COMMON_RESPONSES. */
  responses: Record<number, ResponseContract>;
}

const retryAfter = 'Seconds to wait before retrying.';
const error = (description: string): ResponseContract => ({ description, schema: s.errorResponse });

/** Answers any route can give: API Gateway's own (403, 429) and Spool's 500 and 503. */
export const COMMON_RESPONSES: Record<number, ResponseContract> = {
  403: {
    description: 'API Gateway refused the request: it is not SigV4-signed, or the signer may not call the API.',
    schema: s.gatewayErrorResponse,
  },
  429: {
    description: "API Gateway's throttle (apiThrottleRate / apiThrottleBurst): retry after a pause.",
    schema: s.gatewayErrorResponse,
  },
  500: error('internal_error: a bug; nothing the caller can change. Reported in the function logs.'),
  503: {
    description:
      'redis_unavailable: Redis could not serve the call now (unreachable, no answer in time, or refusing: OOM, BUSY, LOADING, READONLY). A write may or may not have happened: retry after Retry-After; an enqueue retried with the same Idempotency-Key answers the job the first call made, or makes it.',
    schema: s.errorResponse,
    headers: { 'Retry-After': retryAfter },
  },
};

const badRequest = error('invalid_request: `details.field` names the field and `details.reason` why.');
const notFound = (what: string) => error(`not_found: no such ${what}.`);
const jsonBody = (schema: z.ZodMiniType, required = true) => ({ schema, required });

export const CONTRACT = {
  'POST /v1/queues/{queue}/jobs': {
    operationId: 'enqueue',
    summary: 'Enqueue one job, or a batch of up to 100',
    description:
      'A job names an HTTP `target` or a registered `handler`. Every job of a batch is validated before anything ' +
      'is written: one bad job refuses the whole batch, naming it (`jobs[3].priority`). A repeated idempotency key ' +
      'within the window answers the first job instead of creating another.',
    headers: {
      'Idempotency-Key':
        'For a single job: the same as its `idempotencyKey` (a batch gives each job its own). 1 to 256 characters.',
      traceparent: "W3C trace context: kept with the job and sent to the target with the job's deliveries.",
      'X-Amzn-Trace-Id': 'X-Ray trace header: kept with the job when no traceparent is given.',
    },
    body: jsonBody(s.enqueueBody),
    responses: {
      201: {
        description: 'Created (at least one job was new). A single job: its id; a batch: every job in order.',
        schema: s.enqueueAnyResponse,
        headers: { Location: 'The new job (single job only).' },
      },
      200: {
        description: 'Every job was a duplicate of one enqueued within the idempotency window.',
        schema: s.enqueueAnyResponse,
      },
      400: badRequest,
      413: error('payload_too_large: a payload is over SPOOL_PAYLOAD_MAX_BYTES.'),
      415: error('unsupported_media_type: the body is not `application/json`.'),
    },
  },
  'GET /v1/queues/{queue}/jobs': {
    operationId: 'listJobs',
    summary: 'A page of the jobs in one state',
    query: s.listJobsQuery,
    responses: {
      200: { description: 'A page; `nextCursor` when there is more.', schema: s.jobPageResponse },
      400: badRequest,
    },
  },
  'GET /v1/queues/{queue}/jobs/{id}': {
    operationId: 'getJob',
    summary: 'One job',
    responses: { 200: { description: 'The job.', schema: s.jobResponse }, 404: notFound('job') },
  },
  'DELETE /v1/queues/{queue}/jobs/{id}': {
    operationId: 'cancelJob',
    summary: 'Cancel a waiting or delayed job',
    responses: {
      200: { description: 'Cancelled.', schema: s.cancelResponse },
      404: notFound('job'),
      409: error('conflict: the job is active, completed or dead (`details.state`).'),
    },
  },
  'POST /v1/queues/{queue}/jobs/{id}/run': {
    operationId: 'runJob',
    summary: 'Run a delayed job now: it moves to waiting and a worker is asked to run',
    responses: {
      200: { description: 'Waiting.', schema: s.runResponse },
      404: notFound('job'),
      409: error('conflict: the job is not delayed (`details.state`).'),
    },
  },
  'POST /v1/queues/{queue}/drain': {
    operationId: 'drain',
    summary: 'Start a worker for the queue now (asynchronous)',
    responses: { 202: { description: 'A worker was asked to run.', schema: s.drainResponse }, 400: badRequest },
  },
  'GET /v1/queues/{queue}/settings': {
    operationId: 'getSettings',
    summary: "A queue's flow-control settings (pause, rate limit, concurrency cap), defaults filled in",
    responses: { 200: { description: 'The settings.', schema: s.settingsResponse }, 400: badRequest },
  },
  'PUT /v1/queues/{queue}/settings': {
    operationId: 'putSettings',
    summary: "Change a queue's flow-control settings: fields given are set, null clears one, the rest stay",
    description:
      'Applied by every worker at its next lease (inside the lease script). `paused: true` stops leasing ' +
      '(enqueues are still accepted); `rateLimit` counts starts, not completions; a resume or a raised limit ' +
      'starts a worker when jobs wait. Unknown fields and bad values are refused, naming the field; nothing is written then.',
    body: jsonBody(s.settingsInputSchema),
    responses: {
      200: { description: 'The whole settings after the change.', schema: s.settingsResponse },
      400: badRequest,
      415: error('unsupported_media_type: the body is not `application/json`.'),
    },
  },
  'DELETE /v1/queues/{queue}': {
    operationId: 'clearQueue',
    summary: 'Clear a queue: remove its waiting and delayed jobs (and, with includeDead, its dead ones)',
    description:
      '`confirm` must repeat the queue name. While jobs are active it answers 409 unless `force=true`, which ' +
      "removes the active jobs too (their workers' acks are refused as stale). One atomic script, audited like a " +
      'replay (the same audit list); a queue left holding no job leaves the registry. Completed jobs stay.',
    query: s.clearQuery,
    responses: {
      200: { description: 'What was removed.', schema: s.clearResponse },
      400: badRequest,
      409: error('conflict: jobs are active (`details.active`); retry with force=true to remove them too.'),
    },
  },
  'GET /v1/queues/{queue}/workers': {
    operationId: 'listWorkers',
    summary: 'The worker invocations draining the queue now',
    description:
      "Each worker's entry is written by its own lease and heartbeat calls (id: its request id) and removed by its " +
      'last one; an entry whose worker stopped calling lapses after four heartbeats (SPOOL_LEASE_MS × 4/3).',
    responses: { 200: { description: 'The workers, oldest first.', schema: s.workersResponse }, 400: badRequest },
  },
  'GET /v1/queues': {
    operationId: 'listQueues',
    summary: 'Every queue: counts by state and cumulative counters',
    responses: { 200: { description: 'The queues.', schema: s.queuesResponse } },
  },
  'GET /v1/health': {
    operationId: 'health',
    summary: 'Health of every queue, with the reasons',
    query: s.healthQuery,
    responses: {
      200: { description: 'The verdict (healthy, degraded or unhealthy) and its reasons.', schema: s.healthResponse },
      400: badRequest,
      503: {
        description: 'Redis unreachable: no verdict (an error body with Retry-After).',
        schema: s.errorResponse,
        headers: { 'Retry-After': `When Redis is unreachable: ${retryAfter}` },
      },
    },
  },
  'GET /v1/queues/{queue}/dlq': {
    operationId: 'deadGroups',
    summary: 'Dead jobs grouped by failure fingerprint, with samples',
    query: s.dlqQuery,
    responses: { 200: { description: 'The groups, largest first.', schema: s.deadGroupsResponse }, 400: badRequest },
  },
  'DELETE /v1/queues/{queue}/dlq/{id}': {
    operationId: 'deleteDead',
    summary: 'Delete one dead job',
    responses: { 200: { description: 'Deleted.', schema: s.deleteDeadResponse }, 404: notFound('dead job') },
  },
  'POST /v1/queues/{queue}/dlq/replay': {
    operationId: 'replay',
    summary: 'Replay dead jobs (a dry run unless dryRun is false)',
    description:
      'Moves at most `limit` (default 100, at most 1,000) dead jobs back to waiting, in chunks; every call is audited.',
    body: jsonBody(s.replayBody, false),
    responses: {
      200: { description: 'What moved, or would move.', schema: s.replayResponse },
      400: badRequest,
      415: error('unsupported_media_type: the body is not `application/json`.'),
    },
  },
  'POST /v1/queues/{queue}/purge': {
    operationId: 'purge',
    summary: 'Purge what is past retention (a dry run unless dryRun is false)',
    body: jsonBody(s.purgeBody, false),
    responses: {
      200: { description: 'What was removed, or would be.', schema: s.purgeResponse },
      400: badRequest,
      415: error('unsupported_media_type: the body is not `application/json`.'),
    },
  },
  'GET /v1/openapi.json': {
    operationId: 'openApi',
    summary: 'This document',
    responses: { 200: { description: 'The OpenAPI 3.1 document of the API.', schema: s.openApiResponse } },
  },
  'GET /metrics': {
    operationId: 'metrics',
    summary: 'Every queue as Prometheus metrics (text format 0.0.4)',
    responses: {
      200: {
        description: 'spool_jobs{queue,state}, spool_jobs_total{queue,event}, ...',
        text: 'text/plain; version=0.0.4',
      },
    },
  },
  'PUT /v1/schedules/{id}': {
    operationId: 'putSchedule',
    summary: 'Create or replace a recurring schedule',
    description:
      'A schedule enqueues `job` on `queue` at each fire: on `cron` (five fields, in `timezone`, daylight-saving ' +
      'changes included) or every `everyMs`; exactly one of the two. Each fire enqueues one job whose idempotency ' +
      'key derives from the schedule id and the fire time, so a fire never enqueues twice. After downtime a schedule ' +
      'fires once for the missed period and counts the rest in `missed`. Bad values are refused, naming the field; ' +
      'nothing is written then.',
    body: jsonBody(s.scheduleInput),
    responses: {
      201: { description: 'Created.', schema: s.scheduleResponse },
      200: { description: 'Replaced.', schema: s.scheduleResponse },
      400: badRequest,
      409: error('conflict: the most schedules (1,000) exist already.'),
      415: error('unsupported_media_type: the body is not `application/json`.'),
    },
  },
  'POST /v1/schedules': {
    operationId: 'createSchedule',
    summary: 'Create a recurring schedule (its id in the body)',
    body: jsonBody(s.scheduleCreateBody),
    responses: {
      201: {
        description: 'Created.',
        schema: s.scheduleResponse,
        headers: { Location: 'The new schedule.' },
      },
      400: badRequest,
      409: error('conflict: a schedule with this id exists (`PUT` replaces one), or the most schedules (1,000) exist.'),
      415: error('unsupported_media_type: the body is not `application/json`.'),
    },
  },
  'GET /v1/schedules': {
    operationId: 'listSchedules',
    summary: 'Every schedule (or those of one queue), by id, with its next run',
    query: s.schedulesQuery,
    responses: { 200: { description: 'The schedules, by id.', schema: s.schedulesResponse }, 400: badRequest },
  },
  'GET /v1/schedules/{id}': {
    operationId: 'getSchedule',
    summary: 'One schedule',
    responses: { 200: { description: 'The schedule.', schema: s.scheduleResponse }, 404: notFound('schedule') },
  },
  'DELETE /v1/schedules/{id}': {
    operationId: 'deleteSchedule',
    summary: 'Delete a schedule: it fires no more (jobs it enqueued stay)',
    responses: { 200: { description: 'Deleted.', schema: s.scheduleDeletedResponse }, 404: notFound('schedule') },
  },
} as const satisfies Record<RouteKey, RouteContract>;

export type Contract = typeof CONTRACT;

/** Named components of the document, by schema (the rest are inlined). */
export const COMPONENTS: ReadonlyArray<[string, z.ZodMiniType]> = [
  ['Error', s.errorResponse],
  ['GatewayError', s.gatewayErrorResponse],
  ['JobInput', s.jobInputSchema],
  ['EnqueueBatch', s.enqueueBatchBody],
  ['EnqueueRequest', s.enqueueBody],
  ['Enqueued', s.enqueueResponse],
  ['EnqueuedBatch', s.enqueueBatchResponse],
  ['EnqueueResult', s.enqueueAnyResponse],
  ['Job', s.jobResponse],
  ['JobError', s.jobError],
  ['JobPage', s.jobPageResponse],
  ['Cancelled', s.cancelResponse],
  ['RanNow', s.runResponse],
  ['DrainAccepted', s.drainResponse],
  ['Cleared', s.clearResponse],
  ['Workers', s.workersResponse],
  ['SettingsChange', s.settingsInputSchema],
  ['Settings', s.settingsResponse],
  ['Queues', s.queuesResponse],
  ['Health', s.healthResponse],
  ['DeadGroups', s.deadGroupsResponse],
  ['DeadDeleted', s.deleteDeadResponse],
  ['ReplayRequest', s.replayBody],
  ['ReplayReport', s.replayResponse],
  ['PurgeRequest', s.purgeBody],
  ['PurgeReport', s.purgeResponse],
  ['OpenApiDocument', s.openApiResponse],
  ['ScheduleInput', s.scheduleInput],
  ['ScheduleCreate', s.scheduleCreateBody],
  ['ScheduleJob', s.scheduleJobInput],
  ['Schedule', s.scheduleResponse],
  ['Schedules', s.schedulesResponse],
  ['ScheduleDeleted', s.scheduleDeletedResponse],
];
