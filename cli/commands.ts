/**
 * The `spool` commands. `run(argv, io)` returns the exit code, so tests can call it in-process
 * and bin/spool.mjs can run it as a program. Every command answers through the API's own route
 * code (cli/api.ts): `--json` prints the API's bodies, the text output is drawn from them.
 */
import { readFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { PurgeRunReport } from '../functions/purge/run.js';
import { JOB_STATES } from '../shared/queue/types.js';
import type { Answer, Bodies, CliApi, ErrorBody } from './api.js';
import { CliFailure, EXIT, endpointOf, HEALTH_EXIT, LOCAL_REST_TOKEN, LOCAL_REST_URL } from './codes.js';
import { reasonOf } from './health.js';
import { type ApiSchedule, describeJob, describeSchedule, jobRow, scheduleRow } from './present.js';

export { EXIT, HEALTH_EXIT, LOCAL_REST_TOKEN, LOCAL_REST_URL };

export interface CliIO {
  env: Record<string, string | undefined>;
  out: (s: string) => void;
  err: (s: string) => void;
}

const OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
  'dry-run': { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  once: { type: 'boolean' },
  interval: { type: 'string' },
  fingerprint: { type: 'string' },
  id: { type: 'string', multiple: true },
  limit: { type: 'string' },
  state: { type: 'string' },
  cursor: { type: 'string' },
  rate: { type: 'string' },
  concurrency: { type: 'string' },
  'include-dead': { type: 'boolean' },
  force: { type: 'boolean' },
  queue: { type: 'string' },
  cron: { type: 'string' },
  every: { type: 'string' },
  timezone: { type: 'string' },
  job: { type: 'string' },
  'job-file': { type: 'string' },
  payload: { type: 'string' },
  target: { type: 'string' },
  handler: { type: 'string' },
  'start-at': { type: 'string' },
  'end-at': { type: 'string' },
  paused: { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];
type OptionName = keyof typeof OPTIONS;
const GLOBAL_OPTIONS: OptionName[] = ['json', 'help', 'version'];

type Flags = {
  json?: boolean;
  help?: boolean;
  version?: boolean;
  'dry-run'?: boolean;
  yes?: boolean;
  once?: boolean;
  interval?: string;
  fingerprint?: string;
  id?: string[];
  limit?: string;
  state?: string;
  cursor?: string;
  rate?: string;
  concurrency?: string;
  'include-dead'?: boolean;
  force?: boolean;
  queue?: string;
  cron?: string;
  every?: string;
  timezone?: string;
  job?: string;
  'job-file'?: string;
  payload?: string;
  target?: string;
  handler?: string;
  'start-at'?: string;
  'end-at'?: string;
  paused?: boolean;
};

interface Command {
  /** The words that name it, e.g. ['dlq', 'replay']. */
  words: string[];
  /** Arguments and options after the words, as printed in its usage line. */
  synopsis: string;
  summary: string;
  /** Options beyond --json and --help, with their help lines. */
  options: Array<[OptionName, string]>;
  /** Extra lines for `--help`. */
  notes?: string[];
  /** How many positional arguments after the words: [min, max]. */
  arity: [number, number];
  run(api: CliApi, args: string[], flags: Flags, io: CliIO): Promise<number>;
}

class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: Command,
  ) {
    super(message);
  }
}

// ---- formatting ------------------------------------------------------------------------------

export function age(ms: number): string {
  if (!ms || ms < 0) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

/** How long ago an ISO time of the API was. */
const ago = (isoTime: unknown): string => (typeof isoTime === 'string' ? age(Date.now() - Date.parse(isoTime)) : '-');

/** An ISO time of the API relative to now: `in 5s`, `3m02s ago` (`now` for this second). */
const when = (isoTime: string): string => {
  const d = Date.parse(isoTime) - Date.now();
  if (Math.abs(d) < 1000) return 'now';
  return d > 0 ? `in ${age(d)}` : `${age(-d)} ago`;
};

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const printJson = (io: CliIO, v: unknown) => io.out(JSON.stringify(v, null, 2));

function intFlag(cmd: Command, name: string, v: string | undefined, max?: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || (max !== undefined && n > max))
    throw new UsageError(`--${name} must be an integer from 1${max ? ` to ${max}` : ''}`, cmd);
  return n;
}

/** An error answer of the API as the CLI reports it: 404 → EXIT.notFound, 400 → usage, else failure. */
function apiFailure(status: number, body: ErrorBody, cmd: Command, notFound?: string): never {
  const e = body.error;
  if (status === 400) throw new UsageError(e.message, cmd);
  const exit = status === 404 ? EXIT.notFound : EXIT.failure;
  throw new CliFailure(status === 404 && notFound ? notFound : `${e.code}: ${e.message}`, exit, { error: e });
}

/** The body of an answer, or the CLI's report of its error. */
function bodyOf<T>(res: Answer<T>, cmd: Command, notFound?: string): T {
  if (!res.ok) apiFailure(res.status, res.body, cmd, notFound);
  return res.body;
}

async function queueArg(api: CliApi, cmd: Command, queue: string): Promise<string> {
  if (!api.isQueueName(queue)) throw new UsageError(`queue "${queue}" is not a queue name ([A-Za-z0-9_-]{1,64})`, cmd);
  await api.requireQueue(queue);
  return queue;
}

// ---- commands --------------------------------------------------------------------------------

const status: Command = {
  words: ['status'],
  synopsis: '',
  summary: 'every queue: depth by state, oldest waiting age, expired leases',
  options: [],
  notes: ['--json prints the body of GET /v1/queues.'],
  arity: [0, 0],
  async run(api, _args, flags, io) {
    const body = bodyOf(await api.call('GET /v1/queues'), this);
    if (flags.json) {
      printJson(io, body);
      return EXIT.ok;
    }
    const queues = body.queues;
    if (queues.length === 0) {
      io.out(`No queues under prefix "${api.config.SPOOL_KEY_PREFIX}" yet.`);
      return EXIT.ok;
    }
    const rows = [['QUEUE', 'WAITING', 'DELAYED', 'ACTIVE', 'COMPLETED', 'DEAD', 'OLDEST', 'LEASE-EXPIRED']];
    for (const q of queues) {
      const c = q.counts;
      rows.push([
        q.queue,
        String(c.waiting),
        String(c.delayed),
        String(c.active),
        String(c.completed),
        String(c.dead),
        age(q.oldestWaitingAgeSeconds * 1000),
        String(q.leaseExpired),
      ]);
    }
    io.out(table(rows));
    return EXIT.ok;
  },
};

