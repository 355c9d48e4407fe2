import { type AddressInfo, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadConfig, queueConfig } from '../../../shared/config/index.js';
import { RedisUnavailableError, Spool, ValidationError } from '../../../shared/queue/index.js';
import { createRedis } from '../../../shared/redis/client.js';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const c = queueConfig(loadConfig({}));
    expect(c).toMatchObject({
      prefix: 'spool',
      leaseMs: 30_000,
      maxAttempts: 5,
      backoffBaseMs: 1_000,
      backoffMaxMs: 900_000,
      idempotencyWindowMs: 3_600_000,
      payloadMaxBytes: 262_144,
      completedRetentionMs: 3_600_000,
      deadTtlMs: 604_800_000,
      deadCap: 10_000,
    });
  });

  it('reads the environment and names the variable it refuses', () => {
    expect(
      loadConfig({ SPOOL_MAX_ATTEMPTS: '9', SPOOL_TARGET_ALLOWED_HOSTS: 'A.example.com, b.example.com' }),
    ).toMatchObject({
      SPOOL_MAX_ATTEMPTS: 9,
      SPOOL_TARGET_ALLOWED_HOSTS: ['a.example.com', 'b.example.com'],
    });
    const err = (() => {
      try {
        loadConfig({ SPOOL_LEASE_MS: 'soon' });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe('SPOOL_LEASE_MS');
    expect(() => loadConfig({ SPOOL_KEY_PREFIX: 'has space' })).toThrow(/SPOOL_KEY_PREFIX/);
  });
});

describe('Redis unreachable', () => {
  it('fails fast with RedisUnavailableError (503, Retry-After) instead of hanging', async () => {
    // A loopback server that drops every connection: counts the attempts (a count, not a time).
    let attempts = 0;
    const server = createServer((socket) => {
      attempts++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const spool = new Spool(createRedis({ url: `http://127.0.0.1:${port}`, token: 't' }, { failFast: true }));
    try {
      const err = await spool.enqueue('q', { payload: 1, handler: 'h' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RedisUnavailableError);
      expect((err as RedisUnavailableError).status).toBe(503);
      expect((err as RedisUnavailableError).retryAfterSeconds).toBeGreaterThan(0);
      // failFast: the first try and at most 2 retries.
      expect(attempts).toBeGreaterThanOrEqual(1);
      expect(attempts).toBeLessThanOrEqual(3);
      await expect(spool.lease('q', { count: 1 })).rejects.toBeInstanceOf(RedisUnavailableError);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('script loading', () => {
  it('runs a script Redis has never seen (EVALSHA answers NOSCRIPT, then EVAL), then by hash', async () => {
    const { defineScript, returns } = await import('../../../shared/queue/scripts/define.js');
    const { testRedis } = await import('../../helpers/redis.js');
    const redis = testRedis();
    const def = defineScript({
      name: 'probe',
      summary: `A script no Redis has seen: ${Math.random()}`,
      keys: { counters: 'HASH (only its name is returned)' },
      args: { word: { kind: 'string', doc: 'echoed' } },
      result: returns<{ word: string; key: string }>('{ word, key }'),
      body: 'return cjson.encode({ word = word, key = K.counters })',
    });
    expect(await redis.scriptExists(def.sha1)).toEqual([0]);
    const spool = new Spool(redis, { config: { prefix: 'test:probe' } });
    expect(await spool.run(def, 'q', { word: 'hello' })).toEqual({ word: 'hello', key: 'test:probe:{q}:counters' });
    expect(await redis.scriptExists(def.sha1)).toEqual([1]);
    expect(await spool.run(def, 'q', { word: 'again' })).toEqual({ word: 'again', key: 'test:probe:{q}:counters' });
  });
});
