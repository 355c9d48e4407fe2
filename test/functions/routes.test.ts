import { describe, expect, it } from 'vitest';
import { createDlqReplayHandler } from '../../functions/dlq-replay/handler.js';
import { createEnqueueHandler } from '../../functions/enqueue/handler.js';
import { createHealthHandler } from '../../functions/health/handler.js';
import { createRuntime } from '../../functions/lib/runtime.js';
import { createPurgeHandler } from '../../functions/purge/handler.js';
import { ROUTES } from '../../functions/routes.js';
import { createSchedulerHandler } from '../../functions/scheduler/handler.js';
import { createWorkerHandler } from '../../functions/worker/handler.js';
import { loadConfig } from '../../shared/config/index.js';
import { queueKey } from '../../shared/queue/keys.js';
import { createRedis } from '../../shared/redis/client.js';
import { apiEvent, json, lambdaContext } from '../helpers/fixtures.js';
import { testRuntime } from '../helpers/runtime.js';

/** GET settings beside the fields a test sets: the breakers' defaults, no breaker yet, no automatic replay. */
const DEFAULT_BREAKERS = {
  maxWaitMs: null,
  circuitBreaker: { enabled: true, failures: 5, coolDownMs: 10_000, maxCoolDownMs: 300_000 },
  breakers: [],
  autoReplay: null,
};

const { rt, kicks, prefix } = await testRuntime('api', { SPOOL_PAYLOAD_MAX_BYTES: '1024' });
const enqueue = createEnqueueHandler(rt);
const health = createHealthHandler(rt);
const dlq = createDlqReplayHandler(rt);
const purge = createPurgeHandler(rt);
const worker = createWorkerHandler(rt);
const scheduler = createSchedulerHandler(rt);
const call = async (h: typeof enqueue, ...a: Parameters<typeof apiEvent>) =>
  json(await h(apiEvent(...a), lambdaContext()));
const job = (extra: Record<string, unknown> = {}) => ({ handler: 'echo', payload: { n: 1 }, ...extra });

