/** The local API Gateway: route matching from functions/routes.ts and payload-2.0 events. */
import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../functions/routes.js';
import { fromLambdaResult, lambdaContext, matchRoute, toApiGatewayEvent, toScheduledEvent } from '../../local/apigw.js';
import { localEnv } from '../../local/server.js';

describe('matchRoute', () => {
  it('maps every route of the table to its function, with path parameters decoded', () => {
    for (const r of ROUTES) {
      const path = r.path.replace('{queue}', 'emails').replace('{id}', 'job%201');
      const m = matchRoute(r.method, path);
      expect(m.fn).toBe(r.fn);
      expect(m.routeKey).toBe(`${r.method} ${r.path}`);
      if (r.path.includes('{queue}')) expect(m.pathParameters?.queue).toBe('emails');
      if (r.path.includes('{id}')) expect(m.pathParameters?.id).toBe('job 1');
    }
  });

  it('sends everything else to the fallback function as ANY /{proxy+}', () => {
    expect(matchRoute('GET', '/nope/at/all')).toEqual({
      fn: 'health',
      routeKey: 'ANY /{proxy+}',
      pathParameters: { proxy: 'nope/at/all' },
    });
    expect(matchRoute('PUT', '/v1/queues/a/jobs')).toMatchObject({ fn: 'health', routeKey: 'ANY /{proxy+}' });
    // /v1/queues/a/dlq/replay is a POST route; GET there is not the dlq list route.
    expect(matchRoute('GET', '/v1/queues/a/dlq/replay').routeKey).toBe('ANY /{proxy+}');
  });
});

describe('toApiGatewayEvent', () => {
  it('builds a payload 2.0 event the way API Gateway does', () => {
    const body = Buffer.from('{"payload":1}');
    const e = toApiGatewayEvent(
      {
        method: 'post',
        url: '/v1/queues/emails/jobs?a=1&b=x%20y&a=2',
        headers: {
          host: '127.0.0.1:3000',
          'content-type': 'application/json',
          'user-agent': 'curl/8',
          'x-multi': ['1', '2'],
          cookie: 'k=v; z=w',
        },
        body,
        sourceIp: '127.0.0.1',
      },
      matchRoute('POST', '/v1/queues/emails/jobs'),
      Date.UTC(2024, 2, 12, 19, 3, 58),
    );
    expect(e).toMatchObject({
      version: '2.0',
      routeKey: 'POST /v1/queues/{queue}/jobs',
      rawPath: '/v1/queues/emails/jobs',
      rawQueryString: 'a=1&b=x%20y&a=2',
      queryStringParameters: { a: '1,2', b: 'x y' },
      pathParameters: { queue: 'emails' },
      headers: { host: '127.0.0.1:3000', 'content-type': 'application/json', 'user-agent': 'curl/8', 'x-multi': '1,2' },
      cookies: ['k=v', 'z=w'],
      body: '{"payload":1}',
      isBase64Encoded: false,
      requestContext: {
        http: {
          method: 'POST',
          path: '/v1/queues/emails/jobs',
          sourceIp: '127.0.0.1',
          userAgent: 'curl/8',
          protocol: 'HTTP/1.1',
        },
        routeKey: 'POST /v1/queues/{queue}/jobs',
        stage: '$default',
        time: '12/Mar/2024:19:03:58 +0000',
        timeEpoch: Date.UTC(2024, 2, 12, 19, 3, 58),
      },
    });
    expect(e.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(e.headers.cookie).toBeUndefined();
  });

  it('base64-encodes binary bodies and leaves out what a bodiless GET does not have', () => {
    const bin = toApiGatewayEvent(
      {
        method: 'POST',
        url: '/x',
        headers: { 'content-type': 'application/octet-stream' },
        body: Buffer.from([0, 255]),
        sourceIp: '::1',
      },
      matchRoute('POST', '/x'),
    );
    expect(bin.isBase64Encoded).toBe(true);
    expect(bin.body).toBe('AP8=');
    const get = toApiGatewayEvent(
      { method: 'GET', url: '/v1/health', headers: {}, body: Buffer.alloc(0), sourceIp: '127.0.0.1' },
      matchRoute('GET', '/v1/health'),
    );
    expect(get.body).toBeUndefined();
    expect(get.queryStringParameters).toBeUndefined();
    expect(get.pathParameters).toBeUndefined();
    expect(get.rawQueryString).toBe('');
  });
});

describe('Lambda stand-ins', () => {
  it('context counts its remaining time down; scheduled events look like EventBridge', async () => {
    const ctx = lambdaContext('spool-local-worker', 1000);
    expect(ctx.functionName).toBe('spool-local-worker');
    expect(ctx.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    const r = ctx.getRemainingTimeInMillis();
    expect(r).toBeGreaterThan(900);
    expect(r).toBeLessThanOrEqual(1000);
    const ev = toScheduledEvent('rule');
    expect(ev).toMatchObject({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} });
  });

  it('maps results back to HTTP as API Gateway does', () => {
    expect(
      fromLambdaResult({ statusCode: 201, headers: { 'Content-Type': 'application/json' }, body: '{"a":1}' }),
    ).toMatchObject({
      status: 201,
      headers: { 'content-type': 'application/json' },
    });
    const plain = fromLambdaResult({ a: 1 });
    expect(plain.status).toBe(200);
    expect(plain.body.toString()).toBe('{"a":1}');
    expect(fromLambdaResult({ statusCode: 200, body: 'AP8=', isBase64Encoded: true }).body).toEqual(
      Buffer.from([0, 255]),
    );
  });
});

describe('localEnv', () => {
  it('admits the demo targets through the SSRF checks and keeps the hosts a user set', () => {
    const up = { url: 'http://127.0.0.1:8079', token: 't' };
    expect(localEnv({}, up)).toMatchObject({
      SPOOL_TARGET_ALLOWED_HOSTS: '127.0.0.1,localhost',
      SPOOL_TARGET_ALLOW_PRIVATE: 'true',
      SPOOL_KEY_PREFIX: 'spool',
      UPSTASH_REDIS_REST_URL: up.url,
    });
    expect(
      localEnv({ SPOOL_TARGET_ALLOWED_HOSTS: 'api.example.com', SPOOL_REDIS_SECRET_ARN: 'arn:x' }, up),
    ).toMatchObject({ SPOOL_TARGET_ALLOWED_HOSTS: 'api.example.com,127.0.0.1,localhost' });
    expect(localEnv({ SPOOL_REDIS_SECRET_ARN: 'arn:x' }, up).SPOOL_REDIS_SECRET_ARN).toBeUndefined();
  });
});
