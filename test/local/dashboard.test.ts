/**
 * The dashboard in a real headless browser: Debian's chromium driven by playwright-core, against the
 * local server. Queues worst first with reasons linking to them, job lists with paging, DLQ replay
 * (what it moves, what it leaves, permanent failures), purge results in their own queue's panel, a
 * page per job with its actions, the schedules with their next run, "unknown" when the API answers
 * 503, and no horizontal scrolling at 390 px. Keeps screenshots in test/artifacts/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorResponse } from '../../functions/lib/http.js';
import { type LocalServer, startLocal } from '../../local/server.js';
import { RedisUnavailableError } from '../../shared/queue/errors.js';
import { type JobInput, Spool } from '../../shared/queue/index.js';
import { cleanupPrefix, testRedis, uniquePrefix, upstashConfig } from '../helpers/redis.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
const prefix = uniquePrefix('dashboard');
let local: LocalServer;
let browser: Browser;
let spool: Spool;
const ids: Record<string, string[]> = {};

/** Enqueues jobs (no worker kick) and, with `fail`, leases and fails them into the DLQ. */
async function make(queue: string, jobs: JobInput[], fail?: { message: string; retryable: boolean }) {
  const made: string[] = [];
  for (let i = 0; i < jobs.length; i += 1000) {
    const out = await spool.enqueue(queue, jobs.slice(i, i + 1000), { kick: false });
    made.push(...out.jobs.map((j) => j.id));
  }
  if (fail) {
    for (let left = made.length; left > 0; ) {
      const { jobs: leased } = await spool.lease(queue, { count: Math.min(1000, left) });
      await spool.fail(
        queue,
        leased.map((j) => ({ id: j.id, token: j.token, error: { class: 'HttpError', ...fail } })),
      );
      left -= leased.length;
    }
  }
  return made;
}

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`).toBe(true);
  local = await startLocal({
    port: 0,
    upstash: upstashConfig(),
    // Any dead job is degraded, more than 2 unhealthy.
    env: {
      SPOOL_KEY_PREFIX: prefix,
      LOG_LEVEL: 'WARN',
      SPOOL_HEALTH_DEAD_DEGRADED: '0',
      SPOOL_HEALTH_DEAD_UNHEALTHY: '2',
    },
    schedules: false,
    log: () => {},
  });
  spool = new Spool(testRedis(), { config: { prefix } });
  const permanent = { message: 'HTTP 400 from target', retryable: false };
  const echo = (n: number): JobInput => ({ handler: 'echo', payload: { n } });
  ids.alpha = await make(
    'alpha',
    Array.from({ length: 30 }, (_, n) => echo(n)),
  );
  ids.batch = await make('batch', [echo(1)], permanent);
  ids.bulk = await make(
    'bulk',
    Array.from({ length: 1001 }, (_, n) => echo(n)),
    permanent,
  );
  ids.webhooks = await make(
    'webhooks',
    [1, 2, 3].map((n) => ({
      payload: { n, note: 'x'.repeat(300) },
      target: {
        url: `${local.url}/demo/fail?token=abc123&n=${n}`,
        headers: { authorization: 'Bearer s3cret-token' },
      },
    })),
    permanent,
  );
  // A queue no worker is ever kicked for (the replay of webhooks kicks one for webhooks).
  ids.idleWaiting = await make('idle', [echo(4)]);
  ids.idleDelayed = await make('idle', [
    { ...echo(5), delayMs: 3_600_000 },
    { ...echo(6), delayMs: 3_600_000 },
  ]);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await local?.close();
  await cleanupPrefix(prefix);
});

async function open(width: number, hash = '#/'): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  // A step that cannot happen fails with its own message before the test's timeout.
  page.setDefaultTimeout(20_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${local.url}/dashboard${hash}`);
  return { page, errors };
}
/** Waits for a value (the page refreshes every 2 s); the bound is generous, not a timing claim. */
const until = <T>(fn: () => Promise<T>) => expect.poll(fn, { timeout: 20_000, interval: 100 });
const scrollWidth = (page: Page) => page.evaluate(() => document.scrollingElement!.scrollWidth);
const text = (page: Page, sel: string) => page.locator(sel).first().textContent();
const jobState = async (queue: string, id: string) => {
  const res = await fetch(`${local.url}/v1/queues/${queue}/jobs/${id}`);
  return res.status === 404 ? 'gone' : ((await res.json()) as { state: string }).state;
};
function shot(page: Page, name: string) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });
}

