/**
 * The HTTP API fuzzed through the local server on loopback, as a hostile client would: random and
 * crafted bodies (jobs, batches, bare arrays, deep nesting, lone surrogates, bad UTF-8, framing
 * headers in targets, metadata URLs), headers (content types, idempotency keys, long and odd
 * values) and paths (every route, percent-encoding, unicode, long segments), sent as raw HTTP/1.1.
 * With Redis up, nothing may answer 5xx. With Redis stalled (SIGSTOP) and then gone (SIGKILL), the
 * only 5xx allowed is 503 with Retry-After. A private redis-server: never the shared one.
 *
 * Bounded: a fixed seed and fixed counts (FUZZ_SEED, `random` too, and FUZZ_RUNS change them; `npm run test:fuzz`), every request with a
 * 15 s limit. Prints the counts: `fuzz: <n> requests, <m> answered 5xx ...`.
 */
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type LocalServer, startLocal } from '../../local/server.js';
import { privateStack } from '../helpers/private-redis.js';

const SEED =
  process.env.FUZZ_SEED === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.FUZZ_SEED ?? 20261201);
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
/** Runs with Redis stalled (each costs up to SPOOL_REDIS_TIMEOUT_MS) and with Redis gone. */
const STALLED_RUNS = Math.ceil(RUNS / 20);
const DOWN_RUNS = Math.ceil(RUNS / 4);

let stack: Awaited<ReturnType<typeof privateStack>>;
let local: LocalServer;
let sink: Server;
let sinkPort = 0;
const lines: string[] = [];

beforeAll(async () => {
  // Targets on loopback go here (never to another local port: the shared Redis is one).
  sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(req.url?.startsWith('/ok') ? 200 : 500).end('sink'));
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  sinkPort = (sink.address() as net.AddressInfo).port;
  stack = await privateStack();
  local = await startLocal({
    port: 0,
    upstash: stack.credentials,
    env: {
      SPOOL_KEY_PREFIX: 'test:fuzz',
      // Long enough for a big batch on a loaded machine; every stalled call waits this long.
      SPOOL_REDIS_TIMEOUT_MS: '2000',
      // No kick from enqueues (the drain and replay routes still run the worker, against the sink).
      SPOOL_KICK_DEBOUNCE_MS: '0',
      SPOOL_PAYLOAD_MAX_BYTES: '65536',
      // Health answers 503 when unhealthy: thresholds out of the fuzz's reach, so a 503 means a fault.
      SPOOL_HEALTH_WAITING_UNHEALTHY: '1000000000',
      SPOOL_HEALTH_WAITING_DEGRADED: '1000000000',
      SPOOL_HEALTH_DEAD_UNHEALTHY: '1000000000',
      SPOOL_HEALTH_OLDEST_WAITING_UNHEALTHY_MS: '1000000000',
      SPOOL_HEALTH_STUCK_UNHEALTHY: '1000000000',
      LOG_LEVEL: 'SILENT',
    },
    schedules: false,
    log: (l) => {
      if (lines.length < 2000) lines.push(l);
    },
  });
}, 60_000);

afterAll(async () => {
  await local?.close();
  await stack?.stop();
  await new Promise((r) => sink?.close(r));
});

// ---- generators -------------------------------------------------------------------------------