const jobsGet: Command = {
  words: ['jobs', 'get'],
  synopsis: '<queue> <id>',
  summary: 'one job: state, attempts, target (headers redacted), last error, payload',
  options: [],
  notes: ['--json prints the body of GET /v1/queues/{queue}/jobs/{id}.'],
  arity: [2, 2],
  async run(api, [queue, id], flags, io) {
    await queueArg(api, this, queue!);
    const res = await api.call('GET /v1/queues/{queue}/jobs/{id}', { queue: queue!, id: id! });
    const job = bodyOf(res, this, `job ${id} not found in queue ${queue}`);
    if (flags.json) printJson(io, job);
    else io.out(describeJob(job));
    return EXIT.ok;
  },
};

const jobsLs: Command = {
  words: ['jobs', 'ls'],
  synopsis: '<queue> [--state STATE] [--limit N] [--cursor C]',
  summary: "a page of one state's jobs (default waiting), in that state's order",
  options: [
    ['state', `one of ${JOB_STATES.join(', ')} (default waiting)`],
    ['limit', 'jobs per page, 1 to 1000 (default 50)'],
    ['cursor', 'the next page: the cursor the previous page printed'],
  ],
  notes: ['--json prints the body of GET /v1/queues/{queue}/jobs?state=&limit=&cursor=.'],
  arity: [1, 1],
  async run(api, [queue], flags, io) {
    if (flags.state !== undefined && !(JOB_STATES as readonly string[]).includes(flags.state))
      throw new UsageError(`--state must be one of ${JOB_STATES.join(', ')}`, this);
    await queueArg(api, this, queue!);
    const res = await api.call(
      'GET /v1/queues/{queue}/jobs',
      { queue: queue! },
      { query: { state: flags.state, limit: intFlag(this, 'limit', flags.limit, 1000), cursor: flags.cursor } },
    );
    const page = bodyOf(res, this);
    if (flags.json) {
      printJson(io, page);
      return EXIT.ok;
    }
    const jobs = page.jobs;
    if (jobs.length === 0) {
      io.out(`No ${page.state} jobs in ${queue}${flags.cursor ? ' after this cursor' : ''}.`);
      return EXIT.ok;
    }
    io.out(
      table([['ID', 'ATTEMPTS', 'PRIORITY', 'UPDATED', 'TARGET', 'LAST ERROR'], ...jobs.map((j) => jobRow(j, ago))]),
    );
    io.out(`\n${jobs.length} of ${page.total} ${page.state} job(s) of ${queue}.`);
    if (page.nextCursor) io.out(`Next page: spool jobs ls ${queue} --state ${page.state} --cursor ${page.nextCursor}`);
    return EXIT.ok;
  },
};

type DeadGroups = Bodies['GET /v1/queues/{queue}/dlq'];

async function dlqOf(api: CliApi, cmd: Command, queue: string, samples: number): Promise<DeadGroups> {
  return bodyOf(await api.call('GET /v1/queues/{queue}/dlq', { queue }, { query: { samples } }), cmd);
}

const dlqLs: Command = {
  words: ['dlq', 'ls'],
  synopsis: '[queue]',
  summary: 'dead jobs grouped by error fingerprint (every queue by default)',
  options: [],
  notes: [
    '--json prints the body of GET /v1/queues/{queue}/dlq?samples=1; without a queue,',
    '{"queues": [...]} holding that body for every queue.',
  ],
  arity: [0, 1],
  async run(api, [queue], flags, io) {
    let bodies: DeadGroups[];
    if (queue) {
      await queueArg(api, this, queue);
      bodies = [await dlqOf(api, this, queue, 1)];
    } else {
      const { queues } = bodyOf(await api.call('GET /v1/queues'), this);
      bodies = [];
      for (const q of queues) bodies.push(await dlqOf(api, this, q.queue, 1));
    }
    if (flags.json) {
      printJson(io, queue ? bodies[0] : { queues: bodies });
      return EXIT.ok;
    }
    const rows = [['QUEUE', 'FINGERPRINT', 'COUNT', 'CLASS', 'LAST', 'MESSAGE']];
    for (const b of bodies)
      for (const g of b.groups)
        rows.push([
          b.queue,
          g.fingerprint,
          String(g.count),
          g.errorClass ?? '-',
          ago(g.lastDiedAt),
          String(g.message ?? '').slice(0, 80),
        ]);
    if (rows.length === 1) io.out(queue ? `The DLQ of ${queue} is empty.` : 'Every DLQ is empty.');
    else io.out(table(rows));
    return EXIT.ok;
  },
};

