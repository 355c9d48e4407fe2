/**
 * redis-server on this machine, started one way for everyone who needs one: `npm start`
 * (`ensureRedis`: the Redis at REDIS_URL, or one started for the run), the test suite's shared Redis
 * (test/helpers/global-setup.ts), the tests' private servers (test/helpers/private-redis.ts) and the
 * benchmark's (bench/lib.ts). `startRedisServer` spawns it without persistence, waits for its PING
 * and stops it again.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { redactUrl } from '../shared/log/redact.js';
import { LOCAL_HOST } from './defaults.js';

export interface LocalRedis {
  url: string;
  /** The redis-server child when this process started one. */
  child?: ChildProcess;
  close(): Promise<void>;
}

/** A free TCP port on the loopback address (free when asked: another process may take it first). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, LOCAL_HOST, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * What the server at `url` answers to PING: `PONG`, or the error it replies with (`LOADING ...`,
 * `MASTERDOWN ...`, `NOAUTH ...`); undefined when nothing takes the connection. `readyCheck` waits,
 * as ioredis does, until a server that is loading its dataset has loaded it.
 */
async function pingReply(url: string, timeoutMs: number, readyCheck = false): Promise<string | undefined> {
  const r = new Redis(url, {
    lazyConnect: true,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableReadyCheck: readyCheck,
  });
  r.on('error', () => {});
  try {
    await r.connect();
  } catch {
    r.disconnect();
    return undefined;
  }
  try {
    return String(await r.ping());
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    r.disconnect();
  }
}

/** True when a Redis at `url` answers PING with PONG within `timeoutMs`. */
export async function redisAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  return (await pingReply(url, timeoutMs, true)) === 'PONG';
}

export class RedisServerMissingError extends Error {
  constructor(url: string) {
    super(
      `No Redis answers at ${redactUrl(url)} and redis-server is not installed.\n` +
        `Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis),\n` +
        `or point REDIS_URL at a Redis you already run.`,
    );
    this.name = 'RedisServerMissingError';
  }
}

/** How to start a redis-server. It never persists anything (`--save "" --appendonly no`). */
export interface RedisServerOptions {
  /** Its port; 0 (the default) takes a free loopback port. */
  port?: number;
  /** The address it binds (default 127.0.0.1). */
  host?: string;
  /** Its `--dir` (where it may write a dump a test saves); default: its working directory. */
  dir?: string;
  /** A fresh `--dir` under the OS temp directory, named with this prefix, removed on stop. */
  tempDir?: string;
  /** Its `--loglevel` (default: redis-server's own). */
  logLevel?: 'debug' | 'verbose' | 'notice' | 'warning';
  /** Its requirepass, handed over on stdin (`redis-server -` reads a config there): never on its command line. */
  password?: string;
  /** More arguments, after the others (`--maxmemory 1`, `--replicaof ...`). */
  args?: readonly string[];
  /** It outlives this process (a session of its own, no pipes, not waited for), as `--daemonize yes` would. */
  detached?: boolean;
  /** When it counts as up, from its reply to PING (default: PONG; a loading server answers LOADING). */
  ready?: (pingReply: string) => boolean;
  /** How long it may take to come up (default 10 s). */
  timeoutMs?: number;
  /** With port 0: how many free ports to try while it does not come up (another process took one first). Default 1. */
  attempts?: number;
}

/** A redis-server this process started. */
export interface RedisServer {
  /** `redis://[:password@]host:port`. */
  url: string;
  host: string;
  port: number;
  /** Its `--dir`, when one was given or made. */
  dir?: string;
  child: ChildProcess;
  /**
   * Stops it and waits for its exit: SIGTERM, then SIGKILL after `graceMs` (default 3000; 0: SIGKILL
   * at once). A paused (SIGSTOP) server is continued first. Removes a `tempDir`. Stopping twice is fine.
   */
  stop(o?: { graceMs?: number }): Promise<void>;
}