const ROUTES = [
  // Enqueue is most of the attack surface: it is drawn more often.
  ['POST', '/v1/queues/{q}/jobs'],
  ['POST', '/v1/queues/{q}/jobs'],
  ['POST', '/v1/queues/{q}/jobs'],
  ['POST', '/v1/queues/{q}/jobs'],
  ['GET', '/v1/queues/{q}/jobs'],
  ['GET', '/v1/queues/{q}/jobs/{id}'],
  ['DELETE', '/v1/queues/{q}/jobs/{id}'],
  ['POST', '/v1/queues/{q}/drain'],
  ['GET', '/v1/queues'],
  ['GET', '/v1/health'],
  ['GET', '/v1/queues/{q}/dlq'],
  ['DELETE', '/v1/queues/{q}/dlq/{id}'],
  ['POST', '/v1/queues/{q}/dlq/replay'],
  ['POST', '/v1/queues/{q}/purge'],
  ['GET', '/v1/queues/{q}/settings'],
  ['PUT', '/v1/queues/{q}/settings'],
  ['GET', '/v1/queues/{q}/workers'],
  ['DELETE', '/v1/queues/{q}'],
  ['PUT', '/v1/schedules/{id}'],
  ['PUT', '/v1/schedules/{id}'],
  ['POST', '/v1/schedules'],
  ['GET', '/v1/schedules'],
  ['GET', '/v1/schedules/{id}'],
  ['DELETE', '/v1/schedules/{id}'],
] as const;

const hostile = fc.constantFrom(
  '',
  '..',
  '%',
  '%ZZ',
  '%00',
  '%ED%A0%80',
  '%F0%9F%98%80',
  '%2F',
  '😀',
  'caf\u00e9',
  '__proto__',
  'constructor',
  'a'.repeat(300),
  '\u0000',
  '%0d%0aX-Injected:%20yes',
);
const queueName = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom('q1', 'q2', 'demo', 'emails') },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/) },
  { weight: 2, arbitrary: hostile },
  { weight: 1, arbitrary: fc.string({ maxLength: 80 }).map(encodeURIComponent) },
);
const jobId = fc.oneof(fc.uuid(), hostile, fc.string({ maxLength: 40 }).map(encodeURIComponent));

const query = fc.oneof(
  fc.constant(''),
  fc
    .array(
      fc.tuple(
        fc.constantFrom(
          'state',
          'limit',
          'cursor',
          'samples',
          'scan',
          'history',
          'queue',
          'confirm',
          'includeDead',
          'force',
          '__proto__',
          'x',
        ),
        fc.oneof(
          fc.constantFrom(
            'waiting',
            'delayed',
            'active',
            'completed',
            'dead',
            '0',
            '1',
            '1000',
            '-1',
            '1e9',
            '',
            'q1',
            'true',
          ),
          fc.string({ maxLength: 30 }).map(encodeURIComponent),
          hostile,
        ),
      ),
      { maxLength: 4 },
    )
    .map((kv) => `?${kv.map(([k, v]) => `${k}=${v}`).join('&')}`),
);

const otherMethod = fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE');

/** [method, path]: mostly a route with its own method, else any method on a route or another path. */
const line = fc
  .oneof(
    {
      weight: 8,
      arbitrary: fc
        .tuple(fc.constantFrom(...ROUTES), queueName, jobId, query, fc.integer({ min: 0, max: 9 }), otherMethod)
        .map(([[m, tpl], q, id, qs, dice, other]): [string, string] => [
          dice < 8 ? m : other,
          tpl.replace('{q}', q).replace('{id}', id) + qs,
        ]),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(
        otherMethod,
        fc.webPath().map((p) => p || '/'),
      ),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(
        otherMethod,
        fc.string({ maxLength: 60 }).map((s) => `/v1/${encodeURI(s)}`),
      ),
    },
  )
  // /demo/* are the local demo targets (one answers 500 on purpose), not the API.
  .filter(([, p]) => !p.startsWith('/demo'));

/** A header value a client can put on the wire: Latin-1 without CR, LF or NUL. */
const headerValue = fc.oneof(
  fc.string({ maxLength: 60 }).map((s) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?')),
  fc.constantFrom('', ' ', 'x'.repeat(4000), 'caf\u00e9', 'a;b=c', '"quoted"'),
);
const tokenName = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,30}$/);

/** Each header absent most of the time (undefined entries are not sent). */
const sometimes = <T>(a: fc.Arbitrary<T>, weight = 1) =>
  fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight, arbitrary: a });
