/**
 * The dashboard in a real headless browser: Debian's chromium driven by playwright-core. Loads the
 * page, sees a queue, dry-runs then replays a DLQ group, and keeps a screenshot in test/artifacts/.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type LocalServer, startLocal } from '../../local/server.js';
import { cleanupPrefix, uniquePrefix, upstashConfig } from '../helpers/redis.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
const prefix = uniquePrefix('dashboard');
let local: LocalServer;
let browser: Browser | undefined;

beforeAll(async () => {
  local = await startLocal({
    port: 0,
    upstash: upstashConfig(),
    env: { SPOOL_KEY_PREFIX: prefix, LOG_LEVEL: 'WARN' },
    schedules: false,
    log: () => {},
  });
});

afterAll(async () => {
  await browser?.close();
  await local?.close();
  await cleanupPrefix(prefix);
});

async function post(path: string, body: unknown): Promise<any> {
  const res = await fetch(`${local.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return res.json();
}

it('shows the queues, dry-runs then replays a DLQ group, and keeps a screenshot', { timeout: 60_000 }, async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`).toBe(true);

  // Two jobs that die (400 from /demo/fail) and one that completes.
  const ids: string[] = [];
  for (const n of [1, 2])
    ids.push(
      (await post('/v1/queues/webhooks/jobs', { target: { url: `${local.url}/demo/fail` }, payload: { n } })).id,
    );
  await post('/v1/queues/emails/jobs', { target: { url: `${local.url}/demo/echo` }, payload: { to: 'a@example.com' } });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const states = await Promise.all(
      ids.map(
        async (id) =>
          ((await (await fetch(`${local.url}/v1/queues/webhooks/jobs/${id}`)).json()) as { state: string }).state,
      ),
    );
    if (states.every((s) => s === 'dead')) break;
    if (Date.now() > deadline) throw new Error(`jobs did not die: ${states.join(',')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await local.runSchedule('health');

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${local.url}/dashboard`);

  // The queues, with their depth.
  const row = page.locator('#queues tr[data-queue="webhooks"]');
  await row.waitFor();
  await expect.poll(() => row.locator('td').nth(6).textContent()).toBe('2'); // dead
  await page.locator('#queues tr[data-queue="emails"]').waitFor();
  await expect.poll(() => page.locator('#health-status').textContent()).toMatch(/healthy|degraded|unhealthy/);

  // The DLQ of webhooks, grouped by fingerprint.
  await row.click();
  const group = page.locator('table.dlq-groups tr[data-fingerprint]');
  await group.first().waitFor();
  expect(await group.count()).toBe(1);
  expect(await group.first().locator('td').nth(1).textContent()).toBe('2');

  // Dry run first, then confirm.
  await group.first().locator('button[data-act="replay-dry"]').click();
  const result = page.locator('#action-result');
  await expect.poll(() => result.textContent()).toContain('Dry run: 2 dead job(s)');
  await page.locator('#confirm').click();
  await expect.poll(() => result.textContent()).toContain('Replayed 2 job(s)');

  mkdirSync(ARTIFACTS, { recursive: true });
  const shot = `${ARTIFACTS}dashboard.png`;
  await page.screenshot({ path: shot, fullPage: true });
  expect(statSync(shot).size).toBeGreaterThan(10_000);
  expect(errors).toEqual([]);

  // The replay really happened (the jobs may have run and died again since: /demo/fail always fails).
  const jobs = await Promise.all(
    ids.map(
      async (id) => (await (await fetch(`${local.url}/v1/queues/webhooks/jobs/${id}`)).json()) as { replays?: number },
    ),
  );
  expect(jobs.map((j) => j.replays)).toEqual([1, 1]);
});