const dlqShow: Command = {
  words: ['dlq', 'show'],
  synopsis: '<queue> <fingerprint|job-id>',
  summary: 'a group with up to 5 sample jobs, or one dead job',
  options: [],
  notes: ['--json prints the group as GET /v1/queues/{queue}/dlq shows it, or the job as GET .../jobs/{id} does.'],
  arity: [2, 2],
  async run(api, [queue, key], flags, io) {
    await queueArg(api, this, queue!);
    const dlq = await dlqOf(api, this, queue!, 5);
    const group = dlq.groups.find((g) => g.fingerprint === key);
    if (group) {
      if (flags.json) {
        printJson(io, group);
        return EXIT.ok;
      }
      io.out(
        `fingerprint: ${group.fingerprint}\ncount:       ${group.count}\nclass:       ${group.errorClass ?? '-'}\nmessage:     ${group.message ?? '-'}\nlast died:   ${group.lastDiedAt ?? '-'}\n`,
      );
      const samples = group.samples;
      io.out(
        samples.length
          ? `samples (${samples.length}):\n\n${samples.map(describeJob).join('\n\n')}`
          : 'no samples in the newest dead jobs scanned',
      );
      return EXIT.ok;
    }
    const res = await api.call('GET /v1/queues/{queue}/jobs/{id}', { queue: queue!, id: key! });
    if (res.ok && res.body.state === 'dead') {
      if (flags.json) printJson(io, res.body);
      else io.out(describeJob(res.body));
      return EXIT.ok;
    }
    if (!res.ok && res.status !== 404) apiFailure(res.status, res.body, this);
    const message = res.ok
      ? `job ${key} of ${queue} is ${res.body.state}, not dead`
      : `no dead-letter group or dead job "${key}" in queue ${queue}`;
    throw new CliFailure(message, EXIT.notFound, { error: { code: 'not_found', message, details: {} } });
  },
};

const dlqReplay: Command = {
  words: ['dlq', 'replay'],
  synopsis: '<queue> [--fingerprint F] [--id ID ...] [--limit N] [--yes]',
  summary: 'move dead jobs back to waiting: a dry run unless --yes',
  options: [
    ['fingerprint', 'only the dead jobs of this error fingerprint (see spool dlq ls)'],
    ['id', 'only this dead job (repeat for more)'],
    ['limit', 'at most this many, 1 to 1000 (default 100)'],
    ['yes', 'really move them (without it: a dry run that says what would move)'],
    ['dry-run', 'say what would move and move nothing (the default)'],
  ],
  notes: [
    'Every replay, dry runs included, is audited like the API\'s (actor "cli:<user>@<host>").',
    '--json prints the body of POST /v1/queues/{queue}/dlq/replay.',
  ],
  arity: [1, 1],
  async run(api, [queue], flags, io) {
    if (flags.yes && flags['dry-run']) throw new UsageError('--yes and --dry-run contradict each other', this);
    const limit = intFlag(this, 'limit', flags.limit, 1000);
    await queueArg(api, this, queue!);
    const dryRun = flags.yes !== true;
    // What the selection holds in all, to say what a limit leaves behind.
    let selected: number | undefined;
    if (flags.id) selected = flags.id.length;
    else {
      const dlq = await dlqOf(api, this, queue!, 0);
      selected = flags.fingerprint
        ? ((dlq.groups as Array<{ fingerprint: string; count: number }>).find(
            (g) => g.fingerprint === flags.fingerprint,
          )?.count ?? 0)
        : dlq.total;
    }
    const body: Record<string, unknown> = { dryRun };
    if (flags.fingerprint) body.fingerprint = flags.fingerprint;
    if (flags.id) body.ids = flags.id;
    if (limit !== undefined) body.limit = limit;
    const r = bodyOf(await api.call('POST /v1/queues/{queue}/dlq/replay', { queue: queue! }, { body }), this);
    if (flags.json) {
      printJson(io, r);
      return EXIT.ok;
    }
    const n = dryRun ? r.matched : r.moved;
    io.out(
      `${dryRun ? 'Dry run: would replay' : 'Replayed'} ${n} dead job(s) of ${queue} (scanned ${r.scanned}${r.truncated ? ', scan truncated' : ''})`,
    );
    const left = selected === undefined ? 0 : Math.max(0, selected - r.matched);
    if (left > 0)
      io.out(
        `${left} more dead job(s) of this selection ${dryRun ? 'would stay' : 'stay'} in the DLQ (--limit ${limit ?? 100}; at most 1000 a call).`,
      );
    if (r.permanent > 0)
      io.out(
        `Warning: ${r.permanent} of them failed permanently (not retryable, e.g. a 4xx from the target): unless the cause is fixed they will fail again.`,
      );
    if (r.jobs.length > 0) {
      const rows = [['ID', 'FINGERPRINT', 'ATTEMPTS', 'ERROR']];
      for (const j of r.jobs)
        rows.push([j.id, j.fingerprint ?? '-', String(j.attempts), String(j.error ?? '').slice(0, 80)]);
      io.out(table(rows));
    }
    if (dryRun && r.matched > 0) io.out('Nothing moved. Run again with --yes to replay them.');
    return EXIT.ok;
  },
};

const purge: Command = {
  words: ['purge'],
  synopsis: '[queue] [--dry-run]',
  summary: 'put expired leases back; remove completed jobs past retention and stale state (every queue by default)',
  options: [['dry-run', 'count what would be removed, remove nothing']],
  notes: [
    '--json prints the purge report of POST /v1/queues/{queue}/purge (with a queue) or of the purge',
    'function (every queue): {dryRun, queues: {<queue>: {...}}, totals, more}.',
  ],
  arity: [0, 1],
  async run(api, [queue], flags, io) {
    const dryRun = flags['dry-run'] === true;
    let report: PurgeRunReport;
    if (queue) {
      await queueArg(api, this, queue);
      report = bodyOf(await api.call('POST /v1/queues/{queue}/purge', { queue }, { body: { dryRun } }), this);
    } else {
      const { queues } = bodyOf(await api.call('GET /v1/queues'), this);
      const names = queues.map((q) => q.queue);
      report = await api.purgeAll(names, dryRun);
    }
    if (flags.json) {
      printJson(io, report);
      return EXIT.ok;
    }
    const entries = Object.entries(report.queues);
    if (entries.length === 0) {
      io.out('No queues to purge.');
      return EXIT.ok;
    }
    io.out(dryRun ? 'Dry run: nothing removed; these would be.' : 'Purged:');
    const cols = ['completed', 'deadPastTtl', 'deadTrimmed', 'idempotencyKeys', 'orphans', 'leaseExpired'] as const;
    const rows = [
      ['QUEUE', 'COMPLETED', 'DEAD-PAST-TTL', 'DEAD-TRIMMED', 'IDEMPOTENCY-KEYS', 'ORPHANS', 'LEASE-EXPIRED', 'MORE'],
    ];
    for (const [q, r] of entries) rows.push([q, ...cols.map((c) => String(r[c])), r.more ? 'yes' : 'no']);
    if (entries.length > 1)
      rows.push(['(total)', ...cols.map((c) => String(report.totals[c])), report.more ? 'yes' : 'no']);
    io.out(table(rows));
    return EXIT.ok;
  },
};

