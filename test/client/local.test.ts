/**
 * The producer client against the local server (real handlers, real Redis through the local
 * Upstash endpoint): every method, i.e. every route of ROUTES, and every answer parsed with the
 * response schema the OpenAPI document is generated from, which must keep every field (a field
 * the schema does not know would be dropped by the parse and fail the comparison).
 */

import { SpoolApiError, SpoolClient } from 'spool/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as z from 'zod/mini';
import { CONTRACT } from '../../functions/lib/contract.js';
import * as s from '../../functions/lib/schemas.js';
import { ROUTES } from '../../functions/routes.js';
import { type LocalServer, startLocal } from '../../local/server.js';
import { cleanupPrefix, uniquePrefix, upstashConfig } from '../helpers/redis.js';

/** GET settings beside the fields a test sets: the breakers' defaults, no breaker yet, no automatic replay. */
const DEFAULT_BREAKERS = {
  maxWaitMs: null,
  circuitBreaker: { enabled: true, failures: 5, coolDownMs: 10_000, maxCoolDownMs: 300_000 },
  breakers: [],
  autoReplay: null,
};

const prefix = uniquePrefix('client');
let local: LocalServer;
let client: SpoolClient;
const called = new Set<string>();

beforeAll(async () => {
  local = await startLocal({
    port: 0,
    upstash: upstashConfig(),
    env: { SPOOL_KEY_PREFIX: prefix, SPOOL_BACKOFF_BASE_MS: '0', LOG_LEVEL: 'SILENT' },
    schedules: false,
    log: () => {},
  });
  // Records which route each request was, to prove that the methods cover ROUTES.
  const recording: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    const path = url.pathname.replace(/\/v1\/queues\/[^/]+/, '/v1/queues/{queue}');
    const key = `${init?.method} ${path.replace(/\/(jobs|dlq|schedules)\/(?!replay)[^/]+(\/run)?$/, '/$1/{id}$2')}`;
    called.add(key);
    return fetch(input, init);
  };
  client = new SpoolClient({ baseUrl: local.url, fetch: recording });
});

afterAll(async () => {
  await local?.close();
  await cleanupPrefix(prefix);
});