/** The command line `startRedisServer(o)` runs redis-server with on `port` (the password is not in it). */
export function redisServerArgs(o: RedisServerOptions, port: number): string[] {
  return [
    ...(o.password ? ['-'] : []),
    '--port',
    String(port),
    '--bind',
    o.host ?? LOCAL_HOST,
    '--save',
    '',
    '--appendonly',
    'no',
    ...(o.dir ? ['--dir', o.dir] : []),
    '--daemonize',
    'no',
    ...(o.logLevel ? ['--loglevel', o.logLevel] : []),
    ...(o.args ?? []),
  ];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts redis-server and waits until it is up (see `ready`). Fails when it exits first, or does not
 * come up in time (then it is killed); with port 0 it tries `attempts` free ports. A missing
 * redis-server binary fails at once, with the spawn error (code ENOENT).
 */
export async function startRedisServer(o: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = o.tempDir ? mkdtempSync(path.join(os.tmpdir(), o.tempDir)) : o.dir;
  const removeDir = () => {
    if (o.tempDir && dir) rmSync(dir, { recursive: true, force: true });
  };
  const attempts = o.port ? 1 : Math.max(1, o.attempts ?? 1);
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      const server = await spawnOne({ ...o, dir }, o.port || (await freePort()));
      return {
        ...server,
        stop: async (s) => {
          await server.stop(s);
          removeDir();
        },
      };
    } catch (e) {
      last = e;
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') break;
    }
  }
  removeDir();
  throw last;
}

async function spawnOne(o: RedisServerOptions, port: number): Promise<RedisServer> {
  const host = o.host ?? LOCAL_HOST;
  const { password } = o;
  const child = spawn('redis-server', redisServerArgs(o, port), {
    stdio: [password ? 'pipe' : 'ignore', o.detached ? 'ignore' : 'pipe', o.detached ? 'ignore' : 'pipe'],
    detached: o.detached ?? false,
  });
  if (password) child.stdin?.end(`requirepass "${password.replace(/["\\]/g, '\\$&')}"\n`);
  let output = '';
  const collect = (b: Buffer) => {
    output = (output + b.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null && !spawnError;

  const stop = async ({ graceMs = 3000 }: { graceMs?: number } = {}): Promise<void> => {
    if (!running()) return;
    child.kill('SIGCONT');
    child.kill(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
    const t = graceMs > 0 ? setTimeout(() => child.kill('SIGKILL'), graceMs) : undefined;
    await exited;
    clearTimeout(t);
  };

  const url = `redis://${password ? `:${encodeURIComponent(password)}@` : ''}${host}:${port}`;
  const ready = o.ready ?? ((reply: string) => reply === 'PONG');
  const deadline = Date.now() + (o.timeoutMs ?? 10_000);
  for (;;) {
    if (spawnError) throw spawnError;
    if (!running())
      throw new Error(
        `redis-server exited (code ${child.exitCode ?? child.signalCode}) before answering:\n${output.trim()}`,
      );
    const reply = await pingReply(url, 500);
    if (reply !== undefined && ready(reply) && running()) break;
    if (Date.now() > deadline) {
      await stop({ graceMs: 0 });
      throw new Error(`redis-server started but does not answer PING at ${redactUrl(url)}:\n${output.trim()}`);
    }
    await sleep(25);
  }
  if (o.detached) child.unref();
  return { url, host, port, ...(o.dir ? { dir: o.dir } : {}), child, stop };
}

/** Reuses a Redis that answers at `url`; otherwise starts one on the URL's host and port. */
export async function ensureRedis(url: string, log: (line: string) => void = () => {}): Promise<LocalRedis> {
  if (await redisAnswers(url)) {
    log(`redis: using the Redis at ${redactUrl(url)}`);
    return { url, close: async () => {} };
  }
  const u = new URL(url);
  if (u.protocol !== 'redis:')
    throw new Error(`No Redis answers at ${redactUrl(url)} (and only a redis:// URL can be started locally)`);
  const port = Number(u.port || '6379');
  const host = u.hostname === 'localhost' || u.hostname === '' ? LOCAL_HOST : u.hostname;
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  const o: RedisServerOptions = { port, host, logLevel: 'warning', ...(password ? { password } : {}) };
  log(
    `redis: nothing answers at ${redactUrl(url)}; starting redis-server ${redisServerArgs(o, port).join(' ')}${password ? ' (requirepass on stdin)' : ''}`,
  );
  let server: RedisServer;
  try {
    server = await startRedisServer(o);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new RedisServerMissingError(url);
    throw e;
  }
  log(`redis: started redis-server (pid ${server.child.pid}) on ${host}:${port}, no persistence`);
  return { url, child: server.child, close: () => server.stop() };
}