const health: Command = {
  words: ['health'],
  synopsis: '[--once] [--interval S]',
  summary: 'health status with its reasons, as GET /v1/health judges it',
  options: [
    ['once', 'check once and exit with the status'],
    ['interval', 'seconds between checks without --once (default 10)'],
  ],
  notes: [
    'Exit code (for cron and monitors): 0 healthy, 1 degraded, 2 unhealthy, 3 unknown (Redis unreachable).',
    '--json prints the body of GET /v1/health; unknown: {"status": "unknown", "at", "error": {...}}.',
  ],
  arity: [0, 0],
  async run(api, _args, flags, io) {
    const once = async (): Promise<number> => {
      try {
        const body = bodyOf(await api.call('GET /v1/health'), this);
        if (flags.json) printJson(io, body);
        else {
          const queues = body.queues;
          io.out(`${String(body.status).toUpperCase()} (${queues.length} queue${queues.length === 1 ? '' : 's'})`);
          for (const q of queues) {
            const reasons = (q.symptoms as Parameters<typeof reasonOf>[0][]).map(reasonOf);
            io.out(`  ${q.queue}: ${q.status}${reasons.length ? ` — ${reasons.join('; ')}` : ''}`);
          }
        }
        return HEALTH_EXIT[body.status as keyof typeof HEALTH_EXIT];
      } catch (e) {
        if (!(e instanceof CliFailure)) throw e;
        if (flags.json) printJson(io, { status: 'unknown', at: new Date().toISOString(), ...e.body });
        else io.out(`UNKNOWN — ${e.message}`);
        return HEALTH_EXIT.unknown;
      }
    };
    if (flags.once) return once();
    const seconds = flags.interval === undefined ? 10 : Number(flags.interval);
    if (!Number.isFinite(seconds) || seconds <= 0)
      throw new UsageError('--interval must be a number of seconds > 0', this);
    let stop = false;
    const onSignal = () => {
      stop = true;
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let code = 0;
    while (!stop) {
      io.out(`--- ${new Date().toISOString()}`);
      code = await once();
      for (let waited = 0; waited < seconds * 1000 && !stop; waited += 100)
        await new Promise((r) => setTimeout(r, 100));
    }
    return code;
  },
};

// ---- queue settings (flow control) ----

type Settings = Bodies['GET /v1/queues/{queue}/settings'];

const PERIOD_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `--rate N/PERIOD` (`10/s`, `100/1m`, `5/500ms`, `20/2500`: ms) → a rateLimit; `off` → null. */
export function parseRate(v: string): { limit: number; periodMs: number } | null | undefined {
  if (v === 'off') return null;
  const m = /^(\d+)\/(\d*)(ms|s|m|h)?$/.exec(v.trim());
  if (!m || (m[2] === '' && !m[3])) return undefined;
  const limit = Number(m[1]);
  const periodMs = (m[2] === '' ? 1 : Number(m[2])) * PERIOD_UNITS[m[3] ?? 'ms']!;
  return { limit, periodMs };
}

function describeSettings(s: Settings): string {
  const rows = [
    ['paused', s.paused ? `yes, since ${s.pausedAt ?? '-'} (${ago(s.pausedAt)} ago)` : 'no'],
    ['rateLimit', s.rateLimit ? `${s.rateLimit.limit} starts per ${s.rateLimit.periodMs} ms` : 'none'],
    ['maxConcurrency', s.maxConcurrency === null ? 'none' : `${s.maxConcurrency} active jobs`],
    ['maxWaitMs', s.maxWaitMs === null ? 'none' : `jobs expire ${s.maxWaitMs} ms after their enqueue`],
    [
      'circuitBreaker',
      s.circuitBreaker.enabled
        ? `on: opens after ${s.circuitBreaker.failures} failures in a row, ${s.circuitBreaker.coolDownMs} ms doubling to ${s.circuitBreaker.maxCoolDownMs} ms`
        : 'off',
    ],
  ];
  const breakers = s.breakers.map((b) => [b.origin, b.state, String(b.failures), b.openUntil ?? '-']);
  return `queue ${s.queue}\n${table(rows)}${breakers.length ? `\n\n${table([['ORIGIN', 'BREAKER', 'FAILURES', 'OPEN-UNTIL'], ...breakers])}` : ''}`;
}

async function putSettings(
  api: CliApi,
  cmd: Command,
  queue: string,
  body: Record<string, unknown>,
  io: CliIO,
  json?: boolean,
) {
  const s = bodyOf(await api.call('PUT /v1/queues/{queue}/settings', { queue }, { body }), cmd);
  if (json) printJson(io, s);
  else io.out(describeSettings(s));
  return EXIT.ok;
}

function queueName(api: CliApi, cmd: Command, queue: string): string {
  if (!api.isQueueName(queue)) throw new UsageError(`queue "${queue}" is not a queue name ([A-Za-z0-9_-]{1,64})`, cmd);
  return queue;
}

const queueSettings: Command = {
  words: ['queue', 'settings'],
  synopsis: '<queue> [--rate N/PERIOD|off] [--concurrency N|off]',
  summary: "a queue's flow control: show it, or change the rate limit or the concurrency cap",
  options: [
    ['rate', 'at most N jobs start per PERIOD across all workers: 10/s, 100/1m, 5/500ms; off removes it'],
    ['concurrency', "at most N of the queue's jobs active at once, 1 to 100000; off removes it"],
  ],
  notes: [
    'Without options: the settings as they are (GET /v1/queues/{queue}/settings). With options: only',
    'those change (PUT, merged). A queue may be configured before its first job.',
    '--json prints the body of GET (or PUT) /v1/queues/{queue}/settings.',
  ],
  arity: [1, 1],
  async run(api, [queue], flags, io) {
    queueName(api, this, queue!);
    const body: Record<string, unknown> = {};
    if (flags.rate !== undefined) {
      const r = parseRate(flags.rate);
      if (r === undefined) throw new UsageError('--rate must be N/PERIOD (10/s, 100/1m, 5/500ms) or off', this);
      body.rateLimit = r;
    }
    if (flags.concurrency !== undefined)
      body.maxConcurrency =
        flags.concurrency === 'off' ? null : intFlag(this, 'concurrency', flags.concurrency, 100_000);
    if (Object.keys(body).length > 0) return putSettings(api, this, queue!, body, io, flags.json);
    const s = bodyOf(await api.call('GET /v1/queues/{queue}/settings', { queue: queue! }), this);
    if (flags.json) printJson(io, s);
    else io.out(describeSettings(s));
    return EXIT.ok;
  },
};

const queuePause: Command = {
  words: ['queue', 'pause'],
  synopsis: '<queue>',
  summary: "stop leasing the queue's jobs (enqueues are still accepted; running jobs finish)",
  options: [],
  notes: ['--json prints the body of PUT /v1/queues/{queue}/settings {"paused": true}.'],
  arity: [1, 1],
  async run(api, [queue], flags, io) {
    return putSettings(api, this, queueName(api, this, queue!), { paused: true }, io, flags.json);
  },
};

const queueResume: Command = {
  words: ['queue', 'resume'],
  synopsis: '<queue>',
  summary: "lease the queue's jobs again (a worker starts when jobs wait)",
  options: [],
  notes: ['--json prints the body of PUT /v1/queues/{queue}/settings {"paused": false}.'],
  arity: [1, 1],
  async run(api, [queue], flags, io) {
    return putSettings(api, this, queueName(api, this, queue!), { paused: false }, io, flags.json);
  },
};

const queueClear: Command = {
  words: ['queue', 'clear'],
  synopsis: '<queue> --yes [--include-dead] [--force]',
  summary: "remove a queue's waiting and delayed jobs for good (and its dead ones with --include-dead)",
  options: [
    ['yes', 'really remove them (required: there is no undo)'],
    ['include-dead', 'remove the dead jobs too'],
    ['force', "clear even while jobs are active: they are removed too (their workers' acks are refused)"],
  ],
  notes: [
    'One atomic script, audited with the replays (actor: cli:<user>@<host>). Completed jobs stay; a queue',
    'left holding no job leaves the registry. Exit 1 while jobs are active (without --force).',
    '--json prints the body of DELETE /v1/queues/{queue}?confirm=<queue>.',
  ],
  arity: [1, 1],
  async run(api, [queue], flags, io) {
    await queueArg(api, this, queue!);
    if (!flags.yes) throw new UsageError(`clearing removes the jobs of ${queue} for good: add --yes`, this);
    const res = await api.call(
      'DELETE /v1/queues/{queue}',
      { queue: queue! },
      {
        query: {
          confirm: queue,
          includeDead: flags['include-dead'] ? 'true' : undefined,
          force: flags.force ? 'true' : undefined,
        },
      },
    );
    const body = bodyOf(res, this);
    if (flags.json) {
      printJson(io, body);
      return EXIT.ok;
    }
    const r = body.removed;
    io.out(
      `Cleared ${queue}: removed ${r.waiting} waiting, ${r.delayed} delayed, ${r.active} active, ${r.dead} dead; ${body.left} left.` +
        (body.unregistered ? ' The queue left the registry.' : ''),
    );
    return EXIT.ok;
  },
};

const workers: Command = {
  words: ['workers'],
  synopsis: '<queue>',
  summary: 'the worker invocations draining the queue now: started, last heartbeat, jobs held and done',
  options: [],
  notes: [
    "Each entry is written by the worker's own lease and heartbeat calls and removed by its last one; a",
    'worker that stopped calling lapses after four heartbeats. --json prints GET /v1/queues/{queue}/workers.',
  ],
  arity: [1, 1],
  async run(api, [queue], flags, io) {
    queueName(api, this, queue!);
    const body = bodyOf(await api.call('GET /v1/queues/{queue}/workers', { queue: queue! }), this);
    if (flags.json) {
      printJson(io, body);
      return EXIT.ok;
    }
    if (body.workers.length === 0) {
      io.out(`No worker is draining ${queue}.`);
      return EXIT.ok;
    }
    const rows = [['WORKER', 'STARTED', 'HEARTBEAT', 'HELD', 'DONE']];
    for (const w of body.workers)
      rows.push([w.id, `${ago(w.startedAt)} ago`, `${ago(w.lastHeartbeatAt)} ago`, String(w.held), String(w.done)]);
    io.out(table(rows));
    return EXIT.ok;
  },
};

// ---- recurring schedules ----

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--every DURATION` (`2s`, `5m`, `1h30m`, `1d`, `1500ms`) → milliseconds; undefined when it is none. */
export function parseDuration(v: string): number | undefined {
  const t = v.trim();
  if (!/^(?:\d+(?:ms|s|m|h|d))+$/.test(t)) return undefined;
  let ms = 0;
  for (const [, n, unit] of t.matchAll(/(\d+)(ms|s|m|h|d)/g)) ms += Number(n) * DURATION_UNITS[unit!]!;
  return ms;
}

/** A flag's JSON value, or a usage error naming the flag. */
function jsonFlag(cmd: Command, name: string, v: string): unknown {
  try {
    return JSON.parse(v);
  } catch (e) {
    throw new UsageError(`--${name} is not JSON: ${(e as Error).message}`, cmd);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The job a schedule enqueues, from --job, --job-file, or --target/--handler with --payload. */
function scheduleJob(cmd: Command, flags: Flags): Record<string, unknown> {
  const composed = flags.target !== undefined || flags.handler !== undefined || flags.payload !== undefined;
  const given = [
    flags.job !== undefined ? '--job' : '',
    flags['job-file'] !== undefined ? '--job-file' : '',
    composed ? '--target/--handler/--payload' : '',
  ].filter(Boolean);
  if (given.length === 0)
    throw new UsageError(
      'the job is missing: give --job JSON, --job-file PATH, or --target URL or --handler NAME',
      cmd,
    );
  if (given.length > 1) throw new UsageError(`give the job once: ${given.join(' or ')}, not both`, cmd);
  const object = (name: string, v: unknown) => {
    if (!isObject(v))
      throw new UsageError(`--${name} must be a JSON object: a job as POSTed to /v1/queues/{queue}/jobs`, cmd);
    return v;
  };
  if (flags.job !== undefined) return object('job', jsonFlag(cmd, 'job', flags.job));
  const file = flags['job-file'];
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new UsageError(`--job-file: cannot read ${file}: ${(e as Error).message}`, cmd);
    }
    return object('job-file', jsonFlag(cmd, 'job-file', text));
  }
  if (flags.target !== undefined && flags.handler !== undefined)
    throw new UsageError('--target and --handler: give one (an HTTP target or a registered handler)', cmd);
  if (flags.target === undefined && flags.handler === undefined)
    throw new UsageError('--payload needs --target URL or --handler NAME (what runs the job)', cmd);
  const job: Record<string, unknown> =
    flags.target !== undefined ? { target: { url: flags.target } } : { handler: flags.handler };
  if (flags.payload !== undefined) job.payload = jsonFlag(cmd, 'payload', flags.payload);
  return job;
}

/** `--start-at` / `--end-at`: epoch ms (digits) or an ISO-8601 time with its offset, as the API takes them. */
const timeFlag = (v: string): number | string => (/^\d+$/.test(v) ? Number(v) : v);

/** The flag a field of a refused schedule came from, so that the message names what to change. */
function flagOfField(field: string, flags: Flags): string | undefined {
  const direct: Record<string, string> = {
    id: '<id>',
    queue: '--queue',
    cron: '--cron',
    everyMs: '--every',
    timezone: '--timezone',
    startAt: '--start-at',
    endAt: '--end-at',
    paused: '--paused',
  };
  if (direct[field]) return direct[field];
  if (field !== 'job' && !field.startsWith('job.')) return undefined;
  if (flags.job !== undefined) return '--job';
  if (flags['job-file'] !== undefined) return '--job-file';
  if (field.startsWith('job.payload')) return '--payload';
  if (field.startsWith('job.handler')) return '--handler';
  return flags.target !== undefined ? '--target' : flags.handler !== undefined ? '--handler' : undefined;
}

/** A schedule's answer, with a 400 worded by the flag its field came from and a 404 by the id. */
function scheduleBody<T>(res: Answer<T>, cmd: Command, id: string | undefined, flags: Flags = {}): T {
  if (!res.ok && res.status === 400) {
    const field = res.body.error.details.field;
    const flag = typeof field === 'string' ? flagOfField(field, flags) : undefined;
    throw new UsageError(flag ? `${flag}: ${res.body.error.message}` : res.body.error.message, cmd);
  }
  return bodyOf(res, cmd, id === undefined ? undefined : `schedule ${id} not found`);
}

function printSchedule(io: CliIO, sc: ApiSchedule, json: boolean | undefined, headline?: string) {
  if (json) printJson(io, sc);
  else io.out(`${headline ? `${headline}\n\n` : ''}${describeSchedule(sc, age)}`);
}

const schedulesLs: Command = {
  words: ['schedules'],
  synopsis: '[--queue Q]',
  summary: 'the recurring schedules: cron or interval, timezone, next and last run, fires, missed, paused',
  options: [['queue', "only this queue's schedules"]],
  notes: [
    'NEXT and LAST are relative to now (`schedule get <id>` shows the times); NEXT says "paused" or "ended"',
    'when there is none. MISSED counts the ticks skipped while nothing fired (a catch-up fires once).',
    '--json prints the body of GET /v1/schedules (?queue=).',
  ],
  arity: [0, 0],
  async run(api, _args, flags, io) {
    if (flags.queue !== undefined) queueName(api, this, flags.queue);
    const body = scheduleBody(
      await api.call('GET /v1/schedules', {}, { query: { queue: flags.queue } }),
      this,
      undefined,
    );
    if (flags.json) {
      printJson(io, body);
      return EXIT.ok;
    }
    if (body.schedules.length === 0) {
      io.out(
        `No schedules${flags.queue ? ` for queue ${flags.queue}` : ''} under prefix "${api.config.SPOOL_KEY_PREFIX}".`,
      );
      return EXIT.ok;
    }
    const rows = [['ID', 'QUEUE', 'WHEN', 'TIMEZONE', 'NEXT', 'LAST', 'FIRES', 'MISSED', 'PAUSED']];
    for (const sc of body.schedules) rows.push(scheduleRow(sc, age, when));
    io.out(table(rows));
    return EXIT.ok;
  },
};

const scheduleGet: Command = {
  words: ['schedule', 'get'],
  synopsis: '<id>',
  summary: 'one schedule: its definition (target headers redacted), next and last run, fires, missed, last error',
  options: [],
  notes: ['--json prints the body of GET /v1/schedules/{id}.'],
  arity: [1, 1],
  async run(api, [id], flags, io) {
    const sc = scheduleBody(await api.call('GET /v1/schedules/{id}', { id: id! }), this, id);
    printSchedule(io, sc, flags.json);
    return EXIT.ok;
  },
};

const schedulePut: Command = {
  words: ['schedule', 'put'],
  synopsis:
    '<id> --queue Q (--cron EXPR | --every DURATION) [--timezone TZ] (--job JSON | --job-file PATH | --target URL | --handler NAME) [--payload JSON] [--start-at T] [--end-at T] [--paused]',
  summary: 'create or replace a schedule: each fire enqueues its job to the queue, once per fire',
  options: [
    ['queue', 'the queue its jobs go to'],
    ['cron', 'a 5-field cron expression "m h dom mon dow", e.g. "*/5 * * * *" or "0 3 * * MON-FRI"'],
    ['every', 'or an interval: 2s, 5m, 1h30m, 1d, 1500ms (at least 1s)'],
    ['timezone', 'the IANA zone the cron expression is read in, e.g. Europe/Berlin (default UTC)'],
    ['job', 'the job as JSON, as POSTed to /v1/queues/{queue}/jobs (no idempotencyKey, runAt, expiresAt)'],
    ['job-file', 'the same JSON from a file'],
    ['target', 'or a job calling this URL (POST) ...'],
    ['handler', '... or this registered handler'],
    ['payload', 'the JSON payload of that job'],
    ['start-at', 'no fire before this time: epoch ms or ISO-8601 with offset'],
    ['end-at', 'no fire at or after this time (the same forms)'],
    ['paused', 'store it paused: it fires once resumed'],
  ],
  notes: [
    'PUT /v1/schedules/{id}: the whole definition is replaced (options left out take their defaults).',
    'A refused field is named by the option it came from (e.g. --every for everyMs). Exit 1 when the',
    'API refuses otherwise (e.g. 409 at the limit of schedules). --json prints the body of the PUT.',
  ],
  arity: [1, 1],
  async run(api, [id], flags, io) {
    if (flags.queue === undefined) throw new UsageError('--queue is required: the queue its jobs go to', this);
    if ((flags.cron === undefined) === (flags.every === undefined))
      throw new UsageError(
        flags.cron === undefined ? 'give --cron EXPR or --every DURATION' : '--cron and --every: give one, not both',
        this,
      );
    const body: Record<string, unknown> = { queue: flags.queue };
    if (flags.cron !== undefined) body.cron = flags.cron;
    if (flags.every !== undefined) {
      const ms = parseDuration(flags.every);
      if (ms === undefined) throw new UsageError('--every must be a duration: 2s, 5m, 1h30m, 1d or 1500ms', this);
      body.everyMs = ms;
    }
    if (flags.timezone !== undefined) body.timezone = flags.timezone;
    body.job = scheduleJob(this, flags);
    if (flags.paused) body.paused = true;
    if (flags['start-at'] !== undefined) body.startAt = timeFlag(flags['start-at']);
    if (flags['end-at'] !== undefined) body.endAt = timeFlag(flags['end-at']);
    const res = await api.call('PUT /v1/schedules/{id}', { id: id! }, { body });
    const sc = scheduleBody(res, this, undefined, flags);
    printSchedule(io, sc, flags.json, `${res.status === 201 ? 'Created' : 'Replaced'} schedule ${sc.id}.`);
    return EXIT.ok;
  },
};

/** `schedule pause|resume`: a PUT of the stored definition (headers unredacted) with `paused` set. */
async function setPaused(api: CliApi, cmd: Command, id: string, paused: boolean, flags: Flags, io: CliIO) {
  const stored = await api.storedSchedule(id);
  if (!stored) {
    const message = `schedule ${id} not found`;
    throw new CliFailure(message, EXIT.notFound, { error: { code: 'not_found', message, details: {} } });
  }
  const verb = paused ? 'paused' : 'resumed';
  if (stored.paused === paused) {
    const sc = scheduleBody(await api.call('GET /v1/schedules/{id}', { id }), cmd, id);
    printSchedule(
      io,
      sc,
      flags.json,
      `Schedule ${id} is ${paused ? 'paused' : 'not paused'} already: nothing changed.`,
    );
    return EXIT.ok;
  }
  const res = await api.call('PUT /v1/schedules/{id}', { id }, { body: api.scheduleInputOf(stored, { paused }) });
  const sc = scheduleBody(res, cmd, id);
  printSchedule(io, sc, flags.json, `Schedule ${id} ${verb}.`);
  return EXIT.ok;
}

const schedulePause: Command = {
  words: ['schedule', 'pause'],
  synopsis: '<id>',
  summary: 'stop a schedule firing (its definition and counts stay)',
  options: [],
  notes: ['A PUT of the stored definition with paused: true. --json prints the body of PUT /v1/schedules/{id}.'],
  arity: [1, 1],
  async run(api, [id], flags, io) {
    return setPaused(api, this, id!, true, flags, io);
  },
};

const scheduleResume: Command = {
  words: ['schedule', 'resume'],
  synopsis: '<id>',
  summary: 'fire a paused schedule again, from its next tick (the ticks while paused are not fired)',
  options: [],
  notes: ['A PUT of the stored definition with paused: false. --json prints the body of PUT /v1/schedules/{id}.'],
  arity: [1, 1],
  async run(api, [id], flags, io) {
    return setPaused(api, this, id!, false, flags, io);
  },
};

const scheduleDelete: Command = {
  words: ['schedule', 'delete'],
  synopsis: '<id> --yes',
  summary: 'delete a schedule: it fires no more (the jobs it enqueued stay)',
  options: [['yes', 'really delete it (required: there is no undo)']],
  notes: ['Exit 4 when there is no such schedule. --json prints the body of DELETE /v1/schedules/{id}.'],
  arity: [1, 1],
  async run(api, [id], flags, io) {
    if (!flags.yes) throw new UsageError(`deleting schedule ${id} stops its fires for good: add --yes`, this);
    const body = scheduleBody(await api.call('DELETE /v1/schedules/{id}', { id: id! }), this, id);
    if (flags.json) printJson(io, body);
    else io.out(`Deleted schedule ${id}.`);
    return EXIT.ok;
  },
};

export const COMMANDS: readonly Command[] = [
  status,
  jobsGet,
  jobsLs,
  dlqLs,
  dlqShow,
  dlqReplay,
  purge,
  health,
  queueSettings,
  queuePause,
  queueResume,
  queueClear,
  workers,
  schedulesLs,
  scheduleGet,
  schedulePut,
  schedulePause,
  scheduleResume,
  scheduleDelete,
];

// ---- usage -----------------------------------------------------------------------------------

const OPTION_LABEL: Partial<Record<OptionName, string>> = {
  interval: '--interval S',
  fingerprint: '--fingerprint F',
  id: '--id ID',
  limit: '--limit N',
  state: '--state STATE',
  cursor: '--cursor C',
  yes: '-y, --yes',
  queue: '--queue Q',
  cron: '--cron EXPR',
  every: '--every DURATION',
  timezone: '--timezone TZ',
  job: '--job JSON',
  'job-file': '--job-file PATH',
  payload: '--payload JSON',
  target: '--target URL',
  handler: '--handler NAME',
  'start-at': '--start-at T',
  'end-at': '--end-at T',
};

const usageLine = (c: Command) => `spool ${c.words.join(' ')}${c.synopsis ? ` ${c.synopsis}` : ''}`;

/** One command's usage: its line, what it does, its options and notes. */
export function commandUsage(c: Command): string {
  const lines = [`Usage: ${usageLine(c)}`, '', `  ${c.summary}`];
  const opts: Array<[string, string]> = [
    ...c.options.map(([o, help]): [string, string] => [OPTION_LABEL[o] ?? `--${o}`, help]),
    ['--json', "print the API's JSON instead of text"],
    ['-h, --help', 'this help'],
  ];
  const w = Math.max(...opts.map(([o]) => o.length));
  lines.push('', 'Options:', ...opts.map(([o, h]) => `  ${o.padEnd(w)}  ${h}`));
  if (c.notes?.length) lines.push('', ...c.notes);
  return `${lines.join('\n')}\n`;
}

const listing = (cs: readonly Command[]) => cs.map((c) => `  ${usageLine(c)}\n      ${c.summary}`).join('\n');

/** The usage of every command under `word` (e.g. `spool dlq`). */
function groupUsage(word: string): string {
  const cs = COMMANDS.filter((c) => c.words[0] === word);
  return `Usage:\n${listing(cs)}\n\nRun spool ${word} <command> --help for one command's options.\n`;
}