/** The body parses with `schema` and nothing is lost in the parse. */
function expectShape<S extends z.ZodMiniType>(schema: S, body: unknown): z.output<S> {
  const r = schema.safeParse(body);
  if (!r.success)
    throw new Error(`answer does not match its schema: ${JSON.stringify(r.error.issues)}\n${JSON.stringify(body)}`);
  expect(r.data).toEqual(body);
  return r.data as z.output<S>;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('SpoolClient against the local server', () => {
  it('jobs: enqueue (single, duplicate, batch), get, list with paging, cancel, run now, drain', async () => {
    const target = { url: `${local.url}/demo/echo`, headers: { authorization: 'Bearer x' } };
    const one = expectShape(s.enqueueResponse, await client.enqueue('c-jobs', { target, payload: { n: 1 } }));
    expect(one).toMatchObject({ queue: 'c-jobs', deduplicated: false });
    const again = await client.enqueue('c-jobs', { target, payload: { n: 1 } }, { idempotencyKey: 'k-1' });
    expect(
      (await client.enqueue('c-jobs', { target, payload: { n: 1 } }, { idempotencyKey: 'k-1' })).deduplicated,
    ).toBe(true);
    expect(again.deduplicated).toBe(false);

    const done = await until('the echo job to complete', async () => {
      const j = await client.getJob('c-jobs', one.id);
      return j.state === 'completed' ? j : undefined;
    });
    expectShape(s.jobResponse, done);
    expect(done.target?.headers).toEqual({ authorization: '[redacted]' });

    const later = { handler: 'echo', delayMs: 3_600_000 };
    const batch = expectShape(s.enqueueBatchResponse, await client.enqueueBatch('c-jobs', [later, later, later]));
    expect(batch.jobs.map((j) => j.state)).toEqual(['delayed', 'delayed', 'delayed']);
    const page = expectShape(s.jobPageResponse, await client.listJobs('c-jobs', { state: 'delayed', limit: 2 }));
    expect(page.jobs).toHaveLength(2);
    expect(page.nextCursor).toBeTruthy();
    const all: string[] = [];
    for await (const j of client.jobs('c-jobs', { state: 'delayed', limit: 2 })) all.push(j.id);
    expect(all.sort()).toEqual(batch.jobs.map((j) => j.id).sort());

    expectShape(s.cancelResponse, await client.cancelJob('c-jobs', batch.jobs[0]!.id));
    const conflict = (await client.cancelJob('c-jobs', one.id).catch((e: unknown) => e)) as SpoolApiError;
    expect([conflict.status, conflict.code]).toEqual([409, 'conflict']);
    const ran = expectShape(s.runResponse, await client.runJob('c-jobs', batch.jobs[1]!.id));
    expect(ran).toEqual({ queue: 'c-jobs', id: batch.jobs[1]!.id, state: 'waiting' });
    const notDelayed = (await client.runJob('c-jobs', one.id).catch((e: unknown) => e)) as SpoolApiError;
    expect([notDelayed.status, notDelayed.details.state]).toEqual([409, 'completed']);
    expectShape(s.drainResponse, await client.drain('c-jobs'));
  });

  it('errors carry the code, message and details of the answer, which match the error schema', async () => {
    const err = (await client
      .enqueue('c-jobs', { handler: 'echo', priority: 5000 })
      .catch((e: unknown) => e)) as SpoolApiError;
    expect(err).toBeInstanceOf(SpoolApiError);
    expect([err.status, err.code, err.details.field]).toEqual([400, 'invalid_request', 'priority']);
    expectShape(s.errorResponse, { error: { code: err.code, message: err.message, details: err.details } });
    const missing = (await client.getJob('c-jobs', 'nope').catch((e: unknown) => e)) as SpoolApiError;
    expect([missing.status, missing.code]).toEqual([404, 'not_found']);
  });

  it('queues, health, DLQ (groups, replay, delete), purge, metrics and the OpenAPI document', async () => {
    const dead = await client.enqueue('c-dlq', { target: { url: `${local.url}/demo/fail` }, payload: {} });
    const second = await client.enqueue('c-dlq', { target: { url: `${local.url}/demo/fail` }, payload: {} });
    await until('both jobs to be dead', async () => {
      const [a, b] = await Promise.all([client.getJob('c-dlq', dead.id), client.getJob('c-dlq', second.id)]);
      return a.state === 'dead' && b.state === 'dead' ? true : undefined;
    });
    const idle = expectShape(s.workersResponse, await client.listWorkers('c-dlq'));
    expect(idle.queue).toBe('c-dlq');
    const queues = expectShape(s.queuesResponse, await client.listQueues());
    expect(queues.queues.map((q) => q.queue)).toEqual(expect.arrayContaining(['c-dlq']));
    const health = expectShape(s.healthResponse, await client.health({ history: 5 }));
    expect(health.queues.map((q) => q.queue)).toContain('c-dlq');

    const groups = expectShape(s.deadGroupsResponse, await client.deadGroups('c-dlq', { samples: 2 }));
    expect(groups.total).toBe(2);
    const dry = expectShape(s.replayResponse, await client.replay('c-dlq'));
    expect([dry.dryRun, dry.matched, dry.moved]).toEqual([true, 2, 0]);
    expectShape(s.deleteDeadResponse, await client.deleteDead('c-dlq', second.id));
    const moved = expectShape(s.replayResponse, await client.replay('c-dlq', { dryRun: false, ids: [dead.id] }));
    expect(moved.moved).toBe(1);
    expectShape(s.purgeResponse, await client.purge('c-dlq', { dryRun: true }));

    const metrics = await client.metrics();
    expect(metrics).toContain('# TYPE spool_jobs gauge');
    expect(metrics).toMatch(/^spool_jobs_total\{queue="c-dlq",event="enqueued"\} 2$/m);
    expectShape(s.openApiResponse, await client.openApi());
    const cleared = expectShape(s.clearResponse, await client.clearQueue('c-dlq', { includeDead: true }));
    expect(cleared.queue).toBe('c-dlq');
    expect((await client.deadGroups('c-dlq')).total).toBe(0);
  });

  it('settings: pause holds an enqueued job; resume runs it', async () => {
    const p = expectShape(s.settingsResponse, await client.putSettings('c-flow', { paused: true, maxConcurrency: 2 }));
    expect(p).toMatchObject({ queue: 'c-flow', paused: true, maxConcurrency: 2, rateLimit: null });
    const j = await client.enqueue('c-flow', { handler: 'echo', payload: { n: 1 } });
    expect((await client.getJob('c-flow', j.id)).state).toBe('waiting');
    const bad = (await client.putSettings('c-flow', { maxConcurrency: 0 }).catch((e: unknown) => e)) as SpoolApiError;
    expect([bad.status, bad.details.field]).toEqual([400, 'maxConcurrency']);
    expectShape(s.settingsResponse, await client.putSettings('c-flow', { paused: false }));
    await until('the resumed job to complete', async () =>
      (await client.getJob('c-flow', j.id)).state === 'completed' ? true : undefined,
    );
    expect(expectShape(s.settingsResponse, await client.getSettings('c-flow'))).toEqual({
      queue: 'c-flow',
      paused: false,
      rateLimit: null,
      maxConcurrency: 2,
      ...DEFAULT_BREAKERS,
    });
  });

  it('schedules: put (create, replace), create, list by queue, get, delete; target headers redacted', async () => {
    const job = { target: { url: `${local.url}/demo/echo`, headers: { authorization: 'Bearer x' } }, payload: {} };
    // Paused: the test looks at the definitions, not at fires.
    const put = expectShape(
      s.scheduleResponse,
      await client.putSchedule('c-nightly', { queue: 'c-sched', cron: '0 3 * * *', job, paused: true }),
    );
    expect(put).toMatchObject({ id: 'c-nightly', queue: 'c-sched', timezone: 'UTC', paused: true, nextRunAt: null });
    expect(put.job.target?.headers).toEqual({ authorization: '[redacted]' });
    const replaced = await client.putSchedule('c-nightly', {
      queue: 'c-sched',
      cron: '0 4 * * *',
      job,
      paused: true,
    });
    expect(replaced.cron).toBe('0 4 * * *');
    const made = expectShape(
      s.scheduleResponse,
      await client.createSchedule({ id: 'c-hourly', queue: 'c-sched', everyMs: 3_600_000, job, paused: true }),
    );
    expect(made).toMatchObject({ id: 'c-hourly', everyMs: 3_600_000, fires: 0, lastRunAt: null });
    const twice = (await client
      .createSchedule({ id: 'c-hourly', queue: 'c-sched', everyMs: 60_000, job })
      .catch((e: unknown) => e)) as SpoolApiError;
    expect([twice.status, twice.code]).toEqual([409, 'conflict']);
    const list = expectShape(s.schedulesResponse, await client.listSchedules({ queue: 'c-sched' }));
    expect(list.schedules.map((x) => x.id)).toEqual(['c-hourly', 'c-nightly']);
    expect(expectShape(s.scheduleResponse, await client.getSchedule('c-hourly'))).toEqual(made);
    expectShape(s.scheduleDeletedResponse, await client.deleteSchedule('c-hourly'));
    expect(await client.deleteSchedule('c-nightly')).toEqual({ id: 'c-nightly', deleted: true });
    const gone = (await client.getSchedule('c-hourly').catch((e: unknown) => e)) as SpoolApiError;
    expect([gone.status, gone.code]).toEqual([404, 'not_found']);
  });

  it('the methods above called every route of ROUTES', () => {
    // Runs after the tests above (vitest runs a file's tests in order).
    expect([...called].sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    expect(Object.keys(CONTRACT).sort()).toEqual([...called].sort());
  });
});
