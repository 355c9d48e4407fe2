/**
 * Benchmark plumbing: a private redis-server, an HTTP request counter around globalThis.fetch, and
 * Redis command counts from INFO commandstats (which counts the commands run inside Lua too).
 */
import { Redis as IORedis } from 'ioredis';
import { type RedisServer, startRedisServer } from '../local/redis.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface PrivateRedis extends RedisServer {
  version: string;
}

/**
 * Starts a throwaway redis-server (no persistence, loopback only, a temporary --dir) on a free port,
 * trying three ports if another process takes one first, and waits for PING.
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  let server: RedisServer;
  try {
    server = await startRedisServer({ tempDir: 'spool-bench-redis-', logLevel: 'warning', attempts: 3 });
  } catch (e) {
    throw new Error(`bench: could not start redis-server: ${String(e)}`);
  }
  const probe = new IORedis(server.url, { maxRetriesPerRequest: 1 });
  probe.on('error', () => {});
  try {
    const info = await probe.info('server');
    return { ...server, version: /redis_version:(\S+)/.exec(info)?.[1] ?? '?' };
  } catch (e) {
    await server.stop();
    throw e;
  } finally {
    probe.disconnect();
  }
}

/** Counts the HTTP requests this process sends to one origin (the Upstash-compatible endpoint). */
export class FetchCounter {
  total = 0;
  readonly byPath = new Map<string, number>();
  private original: typeof fetch | undefined;

  constructor(private readonly origin: string) {}

  install(): void {
    if (this.original) return;
    const original = globalThis.fetch;
    this.original = original;
    globalThis.fetch = ((input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (url.startsWith(this.origin)) {
        this.total++;
        const p = url.slice(this.origin.length) || '/';
        this.byPath.set(p, (this.byPath.get(p) ?? 0) + 1);
      }
      return original(input, init);
    }) as typeof fetch;
  }

  uninstall(): void {
    if (this.original) globalThis.fetch = this.original;
    this.original = undefined;
  }
}

export type CommandStats = Map<string, number>;

/** Reads INFO commandstats: calls per command (lower-case name, e.g. "evalsha", "zadd"). */
export async function readCommandStats(r: IORedis): Promise<CommandStats> {
  const text = await r.info('commandstats');
  const out: CommandStats = new Map();
  for (const line of text.split(/\r?\n/)) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (m) out.set(m[1] as string, Number(m[2]));
  }
  return out;
}

export interface CommandDelta {
  total: number;
  byCommand: Record<string, number>;
}

/**
 * Commands run between two readings. The INFO call that took `before` is counted in `after`
 * (a command's stats are updated when it finishes), so one `info` is subtracted, and `ownReads`
 * more: the readings taken in between by whoever measures (e.g. waiting for the server to go quiet).
 */
export function diffStats(before: CommandStats, after: CommandStats, ownReads = 0): CommandDelta {
  const byCommand: Record<string, number> = {};
  let total = 0;
  for (const [cmd, calls] of after) {
    let d = calls - (before.get(cmd) ?? 0);
    if (cmd === 'info') d -= 1 + ownReads;
    if (d > 0) {
      byCommand[cmd] = d;
      total += d;
    }
  }
  return { total, byCommand };
}

/** Measures the Redis commands and HTTP requests of one section. Nothing else may use the server meanwhile. */
export class Meter {
  /** INFO readings this meter has taken (each is one `info` command in the server's stats). */
  private reads = 0;

  constructor(
    private readonly stats: IORedis,
    private readonly http?: FetchCounter,
  ) {}

  private read(): Promise<CommandStats> {
    this.reads++;
    return readCommandStats(this.stats);
  }

  /**
   * Waits until the server has run no command but this meter's own readings for `quietMs` (read
   * every `everyMs`), or `maxMs` passed. The readings are not counted by a `measure` around it.
   * Returns whether it went quiet.
   */
  async waitQuiet(quietMs: number, maxMs: number, everyMs = 250): Promise<boolean> {
    const sum = (s: CommandStats): number => [...s.values()].reduce((a, b) => a + b, 0);
    const end = Date.now() + maxMs;
    let last = sum(await this.read());
    let quietSince = Date.now();
    while (Date.now() < end) {
      await sleep(everyMs);
      const now = sum(await this.read());
      // The previous reading's own INFO shows up in this one.
      if (now - last > 1) quietSince = Date.now();
      last = now;
      if (Date.now() - quietSince >= quietMs) return true;
    }
    return false;
  }

  async measure<T>(fn: () => Promise<T>): Promise<{
    value: T;
    commands: CommandDelta;
    requests: number;
    ms: number;
    requestsByPath: Record<string, number>;
  }> {
    const before = await this.read();
    const reads0 = this.reads;
    const req0 = this.http?.total ?? 0;
    const paths0 = new Map(this.http?.byPath ?? []);
    const t0 = performance.now();
    const value = await fn();
    const ms = performance.now() - t0;
    const requests = (this.http?.total ?? 0) - req0;
    const between = this.reads - reads0;
    const after = await this.read();
    const requestsByPath: Record<string, number> = {};
    for (const [p, n] of this.http?.byPath ?? []) {
      const d = n - (paths0.get(p) ?? 0);
      if (d > 0) requestsByPath[p] = d;
    }
    return { value, commands: diffStats(before, after, between), requests, ms, requestsByPath };
  }
}

export const round = (x: number, digits = 3): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** An integer as is, else `d` decimals. */
const fmt = (x: number, d = 2): string => (Number.isInteger(x) ? String(x) : x.toFixed(d));

/** The `k` commands run most, per job: `ZADD 4, HSET 4, ...`. */
export function topCommands(byCommand: Record<string, number>, jobs: number, k = 8): string {
  return Object.entries(byCommand)
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([c, n]) => `${c.toUpperCase()} ${fmt(n / jobs, 2)}`)
    .join(', ');
}

/** Nearest-rank percentile. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}