const headers = fc.record({
  'content-type': fc.oneof(
    { weight: 12, arbitrary: fc.constant('application/json') },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        'application/json; charset=utf-8',
        'application/vnd.api+json',
        'text/plain',
        'application/x-www-form-urlencoded',
        'application/json; charset=latin1',
        'multipart/form-data; boundary=x',
        '',
      ),
    },
    { weight: 1, arbitrary: headerValue },
    { weight: 1, arbitrary: fc.constant(undefined) },
  ),
  'idempotency-key': sometimes(
    fc.oneof(fc.string({ maxLength: 40 }), headerValue, fc.constantFrom('k-1', 'k-2', 'a'.repeat(300))),
  ),
  'x-fuzz': sometimes(headerValue),
  'content-encoding': sometimes(fc.constantFrom('gzip', 'identity', 'br')),
  authorization: sometimes(fc.constantFrom('Bearer x', 'AWS4-HMAC-SHA256 Credential=x', '')),
});
const extraHeaders = fc.array(fc.tuple(tokenName, headerValue), { maxLength: 3 });

const json = fc.jsonValue({ maxDepth: 4 });
const targetUrl = fc.oneof(
  fc.constant(`http://127.0.0.1:${0}/ok`).map(() => `http://127.0.0.1:${sinkPort}/ok`),
  fc.constant('').map(() => `http://localhost:${sinkPort}/fail?token=s3cret`),
  fc.constantFrom(
    'http://[::169.254.169.254]/latest/',
    'http://[::ffff:0:169.254.169.254]/',
    'http://[64:ff9b:1::a9fe:a9fe]/',
    'http://[2002:a9fe:a9fe::]/',
    'http://2852039166/',
    'http://0xa9fea9fe/',
    'https://user:pw@api.example.com/hook?x=1',
    'ftp://example.com/',
    'not a url',
    'http://[fec0::1]/',
  ),
  // Any other host is refused before a connection (the local allow-list is loopback only).
  fc.webUrl().filter((u) => !/\/\/(127\.|localhost|\[)/.test(u)),
);
const targetHeaders = fc.dictionary(
  fc.oneof(
    tokenName,
    fc.constantFrom(
      'Host',
      'Content-Length',
      'Transfer-Encoding',
      'Connection',
      'TE',
      'Proxy-Authorization',
      'X Bad',
      '',
    ),
  ),
  fc.oneof(headerValue, fc.constantFrom('a\r\nX-Injected: 1', 'nul\u0000', 'emoji 😀', '\n')),
  { maxKeys: 3 },
);
const job = fc.record(
  {
    payload: fc.oneof(
      json,
      fc.integer({ min: 1, max: 200 }).map((d) => JSON.parse(`${'['.repeat(d)}${']'.repeat(d)}`)),
    ),
    target: fc.record(
      {
        url: targetUrl,
        method: fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'), fc.string({ maxLength: 8 })),
        headers: targetHeaders,
        timeoutMs: fc.oneof(fc.integer({ min: 100, max: 2000 }), fc.double(), fc.constant(-1)),
      },
      { requiredKeys: ['url'] },
    ),
    handler: fc.oneof(fc.constantFrom('echo', 'noop', 'missing'), fc.string({ maxLength: 20 })),
    priority: fc.oneof(fc.integer({ min: -2000, max: 2000 }), fc.double(), fc.string({ maxLength: 4 })),
    delayMs: fc.oneof(fc.integer({ min: -10, max: 10_000 }), fc.constant(1e20)),
    runAt: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.integer(),
      fc.string({ maxLength: 10 }),
    ),
    maxAttempts: fc.oneof(fc.integer({ min: -1, max: 120 }), fc.constant(null)),
    backoff: fc.oneof(
      fc.record({ type: fc.constantFrom('exponential', 'fixed', 'x'), baseMs: fc.integer(), maxMs: fc.integer() }),
      json,
    ),
    timeoutMs: fc.oneof(fc.integer({ min: 0, max: 1_000_000 }), fc.double()),
    idempotencyKey: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('k-1', '', 'x'.repeat(300))),
    bogus: json,
  },
  { requiredKeys: [] },
);

