/**
 * The local server in-process (startLocal) against the test endpoint, under a unique key prefix:
 * demo targets, API Gateway behaviour, and the README's curl examples — a job to /demo/echo
 * completes, one to /demo/fail lands in the DLQ, /demo/flaky retries — with the worker kick
 * in-process and the schedules run by hand. CloudWatch and SNS go to the log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServer, startLocal } from '../../local/server.js';
import { cleanupPrefix, uniquePrefix, upstashConfig } from '../helpers/redis.js';

const prefix = uniquePrefix('local');
const lines: string[] = [];
let local: LocalServer;
// /demo/flaky fails when random() < 0.5: this sequence fails, succeeds, fails, succeeds...
let flip = 0;

beforeAll(async () => {
  local = await startLocal({
    port: 0,
    upstash: upstashConfig(),
    env: { SPOOL_KEY_PREFIX: prefix, SPOOL_BACKOFF_BASE_MS: '0', SPOOL_HEALTH_DEAD_DEGRADED: '0', LOG_LEVEL: 'WARN' },
    schedules: false,
    log: (l) => lines.push(l),
    random: () => (flip++ % 2 === 0 ? 0.1 : 0.9),
  });
});

afterAll(async () => {
  await local?.close();
  await cleanupPrefix(prefix);
});

async function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${local.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, headers: res.headers };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${lines.slice(-20).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function jobState(queue: string, id: string): Promise<any> {
  return (await call('GET', `/v1/queues/${queue}/jobs/${id}`)).json;
}

describe('demo targets', () => {
  it('echo answers 200 with what it got', async () => {
    const r = await call('POST', '/demo/echo', { hello: 'world' });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ ok: true, echo: { method: 'POST', body: { hello: 'world' } } });
  });

  it('flaky fails about half the time with 500, fail always answers 400, slow waits', async () => {
    const flaky = [await call('POST', '/demo/flaky'), await call('POST', '/demo/flaky')];
    expect(flaky.map((r) => r.status).sort()).toEqual([200, 500]);
    expect((await call('POST', '/demo/fail')).status).toBe(400);
    const slow = await call('POST', '/demo/slow?ms=150');
    expect(slow.status).toBe(200);
    expect(slow.json).toEqual({ ok: true, sleptMs: 150 });
    expect((await call('POST', '/demo/nope')).status).toBe(404);
  });
});

describe('API Gateway behaviour', () => {
  it('answers an unknown path through the fallback function with a JSON 404, and a wrong method with 405', async () => {
    const r = await call('GET', '/nowhere');
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toContain('application/json');
    expect(r.headers.get('apigw-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    const m = await call('PUT', '/v1/queues/q/jobs');
    expect(m.status).toBe(405);
  });

  it('serves the dashboard page', async () => {
    const res = await fetch(`${local.url}/dashboard`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('<title>Spool');
  });
});

describe("the README's curl examples", () => {
  it('a job to /demo/echo completes (the kick runs the worker in-process)', async () => {
    const r = await call('POST', '/v1/queues/demo/jobs', {
      target: { url: `${local.url}/demo/echo` },
      payload: { hello: 'world' },
    });
    expect(r.status).toBe(201);
    const id = r.json.id as string;
    const job = await until('the echo job to complete', async () => {
      const j = await jobState('demo', id);
      return j.state === 'completed' ? j : undefined;
    });
    expect(job).toMatchObject({ id, state: 'completed', attempts: 1 });
  });

  it('a job to /demo/fail lands in the DLQ with its failure', async () => {
    const r = await call('POST', '/v1/queues/demo-fail/jobs', {
      target: { url: `${local.url}/demo/fail` },
      payload: { n: 1 },
    });
    expect(r.status).toBe(201);
    const id = r.json.id as string;
    const job = await until('the failing job to be dead', async () => {
      const j = await jobState('demo-fail', id);
      return j.state === 'dead' ? j : undefined;
    });
    expect(job.lastError).toMatchObject({ retryable: false });
    const dlq = await call('GET', '/v1/queues/demo-fail/dlq');
    expect(dlq.status).toBe(200);
    expect(JSON.stringify(dlq.json)).toContain(id);
  });

  it('a job to /demo/flaky retries and completes (the worker schedule picks the retry up)', async () => {
    const r = await call('POST', '/v1/queues/demo-flaky/jobs', {
      target: { url: `${local.url}/demo/flaky` },
      maxAttempts: 5,
    });
    const id = r.json.id as string;
    const job = await until('the flaky job to complete', async () => {
      const j = await jobState('demo-flaky', id);
      if (j.state === 'completed') return j;
      if (j.state === 'delayed' || j.state === 'waiting') await local.runSchedule('worker');
      return undefined;
    });
    expect(job.attempts).toBeGreaterThanOrEqual(2);
    expect(job.lastError).toBeDefined();
  });

  it('the health schedule writes its CloudWatch metrics and SNS tickets to the log in the shape they would be sent', async () => {
    // A status is announced once it has held for SPOOL_HEALTH_NOTIFY_AFTER_RUNS (3) runs.
    for (let i = 0; i < 3; i++) await local.runSchedule('health');
    const metric = lines.find((l) => l.startsWith('[cloudwatch] PutMetricData '));
    expect(metric).toBeDefined();
    const input = JSON.parse(metric!.slice('[cloudwatch] PutMetricData '.length));
    expect(input.Namespace).toBe('Spool');
    expect(input.MetricData.some((d: any) => d.MetricName === 'HealthHeartbeat')).toBe(true);
    expect(
      input.MetricData.some(
        (d: any) => d.Dimensions?.[0]?.Value === 'demo-fail' && d.MetricName === 'DeadJobs' && d.Value === 1,
      ),
    ).toBe(true);
    // One dead job is over SPOOL_HEALTH_DEAD_DEGRADED=0: demo-fail is degraded, which is a ticket.
    const ticket = lines.find((l) => l.startsWith('[sns] Publish ') && l.includes('demo-fail'));
    expect(ticket).toBeDefined();
    const publish = JSON.parse(ticket!.slice('[sns] Publish '.length));
    expect(publish.TopicArn).toBe('arn:aws:sns:local:000000000000:spool-local-tickets');
    expect(publish.Subject).toContain('TICKET queue demo-fail is degraded');
    expect(publish.Message).toContain('dead jobs');
  });
});
