/** Real event shapes: API Gateway HTTP API payload 2.0, EventBridge scheduled events, a Lambda context. */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { matchRoute } from '../../functions/lib/http.js';
import { lambdaContext as localLambdaContext } from '../../local/apigw.js';
import type { SlotOptions } from '../../shared/worker/slots.js';

export interface ApiEventOptions {
  body?: unknown;
  /** Raw body string (sent as is). */
  raw?: string;
  headers?: Record<string, string>;
  query?: string;
  base64?: boolean;
  caller?: string;
}

export function apiEvent(method: string, path: string, o: ApiEventOptions = {}): APIGatewayProxyEventV2 {
  const m = matchRoute(method, path);
  const routeKey = m.kind === 'route' ? `${m.route.method} ${m.route.path}` : 'ANY /{proxy+}';
  const headers: Record<string, string> = {
    'content-length': '0',
    host: 'abc123.execute-api.eu-west-1.amazonaws.com',
    'user-agent': 'test',
    ...o.headers,
  };
  let body: string | undefined = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
  if (o.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
    headers['content-type'] = 'application/json';
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  if (body !== undefined && o.base64) body = Buffer.from(body).toString('base64');
  const now = Date.now();
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: o.query ?? '',
    headers,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: 'abc123.execute-api.eu-west-1.amazonaws.com',
      domainPrefix: 'abc123',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'test' },
      requestId: `req-${randomUUID()}`,
      routeKey,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
      ...(o.caller ? { authorizer: { iam: { userArn: o.caller } } } : {}),
    } as APIGatewayProxyEventV2['requestContext'],
    isBase64Encoded: !!o.base64,
  };
  if (o.query) event.queryStringParameters = Object.fromEntries(new URLSearchParams(o.query));
  if (m.kind === 'route') event.pathParameters = m.params;
  if (body !== undefined) event.body = body;
  return event;
}

export const scheduledEvent = (fn = 'worker') => ({
  version: '0',
  id: randomUUID(),
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time: new Date().toISOString(),
  region: 'eu-west-1',
  resources: [`arn:aws:events:eu-west-1:123456789012:rule/Spool-${fn}Schedule`],
  detail: {},
});

/** A Lambda context for function `Spool-<fn>` with `remainingMs` left (the local server's own). */
export function lambdaContext(remainingMs = 60_000, fn = 'worker'): Context {
  return localLambdaContext(`Spool-${fn}`, remainingMs, 256);
}

export interface JsonResult {
  status: number;
  headers: Record<string, string>;
  body: any;
}

export function json(res: unknown): JsonResult {
  const r = res as APIGatewayProxyStructuredResultV2;
  return {
    status: r.statusCode ?? 0,
    headers: (r.headers ?? {}) as Record<string, string>,
    // JSON unless the answer says otherwise (GET /metrics is text).
    body: r.body
      ? /json/.test(String(r.headers?.['content-type'] ?? 'application/json'))
        ? JSON.parse(r.body)
        : r.body
      : undefined,
  };
}

/**
 * The slot loop's options for a test: 2 slots, leases of up to 25, 5 ms ack flushes, no linger, a
 * 100 ms poll, and 50 s before it stops leasing (60 s to its deadline); `o` overrides any of them.
 */
export function slotOptions(o: Partial<SlotOptions> = {}): SlotOptions {
  const now = Date.now();
  return {
    concurrency: 2,
    prefetch: 2,
    maxLease: 25,
    heartbeatMs: 1_000,
    flushMs: 5,
    lingerMs: 0,
    pollMs: 100,
    stopAt: now + 50_000,
    deadline: now + 60_000,
    minWindowMs: 0,
    ...o,
  };
}
