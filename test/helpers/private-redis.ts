/**
 * A private redis-server on a free loopback port, with the local Upstash endpoint in front of it,
 * for tests that break Redis on purpose (stall it with SIGSTOP, fill it, make it a replica, slow
 * its loading): never the shared Redis at REDIS_URL. Always stopped by the test that starts it.
 */
import { randomBytes } from 'node:crypto';
import { Redis as IORedis } from 'ioredis';
import { type RedisServer, startRedisServer } from '../../local/redis.js';
import { startUpstashLocal, type UpstashLocal } from '../../local/upstash/server.js';

export interface PrivateRedis extends RedisServer {
  dir: string;
  /** A direct connection (not through the endpoint), for arranging faults. */
  admin(): IORedis;
  /** SIGSTOP: connections stay open, nothing answers. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Kills it at once (SIGKILL, paused or not) and closes its admin connections. */
  stop(): Promise<void>;
}

/**
 * Starts redis-server with `args` on top of a private port and directory (`dir`, or a temporary one
 * removed on stop). `ready` says when it is up (default: PING answers PONG; a loading server answers
 * LOADING, which a test may wait for).
 */
export async function startPrivateRedis(
  args: string[] = [],
  o: { dir?: string; ready?: (pingReply: string) => boolean } = {},
): Promise<PrivateRedis> {
  let server: RedisServer;
  try {
    server = await startRedisServer({
      args,
      ...(o.dir ? { dir: o.dir } : { tempDir: 'spool-test-redis-' }),
      ...(o.ready ? { ready: o.ready } : {}),
    });
  } catch (e) {
    throw new Error(`private redis-server ${args.join(' ')} did not come up: ${(e as Error).message}`);
  }
  const admins: IORedis[] = [];
  const admin = () => {
    const r = new IORedis({
      host: server.host,
      port: server.port,
      maxRetriesPerRequest: 1,
      enableReadyCheck: false,
      lazyConnect: false,
    });
    r.on('error', () => {});
    admins.push(r);
    return r;
  };
  return {
    ...server,
    dir: server.dir as string,
    admin,
    pause: () => server.child.kill('SIGSTOP'),
    resume: () => server.child.kill('SIGCONT'),
    async stop() {
      for (const a of admins) a.disconnect();
      await server.stop({ graceMs: 0 });
    },
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
