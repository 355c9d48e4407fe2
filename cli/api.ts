/**
 * The HTTP API as the CLI calls it: the functions' own route implementations, run in-process on a
 * Runtime pointed at the same Redis (no HTTP, no SigV4). `--json` prints exactly what the API would
 * answer because it is the API's own code that answers; the text output is drawn from those bodies.
 *
 * A Redis that cannot be reached, or an endpoint that refuses the token, is a `CliFailure` naming
 * the URL and the variable to set; every other error becomes the API's error answer.
 */
import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { dlqRoutes } from '../functions/dlq-replay/routes.js';
import { enqueueRoutes } from '../functions/enqueue/routes.js';
import { healthRoutes } from '../functions/health/routes.js';
import { errorResponse, type RouteImpls } from '../functions/lib/http.js';
import { createRuntime, type Runtime } from '../functions/lib/runtime.js';
import type * as s from '../functions/lib/schemas.js';
import type { Body } from '../functions/lib/schemas.js';
import { purgeRoutes } from '../functions/purge/routes.js';
import { type PurgeRunReport, runPurge } from '../functions/purge/run.js';
import { schedulerRoutes } from '../functions/scheduler/routes.js';
import { loadConfig, type SpoolConfig } from '../shared/config/index.js';
import { Logger } from '../shared/log/logger.js';
import { RedisUnavailableError } from '../shared/queue/errors.js';
import { getSchedule, type Schedule } from '../shared/queue/ops/schedules.js';
import { isRegistered } from '../shared/queue/ops/snapshot.js';
import { QUEUE_NAME } from '../shared/queue/schema.js';
import { CliFailure, type Endpoint, EXIT, endpointOf } from './codes.js';

const failure = (exit: number, code: string, message: string, details: Record<string, unknown> = {}) =>
  new CliFailure(message, exit, { error: { code, message, details } });

const ROUTES: RouteImpls = { ...enqueueRoutes, ...dlqRoutes, ...purgeRoutes, ...healthRoutes, ...schedulerRoutes };

/**
 * An error's message on one line: the first line of it, without the `, command was: [...]` that
 * @upstash/redis appends (the command may hold a job's payload); an OpenSSL error's reason instead
 * of its multi-line dump.
 */
function oneLine(err: Error): string {
  const { library, reason } = err as { library?: unknown; reason?: unknown };
  if (typeof library === 'string' && typeof reason === 'string') return `${library}: ${reason}`;
  const first = err.message.split('\n').find((l) => l.trim() !== '') ?? '';
  const cut = first.indexOf(', command was: ');
  return (cut < 0 ? first : first.slice(0, cut)).replace(/\s+/g, ' ').trim();
}

/** Why Redis could not be reached: the cause's message and its own cause's (`fetch failed: connect ECONNREFUSED ...`). */
function causeOf(err: RedisUnavailableError): string {
  const parts: string[] = [];
  for (let e = err.cause, depth = 0; e instanceof Error && depth < 2; e = e.cause, depth++) {
    const m = oneLine(e);
    if (m && !parts.includes(m)) parts.push(m);
  }
  return parts.join(': ');
}

/** Turns a Redis failure into a CliFailure naming what to set; any other error passes through. */
export function connectionFailure(err: unknown, ep: Endpoint): CliFailure | undefined {
  if (err instanceof RedisUnavailableError) {
    const why = causeOf(err);
    const where = ep.fromEnv ? 'UPSTASH_REDIS_REST_URL' : `the local default; set UPSTASH_REDIS_REST_URL`;
    return failure(
      EXIT.unavailable,
      'redis_unavailable',
      `cannot reach Redis at ${ep.url} (${where})${why ? `: ${why}` : ''}. Set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN to your Upstash database's REST URL and token, or run \`npm start\` for the local one.`,
      { url: ep.url, variable: 'UPSTASH_REDIS_REST_URL' },
    );
  }
  if (
    err instanceof Error &&
    err.name === 'UpstashError' &&
    /unauthori[sz]ed|\b401\b|invalid token/i.test(err.message)
  ) {
    return failure(
      EXIT.unavailable,
      'unauthorized',
      `the endpoint at ${ep.url} refused the token. Set UPSTASH_REDIS_REST_TOKEN to that database's REST token.`,
      { url: ep.url, variable: 'UPSTASH_REDIS_REST_TOKEN' },
    );
  }
  return undefined;
}

/** The bodies of the routes the CLI calls, typed by the schemas the OpenAPI document is made of. */
export interface Bodies {
  'GET /v1/queues': Body<typeof s.queuesResponse>;
  'GET /v1/health': Body<typeof s.healthResponse>;
  'GET /v1/queues/{queue}/jobs': Body<typeof s.jobPageResponse>;
  'GET /v1/queues/{queue}/jobs/{id}': Body<typeof s.jobResponse>;
  'GET /v1/queues/{queue}/dlq': Body<typeof s.deadGroupsResponse>;
  'POST /v1/queues/{queue}/dlq/replay': Body<typeof s.replayResponse>;
  'POST /v1/queues/{queue}/purge': Body<typeof s.purgeResponse>;
  'GET /v1/queues/{queue}/settings': Body<typeof s.settingsResponse>;
  'PUT /v1/queues/{queue}/settings': Body<typeof s.settingsResponse>;
  'DELETE /v1/queues/{queue}': Body<typeof s.clearResponse>;
  'GET /v1/queues/{queue}/workers': Body<typeof s.workersResponse>;
  'GET /v1/schedules': Body<typeof s.schedulesResponse>;
  'GET /v1/schedules/{id}': Body<typeof s.scheduleResponse>;
  'PUT /v1/schedules/{id}': Body<typeof s.scheduleResponse>;
  'DELETE /v1/schedules/{id}': Body<typeof s.scheduleDeletedResponse>;
}