describe('overview', () => {
  it('sorts queues worst first and links each health reason to its queue', { timeout: 60_000 }, async () => {
    const { page, errors } = await open(1280);
    await page.locator('#queues tr[data-queue="alpha"]').waitFor();
    const order = await page
      .locator('#queues tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-queue')));
    // bulk and webhooks are unhealthy (bulk has more dead jobs), batch degraded, alpha and idle healthy.
    expect(order).toEqual(['bulk', 'webhooks', 'batch', 'alpha', 'idle']);
    expect(await text(page, '#queues tr[data-queue="webhooks"] .status')).toContain('unhealthy');
    expect(await text(page, '#queues tr[data-queue="webhooks"] td[data-state="dead"]')).toBe('3');
    expect(await text(page, '#overall')).toBe('unhealthy');

    const reason = page.locator('#health .health-queue[data-queue="batch"] ul.reasons a').first();
    expect(await reason.textContent()).toContain('degraded: dead jobs = 1 jobs (above 0 jobs)');
    await reason.click();
    await page.locator('#queue-head[data-queue="batch"]').waitFor();
    expect(new URL(page.url()).hash).toBe('#/queues/batch');
    await page.goto(`${local.url}/dashboard#/`);
    await until(() => text(page, '#schedules')).toContain('No schedules.');
    await shot(page, 'dashboard');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('says "unknown", with the age of its data, while the API answers 503; recovers after', {
    timeout: 60_000,
  }, async () => {
    const { page, errors } = await open(1280);
    await until(() => text(page, '#overall')).toBe('unhealthy');
    // What the API answers when Redis cannot be reached (the functions' own error answer).
    const down = errorResponse(new RedisUnavailableError(new Error('fetch failed')));
    await page.route('**/v1/**', (route) =>
      route.fulfill({
        status: down.status,
        headers: { 'content-type': 'application/json', ...down.headers },
        body: JSON.stringify(down.body),
      }),
    );
    await until(() => text(page, '#overall')).toBe('unknown');
    expect(await text(page, '#error')).toContain('503 Redis is unavailable');
    expect(await text(page, '#error')).toMatch(/The figures below are from \d+s ago; their status is unknown/);
    expect(await text(page, '#freshness')).toMatch(/refresh failing · data from \d+s ago/);
    // No queue stays coloured by its last verdict.
    const statuses = await page.locator('#queues .status .badge').allTextContents();
    expect(statuses).toEqual(['unknown', 'unknown', 'unknown', 'unknown', 'unknown']);
    await page.unroute('**/v1/**');
    await until(() => text(page, '#overall')).toBe('unhealthy');
    expect(await page.locator('#error').count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('a queue', () => {
  it('lists every state with paging', { timeout: 60_000 }, async () => {
    const { page, errors } = await open(1280, '#/queues/alpha?state=waiting');
    await until(() => text(page, '#page-info')).toBe('1–25 of 30 waiting');
    await page.locator('button[data-act="page-next"]').click();
    await until(() => text(page, '#page-info')).toBe('26–30 of 30 waiting');
    const second = await page
      .locator('.job-list tr[data-job]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-job')));
    expect(second).toEqual(ids.alpha!.slice(25));
    await page.locator('button[data-act="page-prev"]').click();
    await until(() => text(page, '#page-info')).toBe('1–25 of 30 waiting');
    for (const [queue, state, n] of [
      ['idle', 'waiting', 1],
      ['idle', 'delayed', 2],
      ['idle', 'active', 0],
      ['idle', 'completed', 0],
      ['webhooks', 'dead', 3],
    ] as const) {
      await page.goto(`${local.url}/dashboard#/queues/${queue}?state=${state}`);
      await until(() => text(page, '#page-info')).toBe(`${n ? `1–${n}` : '0'} of ${n} ${state}`);
    }
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a replay says how many it moves and what it leaves, and warns about permanent failures', {
    timeout: 60_000,
  }, async () => {
    const { page, errors } = await open(1280, '#/queues/bulk?state=dead');
    const group = page.locator('table.dlq-groups tr[data-fingerprint]');
    await group.first().waitFor();
    await group.first().locator('button[data-act="replay-dry"]').click();
    // The result shows right under the group that produced it.
    const beside = page.locator('table.dlq-groups tr[data-fingerprint] + tr.result-row');
    await until(() => beside.textContent()).toContain("replay will move 1000 of the group's 1001 dead job(s)");
    expect(await beside.textContent()).toContain('1 stay in the DLQ (at most 1000 per replay');
    expect(await beside.textContent()).toContain('1000 of them failed permanently');
    expect(await beside.locator('button[data-act="replay-confirm"]').textContent()).toBe('Replay 1000 anyway');
    await beside.locator('button[data-act="dismiss"]').click();
    expect((await spool.snapshot(['bulk']))[0]!.dead).toBe(1001);

    // webhooks: confirm, and the report says what moved.
    await page.goto(`${local.url}/dashboard#/queues/webhooks?state=dead`);
    await page.locator('table.dlq-groups tr[data-fingerprint] button[data-act="replay-dry"]').click();
    const row = page.locator('table.dlq-groups tr.result-row');
    await expect
      .poll(() => row.textContent())
      .toContain("replay will move 3 of the group's 3 dead job(s) back to waiting; none stay behind");
    // The refresh after the replay finds the group gone (until the worker's runs kill the jobs
    // again): hold the DLQ view at that moment, so the result must outlive its group.
    await page.route('**/v1/queues/webhooks/dlq?samples=1', async (route) => {
      const res = await route.fetch();
      route.fulfill({ response: res, json: { ...(await res.json()), total: 0, groups: [] } });
    });
    await row.locator('button[data-act="replay-confirm"]').click();
    const gone = page.locator('table.dlq-groups tr.result-row[data-gone]');
    await until(() => gone.textContent()).toContain('Replayed 3 job(s) back to waiting.');
    await page.unroute('**/v1/queues/webhooks/dlq?samples=1');
    const replays = await Promise.all(
      ids.webhooks!.map(
        async (id) =>
          ((await (await fetch(`${local.url}/v1/queues/webhooks/jobs/${id}`)).json()) as { replays?: number }).replays,
      ),
    );
    expect(replays).toEqual([1, 1, 1]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('pauses and resumes a queue from its Settings panel; the API says the same', { timeout: 60_000 }, async () => {
    await spool.putSettings('flow', { maxConcurrency: 3 });
    await make('flow', [{ handler: 'echo', payload: {} }]);
    const { page, errors } = await open(1280, '#/queues/flow');
    const panel = page.locator('#settings');
    await until(() => panel.locator('[data-setting="maxConcurrency"]').textContent()).toBe('3');
    expect(await panel.locator('[data-setting="rateLimit"]').textContent()).toBe('none');
    await panel.locator('button[data-act="pause"]').click();
    await until(() => panel.locator('.result').textContent()).toContain('Paused: nothing is leased until you resume.');
    expect((await spool.settings('flow')).paused).toBe(true);
    await until(() => panel.locator('button[data-act="resume"]').count()).toBe(1);
    await panel.locator('button[data-act="resume"]').click();
    await until(() => panel.locator('.result').textContent()).toContain('Resumed.');
    expect((await spool.settings('flow')).paused).toBe(false);
    await until(() => panel.locator('button[data-act="pause"]').count()).toBe(1);
    // a target failing: its breaker shows in the panel, open
    await spool.putSettings('flow', { paused: true, circuitBreaker: { failures: 1 } });
    const [t] = (
      await spool.enqueue('flow', [{ target: { url: 'https://down.example.com/hook' }, payload: {} }], { kick: false })
    ).jobs;
    await spool.putSettings('flow', { paused: false });
    const leased = await spool.lease('flow', { count: 10 });
    const job = leased.jobs.find((j) => j.id === t!.id)!;
    await spool.fail('flow', [
      {
        id: job.id,
        token: job.token,
        error: { class: 'HttpError', message: 'HTTP 503', retryable: true },
        run: { startedAt: 0, endedAt: 0, status: 503 },
      },
    ]);
    await spool.putSettings('flow', { paused: true });
    const row = panel.locator('table.breakers tr[data-origin="https://down.example.com:443"]');
    await until(() => row.locator('td[data-label="State"]').textContent()).toBe('open');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('lists the active workers of a queue, and none once the worker is gone', { timeout: 60_000 }, async () => {
    await spool.enqueue('workq', [{ handler: 'echo', payload: {} }], { kick: false });
    const worker = { ttlMs: 600_000, held: 0, done: 2 };
    const l = await spool.lease('workq', { count: 1, workerMarkMs: 60_000, requestId: 'req-dash-1', worker });
    expect(l.jobs).toHaveLength(1);
    const { page, errors } = await open(1280, '#/queues/workq');
    const row = page.locator('#workers tr[data-worker="req-dash-1"]');
    await until(() => row.count()).toBe(1);
    expect(await row.locator('td[data-label="Jobs held"]').textContent()).toBe('1');
    expect(await row.locator('td[data-label="Jobs done"]').textContent()).toBe('2');
    await spool.extend('workq', [], 0, { id: 'req-dash-1', ...worker, gone: true });
    await page.goto(`${local.url}/dashboard#/queues/workq?state=active`);
    await until(() => text(page, '#workers')).toContain('No worker is draining this queue.');
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows a purge's result in its own queue's panel", { timeout: 60_000 }, async () => {
    const { page, errors } = await open(1280, '#/queues/batch');
    await page.locator('#maintenance button[data-act="purge-dry"]').click();
    const panel = page.locator('#maintenance .result');
    await until(() => panel.textContent()).toContain('Dry run: purging batch would remove');
    await panel.locator('button[data-act="purge-confirm"]').click();
    await until(() => panel.textContent()).toMatch(/^Purged batch: /);
    expect(await text(page, '#queue-head')).toContain('batch');
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('a job page', () => {
  it('shows payload, target with redacted headers, attempts, and the actions of a dead job', {
    timeout: 60_000,
  }, async () => {
    const [retryId, deleteId] = [ids.webhooks![0]!, ids.webhooks![1]!];
    // The replay test above sent them back; wait until they are dead again (/demo/fail answers 400).
    await until(() => jobState('webhooks', retryId)).toBe('dead');
    await until(() => jobState('webhooks', deleteId)).toBe('dead');
    const { page, errors } = await open(1280, `#/queues/webhooks/jobs/${retryId}`);
    await page.locator('#job[data-state="dead"]').waitFor();
    const target = await text(page, '#target');
    expect(target).toContain('authorization');
    expect(target).toContain('[redacted]');
    expect(target).toContain('token=[redacted]');
    expect(await page.content()).not.toContain('s3cret');
    expect(await page.content()).not.toContain('abc123');
    expect(await text(page, '#payload')).toContain('"n": 1');
    expect(await text(page, '#last-error')).toContain('HttpError');
    // Its attempts: the first (failed for good), then the replayed one that died again.
    const history = await text(page, '#history');
    expect(history).toContain('failed → dead');
    expect(history).toContain('HttpError');
    expect(await page.locator('#history table.attempts tbody tr').count()).toBe(2);

    await page.locator('#job-actions button[data-act="job-retry"]').click();
    await until(() => text(page, '#job .result')).toContain('This job failed permanently');
    await page.locator('#job .result button[data-act="job-retry-confirm"]').click();
    await until(() => text(page, '#job .result')).toContain('Retried: the job is waiting again.');

    await page.goto(`${local.url}/dashboard#/queues/webhooks/jobs/${deleteId}`);
    await page.locator('#job[data-state="dead"]').waitFor();
    await page.locator('#job-actions button[data-act="job-delete"]').click();
    await page.locator('#job .result button[data-act="job-delete-confirm"]').click();
    await until(() => text(page, '#job')).toContain('Not found');
    expect(await text(page, '#job .result')).toContain('Deleted.');
    expect(await jobState('webhooks', deleteId)).toBe('gone');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('cancels a waiting job and a delayed one', { timeout: 60_000 }, async () => {
    const { page, errors } = await open(1280, `#/queues/idle/jobs/${ids.idleWaiting![0]}`);
    await page.locator('#job[data-state="waiting"]').waitFor();
    expect(await page.locator('#job-actions button').allTextContents()).toEqual(['Cancel…']);
    await page.locator('#job-actions button[data-act="job-cancel"]').click();
    await page.locator('#job .result button[data-act="job-cancel-confirm"]').click();
    await until(() => text(page, '#job .result')).toContain('Cancelled (it was waiting).');
    expect(await jobState('idle', ids.idleWaiting![0]!)).toBe('gone');

    const cancelId = ids.idleDelayed![1]!;
    await page.goto(`${local.url}/dashboard#/queues/idle/jobs/${cancelId}`);
    await page.locator('#job[data-state="delayed"]').waitFor();
    expect(await page.locator('#job-actions button').allTextContents()).toEqual(['Run now', 'Cancel…']);
    await page.locator('#job-actions button[data-act="job-cancel"]').click();
    await page.locator('#job .result button[data-act="job-cancel-confirm"]').click();
    await until(() => text(page, '#job .result')).toContain('Cancelled (it was delayed).');
    expect(await jobState('idle', cancelId)).toBe('gone');
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('a delayed job', () => {
  it('runs now from its page', { timeout: 60_000 }, async () => {
    const runId = ids.idleDelayed![0]!;
    const { page, errors } = await open(1280, `#/queues/idle/jobs/${runId}`);
    await page.locator('#job[data-state="delayed"]').waitFor();
    await page.locator('#job-actions button[data-act="job-run"]').click();
    await until(() => text(page, '#job .result')).toContain('Moved to waiting: a worker picks it up next.');
    // The route kicks a worker (in-process here): the echo job may already have run.
    expect(['waiting', 'active', 'completed']).toContain(await jobState('idle', runId));
    await page.locator('#job:not([data-state="delayed"])').waitFor();
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('schedules', () => {
  it('the overview lists each schedule with its next run; paused and ended ones say so', {
    timeout: 60_000,
  }, async () => {
    const put = async (id: string, body: Record<string, unknown>) => {
      const res = await fetch(`${local.url}/v1/schedules/${id}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ queue: 'dash-sched', job: { handler: 'echo', payload: { id } }, ...body }),
      });
      expect(res.status, id).toBe(201);
      return (await res.json()) as { nextRunAt: string | null };
    };
    const hourly = await put('dash-hourly', { everyMs: 3_600_000 });
    expect(hourly.nextRunAt).not.toBeNull();
    await put('dash-paused', { cron: '0 3 * * *', timezone: 'Europe/Berlin', paused: true });
    await put('dash-ended', { cron: '*/5 * * * *', endAt: new Date(Date.now() - 60_000).toISOString() });

    const { page, errors } = await open(1280);
    const row = (id: string) => page.locator(`#schedules tr[data-schedule="${id}"]`);
    await row('dash-hourly').waitFor();
    expect(
      await page
        .locator('#schedules tr[data-schedule]')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-schedule'))),
    ).toEqual(['dash-ended', 'dash-hourly', 'dash-paused']);
    // The next run as the API answers it (the title), worded relative to now.
    const next = row('dash-hourly').locator('td.next span[title]');
    expect(await next.getAttribute('title')).toBe(hourly.nextRunAt);
    expect(await next.textContent()).toMatch(/^in (59m|1h)/);
    expect(await row('dash-hourly').locator('td[data-label="When"]').textContent()).toBe('every 1h 0m');
    expect(await row('dash-hourly').locator('td[data-label="Queue"] a').getAttribute('href')).toBe(
      '#/queues/dash-sched',
    );
    expect(await row('dash-hourly').locator('td[data-label="Fires"]').textContent()).toBe('0');
    expect(await row('dash-paused').locator('td.next').textContent()).toBe('paused');
    expect(await row('dash-paused').locator('td[data-label="When"]').textContent()).toBe('0 3 * * * Europe/Berlin');
    expect(await row('dash-ended').locator('td.next').textContent()).toMatch(/^ended \d+m \d+s ago$/);

    // Deleted: its row goes at the next refresh.
    expect((await fetch(`${local.url}/v1/schedules/dash-hourly`, { method: 'DELETE' })).status).toBe(200);
    await until(() => row('dash-hourly').count()).toBe(0);
    expect(await page.locator('#schedules tr[data-schedule]').count()).toBe(2);
    await shot(page, 'dashboard-schedules');
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('at 390 px', () => {
  it('no page scrolls sideways', { timeout: 60_000 }, async () => {
    const { page, errors } = await open(390);
    await page.locator('#queues tr[data-queue="alpha"]').waitFor();
    expect(await scrollWidth(page)).toBeLessThanOrEqual(390);
    await shot(page, 'dashboard-390');
    for (const hash of [
      '#/queues/webhooks?state=dead',
      '#/queues/bulk?state=dead',
      `#/queues/webhooks/jobs/${ids.webhooks![2]}`,
    ]) {
      await page.goto(`${local.url}/dashboard${hash}`);
      await page.locator(hash.includes('/jobs/') ? '#job' : '#jobs').waitFor();
      await page.locator(hash.includes('/jobs/') ? '#payload' : '#dlq').waitFor();
      expect(await scrollWidth(page), hash).toBeLessThanOrEqual(390);
    }
    await page.goto(`${local.url}/dashboard#/queues/bulk?state=dead`);
    await page.locator('table.dlq-groups button[data-act="replay-dry"]').click();
    await page.locator('tr.result-row .warning').waitFor();
    expect(await scrollWidth(page)).toBeLessThanOrEqual(390);
    await shot(page, 'dashboard-390-replay');
    expect(errors).toEqual([]);
    await page.close();
  });
});
