/**
 * What API Gateway (HTTP API) and Lambda do around a handler, done locally: match a request against
 * the route table, build the payload-2.0 event, build a Lambda-like context, and turn the handler's
 * result back into an HTTP response.
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context, ScheduledEvent } from 'aws-lambda';
import { FALLBACK_ROUTE, type FunctionName, ROUTES } from '../functions/routes.js';

export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

export interface RouteMatch {
  fn: FunctionName;
  /** `POST /v1/queues/{queue}/jobs`, or `ANY /{proxy+}` for the fallback. */
  routeKey: string;
  pathParameters?: Record<string, string>;
}

interface CompiledRoute {
  method: string;
  fn: FunctionName;
  routeKey: string;
  re: RegExp;
  names: string[];
}

/** `/v1/queues/{queue}/jobs/{id}` -> /^\/v1\/queues\/([^/]+)\/jobs\/([^/]+)$/ ; `{proxy+}` matches the rest. */
function compile(path: string): { re: RegExp; names: string[] } {
  const names: string[] = [];
  const src = path
    .split('/')
    .map((seg) => {
      const m = /^\{([A-Za-z0-9_]+)(\+?)\}$/.exec(seg);
      if (!m) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(m[1]!);
      return m[2] ? '(.+)' : '([^/]+)';
    })
    .join('/');
  return { re: new RegExp(`^${src}$`), names };
}

const COMPILED: CompiledRoute[] = ROUTES.map((r) => ({
  method: r.method,
  fn: r.fn,
  routeKey: `${r.method} ${r.path}`,
  ...compile(r.path),
}));
const FALLBACK = { fn: FALLBACK_ROUTE.fn, routeKey: `ANY ${FALLBACK_ROUTE.path}`, ...compile(FALLBACK_ROUTE.path) };

function params(names: string[], m: RegExpExecArray): Record<string, string> {
  const out: Record<string, string> = {};
  names.forEach((n, i) => {
    const raw = m[i + 1] ?? '';
    // API Gateway hands path parameters over URL-decoded.
    try {
      out[n] = decodeURIComponent(raw);
    } catch {
      out[n] = raw;
    }
  });
  return out;
}

/** The route API Gateway would pick: an exact method+path route, else the `ANY /{proxy+}` catch-all. */
export function matchRoute(method: string, path: string): RouteMatch {
  for (const r of COMPILED) {
    if (r.method !== method.toUpperCase()) continue;
    const m = r.re.exec(path);
    if (m) return { fn: r.fn, routeKey: r.routeKey, pathParameters: params(r.names, m) };
  }
  const m = FALLBACK.re.exec(path);
  return m
    ? { fn: FALLBACK.fn, routeKey: FALLBACK.routeKey, pathParameters: params(FALLBACK.names, m) }
    : { fn: FALLBACK.fn, routeKey: FALLBACK.routeKey };
}

export interface HttpRequestLike {
  method: string;
  /** Path and query as received, e.g. `/v1/queues/a/jobs?state=dead`. */
  url: string;
  /** Node's headers (names already lower-case; repeated values as arrays). */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  sourceIp: string;
}

const TEXTUAL = /^(application\/(json|x-www-form-urlencoded|xml|javascript)|text\/)|\+json|\+xml/i;

/** The payload-2.0 event API Gateway HTTP API sends for this request. */
export function toApiGatewayEvent(req: HttpRequestLike, match: RouteMatch, now = Date.now()): APIGatewayProxyEventV2 {
  const q = req.url.indexOf('?');
  const rawPath = q < 0 ? req.url : req.url.slice(0, q);
  const rawQueryString = q < 0 ? '' : req.url.slice(q + 1);

  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    if (key === 'cookie') {
      for (const v of Array.isArray(value) ? value : [value]) cookies.push(...v.split(/;\s*/).filter(Boolean));
      continue;
    }
    headers[key] = Array.isArray(value) ? value.join(',') : value;
  }

  // Repeated query parameters are joined with commas, as API Gateway does in payload 2.0.
  let queryStringParameters: Record<string, string> | undefined;
  if (rawQueryString) {
    queryStringParameters = {};
    for (const [k, v] of new URLSearchParams(rawQueryString)) {
      queryStringParameters[k] = k in queryStringParameters ? `${queryStringParameters[k]},${v}` : v;
    }
  }

  const requestId = randomUUID();
  const contentType = headers['content-type'] ?? '';
  const hasBody = req.body.length > 0;
  const isBase64Encoded = hasBody && !!contentType && !TEXTUAL.test(contentType);
  const date = new Date(now);

  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: match.routeKey,
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: (headers.host ?? 'localhost').split('.')[0]!.split(':')[0]!,
      http: {
        method: req.method.toUpperCase(),
        path: rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: req.sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: match.routeKey,
      stage: '$default',
      time: formatApiGatewayTime(date),
      timeEpoch: now,
    },
    isBase64Encoded,
  };
  if (cookies.length > 0) event.cookies = cookies;
  if (queryStringParameters) event.queryStringParameters = queryStringParameters;
  if (match.pathParameters && Object.keys(match.pathParameters).length > 0) event.pathParameters = match.pathParameters;
  if (hasBody) event.body = isBase64Encoded ? req.body.toString('base64') : req.body.toString('utf8');
  return event;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** `12/Mar/2020:19:03:58 +0000`, API Gateway's requestContext.time format. */
function formatApiGatewayTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** The EventBridge event a `rate(...)` rule delivers. */
export function toScheduledEvent(ruleName: string, now = Date.now()): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: 'local',
    resources: [`arn:aws:events:local:000000000000:rule/${ruleName}`],
    detail: {},
  };
}

/** A Lambda-like context: the remaining time counts down from `timeoutMs`. */
export function lambdaContext(functionName: string, timeoutMs: number, memoryMb = 512): Context {
  const deadline = Date.now() + timeoutMs;
  const awsRequestId = randomUUID();
  const logStream = `${new Date().toISOString().slice(0, 10).replace(/-/g, '/')}/[$LATEST]${awsRequestId.replace(/-/g, '')}`;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: String(memoryMb),
    awsRequestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: logStream,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

export interface HttpResult {
  status: number;
  headers: Record<string, string>;
  cookies: string[];
  body: Buffer;
}

/**
 * How API Gateway maps a payload-2.0 result to HTTP: an object with `statusCode` is a structured
 * response; anything else is JSON with status 200.
 */
export function fromLambdaResult(result: unknown): HttpResult {
  if (result && typeof result === 'object' && 'statusCode' in result) {
    const r = result as Exclude<APIGatewayProxyResultV2, string>;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = String(v);
    const raw = r.body ?? '';
    const body = r.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
    return { status: r.statusCode ?? 200, headers, cookies: r.cookies ?? [], body };
  }
  const text = typeof result === 'string' ? result : JSON.stringify(result ?? null);
  return { status: 200, headers: { 'content-type': 'application/json' }, cookies: [], body: Buffer.from(text, 'utf8') };
}
