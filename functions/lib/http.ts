/**
 * The HTTP side of the functions: API Gateway HTTP API (payload format 2.0) events in, JSON out.
 * Routing follows ROUTES (functions/routes.ts), the table the CDK app creates routes from: a path no
 * route matches is a JSON 404, a path some route matches with another method is a 405 with `Allow`.
 * Hand-written rather than a router library: ROUTES is already the route table, the translation is
 * a few lines, and every function bundle has a 250 KB budget.
 */

import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Logger } from '../../shared/log/logger.js';
import { RedisUnavailableError, SpoolError, ValidationError } from '../../shared/queue/errors.js';
import { describeRedisError } from '../../shared/redis/client.js';
import { wellFormedDeep } from '../../shared/text/index.js';
import { type FunctionName, ROUTES, type RouteSpec } from '../routes.js';
import type { Runtime } from './runtime.js';

export interface ApiRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: Record<string, string>;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string | undefined;
  requestId: string;
  /** The IAM caller (SigV4) when API Gateway authorized one. */
  caller: string | undefined;
  log: Logger;
}

export interface ApiResponse {
  status: number;
  /** A JSON body. */
  body?: unknown;
  /** A body that is not JSON, sent as is: `headers` give its content-type. */
  text?: string;
  headers?: Record<string, string>;
}

export type RouteImpl = (req: ApiRequest, rt: Runtime) => Promise<ApiResponse>;
/** Keyed by API Gateway route key, e.g. `POST /v1/queues/{queue}/jobs`. */
export type RouteImpls = Partial<Record<string, RouteImpl>>;

export const routeKey = (r: Pick<RouteSpec, 'method' | 'path'>): string => `${r.method} ${r.path}`;

interface Compiled extends RouteSpec {
  re: RegExp;
  names: string[];
}
const COMPILED: Compiled[] = ROUTES.map((r) => {
  const names: string[] = [];
  const re = new RegExp(
    '^' +
      r.path.replace(/\{([A-Za-z0-9_]+)\}/g, (_m, name: string) => {
        names.push(name);
        return '([^/]+)';
      }) +
      '$',
  );
  return { ...r, re, names };
});

export type Match =
  | { kind: 'route'; route: RouteSpec; params: Record<string, string> }
  | { kind: 'method'; allow: string[] }
  | { kind: 'none' };

/** Which route a method and path are: the route, a known path with another method (405), or nothing (404). */
export function matchRoute(method: string, path: string): Match {
  const allow = new Set<string>();
  for (const r of COMPILED) {
    const m = r.re.exec(path);
    if (!m) continue;
    if (r.method === method.toUpperCase()) {
      const params: Record<string, string> = {};
      try {
        for (const [i, n] of r.names.entries()) params[n] = decodeURIComponent(m[i + 1]!);
      } catch {
        return { kind: 'none' };
      }
      return { kind: 'route', route: r, params };
    }
    allow.add(r.method);
  }
  return allow.size > 0 ? { kind: 'method', allow: [...allow].sort() } : { kind: 'none' };
}

export { isHttpEvent } from './events.js';

export const errorBody = (code: string, message: string, details: unknown = {}) => ({
  error: { code, message, details: details ?? {} },
});

/** Any thrown value → the API's error answer. Unknown errors are a 500 that reveals nothing. */
export function errorResponse(err: unknown, log?: Logger): ApiResponse {
  if (err instanceof SpoolError) {
    const headers: Record<string, string> = {};
    if (err instanceof RedisUnavailableError) headers['retry-after'] = String(err.retryAfterSeconds);
    // The cause's Redis reply, never its message whole: @upstash/redis appends the command (jobs, headers).
    if (err.status >= 500)
      log?.error(err.message, {
        code: err.code,
        error: err.cause === undefined ? undefined : describeRedisError(err.cause),
      });
    return { status: err.status, headers, body: errorBody(err.code, err.message, err.details) };
  }
  if (err instanceof Error) log?.error('unhandled error', err);
  else log?.error('unhandled error', { error: String(err) });
  return { status: 500, body: errorBody('internal_error', 'internal error') };
}

