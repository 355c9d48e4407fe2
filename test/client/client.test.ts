/**
 * `spool/client` against a loopback HTTP server that records what arrives and answers from a
 * script: SigV4 (checked by an independent implementation, test/helpers/sigv4.ts), credentials from
 * the AWS chain, plain requests without credentials, idempotency keys, and bounded retries.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpoolApiError, SpoolClient } from 'spool/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkSigV4, type ReceivedRequest } from '../helpers/sigv4.js';

const CREDS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'session-token-example',
};

type Answer = { status: number; body?: unknown; headers?: Record<string, string> } | 'drop';
let script: Answer[] = [];
const received: ReceivedRequest[] = [];
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    received.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
    const a = script.shift() ?? { status: 200, body: {} };
    if (a === 'drop') return void req.socket.destroy();
    res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
    res.end(a.body === undefined ? '' : JSON.stringify(a.body));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
afterEach(() => {
  script = [];
  received.length = 0;
});

const enqueued = { queue: 'emails', id: 'j1', deduplicated: false, state: 'waiting' };
const noSleep = () => {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
};

describe('SigV4', () => {
  it('signs every request (service execute-api) so that an independent SigV4 check passes', async () => {
    const client = new SpoolClient({ baseUrl: base, region: 'eu-west-1', credentials: CREDS });
    script = [
      { status: 201, body: enqueued },
      { status: 200, body: { queue: 'emails', state: 'dead', total: 0, jobs: [] } },
    ];
    await client.enqueue('emails', { target: { url: 'https://example.com/hook' }, payload: { to: 'ä@example.com' } });
    await client.listJobs('emails', { state: 'dead', limit: 10, cursor: 'a b/c' });
    expect(received).toHaveLength(2);
    for (const r of received) {
      const check = checkSigV4(r, CREDS.secretAccessKey);
      expect(check).toMatchObject({
        ok: true,
        accessKeyId: 'AKIDEXAMPLE',
        region: 'eu-west-1',
        service: 'execute-api',
      });
      expect(r.headers['x-amz-security-token']).toBe(CREDS.sessionToken);
      // Negative controls: the check fails with another key or another body.
      expect(checkSigV4(r, 'another-secret').ok).toBe(false);
      expect(checkSigV4({ ...r, body: `${r.body} ` }, CREDS.secretAccessKey).ok).toBe(false);
    }
    const first = checkSigV4(received[0]!, CREDS.secretAccessKey);
    expect(first.ok && first.signedHeaders).toEqual(
      expect.arrayContaining(['host', 'x-amz-date', 'idempotency-key', 'content-type']),
    );
    expect(received[1]!.url).toBe('/v1/queues/emails/jobs?state=dead&limit=10&cursor=a%20b%2Fc');
  });

  it('takes credentials from the AWS chain (environment here) and the region from an execute-api host', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'AKIDFROMENV',
      AWS_SECRET_ACCESS_KEY: 'secret-from-env',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_REGION;
    try {
      const seen: ReceivedRequest[] = [];
      // No network: the request is captured where fetch would send it.
      const capture: typeof fetch = async (input, init) => {
        const url = new URL(String(input));
        const headers = Object.fromEntries(Object.entries(init?.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
        seen.push({
          method: init!.method!,
          url: url.pathname + url.search,
          headers: { ...headers, host: url.host },
          body: String(init?.body ?? ''),
        });
        return new Response(JSON.stringify({ queues: [] }), { status: 200 });
      };
      const client = new SpoolClient({
        baseUrl: 'https://abc123.execute-api.eu-central-1.amazonaws.com',
        fetch: capture,
      });
      expect(await client.listQueues()).toEqual({ queues: [] });
      expect(checkSigV4(seen[0]!, 'secret-from-env')).toMatchObject({
        ok: true,
        accessKeyId: 'AKIDFROMENV',
        region: 'eu-central-1',
        service: 'execute-api',
      });
    } finally {
      process.env = saved;
    }
  });

  it('sends plain requests to a loopback URL, with credentials: false, or when the chain finds nothing', async () => {
    script = [{ status: 200, body: { queues: [] } }];
    await new SpoolClient({ baseUrl: base }).listQueues();
    expect(received[0]!.headers.authorization).toBeUndefined();

    const saved = { ...process.env };
    for (const k of [
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
      'AWS_PROFILE',
      'AWS_WEB_IDENTITY_TOKEN_FILE',
    ])
      delete process.env[k];
    Object.assign(process.env, {
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: '/nonexistent/spool-test-config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/spool-test-credentials',
    });
    try {
      const seen: Array<Record<string, string>> = [];
      const gateway: typeof fetch = async (_input, init) => {
        seen.push(init?.headers as Record<string, string>);
        return new Response(JSON.stringify({ message: 'Forbidden' }), { status: 403 });
      };
      const client = new SpoolClient({ baseUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com', fetch: gateway });
      const err = await client.listQueues().catch((e: unknown) => e);
      expect(seen[0]!.authorization).toBeUndefined();
      expect(err).toBeInstanceOf(SpoolApiError);
      expect((err as SpoolApiError).status).toBe(403);
      expect((err as SpoolApiError).message).toMatch(/Forbidden.*not signed: no AWS credentials/);

      const off = new SpoolClient({
        baseUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com',
        credentials: false,
        fetch: gateway,
      });
      await off.listQueues().catch(() => undefined);
      expect(seen[1]!.authorization).toBeUndefined();
    } finally {
      process.env = saved;
    }
  });
});

describe('idempotency keys', () => {
  it('every enqueue carries a generated Idempotency-Key (header and body agree); a given one is kept', async () => {
    const client = new SpoolClient({ baseUrl: base });
    script = [
      { status: 201, body: enqueued },
      { status: 201, body: enqueued },
      { status: 201, body: enqueued },
    ];
    await client.enqueue('emails', { handler: 'echo' });
    await client.enqueue('emails', { handler: 'echo' });
    await client.enqueue('emails', { handler: 'echo', idempotencyKey: 'order-42' });
    const keys = received.map((r) => r.headers['idempotency-key']);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).not.toBe(keys[0]);
    expect(keys[2]).toBe('order-42');
    for (const r of received) expect(JSON.parse(r.body).idempotencyKey).toBe(r.headers['idempotency-key']);
  });

  it('a batch gives each job its own key in the body (the API refuses the header on a batch)', async () => {
    const client = new SpoolClient({ baseUrl: base });
    script = [{ status: 201, body: { queue: 'emails', jobs: [] } }];
    await client.enqueueBatch('emails', [
      { handler: 'echo' },
      { handler: 'echo', idempotencyKey: 'mine' },
      { handler: 'echo' },
    ]);
    const body = JSON.parse(received[0]!.body) as { jobs: Array<{ idempotencyKey: string }> };
    const keys = body.jobs.map((j) => j.idempotencyKey);
    expect(keys[1]).toBe('mine');
    expect(new Set(keys).size).toBe(3);
    expect(received[0]!.headers['idempotency-key']).toBeUndefined();
  });
});

describe('retries', () => {
  it('retries 503 and 429 honouring Retry-After, resending the same key and signing again', async () => {
    const { waits, sleep } = noSleep();
    const client = new SpoolClient({ baseUrl: base, region: 'eu-west-1', credentials: CREDS, sleep });
    script = [
      {
        status: 503,
        body: { error: { code: 'redis_unavailable', message: 'x', details: {} } },
        headers: { 'retry-after': '2' },
      },
      { status: 429, body: { message: 'Too Many Requests' }, headers: { 'retry-after': '1' } },
      { status: 201, body: enqueued },
    ];
    expect(await client.enqueue('emails', { handler: 'echo' })).toEqual(enqueued);
    expect(waits).toEqual([2000, 1000]);
    expect(received).toHaveLength(3);
    expect(new Set(received.map((r) => r.headers['idempotency-key'])).size).toBe(1);
    for (const r of received) expect(checkSigV4(r, CREDS.secretAccessKey).ok).toBe(true);
  });

  it('without Retry-After backs off with full jitter, capped; stops at maxAttempts with the last error', async () => {
    const { waits, sleep } = noSleep();
    const client = new SpoolClient({
      baseUrl: base,
      sleep,
      random: () => 0.999,
      retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 150 },
    });
    const busy = { status: 503, body: { message: 'Service Unavailable' } };
    script = [busy, busy, busy, busy];
    const err = (await client.listQueues().catch((e: unknown) => e)) as SpoolApiError;
    expect(err).toBeInstanceOf(SpoolApiError);
    expect([err.status, err.attempts]).toEqual([503, 3]);
    expect(waits).toEqual([99, 149]);
    expect(received).toHaveLength(3);
  });

  it('does not wait past the budget: a Retry-After beyond it fails at once, carrying retryAfterMs', async () => {
    const { waits, sleep } = noSleep();
    const client = new SpoolClient({ baseUrl: base, sleep, retry: { budgetMs: 10_000 } });
    script = [
      {
        status: 503,
        body: { error: { code: 'redis_unavailable', message: 'later', details: {} } },
        headers: { 'retry-after': '30' },
      },
    ];
    const err = (await client.enqueue('emails', { handler: 'echo' }).catch((e: unknown) => e)) as SpoolApiError;
    expect([err.status, err.code, err.retryAfterMs, err.attempts]).toEqual([503, 'redis_unavailable', 30_000, 1]);
    expect(waits).toEqual([]);
    expect(received).toHaveLength(1);
  });

  it('resends a GET or an enqueue after a network error, never a cancel; other statuses are not retried', async () => {
    const { waits, sleep } = noSleep();
    const client = new SpoolClient({ baseUrl: base, sleep, random: () => 0.5 });
    script = ['drop', { status: 200, body: { queues: [] } }];
    expect(await client.listQueues()).toEqual({ queues: [] });
    expect(waits).toHaveLength(1);

    script = ['drop'];
    await expect(client.cancelJob('emails', 'j1')).rejects.toThrow();
    expect(received).toHaveLength(3);

    script = [
      {
        status: 400,
        body: {
          error: { code: 'invalid_request', message: 'priority: must be at most 1000', details: { field: 'priority' } },
        },
      },
    ];
    const err = (await client
      .enqueue('emails', { handler: 'echo', priority: 5000 })
      .catch((e: unknown) => e)) as SpoolApiError;
    expect([err.status, err.code, err.message, err.details.field]).toEqual([
      400,
      'invalid_request',
      'priority: must be at most 1000',
      'priority',
    ]);
    expect(received).toHaveLength(4);
  });

  it('GET /v1/health answering 503 with a health report resolves (unhealthy is an answer, not an outage)', async () => {
    const { waits, sleep } = noSleep();
    const client = new SpoolClient({ baseUrl: base, sleep });
    const report = { status: 'unhealthy', at: '2026-12-01T00:00:00.000Z', queues: [], lastCheck: null };
    script = [{ status: 503, body: report }];
    expect(await client.health()).toEqual(report);
    expect(waits).toEqual([]);
  });
});
