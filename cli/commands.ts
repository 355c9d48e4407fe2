/**
 * The `spool` commands. `run(argv, io)` returns the exit code, so tests can call it in-process
 * and bin/spool.mjs can run it as a program.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { loadConfig, queueConfig, type SpoolConfig } from '../shared/config/index.js';
import { redactJob, redactUrls } from '../shared/log/redact.js';
import { type DeadGroup, type Job, type QueueSnapshot, Spool, SpoolError } from '../shared/queue/index.js';
import { createRedis } from '../shared/redis/client.js';
import { checkHealth, type HealthReport } from './health.js';

export interface CliIO {
  env: Record<string, string | undefined>;
  out: (s: string) => void;
  err: (s: string) => void;
}

/** Same defaults as `npm start` and `npm run upstash:local`. */
export const LOCAL_REST_URL = 'http://127.0.0.1:8079';
export const LOCAL_REST_TOKEN = 'spool-local-token';

/** Exit codes of `spool health --once` (Nagios-style, so cron and monitors can read them). */
export const HEALTH_EXIT = { healthy: 0, degraded: 1, unhealthy: 2, unknown: 3 } as const;
/** Usage errors and failures of other commands. */
const EXIT_USAGE = 64;
const EXIT_FAILURE = 1;
const EXIT_NOT_FOUND = 4;

export const USAGE = `Usage: spool <command> [options]

Commands:
  status                                  every queue: depth by state, oldest waiting age, expired leases
  jobs get <queue> <id>                   one job, with its state and last error
  dlq ls [queue]                          dead jobs grouped by error fingerprint (all queues by default)
  dlq show <queue> <fingerprint|job-id>   a group with sample jobs, or one dead job
  dlq replay <queue> [--fingerprint F] [--id ID ...] [--limit N] [--dry-run]
                                          move dead jobs back to waiting (--dry-run: only say which)
  purge [queue] [--dry-run]               remove completed jobs past retention and stale state (all queues by default)
  health [--once] [--interval S]          health status with its reasons; exit code 0 healthy,
                                          1 degraded, 2 unhealthy, 3 unknown (Redis unreachable)

Options:
  --json        print JSON instead of text
  -h, --help    this help

Environment:
  UPSTASH_REDIS_REST_URL    default ${LOCAL_REST_URL} (the endpoint \`npm start\` runs)
  UPSTASH_REDIS_REST_TOKEN  default ${LOCAL_REST_TOKEN}
  SPOOL_KEY_PREFIX          default spool; and every other SPOOL_* setting of the README
`;

class UsageError extends Error {}

const OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  'dry-run': { type: 'boolean' },
  once: { type: 'boolean' },
  interval: { type: 'string' },
  fingerprint: { type: 'string' },
  id: { type: 'string', multiple: true },
  limit: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

type Flags = {
  json?: boolean;
  help?: boolean;
  'dry-run'?: boolean;
  once?: boolean;
  interval?: string;
  fingerprint?: string;
  id?: string[];
  limit?: string;
};

export interface CliContext {
  spool: Spool;
  config: SpoolConfig;
}

