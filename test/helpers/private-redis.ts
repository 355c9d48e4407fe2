/**
 * A private redis-server on a free loopback port, with the local Upstash endpoint in front of it,
 * for tests that break Redis on purpose (stall it with SIGSTOP, fill it, make it a replica, slow
 * its loading): never the shared Redis at REDIS_URL. Always stopped by the test that starts it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis as IORedis } from 'ioredis';
import { startUpstashLocal, type UpstashLocal } from '../../local/upstash/server.js';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface PrivateRedis {
  url: string;
  port: number;
  dir: string;
  child: ChildProcess;
  /** A direct connection (not through the endpoint), for arranging faults. */
  admin(): IORedis;
  /** SIGSTOP: connections stay open, nothing answers. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts redis-server with `args` on top of a private port and directory. `ready` says when it is
 * up (default: PING answers PONG; a loading server answers LOADING, which a test may wait for).
 */
export async function startPrivateRedis(
  args: string[] = [],
  o: { dir?: string; ready?: (pingReply: string) => boolean } = {},
): Promise<PrivateRedis> {
  const dir = o.dir ?? mkdtempSync(path.join(os.tmpdir(), 'spool-test-redis-'));
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args],
    { stdio: 'ignore' },
  );
  const admins: IORedis[] = [];
  const admin = () => {
    const r = new IORedis({
      host: '127.0.0.1',
      port,
      maxRetriesPerRequest: 1,
      enableReadyCheck: false,
      lazyConnect: false,
    });
    r.on('error', () => {});
    admins.push(r);
    return r;
  };
  const ready = o.ready ?? ((reply: string) => reply === 'PONG');
  const probe = admin();
  let up = false;
  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    const reply = await probe.ping().then(String, (e: Error) => e.message);
    if (ready(reply)) {
      up = true;
      break;
    }
    await sleep(25);
  }
  probe.disconnect();
  const stop = async () => {
    for (const a of admins) a.disconnect();
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await gone;
    }
    if (!o.dir) rmSync(dir, { recursive: true, force: true });
  };
  if (!up) {
    await stop();
    throw new Error(`private redis-server ${args.join(' ')} did not come up on port ${port}`);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    child,
    admin,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    stop,
  };
}

/** A private Redis and a local Upstash endpoint in front of it. */
export async function privateStack(args: string[] = [], o: Parameters<typeof startPrivateRedis>[1] = {}) {
  const redis = await startPrivateRedis(args, o);
  let endpoint: UpstashLocal;
  try {
    endpoint = await startUpstashLocal({ redisUrl: redis.url, port: 0, token: randomBytes(12).toString('hex') });
  } catch (e) {
    await redis.stop();
    throw e;
  }
  return {
    redis,
    endpoint,
    credentials: { url: endpoint.url, token: endpoint.token },
    async stop() {
      redis.resume();
      await endpoint.close();
      await redis.stop();
    },
  };
}

/** Commands Redis ran (INFO commandstats: inner script commands included) during fn, INFO itself excluded. */
export async function commandsOf(admin: IORedis, fn: () => Promise<unknown>): Promise<Record<string, number>> {
  const stats = async () =>
    Object.fromEntries(
      [...(await admin.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)]
        .filter((m) => m[1] !== 'info')
        .map((m) => [m[1]!, Number(m[2])]),
    );
  const before = await stats();
  await fn();
  const after = await stats();
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) > 0) out[k] = v - (before[k] ?? 0);
  return out;
}

/** The sum of a commandsOf answer. */
export const totalCommands = (c: Record<string, number>): number => Object.values(c).reduce((a, b) => a + b, 0);