/** Jobs the API accepts (so the fuzz reaches Redis), with a few valid optional fields. */
const goodJob = fc.record(
  {
    handler: fc.constant('echo'),
    payload: json,
    priority: fc.integer({ min: -1000, max: 1000 }),
    delayMs: fc.integer({ min: 0, max: 60_000 }),
    maxAttempts: fc.integer({ min: 1, max: 5 }),
    idempotencyKey: fc.oneof(fc.constantFrom('k-1', 'k-2', 'k-3'), fc.string({ minLength: 1, maxLength: 20 })),
  },
  { requiredKeys: ['handler', 'payload'] },
);

/** Schedules (issue 12): mostly accepted ones (so fires reach Redis), and every field wrong some of the time. */
const schedule = fc.record(
  {
    id: fc.oneof(fc.constantFrom('s1', 's2', 's3'), fc.string({ maxLength: 20 }), hostile),
    queue: fc.oneof(fc.constantFrom('q1', 'q2'), fc.string({ maxLength: 10 }), hostile),
    cron: fc.constantFrom('* * * * *', '*/5 * * * *', '0 3 * * *', '0 0 31 2 *', '61 * * * *', '* * * * * *', 'x', ''),
    everyMs: fc.oneof(fc.integer({ min: 1000, max: 60_000 }), fc.integer(), fc.double(), fc.constant(1e20)),
    timezone: fc.oneof(fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Mars/Olympus', ''), hostile),
    job: fc.oneof(
      { weight: 3, arbitrary: goodJob.map(({ idempotencyKey: _, ...j }) => j) },
      { weight: 1, arbitrary: job },
    ),
    paused: fc.oneof(fc.boolean(), json),
    startAt: fc.oneof(
      fc.integer(),
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.string({ maxLength: 10 }),
    ),
    endAt: fc.oneof(
      fc.integer(),
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.string({ maxLength: 10 }),
    ),
    bogus: json,
  },
  { requiredKeys: [] },
);
const goodSchedule = fc.record({
  id: fc.constantFrom('s1', 's2', 's3'),
  queue: fc.constantFrom('q1', 'q2'),
  everyMs: fc.integer({ min: 1000, max: 5_000 }),
  job: goodJob.map(({ idempotencyKey: _, ...j }) => j),
});

/** Bodies made to break things (each was a 500 or worse once, or could be). */
const crafted = fc.constantFrom(
  `{"handler":"echo","payload":${'['.repeat(5000)}${']'.repeat(5000)}}`,
  `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
  '{"handler":"echo","idempotencyKey":"\\ud83d"}',
  '{"jobs":[{"handler":"echo","payload":"\\udfff"},{"handler":"echo","idempotencyKey":"\\ud800x"}]}',
  '{"handler":"echo","payload":{"k\\ud800":"v"}}',
  '{"dryRun":false,"ids":["\\ud800"],"fingerprint":"\\udc00"}',
  '{"jobs":',
  '{"__proto__":{"jobs":[1]},"handler":"echo"}',
  '{"jobs":{"length":1000}}',
  'null',
  '"string"',
  '1e400',
  '{"handler":"echo","payload":"x"}'.repeat(3),
);

/** Raw bodies: JSON of many shapes, and bytes that are not (UTF-8 or not). */
const text = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  { weight: 14, arbitrary: goodJob.map((j) => JSON.stringify(j)) },
  { weight: 5, arbitrary: fc.array(goodJob, { minLength: 1, maxLength: 20 }).map((jobs) => JSON.stringify({ jobs })) },
  { weight: 10, arbitrary: job.map((j) => JSON.stringify(j)) },
  { weight: 4, arbitrary: fc.array(job, { maxLength: 110 }).map((jobs) => JSON.stringify({ jobs })) },
  { weight: 2, arbitrary: fc.array(job, { maxLength: 5 }).map((jobs) => JSON.stringify(jobs)) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 5 }) },
  {
    weight: 2,
    arbitrary: fc
      .record(
        {
          dryRun: fc.oneof(fc.boolean(), json),
          ids: fc.oneof(fc.array(fc.oneof(fc.uuid(), fc.string()), { maxLength: 5 }), json),
          fingerprint: fc.oneof(fc.stringMatching(/^[0-9a-f]{0,12}$/), json),
          failedAfter: fc.oneof(fc.integer(), fc.string({ maxLength: 25 })),
          failedBefore: fc.oneof(fc.integer(), fc.string({ maxLength: 25 })),
          limit: fc.oneof(fc.integer({ min: -5, max: 2000 }), fc.double()),
        },
        { requiredKeys: [] },
      )
      .map((b) => JSON.stringify(b)),
  },
  { weight: 2, arbitrary: crafted },
  { weight: 4, arbitrary: schedule.map((b) => JSON.stringify(b)) },
  { weight: 4, arbitrary: goodSchedule.map((b) => JSON.stringify(b)) },
  {
    weight: 1,
    arbitrary: fc
      .record(
        {
          paused: fc.oneof(fc.boolean(), json),
          maxConcurrency: fc.oneof(fc.integer({ min: -1, max: 200_000 }), fc.constant(null)),
          rateLimit: fc.oneof(json, fc.record({ limit: fc.integer(), periodMs: fc.integer() })),
        },
        { requiredKeys: [] },
      )
      .map((b) => JSON.stringify(b)),
  },
);
const body = fc.oneof(
  { weight: 30, arbitrary: text.map((t) => Buffer.from(t, 'utf8')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
  {
    weight: 1,
    arbitrary: fc.constant(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0xff, 0x22, 0x7d])),
  },
);

/** An enqueue that passes the route's first checks (queue, method, content type), so its body meets the engine. */
const enqueue = fc
  .record({
    queue: fc.constantFrom('q1', 'q2', 'emails'),
    body: fc.oneof(
      crafted,
      job.map((j) => JSON.stringify(j)),
      fc.array(job, { maxLength: 30 }).map((jobs) => JSON.stringify({ jobs })),
      fc.array(job, { maxLength: 5 }).map((jobs) => JSON.stringify(jobs)),
    ),
  })
  .map(({ queue, body: b }) => ({
    method: 'POST',
    path: `/v1/queues/${queue}/jobs`,
    headers: { 'content-type': 'application/json' } as Record<string, string | undefined>,
    extraHeaders: [] as Array<[string, string]>,
    body: Buffer.from(b, 'utf8'),
  }));

const request = fc.oneof(
  {
    weight: 7,
    arbitrary: fc
      .record({ line, headers, extraHeaders, body })
      .map(({ line: [method, path], ...rest }) => ({ method, path, ...rest })),
  },
  { weight: 3, arbitrary: enqueue },
);
type Req = typeof request extends fc.Arbitrary<infer T> ? T : never;

// ---- a raw HTTP/1.1 client --------------------------------------------------------------------

interface Answer {
  status: number;
  headers: Record<string, string>;
}

function send(port: number, r: Req): Promise<Answer> {
  const payload = r.body;
  const head = [
    `${r.method} ${r.path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Connection: close',
    ...Object.entries(r.headers)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}: ${v}`),
    ...r.extraHeaders
      .filter(([k]) => !/^(content-length|transfer-encoding|host|connection)$/i.test(k))
      .map(([k, v]) => `${k}: ${v}`),
    `Content-Length: ${payload.length}`,
    '',
    '',
  ].join('\r\n');
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer within 15 s: ${r.method} ${r.path}`));
    }, 15_000);
    const finish = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const [statusLine = '', ...headerLines] = text.slice(0, end < 0 ? text.length : end).split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
      const h: Record<string, string> = {};
      for (const l of headerLines) {
        const i = l.indexOf(':');
        if (i > 0) h[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status, headers: h });
    };
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('close', finish);
    sock.on('error', () => {}); // a reset after a 400 from Node's parser: what arrived is parsed on close
    sock.write(Buffer.concat([Buffer.from(head, 'utf8'), payload]));
  });
}