/** The engine the CLI talks through, configured like the functions are. */
export function cliContext(env: Record<string, string | undefined>): CliContext {
  const config = loadConfig(env);
  const url = env.UPSTASH_REDIS_REST_URL || LOCAL_REST_URL;
  const token = env.UPSTASH_REDIS_REST_TOKEN || LOCAL_REST_TOKEN;
  const spool = new Spool(createRedis({ url, token }, { failFast: true }), { config: queueConfig(config) });
  return { spool, config };
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  let positionals: string[];
  let flags: Flags;
  try {
    const parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    positionals = parsed.positionals;
    flags = parsed.values as Flags;
  } catch (e) {
    io.err(`spool: ${(e as Error).message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  const [cmd, ...rest] = positionals;
  if (flags.help || !cmd || cmd === 'help') {
    io.out(USAGE);
    return flags.help || cmd === 'help' ? 0 : EXIT_USAGE;
  }

  let ctx: CliContext;
  try {
    ctx = cliContext(io.env);
  } catch (e) {
    io.err(`spool: configuration: ${(e as Error).message}`);
    return cmd === 'health' ? HEALTH_EXIT.unknown : EXIT_USAGE;
  }

  try {
    switch (cmd) {
      case 'status':
        return await status(ctx, flags, io);
      case 'jobs':
        return await jobs(ctx, rest, flags, io);
      case 'dlq':
        return await dlq(ctx, rest, flags, io);
      case 'purge':
        return await purge(ctx, rest, flags, io);
      case 'health':
        return await health(ctx, flags, io);
      default:
        throw new UsageError(`unknown command "${cmd}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`spool: ${e.message}\n\n${USAGE}`);
      return EXIT_USAGE;
    }
    const msg = e instanceof SpoolError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
    io.err(`spool: ${msg}`);
    if (cmd === 'health') return HEALTH_EXIT.unknown;
    return EXIT_FAILURE;
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

const iso = (ms?: number) => (ms === undefined ? '-' : new Date(ms).toISOString());

function table(rows: string[][]): string {
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

function json(io: CliIO, v: unknown): void {
  io.out(JSON.stringify(v, null, 2));
}

function intFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer`);
  return n;
}

// ---- commands --------------------------------------------------------------------------------

async function status(ctx: CliContext, flags: Flags, io: CliIO): Promise<number> {
  const snaps = await ctx.spool.snapshot();
  if (flags.json) {
    json(io, { prefix: ctx.config.SPOOL_KEY_PREFIX, queues: snaps });
    return 0;
  }
  if (snaps.length === 0) {
    io.out(`No queues under prefix "${ctx.config.SPOOL_KEY_PREFIX}" yet.`);
    return 0;
  }
  io.out(statusTable(snaps));
  return 0;
}

export function statusTable(snaps: QueueSnapshot[]): string {
  const rows = [['QUEUE', 'WAITING', 'DELAYED', 'ACTIVE', 'COMPLETED', 'DEAD', 'OLDEST', 'LEASE-EXPIRED']];
  for (const s of snaps) {
    rows.push([
      s.queue,
      String(s.waiting),
      String(s.delayed),
      String(s.active),
      String(s.completed),
      String(s.dead),
      age(s.oldestWaitingAgeMs),
      String(s.leaseExpired),
    ]);
  }
  return table(rows);
}

/** A dead-letter group fit to show: its message's URLs and its samples redacted. */
const shownGroup = (g: DeadGroup): DeadGroup => ({
  ...g,
  ...(g.message === undefined ? {} : { message: redactUrls(g.message) }),
  samples: g.samples.map(redactJob),
});

function describeJob(job: Job): string {
  const j = redactJob(job);
  const lines = [
    `id:          ${j.id}`,
    `queue:       ${j.queue}`,
    `state:       ${j.state}`,
    `attempts:    ${j.attempts}/${j.maxAttempts}`,
    `priority:    ${j.priority}`,
    `created:     ${iso(j.createdAt)}`,
    `updated:     ${iso(j.updatedAt)}`,
  ];
  if (j.target) lines.push(`target:      ${j.target.method} ${j.target.url}`);
  if (j.handler) lines.push(`handler:     ${j.handler}`);
  if (j.runAt !== undefined) lines.push(`run at:      ${iso(j.runAt)}`);
  if (j.completedAt !== undefined) lines.push(`completed:   ${iso(j.completedAt)}`);
  if (j.diedAt !== undefined) lines.push(`died:        ${iso(j.diedAt)}`);
  if (j.replays !== undefined) lines.push(`replays:     ${j.replays}`);
  if (j.lastError) {
    lines.push(`last error:  ${j.lastError.class}: ${j.lastError.message}`);
    lines.push(
      `             attempt ${j.lastError.attempt}, ${j.lastError.retryable ? 'retryable' : 'permanent'}, fingerprint ${j.lastError.fingerprint}, at ${iso(j.lastError.at)}`,
    );
  }
  lines.push(`payload:     ${JSON.stringify(j.payload)}`);
  return lines.join('\n');
}

async function jobs(ctx: CliContext, args: string[], flags: Flags, io: CliIO): Promise<number> {
  const [sub, queue, id] = args;
  if (sub !== 'get' || !queue || !id || args.length > 3) throw new UsageError('usage: spool jobs get <queue> <id>');
  const job = await ctx.spool.get(queue, id);
  if (!job) {
    if (flags.json) json(io, { error: 'not_found', queue, id });
    else io.err(`spool: job ${id} not found in queue ${queue}`);
    return EXIT_NOT_FOUND;
  }
  if (flags.json) json(io, redactJob(job));
  else io.out(describeJob(job));
  return 0;
}

function groupLine(g: DeadGroup): string[] {
  return [
    g.fingerprint,
    String(g.count),
    g.errorClass ?? '-',
    age(g.lastDiedAt === undefined ? 0 : Date.now() - g.lastDiedAt),
    redactUrls(g.message ?? '').slice(0, 80),
  ];
}

async function dlq(ctx: CliContext, args: string[], flags: Flags, io: CliIO): Promise<number> {
  const [sub, queue, key] = args;
  switch (sub) {
    case 'ls': {
      if (args.length > 2) throw new UsageError('usage: spool dlq ls [queue]');
      const queues = queue ? [queue] : await ctx.spool.queues();
      const out: Array<{ queue: string; total: number; groups: DeadGroup[] }> = [];
      for (const q of queues) {
        const { total, groups } = await ctx.spool.deadGroups(q, { samples: 1 });
        out.push({ queue: q, total, groups: groups.map(shownGroup) });
      }
      if (flags.json) {
        json(io, { queues: out });
        return 0;
      }
      const rows = [['QUEUE', 'FINGERPRINT', 'COUNT', 'CLASS', 'LAST', 'MESSAGE']];
      for (const q of out) for (const g of q.groups) rows.push([q.queue, ...groupLine(g)]);
      if (rows.length === 1) io.out(queue ? `The DLQ of ${queue} is empty.` : 'Every DLQ is empty.');
      else io.out(table(rows));
      return 0;
    }
    case 'show': {
      if (!queue || !key || args.length > 3) throw new UsageError('usage: spool dlq show <queue> <fingerprint|job-id>');
      const { groups } = await ctx.spool.deadGroups(queue, { samples: 5 });
      const found = groups.find((g) => g.fingerprint === key);
      if (found) {
        const group = shownGroup(found);
        if (flags.json) {
          json(io, group);
          return 0;
        }
        io.out(
          `fingerprint: ${group.fingerprint}\ncount:       ${group.count}\nclass:       ${group.errorClass ?? '-'}\nmessage:     ${group.message ?? '-'}\nlast died:   ${iso(group.lastDiedAt)}\n`,
        );
        io.out(
          group.samples.length
            ? `samples (${group.samples.length}):\n\n${group.samples.map(describeJob).join('\n\n')}`
            : 'no samples in the newest dead jobs scanned',
        );
        return 0;
      }
      const job = await ctx.spool.get(queue, key);
      if (job && job.state === 'dead') {
        if (flags.json) json(io, redactJob(job));
        else io.out(describeJob(job));
        return 0;
      }
      io.err(`spool: no dead-letter group or dead job "${key}" in queue ${queue}`);
      return EXIT_NOT_FOUND;
    }
    case 'replay': {
      if (!queue || args.length > 2)
        throw new UsageError('usage: spool dlq replay <queue> [--fingerprint F] [--id ID ...] [--limit N] [--dry-run]');
      const dryRun = flags['dry-run'] === true;
      const report = await ctx.spool.replay(queue, {
        dryRun,
        ...(flags.fingerprint ? { fingerprint: flags.fingerprint } : {}),
        ...(flags.id ? { ids: flags.id } : {}),
        ...(flags.limit !== undefined ? { limit: intFlag('limit', flags.limit)! } : {}),
      });
      for (const j of report.jobs) if (j.error) j.error = redactUrls(j.error);
      if (flags.json) {
        json(io, report);
        return 0;
      }
      const verb = dryRun ? 'would replay' : 'replayed';
      io.out(
        `${dryRun ? 'Dry run: ' : ''}${verb} ${dryRun ? report.matched : report.moved} dead job(s) of ${queue} (scanned ${report.scanned}${report.truncated ? ', scan truncated' : ''})`,
      );
      if (report.jobs.length > 0) {
        const rows = [['ID', 'FINGERPRINT', 'ATTEMPTS', 'ERROR']];
        for (const j of report.jobs)
          rows.push([j.id, j.fingerprint ?? '-', String(j.attempts), (j.error ?? '').slice(0, 80)]);
        io.out(table(rows));
      }
      if (dryRun && report.matched > 0) io.out('Run again without --dry-run to replay them.');
      return 0;
    }
    default:
      throw new UsageError('usage: spool dlq ls|show|replay ...');
  }
}

async function purge(ctx: CliContext, args: string[], flags: Flags, io: CliIO): Promise<number> {
  const [queue] = args;
  if (args.length > 1) throw new UsageError('usage: spool purge [queue] [--dry-run]');
  const dryRun = flags['dry-run'] === true;
  const queues = queue ? [queue] : await ctx.spool.queues();
  const reports = [];
  for (const q of queues) reports.push({ queue: q, ...(await ctx.spool.purge(q, { dryRun })) });
  if (flags.json) {
    json(io, { dryRun, queues: reports });
    return 0;
  }
  if (reports.length === 0) {
    io.out('No queues to purge.');
    return 0;
  }
  io.out(dryRun ? 'Dry run: nothing removed; these would be.' : 'Purged:');
  const rows = [['QUEUE', 'COMPLETED', 'DEAD-PAST-TTL', 'DEAD-TRIMMED', 'IDEMPOTENCY-KEYS', 'ORPHANS', 'MORE']];
  for (const r of reports)
    rows.push([
      r.queue,
      String(r.completed),
      String(r.deadPastTtl),
      String(r.deadTrimmed),
      String(r.idempotencyKeys),
      String(r.orphans),
      r.more ? 'yes' : 'no',
    ]);
  io.out(table(rows));
  return 0;
}

function printHealth(report: HealthReport, flags: Flags, io: CliIO): void {
  if (flags.json) {
    json(io, report);
    return;
  }
  io.out(`${report.status.toUpperCase()} (${report.queues.length} queue${report.queues.length === 1 ? '' : 's'})`);
  for (const q of report.queues) {
    io.out(`  ${q.queue}: ${q.status}${q.reasons.length ? ` — ${q.reasons.join('; ')}` : ''}`);
  }
}

async function health(ctx: CliContext, flags: Flags, io: CliIO): Promise<number> {
  const once = async (): Promise<number> => {
    try {
      const report = await checkHealth(ctx.spool, ctx.config);
      printHealth(report, flags, io);
      return HEALTH_EXIT[report.status];
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (flags.json) json(io, { status: 'unknown', error: msg });
      else io.out(`UNKNOWN — ${msg}`);
      return HEALTH_EXIT.unknown;
    }
  };
  if (flags.once) return once();
  const seconds = flags.interval === undefined ? 10 : Number(flags.interval);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError('--interval must be a number of seconds > 0');
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
    for (let waited = 0; waited < seconds * 1000 && !stop; waited += 100) await new Promise((r) => setTimeout(r, 100));
  }
  return code;
}
