/**
 * CLI manners, in-process (`run(argv, io)`, the function bin/spool.mjs calls): per-command help and
 * usage errors, replay only with --yes, unknown queues, connection errors that say what to set,
 * redacted headers, `jobs ls`, and `--json` equal to what the HTTP API answers (the local server
 * serving the same prefix).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionFailure } from '../../cli/api.js';
import { COMMANDS, EXIT } from '../../cli/commands.js';
import { type LocalServer, startLocal } from '../../local/server.js';
import { RedisUnavailableError } from '../../shared/queue/errors.js';
import { Spool } from '../../shared/queue/index.js';
import { queueKey } from '../../shared/queue/keys.js';
import { type CliRun, runCli } from '../helpers/cli.js';
import { privateStack } from '../helpers/private-redis.js';
import { cleanupPrefix, testRedis, uniquePrefix, upstashConfig } from '../helpers/redis.js';

const prefix = uniquePrefix('cli-manners');

type Run = CliRun;

function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runCli(prefix, args, env);
}
const json = (r: Run) => JSON.parse(r.stdout) as Record<string, any>;

let spool: Spool;
let local: LocalServer;
let deadIds: string[];
let secretId: string;

async function http(method: string, path: string, body?: unknown): Promise<Record<string, any>> {
  const res = await fetch(`${local.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await res.json()) as Record<string, any>;
}

beforeAll(async () => {
  spool = new Spool(testRedis(), { config: { prefix } });
  local = await startLocal({
    port: 0,
    upstash: upstashConfig(),
    env: { SPOOL_KEY_PREFIX: prefix, LOG_LEVEL: 'WARN' },
    schedules: false,
    log: () => {},
  });
  // Three permanent failures, one retryable one, in the DLQ of "hooks".
  const bad = await spool.enqueue(
    'hooks',
    [1, 2, 3, 4].map((n) => ({ payload: { n }, target: { url: 'http://127.0.0.1:9/demo/fail' }, maxAttempts: 1 })),
    { kick: false },
  );
  deadIds = bad.jobs.map((j) => j.id);
  const leased = await spool.lease('hooks', { count: 10 });
  await spool.fail(
    'hooks',
    leased.jobs.map((j, i) => ({
      id: j.id,
      token: j.token,
      error:
        i < 3
          ? { class: 'HttpError', message: 'HTTP 400 from target', retryable: false }
          : { class: 'TimeoutError', message: 'the target did not answer in time', retryable: true },
    })),
  );
  const secret = await spool.enqueue(
    'hooks',
    {
      payload: { n: 5 },
      target: { url: 'https://example.com/hook', headers: { authorization: 'Bearer s3cret-token' } },
    },
    { kick: false },
  );
  secretId = secret.jobs[0]!.id;
});

afterAll(async () => {
  await local?.close();
  await cleanupPrefix(prefix);
});

describe('help and usage', () => {
  it('every command has its own --help, which prints its usage only', async () => {
    for (const c of COMMANDS) {
      const r = await cli([...c.words, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout.startsWith(`Usage: spool ${c.words.join(' ')}`)).toBe(true);
      expect(r.stdout).not.toContain('Commands:');
      for (const other of COMMANDS.filter((o) => o !== c))
        expect(r.stdout).not.toContain(`spool ${other.words.join(' ')} `);
    }
    const viaHelp = await cli(['help', 'dlq', 'replay']);
    expect(viaHelp.stdout).toContain('Usage: spool dlq replay <queue>');
    expect(viaHelp.stdout).toContain('--yes');
  });

  it("a usage error prints that command's usage only, exit 64", async () => {
    const missing = await cli(['jobs', 'get', 'hooks']);
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.stderr).toMatch(/^spool: missing argument\n\nUsage: spool jobs get <queue> <id>\n/);
    expect(missing.stderr).not.toContain('dlq');

    const flag = await cli(['status', '--once']);
    expect(flag.code).toBe(EXIT.usage);
    expect(flag.stderr).toContain("Unknown option '--once'");
    expect(flag.stderr).toContain('Usage: spool status');
    expect(flag.stderr).not.toContain('spool health');

    const group = await cli(['dlq', 'frob']);
    expect(group.code).toBe(EXIT.usage);
    expect(group.stderr).toContain('unknown dlq command "frob"');
    expect(group.stderr).toContain('spool dlq replay');
    expect(group.stderr).not.toContain('spool jobs');

    const state = await cli(['jobs', 'ls', 'hooks', '--state', 'done']);
    expect(state.code).toBe(EXIT.usage);
    expect(state.stderr).toContain('--state must be one of waiting, delayed, active, completed, dead');
    expect(state.stderr).toContain('Usage: spool jobs ls');
  });
});

describe('errors that say what to do', () => {
  it('an unknown queue is exit 5 naming the queue and the prefix', async () => {
    for (const args of [
      ['jobs', 'get', 'nope', 'x'],
      ['jobs', 'ls', 'nope'],
      ['dlq', 'ls', 'nope'],
      ['dlq', 'replay', 'nope'],
      ['purge', 'nope', '--dry-run'],
    ]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(EXIT.unknownQueue);
      expect(r.stderr).toContain(`queue "nope" does not exist under key prefix "${prefix}"`);
      expect(r.stdout).toBe('');
    }
    const j = await cli(['dlq', 'ls', 'nope', '--json']);
    expect(json(j).error).toMatchObject({ code: 'unknown_queue', details: { queue: 'nope', prefix } });
  });

  it('a connection error names the URL and the variable to set, exit 69 (health: 3)', async () => {
    const down = await cli(['dlq', 'ls'], { UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:9' });
    expect(down.code).toBe(EXIT.unavailable);
    expect(down.stderr).toContain('cannot reach Redis at http://127.0.0.1:9 (UPSTASH_REDIS_REST_URL)');
    expect(down.stderr).toContain('Set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN');

    const token = await cli(['status'], { UPSTASH_REDIS_REST_TOKEN: 'wrong' });
    expect(token.code).toBe(EXIT.unavailable);
    expect(token.stderr).toContain(`the endpoint at ${upstashConfig().url} refused the token`);
    expect(token.stderr).toContain('Set UPSTASH_REDIS_REST_TOKEN');

    const health = await cli(['health', '--once', '--json'], { UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:9' });
    expect(health.code).toBe(3);
    expect(json(health)).toMatchObject({
      status: 'unknown',
      error: { code: 'redis_unavailable', details: { url: 'http://127.0.0.1:9', variable: 'UPSTASH_REDIS_REST_URL' } },
    });

    const ssl = connectionFailure(
      new RedisUnavailableError(
        new TypeError('fetch failed', {
          cause: Object.assign(
            new Error('80FC:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:x.c:350:\n'),
            {
              library: 'SSL routines',
              reason: 'wrong version number',
            },
          ),
        }),
      ),
      { url: 'https://127.0.0.1:8079', token: 't', fromEnv: true },
    );
    expect(ssl?.message).toMatch(
      /^cannot reach Redis at https:\/\/127\.0\.0\.1:8079 \(UPSTASH_REDIS_REST_URL\): fetch failed: SSL routines: wrong version number\. Set [^\n]+$/,
    );

    const config = await cli(['status'], { SPOOL_MAX_ATTEMPTS: 'many' });
    expect(config.code).toBe(EXIT.config);
    expect(config.stderr).toContain('SPOOL_MAX_ATTEMPTS');
  });
});

describe('spool status while Redis is down', () => {
  it('is one line naming the endpoint and the cause (no stack, no command sent), exit 69', async () => {
    // The endpoint answers but the Redis behind it is gone: the cause is the endpoint's Redis error.
    const stack = await privateStack();
    try {
      await stack.redis.stop();
      const env = { UPSTASH_REDIS_REST_URL: stack.endpoint.url, UPSTASH_REDIS_REST_TOKEN: stack.endpoint.token };
      const down = await cli(['status'], env);
      expect(down.code).toBe(EXIT.unavailable);
      expect(down.stdout).toBe('');
      expect(down.stderr.split('\n')).toEqual([expect.any(String), '']);
      expect(down.stderr).toMatch(
        new RegExp(
          `^spool: cannot reach Redis at ${stack.endpoint.url.replace(/[.]/g, '\\.')} \\(UPSTASH_REDIS_REST_URL\\): ERR Redis unavailable: [^\\n]+\\. Set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN`,
        ),
      );
      expect(down.stderr).not.toContain('command was');
      expect(down.stderr).not.toContain(prefix);
      const j = await cli(['status', '--json'], env);
      expect(j.code).toBe(EXIT.unavailable);
      expect(json(j).error.message).toBe(down.stderr.slice('spool: '.length, -1));
    } finally {
      await stack.stop();
    }
  });
});

describe('jobs', () => {
  it('jobs get redacts target header values, in text and JSON', async () => {
    const text = await cli(['jobs', 'get', 'hooks', secretId]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('headers:     authorization: [redacted]');
    expect(text.stdout).not.toContain('s3cret');
    const dead = await cli(['jobs', 'get', 'hooks', deadIds[0]!]);
    expect(dead.stdout).toContain('history:     last 1 of 1 attempt(s), oldest first');
    expect(dead.stdout).toMatch(/ {2}#1 {2}\S+Z {2}\d+ ms {2}failed -> dead {2}HttpError: HTTP 400 from target/);
    const j = await cli(['jobs', 'get', 'hooks', secretId, '--json']);
    expect(j.stdout).not.toContain('s3cret');
    expect(json(j).target.headers).toEqual({ authorization: '[redacted]' });
    const missing = await cli(['jobs', 'get', 'hooks', 'nope', '--json']);
    expect(missing.code).toBe(EXIT.notFound);
    expect(json(missing).error.code).toBe('not_found');
  });

  it('jobs ls <queue> --state <state> pages through one state with the cursor it prints', async () => {
    const first = await cli(['jobs', 'ls', 'hooks', '--state', 'dead', '--limit', '3']);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('3 of 4 dead job(s) of hooks.');
    const cursor = /--cursor (\S+)/.exec(first.stdout)?.[1];
    expect(cursor).toBeDefined();
    const second = await cli(['jobs', 'ls', 'hooks', '--state', 'dead', '--limit', '3', '--cursor', cursor!]);
    expect(second.stdout).toContain('1 of 4 dead job(s) of hooks.');
    expect(second.stdout).not.toContain('Next page');
    const listed = [first.stdout, second.stdout].join('\n');
    for (const id of deadIds) expect(listed).toContain(id);
    const waiting = await cli(['jobs', 'ls', 'hooks']);
    expect(waiting.stdout).toContain(secretId);
    expect(waiting.stdout).toContain('1 of 1 waiting job(s) of hooks.');
  });
});

describe('--json is the API', () => {
  it('prints exactly the bodies the HTTP API answers', async () => {
    // Ages and the health check's own time are measured at each call's moment: the only fields left out.
    const timeless = (v: unknown, top = true): unknown =>
      Array.isArray(v)
        ? v.map((x) => timeless(x, false))
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.entries(v)
                .filter(([k]) => !/AgeSeconds$/.test(k) && !(top && k === 'at'))
                .map(([k, x]) => [k, timeless(x, false)]),
            )
          : v;
    const same = async (args: string[], method: string, path: string, body?: unknown) => {
      const r = await cli([...args, '--json']);
      expect(r.code, args.join(' ')).toBe(0);
      expect(timeless(json(r)), args.join(' ')).toEqual(timeless(await http(method, path, body)));
    };
    await same(['status'], 'GET', '/v1/queues');
    await same(['jobs', 'get', 'hooks', deadIds[0]!], 'GET', `/v1/queues/hooks/jobs/${deadIds[0]}`);
    await same(
      ['jobs', 'ls', 'hooks', '--state', 'dead', '--limit', '2'],
      'GET',
      '/v1/queues/hooks/jobs?state=dead&limit=2',
    );
    await same(['dlq', 'ls', 'hooks'], 'GET', '/v1/queues/hooks/dlq?samples=1');
    await same(['purge', 'hooks', '--dry-run'], 'POST', '/v1/queues/hooks/purge', { dryRun: true });
    await same(['dlq', 'replay', 'hooks'], 'POST', '/v1/queues/hooks/dlq/replay', { dryRun: true });
    await same(['health', '--once'], 'GET', '/v1/health');

    const shown = json(await cli(['jobs', 'get', 'hooks', deadIds[0]!, '--json']));
    expect(shown.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const purged = json(await cli(['purge', '--dry-run', '--json']));
    expect(Object.keys(purged.totals)).toEqual(
      expect.arrayContaining(['completed', 'deadPastTtl', 'deadTrimmed', 'orphans', 'idempotencyKeys', 'leaseExpired']),
    );
    expect(Object.keys(purged.queues)).toEqual(['hooks']);
  });
});

describe('dlq replay', () => {
  it('moves jobs only with --yes, says what a limit leaves, warns about permanent failures, and is audited', async () => {
    const dry = await cli(['dlq', 'replay', 'hooks', '--limit', '2']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('Dry run: would replay 2 dead job(s) of hooks');
    expect(dry.stdout).toContain('2 more dead job(s) of this selection would stay in the DLQ (--limit 2');
    expect(dry.stdout).toContain('Nothing moved. Run again with --yes');
    expect((await spool.snapshot(['hooks']))[0]!.dead).toBe(4);

    const { groups } = await spool.deadGroups('hooks');
    const permanent = groups.find((g) => g.message?.includes('400'))!;
    const warned = await cli(['dlq', 'replay', 'hooks', '--fingerprint', permanent.fingerprint]);
    expect(warned.stdout).toContain('Warning: 3 of them failed permanently');

    const contradiction = await cli(['dlq', 'replay', 'hooks', '--yes', '--dry-run']);
    expect(contradiction.code).toBe(EXIT.usage);

    const moved = await cli([
      'dlq',
      'replay',
      'hooks',
      '--fingerprint',
      permanent.fingerprint,
      '--limit',
      '2',
      '--yes',
    ]);
    expect(moved.code).toBe(0);
    expect(moved.stdout).toContain('Replayed 2 dead job(s) of hooks');
    expect(moved.stdout).toContain('1 more dead job(s) of this selection stay in the DLQ');
    expect(moved.stdout).not.toContain('Nothing moved');
    const [snap] = await spool.snapshot(['hooks']);
    expect(snap!.dead).toBe(2);

    const audit = (
      await testRedis().lrange<Record<string, unknown>>(queueKey(prefix, 'hooks', 'auditDlqReplay'), 0, 0)
    )[0]!;
    expect(audit).toMatchObject({ queue: 'hooks', dryRun: false, moved: 2 });
    expect(String(audit.actor)).toMatch(/^cli:/);
  });
});
