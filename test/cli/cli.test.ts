/**
 * The `spool` CLI as a user runs it: bin/spool.mjs as a child process, pointed with the Upstash
 * environment variables at the test endpoint and a unique key prefix. Jobs are made through the
 * same core (class Spool), so the CLI must see exactly them.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/redis.js';
import { Spool } from '../../shared/queue/index.js';
import { cleanupPrefix, testRedis, uniquePrefix, upstashConfig } from '../helpers/redis.js';

/** GET settings beside the fields a test sets: the breakers' defaults, no breaker yet, no automatic replay. */
const DEFAULT_BREAKERS = {
  maxWaitMs: null,
  circuitBreaker: { enabled: true, failures: 5, coolDownMs: 10_000, maxCoolDownMs: 300_000 },
  breakers: [],
  autoReplay: null,
};

const BIN = fileURLToPath(new URL('../../bin/spool.mjs', import.meta.url));
const prefix = uniquePrefix('cli');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function spoolCli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const { url, token } = upstashConfig();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        env: {
          ...process.env,
          UPSTASH_REDIS_REST_URL: url,
          UPSTASH_REDIS_REST_TOKEN: token,
          SPOOL_KEY_PREFIX: prefix,
          ...env,
        },
        timeout: 20_000,
      },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : -1
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

let spool: Spool;
let doneId: string;
let deadIds: string[];

beforeAll(async () => {
  spool = new Spool(testRedis(), { config: { prefix } });
  const ok = await spool.enqueue('mail', { payload: { to: 'a@example.com' }, handler: 'echo' }, { kick: false });
  doneId = ok.jobs[0]!.id;
  const leased = await spool.lease('mail', { count: 10 });
  await spool.complete(
    'mail',
    leased.jobs.map((j) => ({ id: j.id, token: j.token })),
  );

  const bad = await spool.enqueue(
    'hooks',
    [1, 2, 3].map((n) => ({ payload: { n }, target: { url: 'http://127.0.0.1:9/demo/fail' } })),
    { kick: false },
  );
  deadIds = bad.jobs.map((j) => j.id);
  const l2 = await spool.lease('hooks', { count: 10 });
  await spool.fail(
    'hooks',
    l2.jobs.map((j) => ({
      id: j.id,
      token: j.token,
      error: { class: 'HttpError', message: `HTTP 400 from target for job ${j.id}`, retryable: false },
    })),
  );
  await spool.enqueue('hooks', { payload: { n: 4 }, handler: 'echo' }, { kick: false });
});

afterAll(async () => {
  await cleanupPrefix(prefix);
});

