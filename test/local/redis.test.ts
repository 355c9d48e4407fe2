/**
 * The one redis-server starter (local/redis.ts) that npm start, the test helpers and the benchmark
 * share: it starts, answers PING, stops, and leaves its port and temporary directory free.
 */
import { existsSync } from 'node:fs';
import net from 'node:net';
import { Redis as IORedis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { type RedisServer, redisAnswers, redisServerArgs, startRedisServer } from '../../local/redis.js';

/** True when this process can listen on `port` (nothing else holds it). */
const portIsFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

const started: RedisServer[] = [];
afterEach(async () => {
  for (const s of started.splice(0)) await s.stop({ graceMs: 0 });
});

it('starts on a free port, answers PING, stops, and its port and temporary --dir are free after', async () => {
  const server = await startRedisServer({ tempDir: 'spool-redis-test-' });
  started.push(server);
  expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
  expect(server.dir && existsSync(server.dir)).toBe(true);
  expect(await redisAnswers(server.url)).toBe(true);
  expect(await portIsFree(server.port)).toBe(false);

  await server.stop();
  expect(server.child.exitCode ?? server.child.signalCode).not.toBeNull();
  expect(await redisAnswers(server.url)).toBe(false);
  expect(await portIsFree(server.port)).toBe(true);
  expect(existsSync(server.dir as string)).toBe(false);
  await server.stop(); // twice is fine
});

it('stops a paused (SIGSTOP) server with graceMs 0', async () => {
  const server = await startRedisServer();
  started.push(server);
  server.child.kill('SIGSTOP');
  await server.stop({ graceMs: 0 });
  expect(server.child.signalCode).toBe('SIGKILL');
  expect(await portIsFree(server.port)).toBe(true);
});

it('takes its password on stdin: never on its command line, and PING needs it', async () => {
  const password = 'redis-test-"pass\\word';
  const server = await startRedisServer({ password, args: ['--maxclients', '50'] });
  started.push(server);
  const args = redisServerArgs({ password, args: ['--maxclients', '50'] }, server.port);
  expect(args[0]).toBe('-');
  expect(args.slice(-2)).toEqual(['--maxclients', '50']);
  expect(args.join(' ')).not.toContain('pass');
  expect(server.child.spawnargs.join(' ')).not.toContain('pass');
  expect(await redisAnswers(server.url)).toBe(true);
  const anonymous = new IORedis({ host: '127.0.0.1', port: server.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  anonymous.on('error', () => {});
  try {
    await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
  } finally {
    anonymous.disconnect();
  }
});

it('fails when redis-server exits before answering, naming what it printed', async () => {
  await expect(startRedisServer({ args: ['--no-such-option', 'x'] })).rejects.toThrow(
    /redis-server exited \(code 1\) before answering:[\s\S]*no-such-option/,
  );
});