export const USAGE = `Usage: spool <command> [options]

Commands:
${listing(COMMANDS)}

Options:
  --json          print the API's JSON (the same bodies as the HTTP API) instead of text
  -h, --help      help; spool <command> --help for one command
  -V, --version   the version

Exit codes:
  0   done                        4   job, dead job, DLQ group or schedule not found
  1   the API refused it          5   unknown queue (nothing ever enqueued to it)
  64  bad command line            69  Redis unreachable, or it refused the token
  78  invalid setting in the environment
  spool health: 0 healthy, 1 degraded, 2 unhealthy, 3 unknown

Environment:
  UPSTASH_REDIS_REST_URL    default ${LOCAL_REST_URL} (the endpoint \`npm start\` runs)
  UPSTASH_REDIS_REST_TOKEN  default ${LOCAL_REST_TOKEN}
  SPOOL_KEY_PREFIX          default spool; and every other SPOOL_* setting of the README
`;

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** The command the words name, if any; else the first word when it names a group. */
function resolve(positionals: string[]): { command?: Command; group?: string; rest: string[] } {
  for (const c of COMMANDS) {
    if (c.words.every((w, i) => positionals[i] === w)) return { command: c, rest: positionals.slice(c.words.length) };
  }
  const group = COMMANDS.some((c) => c.words.length > 1 && c.words[0] === positionals[0]) ? positionals[0] : undefined;
  return { ...(group ? { group } : {}), rest: positionals.slice(1) };
}