// ---- the properties ---------------------------------------------------------------------------

interface Tally {
  requests: number;
  fiveXX: number;
  byStatus: Record<number, number>;
  /** The statuses of the /v1/schedules requests alone. */
  schedules: Record<number, number>;
  bad: Array<{ status: number; retryAfter?: string; method: string; path: string; body: string }>;
}

async function fuzz(runs: number, seed: number, allowed: (a: Answer) => boolean): Promise<Tally> {
  const t: Tally = { requests: 0, fiveXX: 0, byStatus: {}, schedules: {}, bad: [] };
  for (const r of fc.sample(request, { numRuns: runs, seed })) {
    const a = await send(local.port, r);
    t.requests++;
    t.byStatus[a.status] = (t.byStatus[a.status] ?? 0) + 1;
    if (r.path.startsWith('/v1/schedules')) t.schedules[a.status] = (t.schedules[a.status] ?? 0) + 1;
    if (a.status >= 500) t.fiveXX++;
    if (!allowed(a) && t.bad.length < 10)
      t.bad.push({
        status: a.status,
        ...(a.headers['retry-after'] ? { retryAfter: a.headers['retry-after'] } : {}),
        method: r.method,
        path: r.path,
        body: r.body.toString('utf8').slice(0, 300),
      });
  }
  return t;
}