export type ErrorBody = Body<typeof s.errorResponse>;

/** An answer of the API: its body, or its error body (every error the API answers is `{error}`). */
export type Answer<T> = { ok: true; status: number; body: T } | { ok: false; status: number; body: ErrorBody };

const answer = <T>(status: number, body: unknown): Answer<T> =>
  body !== null && typeof body === 'object' && 'error' in body
    ? { ok: false, status, body: body as ErrorBody }
    : { ok: true, status, body: body as T };

export interface CallOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
}

export class CliApi {
  constructor(
    readonly rt: Runtime,
    readonly endpoint: Endpoint,
    /** Who the replay audit records (the API records the IAM caller). */
    readonly actor: string,
  ) {}

  get config(): SpoolConfig {
    return this.rt.config;
  }

  /** Run `fn`; an unreachable Redis or a refused token becomes the CliFailure that says what to set. */
  async redis<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw connectionFailure(err, this.endpoint) ?? err;
    }
  }

  /**
   * Answer `key` (e.g. `GET /v1/queues/{queue}/jobs/{id}`) as the API would: `{status, body}`, with
   * the API's error body for a 4xx or a 5xx other than Redis being unreachable.
   */
  async call<K extends keyof Bodies>(
    key: K,
    params: Record<string, string> = {},
    opts: CallOptions = {},
  ): Promise<Answer<Bodies[K]>> {
    const impl = ROUTES[key];
    if (!impl) throw new Error(`no API route ${key}`);
    const query: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) query[k] = String(v);
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const [method, path] = key.split(' ') as [string, string];
    try {
      const res = await impl(
        {
          method,
          path: path.replace(/\{(\w+)\}/g, (_m, n: string) => encodeURIComponent(params[n] ?? '')),
          params,
          query,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          body,
          requestId: `cli-${randomBytes(6).toString('hex')}`,
          caller: this.actor,
          log: this.rt.logger,
        },
        this.rt,
      );
      return answer(res.status, res.body);
    } catch (err) {
      const c = connectionFailure(err, this.endpoint);
      if (c) throw c;
      const res = errorResponse(err, this.rt.logger);
      return answer(res.status, res.body);
    }
  }

  /** The purge function's report over these queues (`{dryRun, queues, totals, more}`). */
  purgeAll(queues: string[], dryRun: boolean): Promise<PurgeRunReport> {
    return this.redis(() => runPurge(this.rt, this.rt.logger, { queues, dryRun, deadline: this.rt.clock() + 60_000 }));
  }

  /**
   * A schedule as stored (target headers and URL unredacted, times epoch ms), for a PUT that changes one
   * field of it: the API's answer redacts secrets, so it cannot be sent back.
   */
  storedSchedule(id: string): Promise<Schedule | undefined> {
    return this.redis(() => getSchedule(this.rt.spool, id));
  }

  /** The body of a PUT that stores `stored` again, with `change` applied. */
  scheduleInputOf(stored: Schedule, change: { paused?: boolean } = {}): Record<string, unknown> {
    const body: Record<string, unknown> = { queue: stored.queue, timezone: stored.timezone, job: stored.job };
    if (stored.cron !== undefined) body.cron = stored.cron;
    if (stored.everyMs !== undefined) body.everyMs = stored.everyMs;
    body.paused = change.paused ?? stored.paused;
    if (stored.startAt !== undefined) body.startAt = stored.startAt;
    if (stored.endAt !== undefined) body.endAt = stored.endAt;
    return body;
  }

  isQueueName(queue: string): boolean {
    return QUEUE_NAME.test(queue);
  }

  /** True when the queue was ever enqueued to under this prefix. */
  async queueExists(queue: string): Promise<boolean> {
    return this.redis(() => isRegistered(this.rt.spool, queue));
  }

  /** Fails with EXIT.unknownQueue unless the queue exists. */
  async requireQueue(queue: string): Promise<void> {
    if (await this.queueExists(queue)) return;
    const prefix = this.rt.spool.config.prefix;
    throw failure(
      EXIT.unknownQueue,
      'unknown_queue',
      `queue "${queue}" does not exist under key prefix "${prefix}" (nothing was ever enqueued to it; \`spool status\` lists the queues; SPOOL_KEY_PREFIX sets the prefix)`,
      { queue, prefix },
    );
  }
}

/** The API on the Redis the environment names (defaults: the local stack of `npm start`). */
export async function cliApi(env: Record<string, string | undefined>): Promise<CliApi> {
  let config: SpoolConfig;
  try {
    config = loadConfig(env);
  } catch (e) {
    const message = `configuration: ${(e as Error).message}`;
    throw new CliFailure(message, EXIT.config, { error: { code: 'config_error', message, details: {} } });
  }
  const endpoint = endpointOf(env);
  const rt = await createRuntime({
    fn: 'local',
    config,
    credentials: { url: endpoint.url, token: endpoint.token },
    failFast: true,
    // The CLI's own output is what the user reads; the functions' log lines would only interleave.
    logger: new Logger({ logLevel: 'SILENT' }),
  });
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no user database entry (some containers)
  }
  return new CliApi(rt, endpoint, `cli:${user}@${hostname()}`);
}