export function toResult(res: ApiResponse): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: res.status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...res.headers },
    body: res.text ?? (res.body === undefined ? '' : JSON.stringify(res.body)),
  };
}

/**
 * Serves the routes of `fn` (and, for the function holding FALLBACK_ROUTE, the JSON 404/405 of
 * everything else). A route of another function reaching this one is answered 404, never run.
 */
export async function serveHttp(
  fn: FunctionName,
  impls: RouteImpls,
  event: APIGatewayProxyEventV2,
  rt: Runtime,
  log: Logger,
): Promise<APIGatewayProxyStructuredResultV2> {
  const method = event.requestContext.http.method.toUpperCase();
  const path = event.rawPath || event.requestContext.http.path;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(event.rawQueryString ?? '')) if (!(k in query)) query[k] = v;
  const body =
    event.body === undefined || event.body === null
      ? undefined
      : event.isBase64Encoded
        ? Buffer.from(event.body, 'base64').toString('utf8')
        : event.body;
  const started = Date.now();
  let res: ApiResponse;
  const m = matchRoute(method, path);
  if (m.kind === 'method') {
    res = {
      status: 405,
      headers: { allow: m.allow.join(', ') },
      body: errorBody('method_not_allowed', `${method} is not allowed on ${path}`, { allow: m.allow }),
    };
  } else if (m.kind === 'none' || m.route.fn !== fn || !impls[routeKey(m.route)]) {
    res = { status: 404, body: errorBody('not_found', `no route ${method} ${path}`) };
  } else {
    const auth = (event.requestContext as { authorizer?: { iam?: { userArn?: string } } }).authorizer;
    const req: ApiRequest = {
      method,
      path,
      params: m.params,
      query,
      headers,
      body,
      requestId: event.requestContext.requestId,
      caller: auth?.iam?.userArn,
      log,
    };
    try {
      res = await impls[routeKey(m.route)]!(req, rt);
    } catch (err) {
      res = errorResponse(err, log);
    }
  }
  log.info('request', {
    method,
    path,
    status: res.status,
    ms: Date.now() - started,
    queue: m.kind === 'route' ? m.params.queue : undefined,
  });
  return toResult(res);
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * The request body as JSON. Content-Type must be JSON (`application/json` or `+json`): else 415.
 * Malformed JSON: 400 `invalid_json`. An empty body is `{}` when `optional`, else 400. Every string
 * (keys too) is made well-formed unless `wellFormed: false` (a lone surrogate would make Lua's cjson
 * refuse the script call). JSON.parse itself does not recurse: any depth parses.
 */
export function readJson(req: ApiRequest, opts: { optional?: boolean; wellFormed?: boolean } = {}): unknown {
  const empty = req.body === undefined || req.body.trim() === '';
  if (empty && opts.optional) return {};
  if (!JSON_TYPE.test(req.headers['content-type'] ?? '')) {
    throw new SpoolError(
      `Content-Type must be application/json (got ${req.headers['content-type'] ? JSON.stringify(req.headers['content-type']) : 'none'})`,
      'unsupported_media_type',
      415,
    );
  }
  if (empty) throw new ValidationError('(body)', 'a JSON body is required');
  let parsed: unknown;
  try {
    parsed = JSON.parse(req.body!);
  } catch (e) {
    throw new SpoolError(`the body is not valid JSON: ${(e as Error).message}`, 'invalid_json', 400);
  }
  return opts.wellFormed === false ? parsed : wellFormedDeep(parsed);
}

export { parseWith } from '../../shared/validation/zod.js';

/** What a function that serves HTTP routes hands to `lambdaHandler`: how to answer, and how to fail. */
export interface HttpApi {
  serve(event: APIGatewayProxyEventV2, rt: Runtime, log: Logger): Promise<APIGatewayProxyStructuredResultV2>;
  fail(err: unknown): APIGatewayProxyStructuredResultV2;
}

export function httpApi(fn: FunctionName, routes: RouteImpls): HttpApi {
  return {
    serve: (event, rt, log) => serveHttp(fn, routes, event, rt, log) as Promise<APIGatewayProxyStructuredResultV2>,
    fail: (err) => toResult(errorResponse(err)),
  };
}
