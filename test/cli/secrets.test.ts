/** The CLI shows no secret of a job: `jobs get`, `dlq ls`, `dlq show` (text and --json), `dlq replay`. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Spool } from '../../shared/queue/index.js';
import { cleanupPrefix, testRedis, uniquePrefix, upstashConfig } from '../helpers/redis.js';

const BIN = fileURLToPath(new URL('../../bin/spool.mjs', import.meta.url));
const prefix = uniquePrefix('cli-secrets');
const SECRETS = ['cli-bearer-secret', 'cli-user-pass', 'cli-query-value'];

function spoolCli(args: string[]): Promise<{ code: number; out: string }> {
  const { url, token } = upstashConfig();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        env: { ...process.env, UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token, SPOOL_KEY_PREFIX: prefix },
        timeout: 60_000,
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: unknown }).code ?? -1) : 0, out: stdout + stderr }),
    );
  });
}

let id = '';
let fingerprint = '';
beforeAll(async () => {
  const spool = new Spool(testRedis(), { config: { prefix } });
  const url = `https://ops:${SECRETS[1]}@hooks.example.com/in?key=${SECRETS[2]}`;
  const { jobs } = await spool.enqueue(
    'hooks',
    { target: { url, headers: { Authorization: `Bearer ${SECRETS[0]}` } }, maxAttempts: 1 },
    { kick: false },
  );
  id = jobs[0]!.id;
  const [leased] = (await spool.lease('hooks', { count: 1 })).jobs;
  await spool.fail('hooks', [
    { id, token: leased!.token, error: { class: 'HttpError', message: `POST ${url}: HTTP 400`, retryable: false } },
  ]);
  fingerprint = (await spool.deadGroups('hooks')).groups[0]!.fingerprint;
});
afterAll(async () => {
  await cleanupPrefix(prefix);
});

it('no command prints a secret of the job, in text or JSON', { timeout: 180_000 }, async () => {
  // One at a time: eight CLI processes at once starve a 2-core machine running the suite.
  const runs: Array<{ code: number; out: string }> = [];
  for (const args of [
    ['jobs', 'get', 'hooks', id],
    ['jobs', 'get', 'hooks', id, '--json'],
    ['dlq', 'ls', '--json'],
    ['dlq', 'ls'],
    ['dlq', 'show', 'hooks', fingerprint],
    ['dlq', 'show', 'hooks', fingerprint, '--json'],
    ['dlq', 'show', 'hooks', id, '--json'],
    ['dlq', 'replay', 'hooks', '--dry-run', '--json'],
  ])
    runs.push(await spoolCli(args));
  for (const r of runs) {
    expect(r.code, r.out).toBe(0);
    for (const s of SECRETS) expect(r.out).not.toContain(s);
  }
  expect(runs[0]!.out).toContain('target:      POST https://ops:[redacted]@hooks.example.com/in?key=[redacted]');
  expect(JSON.parse(runs[1]!.out).target.headers).toEqual({ Authorization: '[redacted]' });
});