// ---- run -------------------------------------------------------------------------------------

export async function run(argv: string[], io: CliIO): Promise<number> {
  // A loose pass finds the command, whose own options the strict pass then allows.
  const loose = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: false });
  const looseFlags = loose.values as Flags;
  let words = loose.positionals;
  if (looseFlags.version) {
    io.out(`spool ${version()}`);
    return EXIT.ok;
  }
  let help = looseFlags.help === true;
  if (words[0] === 'help') {
    help = true;
    words = words.slice(1);
  }
  const { command, group } = resolve(words);
  if (!command) {
    if (group) {
      if (help) {
        io.out(groupUsage(group));
        return EXIT.ok;
      }
      io.err(
        `spool: ${words[1] ? `unknown ${group} command "${words[1]}"` : `${group} needs a command`}\n\n${groupUsage(group)}`,
      );
      return EXIT.usage;
    }
    if (help || words.length === 0) {
      (help ? io.out : io.err)(USAGE);
      return help ? EXIT.ok : EXIT.usage;
    }
    io.err(`spool: unknown command "${words[0]}"\n\n${USAGE}`);
    return EXIT.usage;
  }
  if (help) {
    io.out(commandUsage(command));
    return EXIT.ok;
  }

  const allowed = new Set<OptionName>([...GLOBAL_OPTIONS, ...command.options.map(([o]) => o)]);
  const options = Object.fromEntries(Object.entries(OPTIONS).filter(([k]) => allowed.has(k as OptionName)));
  let flags: Flags;
  let args: string[];
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    flags = parsed.values as Flags;
    args = resolve(parsed.positionals).rest;
    const [min, max] = command.arity;
    if (args.length < min) throw new UsageError(`missing argument${min - args.length > 1 ? 's' : ''}`);
    if (args.length > max) throw new UsageError(`unexpected argument "${args[max]}"`);
  } catch (e) {
    io.err(`spool: ${(e as Error).message}\n\n${commandUsage(command)}`);
    return EXIT.usage;
  }

  const isHealth = command === health;
  try {
    // The engine loads only for a command that runs (not for --version or --help).
    const { cliApi } = await import('./api.js');
    const api = await cliApi(io.env);
    return await command.run(api, args, flags, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`spool: ${e.message}\n\n${commandUsage(e.command ?? command)}`);
      return EXIT.usage;
    }
    if (e instanceof CliFailure) {
      if (flags.json) printJson(io, e.body);
      io.err(`spool: ${e.message}`);
      return isHealth ? HEALTH_EXIT.unknown : e.exit;
    }
    io.err(`spool: ${e instanceof Error ? e.message : String(e)} (Redis at ${endpointOf(io.env).url})`);
    return isHealth ? HEALTH_EXIT.unknown : EXIT.failure;
  }
}