describe('POST /v1/queues/{queue}/jobs', () => {
  it('enqueues one job: 201, id, Location; the job reads back with ISO times', async () => {
    const r = await call(enqueue, 'POST', '/v1/queues/q1/jobs', { body: job() });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ queue: 'q1', deduplicated: false, state: 'waiting' });
    expect(r.headers.location).toBe(`/v1/queues/q1/jobs/${r.body.id}`);
    const g = await call(enqueue, 'GET', `/v1/queues/q1/jobs/${r.body.id}`);
    expect(g.status).toBe(200);
    expect(g.body).toMatchObject({
      id: r.body.id,
      queue: 'q1',
      state: 'waiting',
      attempts: 0,
      maxAttempts: 5,
      handler: 'echo',
      payload: { n: 1 },
    });
    expect(g.body.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(g.body.updatedAt).toMatch(/Z$/);
  });

  it('enqueues a batch of up to 100; 101 is a 400 naming "jobs"', async () => {
    const r = await call(enqueue, 'POST', '/v1/queues/q1/jobs', { body: { jobs: [job(), job({ priority: 5 })] } });
    expect(r.status).toBe(201);
    expect(r.body.jobs).toHaveLength(2);
    const big = await call(enqueue, 'POST', '/v1/queues/q1/jobs', {
      body: { jobs: Array.from({ length: 101 }, () => job()) },
    });
    expect(big.status).toBe(400);
    expect(big.body.error).toMatchObject({ code: 'invalid_request', details: { field: 'jobs' } });
  });

  it('Idempotency-Key header: 201 then 200 with the same id; a different body key is a 400', async () => {
    const a = await call(enqueue, 'POST', '/v1/queues/q1/jobs', { body: job(), headers: { 'Idempotency-Key': 'k-1' } });
    const b = await call(enqueue, 'POST', '/v1/queues/q1/jobs', { body: job(), headers: { 'Idempotency-Key': 'k-1' } });
    expect([a.status, b.status]).toEqual([201, 200]);
    expect(b.body).toMatchObject({ id: a.body.id, deduplicated: true });
    const c = await call(enqueue, 'POST', '/v1/queues/q1/jobs', {
      body: job({ idempotencyKey: 'other' }),
      headers: { 'idempotency-key': 'k-1' },
    });
    expect(c.status).toBe(400);
    expect(c.body.error.details.field).toBe('idempotencyKey');
    const d = await call(enqueue, 'POST', '/v1/queues/q1/jobs', {
      body: { jobs: [job()] },
      headers: { 'idempotency-key': 'k-2' },
    });
    expect(d.status).toBe(400);
    expect(d.body.error.details.field).toBe('Idempotency-Key');
  });

  it('400 names the field (jobs[1].priority), and nothing of the batch is written', async () => {
    const before = (await rt.spool.snapshot(['q2']))[0]!.waiting;
    const r = await call(enqueue, 'POST', '/v1/queues/q2/jobs', { body: { jobs: [job(), job({ priority: 'high' })] } });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      error: {
        code: 'invalid_request',
        message: expect.stringContaining('jobs[1].priority'),
        details: {
          field: 'jobs[1].priority',
          reason: expect.any(String),
          errors: [{ index: 1, field: 'jobs[1].priority', reason: expect.any(String) }],
        },
      },
    });
    expect((await rt.spool.snapshot(['q2']))[0]!.waiting).toBe(before);
  });

  it('400 for a bad queue name, a missing target/handler, malformed JSON, an empty body', async () => {
    expect((await call(enqueue, 'POST', '/v1/queues/bad.name/jobs', { body: job() })).body.error.details.field).toBe(
      'queue',
    );
    expect((await call(enqueue, 'POST', '/v1/queues/q1/jobs', { body: { payload: 1 } })).body.error.details.field).toBe(
      'target',
    );
    const bad = await call(enqueue, 'POST', '/v1/queues/q1/jobs', {
      raw: '{"payload":',
      headers: { 'content-type': 'application/json' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_json');
    const empty = await call(enqueue, 'POST', '/v1/queues/q1/jobs', {
      headers: { 'content-type': 'application/json' },
    });
    expect(empty.status).toBe(400);
  });

  it('accepts a base64-encoded body (API Gateway may send one)', async () => {
    const r = await call(enqueue, 'POST', '/v1/queues/q1/jobs', { body: job(), base64: true });
    expect(r.status).toBe(201);
  });

  it('413 over the payload cap, naming the field', async () => {
    const r = await call(enqueue, 'POST', '/v1/queues/q1/jobs', { body: job({ payload: 'x'.repeat(2000) }) });
    expect(r.status).toBe(413);
    expect(r.body.error).toMatchObject({ code: 'payload_too_large', details: { field: 'payload', limit: 1024 } });
  });

  it('415 when the body is not JSON (by Content-Type)', async () => {
    const r = await call(enqueue, 'POST', '/v1/queues/q1/jobs', {
      raw: 'payload=1',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(r.status).toBe(415);
    expect(r.body.error.code).toBe('unsupported_media_type');
    const none = await call(enqueue, 'POST', '/v1/queues/q1/jobs', { raw: '{}' });
    expect(none.status).toBe(415);
    const plus = await call(enqueue, 'POST', '/v1/queues/q1/jobs', {
      raw: JSON.stringify(job()),
      headers: { 'content-type': 'application/vnd.api+json; charset=utf-8' },
    });
    expect(plus.status).toBe(201);
  });

  it('503 with Retry-After when Redis cannot be reached (every route of every function)', async () => {
    const down = await createRuntime({
      fn: 'local',
      config: loadConfig({ SPOOL_KEY_PREFIX: prefix }),
      redis: createRedis({ url: 'http://127.0.0.1:1', token: 't' }, { failFast: true }),
      kickWorker: async () => {},
      logger: rt.logger,
    });
    const e = await call(createEnqueueHandler(down), 'POST', '/v1/queues/q1/jobs', { body: job() });
    expect(e.status).toBe(503);
    expect(e.headers['retry-after']).toBe('5');
    expect(e.body.error.code).toBe('redis_unavailable');
    for (const [h, m, p] of [
      [createHealthHandler(down), 'GET', '/v1/health'],
      [createHealthHandler(down), 'GET', '/v1/queues'],
      [createEnqueueHandler(down), 'GET', '/v1/queues/q1/jobs/x'],
      [createDlqReplayHandler(down), 'GET', '/v1/queues/q1/dlq'],
      [createPurgeHandler(down), 'POST', '/v1/queues/q1/purge'],
      [createSchedulerHandler(down), 'GET', '/v1/schedules'],
      [createSchedulerHandler(down), 'GET', '/v1/schedules/s1'],
    ] as const) {
      const r = await call(h, m, p);
      expect(r.status, `${m} ${p}`).toBe(503);
      expect(r.headers['retry-after']).toBeDefined();
    }
  });

  it('a burst of 100 enqueues causes one kick', async () => {
    kicks.length = 0;
    const rs = await Promise.all(
      Array.from({ length: 100 }, () => call(enqueue, 'POST', '/v1/queues/burst/jobs', { body: job() })),
    );
    expect(rs.every((r) => r.status === 201)).toBe(true);
    expect(kicks).toEqual([{ queue: 'burst', reason: 'enqueue' }]);
  });
});

describe('job routes', () => {
  it('GET an unknown job: 404', async () => {
    const r = await call(enqueue, 'GET', '/v1/queues/q1/jobs/nope');
    expect(r.status).toBe(404);
    expect(r.body.error).toEqual({ code: 'not_found', message: 'job nope not found', details: {} });
  });

  it('DELETE cancels a waiting job (200), then 404; an active job is a 409', async () => {
    const a = await call(enqueue, 'POST', '/v1/queues/cq/jobs', { body: job() });
    const d = await call(enqueue, 'DELETE', `/v1/queues/cq/jobs/${a.body.id}`);
    expect(d.status).toBe(200);
    expect(d.body).toMatchObject({ cancelled: true, state: 'waiting' });
    expect((await call(enqueue, 'DELETE', `/v1/queues/cq/jobs/${a.body.id}`)).status).toBe(404);
    await call(enqueue, 'POST', '/v1/queues/cq/jobs', { body: job() });
    const [leased] = (await rt.spool.lease('cq', { count: 1 })).jobs;
    const c = await call(enqueue, 'DELETE', `/v1/queues/cq/jobs/${leased!.id}`);
    expect(c.status).toBe(409);
    expect(c.body.error).toMatchObject({ code: 'conflict', details: { state: 'active' } });
  });

  it('GET list pages through a state with a cursor; bad state/limit/cursor are 400s', async () => {
    await call(enqueue, 'POST', '/v1/queues/lq/jobs', { body: { jobs: [job(), job(), job()] } });
    const p1 = await call(enqueue, 'GET', '/v1/queues/lq/jobs', { query: 'state=waiting&limit=2' });
    expect(p1.status).toBe(200);
    expect(p1.body).toMatchObject({ queue: 'lq', state: 'waiting', total: 3 });
    expect(p1.body.jobs).toHaveLength(2);
    const p2 = await call(enqueue, 'GET', '/v1/queues/lq/jobs', { query: `limit=2&cursor=${p1.body.nextCursor}` });
    expect(p2.body.jobs).toHaveLength(1);
    expect(p2.body.nextCursor).toBeUndefined();
    expect(
      (await call(enqueue, 'GET', '/v1/queues/lq/jobs', { query: 'state=sleeping' })).body.error.details.field,
    ).toBe('state');
    expect((await call(enqueue, 'GET', '/v1/queues/lq/jobs', { query: 'limit=0' })).body.error.details.field).toBe(
      'limit',
    );
    expect((await call(enqueue, 'GET', '/v1/queues/lq/jobs', { query: 'cursor=zzz' })).body.error.details.field).toBe(
      'cursor',
    );
  });

  it('target header values are redacted when a job is shown', async () => {
    const a = await call(enqueue, 'POST', '/v1/queues/q1/jobs', {
      body: { target: { url: 'https://example.com/hook', headers: { Authorization: 'Bearer s3cret' } } },
    });
    const g = await call(enqueue, 'GET', `/v1/queues/q1/jobs/${a.body.id}`);
    expect(g.body.target).toEqual({
      url: 'https://example.com/hook',
      method: 'POST',
      headers: { Authorization: '[redacted]' },
    });
    expect(JSON.stringify(g.body)).not.toContain('s3cret');
  });
});

describe('routing', () => {
  it('unknown paths are JSON 404s; known paths with a wrong method are 405 with Allow (fallback: health)', async () => {
    const r = await call(health, 'GET', '/v2/nothing');
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('not_found');
    const m = await call(health, 'PUT', '/v1/queues/q1/jobs');
    expect(m.status).toBe(405);
    expect(m.headers.allow).toBe('GET, POST');
    expect(m.body.error).toMatchObject({ code: 'method_not_allowed', details: { allow: ['GET', 'POST'] } });
    expect((await call(health, 'PATCH', '/v1/health')).status).toBe(405);
  });

  it('every route of ROUTES is served by its function and answers 404 elsewhere', async () => {
    const byFn = { enqueue, health, 'dlq-replay': dlq, purge, worker, scheduler } as const;
    const schedule = { queue: 'rq', everyMs: 60_000, job: job() };
    for (const route of ROUTES) {
      const path = route.path.replace('{queue}', 'rq').replace('{id}', 'nope');
      const body = route.path.endsWith('/jobs')
        ? job()
        : route.path === '/v1/schedules'
          ? { id: 'rq-every-minute', ...schedule }
          : route.path.startsWith('/v1/schedules/')
            ? schedule
            : {};
      const r = await call(
        byFn[route.fn],
        route.method,
        path,
        route.method === 'POST' || route.method === 'PUT'
          ? { body }
          : route.path === '/v1/queues/{queue}'
            ? { query: 'confirm=rq' }
            : {},
      );
      expect([200, 201, 202, 404].includes(r.status), `${route.method} ${path}: ${r.status}`).toBe(true);
      if (r.status === 404) expect(r.body.error.message).toContain('nope');
      const other = route.fn === 'health' ? enqueue : health;
      expect((await call(other, route.method, path)).status).toBe(404);
    }
  });
});

describe('GET and PUT /v1/queues/{queue}/settings', () => {
  it('answer the whole settings; PUT merges, null clears; a resume with jobs waiting kicks a worker', async () => {
    const g = await call(enqueue, 'GET', '/v1/queues/sq/settings');
    expect(g.status).toBe(200);
    expect(g.body).toEqual({ queue: 'sq', paused: false, rateLimit: null, maxConcurrency: null, ...DEFAULT_BREAKERS });
    const p = await call(enqueue, 'PUT', '/v1/queues/sq/settings', { body: { paused: true, maxConcurrency: 4 } });
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({
      queue: 'sq',
      paused: true,
      rateLimit: null,
      maxConcurrency: 4,
      ...DEFAULT_BREAKERS,
    });
    expect(p.body.pausedAt).toMatch(/Z$/);
    await call(enqueue, 'POST', '/v1/queues/sq/jobs', { body: job() });
    kicks.length = 0;
    const r = await call(enqueue, 'PUT', '/v1/queues/sq/settings', {
      body: { paused: false, rateLimit: { limit: 10, periodMs: 60_000 } },
    });
    expect(r.body).toEqual({
      queue: 'sq',
      paused: false,
      rateLimit: { limit: 10, periodMs: 60_000 },
      maxConcurrency: 4,
      ...DEFAULT_BREAKERS,
    });
    expect(kicks).toEqual([{ queue: 'sq', reason: 'settings' }]);
    const c = await call(enqueue, 'PUT', '/v1/queues/sq/settings', { body: { rateLimit: null } });
    expect(c.body).toEqual({ queue: 'sq', paused: false, rateLimit: null, maxConcurrency: 4, ...DEFAULT_BREAKERS });
  });

  it('a bad or unknown field is a 400 naming it, and writes nothing', async () => {
    for (const [body, field] of [
      [{ paused: 1 }, 'paused'],
      [{ maxConcurrency: -1 }, 'maxConcurrency'],
      [{ rateLimit: { limit: 5, periodMs: 10 } }, 'rateLimit.periodMs'],
      [{ speed: 'fast' }, 'speed'],
    ] as const) {
      const r = await call(enqueue, 'PUT', '/v1/queues/sq2/settings', { body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'invalid_request', details: { field } });
    }
    expect((await call(enqueue, 'GET', '/v1/queues/sq2/settings')).body).toEqual({
      queue: 'sq2',
      paused: false,
      rateLimit: null,
      maxConcurrency: null,
      ...DEFAULT_BREAKERS,
    });
  });
});

describe('queues, health, drain, purge and DLQ routes', () => {
  it('GET /v1/queues lists every queue with its counts', async () => {
    const r = await call(health, 'GET', '/v1/queues');
    expect(r.status).toBe(200);
    const q1 = r.body.queues.find((q: { queue: string }) => q.queue === 'q1');
    expect(q1.counts).toEqual({ waiting: expect.any(Number), delayed: 0, active: 0, completed: 0, dead: 0 });
    expect(q1.counts.waiting).toBeGreaterThan(0);
    expect(q1.counters.enqueued).toBeGreaterThanOrEqual(q1.counts.waiting);
    expect(q1.counters).toMatchObject({ completed: 0, dead: 0, deadTrimmed: 0 });
  });

  it('GET /v1/health: 200 with the verdict in the body, unhealthy included (503 is for Redis unreachable)', async () => {
    const { rt: hrt } = await testRuntime('api-health', {
      SPOOL_HEALTH_WAITING_DEGRADED: '1',
      SPOOL_HEALTH_WAITING_UNHEALTHY: '2',
    });
    const h = createHealthHandler(hrt);
    expect((await call(h, 'GET', '/v1/health')).body).toMatchObject({ status: 'healthy', queues: [] });
    await hrt.spool.enqueue('hq', [job(), job()]);
    const d = await call(h, 'GET', '/v1/health');
    expect(d.status).toBe(200);
    expect(d.body.status).toBe('degraded');
    expect(d.body.queues[0].symptoms[0]).toMatchObject({
      check: 'waiting',
      status: 'degraded',
      value: 2,
      threshold: 1,
    });
    await hrt.spool.enqueue('hq', job());
    const u = await call(h, 'GET', '/v1/health', { query: 'history=5' });
    expect(u.status).toBe(200);
    expect(u.body.status).toBe('unhealthy');
    expect(u.body.history).toEqual([]);
  });

  it('POST drain answers 202 and kicks a worker for the queue; the worker itself serves no HTTP', async () => {
    kicks.length = 0;
    const r = await call(enqueue, 'POST', '/v1/queues/q1/drain');
    expect(r.status).toBe(202);
    expect(kicks).toEqual([{ queue: 'q1', reason: 'drain' }]);
    const w = await call(worker, 'POST', '/v1/queues/q1/drain');
    expect(w.status).toBe(404);
    expect(kicks).toHaveLength(1);
  });

  it('POST purge: dry run by default, reports counts; unknown fields are 400', async () => {
    const r = await call(purge, 'POST', '/v1/queues/q1/purge');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      queue: 'q1',
      dryRun: true,
      queues: { q1: { completed: 0, orphans: 0, rounds: 1 } },
    });
    const bad = await call(purge, 'POST', '/v1/queues/q1/purge', { body: { dryRun: false, everything: true } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.field).toBe('everything');
  });

  it('DLQ: groups by fingerprint, replays (dry run first, audited), deletes', async () => {
    const out = await rt.spool.enqueue('dq', [job(), job(), job()]);
    const leased = (await rt.spool.lease('dq', { count: 3 })).jobs;
    await rt.spool.fail(
      'dq',
      leased.map((j, i) => ({
        id: j.id,
        token: j.token,
        error: { message: i < 2 ? 'HTTP 400 bad input' : 'boom', class: 'HttpError', retryable: false },
      })),
    );
    const g = await call(dlq, 'GET', '/v1/queues/dq/dlq', { query: 'samples=1' });
    expect(g.status).toBe(200);
    expect(g.body.total).toBe(3);
    expect(g.body.groups.map((x: { count: number }) => x.count)).toEqual([2, 1]);
    expect(g.body.groups[0].samples[0].lastError.at).toMatch(/Z$/);
    const fp = g.body.groups[0].fingerprint;

    const dry = await call(dlq, 'POST', '/v1/queues/dq/dlq/replay', {
      body: { fingerprint: fp },
      caller: 'arn:aws:iam::123456789012:user/ops',
    });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true, matched: 2, moved: 0, byFingerprint: { [fp]: 2 } });
    const real = await call(dlq, 'POST', '/v1/queues/dq/dlq/replay', { body: { fingerprint: fp, dryRun: false } });
    expect(real.body).toMatchObject({ dryRun: false, matched: 2, moved: 2 });
    expect((await rt.spool.snapshot(['dq']))[0]).toMatchObject({ waiting: 2, dead: 1 });
    expect(kicks.at(-1)).toEqual({ queue: 'dq', reason: 'replay' });
    const audit = (
      (await rt.spool.redis.lrange(queueKey(prefix, 'dq', 'auditDlqReplay'), 0, -1)) as unknown as Array<
        Record<string, unknown>
      >
    ).filter((a) => a.queue === 'dq');
    expect(audit).toHaveLength(2);
    expect(audit[1]).toMatchObject({
      actor: 'arn:aws:iam::123456789012:user/ops',
      queue: 'dq',
      dryRun: true,
      matched: 2,
      moved: 0,
      selection: { fingerprint: fp, dryRun: true, limit: 100 },
    });
    expect(audit[0]).toMatchObject({ actor: 'anonymous', dryRun: false, moved: 2 });

    const deadId = out.jobs.find((j) => !real.body.jobs.some((x: { id: string }) => x.id === j.id))!.id;
    expect((await call(dlq, 'DELETE', `/v1/queues/dq/dlq/${deadId}`)).status).toBe(200);
    expect((await call(dlq, 'DELETE', `/v1/queues/dq/dlq/${deadId}`)).status).toBe(404);
    expect(
      (await call(dlq, 'POST', '/v1/queues/dq/dlq/replay', { body: { limit: 5000 } })).body.error.details.field,
    ).toBe('limit');
  });

  it('dlq-replay invoked directly takes the same input (plus queue, actor)', async () => {
    const r = (await dlq(
      { queue: 'dq', dryRun: true, failedAfter: '2020-01-01T00:00:00Z', actor: 'cli' },
      lambdaContext(60_000, 'dlq-replay'),
    )) as { dryRun: boolean; matched: number };
    expect(r).toMatchObject({ dryRun: true, matched: 0 });
    await expect(dlq({ queue: 'dq', bogus: 1 }, lambdaContext())).rejects.toThrow(/bogus/);
  });
});