const report = (phase: string, seed: number, t: Tally) => {
  console.log(
    `fuzz (${phase}, seed ${seed}): ${t.requests} requests, ${t.fiveXX} answered 5xx; by status ${JSON.stringify(t.byStatus)}; schedules by status ${JSON.stringify(t.schedules)}`,
  );
  if (t.bad.length) console.log(`fuzz (${phase}): refused answers ${JSON.stringify(t.bad, null, 1)}`);
};

it('with Redis up, no request answers 5xx', { timeout: 600_000 }, async () => {
  const t = await fuzz(RUNS, SEED, (a) => a.status > 0 && a.status < 500);
  report('Redis up', SEED, t);
  expect(
    t.bad,
    lines
      .filter((l) => /failed|Error/.test(l))
      .slice(0, 5)
      .join('\n'),
  ).toEqual([]);
  expect(t.requests).toBe(RUNS);
  // The fuzz reached the engine: some jobs were stored, and many requests refused.
  expect(t.byStatus[201] ?? 0).toBeGreaterThan(0);
  expect(t.byStatus[400] ?? 0).toBeGreaterThan(0);
});

it('with Redis stalled, then gone, the only 5xx is 503 with Retry-After', { timeout: 600_000 }, async () => {
  const ok = (a: Answer) =>
    a.status > 0 && (a.status < 500 || (a.status === 503 && /^\d+$/.test(a.headers['retry-after'] ?? '')));
  stack.redis.pause();
  const stalled = await fuzz(STALLED_RUNS, SEED + 1, ok);
  report('Redis stalled', SEED + 1, stalled);
  stack.redis.resume();
  await stack.redis.stop();
  const down = await fuzz(DOWN_RUNS, SEED + 2, ok);
  report('Redis gone', SEED + 2, down);
  expect([...stalled.bad, ...down.bad]).toEqual([]);
  // Redis was really out of reach: requests that needed it were 503s.
  expect(stalled.byStatus[503] ?? 0).toBeGreaterThan(0);
  expect(down.byStatus[503] ?? 0).toBeGreaterThan(0);
});