describe('spool CLI', () => {
  it('status lists the queues with their depths', async () => {
    const r = await spoolCli(['status']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^QUEUE\s+WAITING\s+DELAYED\s+ACTIVE\s+COMPLETED\s+DEAD/);
    expect(lines.find((l) => l.startsWith('hooks'))).toMatch(/^hooks\s+1\s+0\s+0\s+0\s+3\b/);
    expect(lines.find((l) => l.startsWith('mail'))).toMatch(/^mail\s+0\s+0\s+0\s+1\s+0\b/);

    // --json: the body of GET /v1/queues.
    const j = await spoolCli(['status', '--json']);
    const parsed = JSON.parse(j.stdout) as { queues: Array<{ queue: string; counts: { dead: number } }> };
    expect(parsed.queues.map((q) => [q.queue, q.counts.dead])).toEqual([
      ['hooks', 3],
      ['mail', 0],
    ]);
  });

  it('jobs get shows one job, and exits 4 for an unknown one', async () => {
    const [found, missing, usage] = await Promise.all([
      spoolCli(['jobs', 'get', 'mail', doneId]),
      spoolCli(['jobs', 'get', 'mail', 'nope']),
      spoolCli(['jobs', 'get', 'mail']),
    ]);
    expect(found.code).toBe(0);
    expect(found.stdout).toContain(`id:          ${doneId}`);
    expect(found.stdout).toMatch(/state:\s+completed/);
    expect(found.stdout).toContain('"to":"a@example.com"');
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('job nope not found in queue mail');
    expect(usage.code).toBe(64);
    expect(usage.stderr).toContain('Usage: spool jobs get <queue> <id>');
  });

  it('dlq ls groups the dead jobs by fingerprint; dlq show shows a group and its samples', async () => {
    const ls = await spoolCli(['dlq', 'ls', '--json']);
    expect(ls.code).toBe(0);
    const { queues } = JSON.parse(ls.stdout) as {
      queues: Array<{ queue: string; total: number; groups: Array<{ fingerprint: string; count: number }> }>;
    };
    const hooks = queues.find((q) => q.queue === 'hooks')!;
    expect(hooks.total).toBe(3);
    expect(hooks.groups).toHaveLength(1);
    const fp = hooks.groups[0]!.fingerprint;
    expect(hooks.groups[0]!.count).toBe(3);

    const [text, show] = await Promise.all([spoolCli(['dlq', 'ls']), spoolCli(['dlq', 'show', 'hooks', fp])]);
    expect(text.stdout).toMatch(new RegExp(`hooks\\s+${fp}\\s+3\\s+HttpError`));
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`fingerprint: ${fp}`);
    expect(show.stdout).toContain('count:       3');
    expect(show.stdout).toMatch(/samples \(3\)/);
    for (const id of deadIds) expect(show.stdout).toContain(id);
  });

  it('dlq replay is a dry run unless --yes: it says what would move and moves nothing', async () => {
    const [flagged, bare] = await Promise.all([
      spoolCli(['dlq', 'replay', 'hooks', '--dry-run']),
      spoolCli(['dlq', 'replay', 'hooks']),
    ]);
    for (const r of [flagged, bare]) {
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Dry run: would replay 3 dead job(s) of hooks');
      expect(r.stdout).toContain('Nothing moved. Run again with --yes to replay them.');
      for (const id of deadIds) expect(r.stdout).toContain(id);
    }
    const [snap] = await spool.snapshot(['hooks']);
    expect(snap!.dead).toBe(3);
  });

  it('purge --dry-run reports and removes nothing', async () => {
    const r = await spoolCli(['purge', '--dry-run'], { SPOOL_COMPLETED_RETENTION_MS: '0' });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Dry run: nothing removed');
    expect(r.stdout).toMatch(/^mail\s+1\s/m);
    const [snap] = await spool.snapshot(['mail']);
    expect(snap!.completed).toBe(1);
  });

  it('health --once: the exit code follows the status (0 healthy, 1 degraded, 2 unhealthy, 3 unknown)', async () => {
    const [healthy, degraded, unhealthy, unknown] = await Promise.all([
      spoolCli(['health', '--once']),
      spoolCli(['health', '--once'], { SPOOL_HEALTH_DEAD_DEGRADED: '2' }),
      spoolCli(['health', '--once', '--json'], { SPOOL_HEALTH_DEAD_DEGRADED: '0', SPOOL_HEALTH_DEAD_UNHEALTHY: '2' }),
      spoolCli(['health', '--once'], { UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:9' }),
    ]);
    expect(healthy.code).toBe(0);
    expect(healthy.stdout).toMatch(/^HEALTHY \(2 queues\)/);
    expect(degraded.code).toBe(1);
    expect(degraded.stdout).toMatch(/^DEGRADED/);
    expect(degraded.stdout).toMatch(/hooks: degraded — degraded: dead jobs = 3 jobs \(above 2 jobs\)/);
    expect(unhealthy.code).toBe(2);
    const report = JSON.parse(unhealthy.stdout) as { status: string; queues: Array<{ queue: string; status: string }> };
    expect(report.status).toBe('unhealthy');
    expect(report.queues.find((q) => q.queue === 'hooks')!.status).toBe('unhealthy');
    expect(unknown.code).toBe(3);
    expect(unknown.stdout).toMatch(/^UNKNOWN/);
  });

  it('queue settings|pause|resume: show and change flow control; bad values are usage errors (64)', async () => {
    const shown = await spoolCli(['queue', 'settings', 'flowq']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/paused\s+no/);
    expect(shown.stdout).toMatch(/rateLimit\s+none/);
    const set = await spoolCli(['queue', 'settings', 'flowq', '--rate', '100/1m', '--concurrency', '4', '--json']);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toEqual({
      queue: 'flowq',
      paused: false,
      rateLimit: { limit: 100, periodMs: 60_000 },
      maxConcurrency: 4,
      ...DEFAULT_BREAKERS,
    });
    const paused = await spoolCli(['queue', 'pause', 'flowq']);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toMatch(/paused\s+yes, since/);
    expect((await spool.settings('flowq')).paused).toBe(true);
    const resumed = await spoolCli(['queue', 'resume', 'flowq', '--json']);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ paused: false, maxConcurrency: 4 });
    const off = await spoolCli(['queue', 'settings', 'flowq', '--rate', 'off', '--concurrency', 'off', '--json']);
    expect(JSON.parse(off.stdout)).toEqual({
      queue: 'flowq',
      paused: false,
      rateLimit: null,
      maxConcurrency: null,
      ...DEFAULT_BREAKERS,
    });
    const [badRate, badCap, badPeriod] = await Promise.all([
      spoolCli(['queue', 'settings', 'flowq', '--rate', 'fast']),
      spoolCli(['queue', 'settings', 'flowq', '--concurrency', '0']),
      spoolCli(['queue', 'settings', 'flowq', '--rate', '5/10ms']),
    ]);
    expect(badRate.code).toBe(64);
    expect(badRate.stderr).toContain('--rate must be N/PERIOD');
    expect(badCap.code).toBe(64);
    expect(badCap.stderr).toContain('--concurrency must be an integer from 1 to 100000');
    expect(badPeriod.code).toBe(64);
    expect(badPeriod.stderr).toContain('rateLimit.periodMs');
  });

  it('queue clear: --yes required (64); 1 while jobs are active; --force and --include-dead clear them', async () => {
    await spool.enqueue(
      'clearq',
      [
        { payload: {}, handler: 'echo' },
        { payload: {}, handler: 'echo' },
      ],
      { kick: false },
    );
    const held = await spool.lease('clearq', { count: 1 });
    const [noYes, unknown] = await Promise.all([
      spoolCli(['queue', 'clear', 'clearq']),
      spoolCli(['queue', 'clear', 'nosuchq', '--yes']),
    ]);
    expect(noYes.code).toBe(64);
    expect(noYes.stderr).toContain('add --yes');
    expect(unknown.code).toBe(5);
    const busy = await spoolCli(['queue', 'clear', 'clearq', '--yes']);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain('active');
    expect((await spool.snapshot(['clearq']))[0]).toMatchObject({ waiting: 1, active: 1 });
    const forced = await spoolCli(['queue', 'clear', 'clearq', '--yes', '--force', '--include-dead', '--json']);
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toEqual({
      queue: 'clearq',
      removed: { waiting: 1, delayed: 0, active: 1, dead: 0 },
      left: 0,
      unregistered: true,
    });
    expect(held.jobs).toHaveLength(1);
    expect(await spool.queues()).not.toContain('clearq');
  });

  it('workers: the invocations draining a queue, none once they leave', async () => {
    await spool.enqueue('workq', { payload: {}, handler: 'echo' }, { kick: false });
    const worker = { ttlMs: 600_000, held: 0, done: 3 };
    await spool.lease('workq', { count: 1, workerMarkMs: 60_000, requestId: 'req-cli', worker });
    const [listed, text] = await Promise.all([
      spoolCli(['workers', 'workq', '--json']),
      spoolCli(['workers', 'workq']),
    ]);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).workers).toEqual([expect.objectContaining({ id: 'req-cli', held: 1, done: 3 })]);
    expect(text.stdout).toMatch(/^WORKER\s+STARTED\s+HEARTBEAT\s+HELD\s+DONE$/m);
    expect(text.stdout).toMatch(/^req-cli\s.*\s1\s+3$/m);
    await spool.extend('workq', [], 0, { id: 'req-cli', ...worker, gone: true });
    const none = await spoolCli(['workers', 'workq']);
    expect(none.stdout).toContain('No worker is draining workq.');
  });

  it('answers usage errors with 64, help with 0, --version with the package version', async () => {
    const [bad, help, version, unreachable] = await Promise.all([
      spoolCli(['frobnicate']),
      spoolCli(['--help']),
      spoolCli(['--version']),
      freePort().then((port) => spoolCli(['status'], { UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${port}` })),
    ]);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('unknown command "frobnicate"');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: spool <command>');
    expect(help.stdout).toMatch(/Exit codes:/);
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(`spool ${pkg.version}`);
    // One line: the endpoint, the variable, the cause's message (no stack), what to do.
    expect(unreachable.code).toBe(69);
    const at = /cannot reach Redis at (http:\/\/127\.0\.0\.1:(\d+))/.exec(unreachable.stderr);
    expect(unreachable.stderr).toBe(
      `spool: cannot reach Redis at ${at?.[1]} (UPSTASH_REDIS_REST_URL): fetch failed: connect ECONNREFUSED 127.0.0.1:${at?.[2]}. ` +
        "Set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN to your Upstash database's REST URL and token, or run `npm start` for the local one.\n",
    );
  });
});
