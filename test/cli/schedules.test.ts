/**
 * `spool schedules` and `spool schedule get|put|pause|resume|delete`, in-process (`run(argv, io)`)
 * against the test endpoint under a unique key prefix: the text and the exit codes, flags named in
 * every refusal (nothing written), pause and resume keeping the stored secrets the API redacts, and
 * `--json` equal to what the HTTP API answers (the local server serving the same prefix).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, parseDuration } from '../../cli/commands.js';
import { type LocalServer, startLocal } from '../../local/server.js';
import { Spool } from '../../shared/queue/index.js';
import { fireDueSchedules, getSchedule, listSchedules } from '../../shared/queue/ops/schedules.js';
import { type CliRun, runCli } from '../helpers/cli.js';
import { cleanupPrefix, testRedis, uniquePrefix, upstashConfig } from '../helpers/redis.js';

const prefix = uniquePrefix('cli-schedules');

type Run = CliRun;

function cli(args: string[]): Promise<CliRun> {
  return runCli(prefix, args);
}
const json = (r: Run) => JSON.parse(r.stdout) as Record<string, any>;

let spool: Spool;
let local: LocalServer;

async function http(method: string, path: string): Promise<Record<string, any>> {
  return (await (await fetch(`${local.url}${path}`, { method })).json()) as Record<string, any>;
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
});

afterAll(async () => {
  await local?.close();
  await cleanupPrefix(prefix);
});

describe('spool schedule put', () => {
  it('creates, then replaces; get shows it; --json is the body of the PUT and equals GET', async () => {
    const made = await cli(['schedule', 'put', 'hourly', '--queue', 'reports', '--every', '1h', '--handler', 'echo']);
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    expect(made.stdout).toMatch(/^Created schedule hourly\.\n/);
    expect(made.stdout).toMatch(/^every:\s+3600000 ms \(1h00m\)$/m);
    expect(made.stdout).toMatch(/^timezone:\s+UTC$/m);
    expect(made.stdout).toMatch(/^last run:\s+- \(never fired\)$/m);
    expect(made.stdout).toMatch(/^target:\s+handler echo$/m);

    const replaced = await cli([
      'schedule',
      'put',
      'hourly',
      '--queue',
      'reports',
      '--cron',
      '0 * * * *',
      '--timezone',
      'Europe/Berlin',
      '--handler',
      'echo',
      '--payload',
      '{"report":"daily"}',
      '--json',
    ]);
    expect(replaced.code).toBe(0);
    const body = json(replaced);
    expect(body).toMatchObject({
      id: 'hourly',
      queue: 'reports',
      cron: '0 * * * *',
      timezone: 'Europe/Berlin',
      job: { handler: 'echo', payload: { report: 'daily' } },
      paused: false,
      fires: 0,
      missed: 0,
      lastRunAt: null,
    });
    expect(body.everyMs).toBeUndefined();
    // The next top of an hour, as the API computes it.
    expect(body.nextRunAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:00:00\.000Z$/);
    expect(json(await cli(['schedule', 'get', 'hourly', '--json']))).toEqual(await http('GET', '/v1/schedules/hourly'));

    const text = await cli(['schedule', 'get', 'hourly']);
    expect(text.stdout).toMatch(/^cron:\s+0 \* \* \* \*$/m);
    expect(text.stdout).toMatch(/^timezone:\s+Europe\/Berlin$/m);
    expect(text.stdout).toContain(`next run:    ${body.nextRunAt}`);
    const jobLine = /^job:\s+(.*)$/m.exec(text.stdout)?.[1];
    expect(JSON.parse(jobLine!)).toEqual({ handler: 'echo', payload: { report: 'daily' } });
  });

  it('takes the job from --job, --job-file or --target; a start and an end; --paused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-cli-'));
    const file = join(dir, 'job.json');
    writeFileSync(file, JSON.stringify({ handler: 'echo', priority: 7, maxAttempts: 2 }));
    const start = Date.now() + 86_400_000;
    const fromFile = await cli([
      'schedule',
      'put',
      'from-file',
      '--queue',
      'reports',
      '--every',
      '30m',
      '--job-file',
      file,
      '--start-at',
      String(start),
      '--end-at',
      new Date(start + 7 * 86_400_000).toISOString(),
      '--json',
    ]);
    expect(fromFile.code).toBe(0);
    expect(json(fromFile)).toMatchObject({
      job: { handler: 'echo', priority: 7, maxAttempts: 2 },
      startAt: new Date(start).toISOString(),
      endAt: new Date(start + 7 * 86_400_000).toISOString(),
    });
    // Not before its start.
    expect(Date.parse(json(fromFile).nextRunAt)).toBeGreaterThanOrEqual(start);

    const target = await cli([
      'schedule',
      'put',
      'ping',
      '--queue',
      'hooks',
      '--every',
      '1m30s',
      '--target',
      'https://example.com/ping',
      '--payload',
      '[1,2]',
      '--paused',
      '--json',
    ]);
    expect(target.code).toBe(0);
    expect(json(target)).toMatchObject({
      everyMs: 90_000,
      job: { target: { url: 'https://example.com/ping' }, payload: [1, 2] },
      paused: true,
      nextRunAt: null,
    });
    const job = await cli([
      'schedule',
      'put',
      'raw',
      '--queue',
      'hooks',
      '--every',
      '1d',
      '--job',
      '{"handler":"echo"}',
    ]);
    expect(job.code).toBe(0);
    expect((await getSchedule(spool, 'raw'))?.everyMs).toBe(86_400_000);
  });

  it('refuses bad flags with exit 64 and a message naming the flag, writing nothing', async () => {
    const put = (...rest: string[]) => cli(['schedule', 'put', 'bad', ...rest]);
    const base = ['--queue', 'reports'];
    const cases: Array<[string[], string]> = [
      [['--every', '1h', '--handler', 'echo'], '--queue is required'],
      [[...base, '--handler', 'echo'], 'give --cron EXPR or --every DURATION'],
      [[...base, '--cron', '* * * * *', '--every', '1m', '--handler', 'echo'], '--cron and --every: give one'],
      [[...base, '--every', 'soon', '--handler', 'echo'], '--every must be a duration'],
      [[...base, '--every', '500ms', '--handler', 'echo'], '--every: everyMs'],
      [[...base, '--cron', 'every day', '--handler', 'echo'], '--cron: cron: is not a 5-field cron expression'],
      [[...base, '--cron', '0 3 * * *', '--timezone', 'Mars/Olympus', '--handler', 'echo'], '--timezone: timezone'],
      [[...base, '--every', '1h'], 'the job is missing'],
      [[...base, '--every', '1h', '--payload', '{}'], '--payload needs --target URL or --handler NAME'],
      [[...base, '--every', '1h', '--target', 'https://a.example', '--handler', 'echo'], '--target and --handler'],
      [[...base, '--every', '1h', '--job', '{', '--handler', 'echo'], 'give the job once'],
      [[...base, '--every', '1h', '--job', '{'], '--job is not JSON'],
      [[...base, '--every', '1h', '--job', '[1]'], '--job must be a JSON object'],
      [[...base, '--every', '1h', '--job', '{"handler":"echo","priority":5000}'], '--job: job.priority'],
      [[...base, '--every', '1h', '--job', '{"handler":"echo","runAt":0}'], '--job: job.runAt'],
      [[...base, '--every', '1h', '--handler', 'echo', '--payload', 'x'], '--payload is not JSON'],
      [[...base, '--every', '1h', '--target', 'ftp://a.example/x'], '--target: job.target.url'],
      [[...base, '--every', '1h', '--job-file', '/nonexistent/job.json'], '--job-file: cannot read'],
      [[...base, '--every', '1h', '--handler', 'echo', '--start-at', 'tomorrow'], '--start-at: startAt'],
      [
        [...base, '--every', '1h', '--handler', 'echo', '--start-at', '2000', '--end-at', '1000'],
        '--end-at: endAt: is not after startAt',
      ],
      [['--queue', 'no such queue', '--every', '1h', '--handler', 'echo'], '--queue: queue'],
      [[...base, '--every', '1h', '--handler', 'echo', '--frequency', '2'], "Unknown option '--frequency'"],
    ];
    for (const [args, message] of cases) {
      const r = await put(...args);
      expect(r.code, args.join(' ')).toBe(EXIT.usage);
      expect(r.stderr, args.join(' ')).toContain(message);
      expect(r.stderr, args.join(' ')).toContain('Usage: spool schedule put <id>');
    }
    const badId = await cli(['schedule', 'put', 'no spaces', '--queue', 'q', '--every', '1h', '--handler', 'echo']);
    expect(badId.code).toBe(EXIT.usage);
    expect(badId.stderr).toContain('<id>: id: must match');
    expect(await getSchedule(spool, 'bad')).toBeUndefined();
  });

  it('parses durations: units summed, nothing without a unit', () => {
    expect(parseDuration('2s')).toBe(2000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('1500ms')).toBe(1500);
    expect(parseDuration('1000')).toBeUndefined();
    expect(parseDuration('1 h')).toBeUndefined();
    expect(parseDuration('')).toBeUndefined();
  });
});

describe('spool schedules', () => {
  it("lists every schedule, or one queue's, with fires and missed; --json is GET /v1/schedules", async () => {
    await cli(['schedule', 'put', 'tick', '--queue', 'ticks', '--every', '2s', '--handler', 'echo']);
    // A minute later by the test clock: the late schedule fires once and counts the ticks it skipped.
    const later = new Spool(testRedis(), { config: { prefix }, clock: () => Date.now() + 60_000 });
    const { fired } = await fireDueSchedules(later);
    const tick = fired.find((f) => f.id === 'tick')!;
    expect(tick.jobId).toBeDefined();
    expect(tick.missed).toBeGreaterThan(0);

    const ls = await cli(['schedules']);
    expect(ls.code).toBe(0);
    const lines = ls.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+QUEUE\s+WHEN\s+TIMEZONE\s+NEXT\s+LAST\s+FIRES\s+MISSED\s+PAUSED$/);
    const ids = (await listSchedules(spool)).map((s) => s.id);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(ids);
    expect(lines.find((l) => l.startsWith('tick '))).toMatch(
      new RegExp(`^tick\\s+ticks\\s+every 2s\\s+UTC\\s+\\S+.*\\s+1\\s+${tick.missed}\\s+no$`),
    );
    expect(lines.find((l) => l.startsWith('ping '))).toMatch(
      /^ping\s+hooks\s+every 1m30s\s+UTC\s+paused\s+-\s+0\s+0\s+yes$/,
    );
    expect(lines.find((l) => l.startsWith('hourly '))).toMatch(
      /^hourly\s+reports\s+0 \* \* \* \*\s+Europe\/Berlin\s+in /,
    );

    const one = await cli(['schedules', '--queue', 'hooks']);
    expect(
      one.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(['ping', 'raw']);
    const none = await cli(['schedules', '--queue', 'nothing']);
    expect(none.stdout).toContain(`No schedules for queue nothing under prefix "${prefix}".`);

    expect(json(await cli(['schedules', '--json']))).toEqual(await http('GET', '/v1/schedules'));
    expect(json(await cli(['schedules', '--queue', 'hooks', '--json']))).toEqual(
      await http('GET', '/v1/schedules?queue=hooks'),
    );
    const got = json(await cli(['schedule', 'get', 'tick', '--json']));
    expect(got).toMatchObject({ fires: 1, missed: tick.missed, lastJobId: tick.jobId });
    expect(got.lastRunAt).toBe(new Date(tick.fireAt).toISOString());
  });
});

describe('spool schedule pause|resume|delete', () => {
  it('pause and resume put the stored definition back, secrets included (the API answers them redacted)', async () => {
    const job = {
      target: { url: 'https://example.com/hook?key=q-secret', headers: { authorization: 'Bearer h-secret' } },
      payload: { n: 1 },
    };
    const made = await cli([
      'schedule',
      'put',
      'secret',
      '--queue',
      'hooks',
      '--cron',
      '*/5 * * * *',
      '--job',
      JSON.stringify(job),
    ]);
    expect(made.code).toBe(0);
    expect(made.stdout).toContain('headers:     authorization: [redacted]');
    expect(made.stdout).not.toContain('h-secret');
    expect(made.stdout).not.toContain('q-secret');

    const paused = await cli(['schedule', 'pause', 'secret']);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toMatch(/^Schedule secret paused\.\n/);
    expect(paused.stdout).toMatch(/^next run:\s+- \(paused\)$/m);
    expect(await getSchedule(spool, 'secret')).toMatchObject({ paused: true, cron: '*/5 * * * *', job });
    expect((await getSchedule(spool, 'secret'))?.nextRunAt).toBeUndefined();

    const again = await cli(['schedule', 'pause', 'secret']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Schedule secret is paused already: nothing changed.');

    const resumed = await cli(['schedule', 'resume', 'secret', '--json']);
    expect(resumed.code).toBe(0);
    expect(json(resumed)).toMatchObject({
      paused: false,
      job: { target: { headers: { authorization: '[redacted]' } } },
    });
    expect(Date.parse(json(resumed).nextRunAt)).toBeGreaterThan(Date.now() - 1000);
    const stored = await getSchedule(spool, 'secret');
    expect(stored).toMatchObject({ paused: false, cron: '*/5 * * * *', timezone: 'UTC', job });
    expect(stored?.nextRunAt).toBeDefined();
  });

  it('delete needs --yes; an unknown schedule is exit 4 for get, pause, resume and delete', async () => {
    const noYes = await cli(['schedule', 'delete', 'secret']);
    expect(noYes.code).toBe(EXIT.usage);
    expect(noYes.stderr).toContain('deleting schedule secret stops its fires for good: add --yes');
    expect(await getSchedule(spool, 'secret')).toBeDefined();

    const deleted = await cli(['schedule', 'delete', 'secret', '--yes', '--json']);
    expect(deleted.code).toBe(0);
    expect(json(deleted)).toEqual({ id: 'secret', deleted: true });
    expect(await getSchedule(spool, 'secret')).toBeUndefined();

    for (const args of [
      ['schedule', 'get', 'secret'],
      ['schedule', 'pause', 'secret'],
      ['schedule', 'resume', 'secret'],
      ['schedule', 'delete', 'secret', '--yes'],
    ]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(EXIT.notFound);
      expect(r.stderr, args.join(' ')).toContain('schedule secret not found');
    }
    const missing = await cli(['schedule', 'get', 'secret', '--json']);
    expect(json(missing).error.code).toBe('not_found');
  });

  it('`spool schedule` alone lists its commands (64); help names the options', async () => {
    const group = await cli(['schedule']);
    expect(group.code).toBe(EXIT.usage);
    expect(group.stderr).toContain('schedule needs a command');
    for (const w of ['get', 'put', 'pause', 'resume', 'delete'])
      expect(group.stderr).toContain(`spool schedule ${w} <id>`);
    const help = await cli(['schedule', 'put', '--help']);
    expect(help.code).toBe(0);
    for (const o of ['--queue Q', '--cron EXPR', '--every DURATION', '--timezone TZ', '--job JSON', '--job-file PATH'])
      expect(help.stdout).toContain(o);
    const top = await cli(['--help']);
    expect(top.stdout).toContain('spool schedules [--queue Q]');
    expect(top.stdout).toContain('schedule not found');
  });
});
