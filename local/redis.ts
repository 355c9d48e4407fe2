/**
 * Find a Redis at REDIS_URL, or start `redis-server` as a child process (no persistence) and stop
 * it again on close.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { redactUrl } from '../shared/log/redact.js';

export interface LocalRedis {
  url: string;
  /** The redis-server child when this process started one. */
  child?: ChildProcess;
  close(): Promise<void>;
}

export async function redisAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  const r = new Redis(url, {
    lazyConnect: true,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
  });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
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

/** Reuses a Redis that answers at `url`; otherwise starts one on the URL's host and port. */
export async function ensureRedis(url: string, log: (line: string) => void = () => {}): Promise<LocalRedis> {
  if (await redisAnswers(url)) {
    log(`redis: using the Redis at ${redactUrl(url)}`);
    return { url, close: async () => {} };
  }
  const u = new URL(url);
  if (u.protocol !== 'redis:')
    throw new Error(`No Redis answers at ${redactUrl(url)} (and only a redis:// URL can be started locally)`);
  const port = u.port || '6379';
  const host = u.hostname === 'localhost' || u.hostname === '' ? '127.0.0.1' : u.hostname;
  const args = [
    '--port',
    port,
    '--bind',
    host,
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ];
  // The password goes in on stdin (`redis-server -` reads a config from it): never in the command
  // line (`ps` shows it) nor in the log.
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  if (password) args.unshift('-');
  log(
    `redis: nothing answers at ${redactUrl(url)}; starting redis-server ${args.join(' ')}${password ? ' (requirepass on stdin)' : ''}`,
  );

  const child = spawn('redis-server', args, { stdio: [password ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  if (password) child.stdin?.end(`requirepass "${password.replace(/["\\]/g, '\\$&')}"\n`);
  let output = '';
  const collect = (b: Buffer) => {
    output = (output + b.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  };

  const deadline = Date.now() + 10_000;
  for (;;) {
    const early = await Promise.race([
      spawnError,
      exited.then((c) => c),
      new Promise<'wait'>((r) => setTimeout(() => r('wait'), 100)),
    ]);
    if (early instanceof Error) {
      if ((early as NodeJS.ErrnoException).code === 'ENOENT') throw new RedisServerMissingError(url);
      throw early;
    }
    if (early !== 'wait') throw new Error(`redis-server exited (code ${early}) before answering:\n${output.trim()}`);
    if (await redisAnswers(url, 500)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server started but does not answer PING at ${redactUrl(url)}:\n${output.trim()}`);
    }
  }
  log(`redis: started redis-server (pid ${child.pid}) on ${host}:${port}, no persistence`);
  return { url, child, close: stop };
}
