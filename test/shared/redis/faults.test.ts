/**
 * Redis faults answer 503 with Retry-After, never 500 and never a hang: a stalled Redis (SIGSTOP),
 * out of memory, busy running a script, a read-only replica, a master that is down, a dataset still
 * loading. Each on a private redis-server behind the local Upstash endpoint, through the API.
 */
import { describe, expect, it } from 'vitest';
import { createEnqueueHandler } from '../../../functions/enqueue/handler.js';
import { createHealthHandler } from '../../../functions/health/handler.js';
import { createRuntime } from '../../../functions/lib/runtime.js';
import { freePort } from '../../../local/redis.js';
import { loadConfig } from '../../../shared/config/index.js';
import { Logger } from '../../../shared/log/logger.js';
import { RedisUnavailableError } from '../../../shared/queue/errors.js';
import { guard, isUnavailable, redisErrorCode } from '../../../shared/redis/client.js';
import { apiEvent, json, lambdaContext } from '../../helpers/fixtures.js';
import { privateStack, startPrivateRedis } from '../../helpers/private-redis.js';
import { testRedis } from '../../helpers/redis.js';

type Stack = Awaited<ReturnType<typeof privateStack>>;

/** The Redis timeout is 2 s: a stalled call waits that long; a normal one on a loaded machine never does. */
async function api(stack: Stack, env: Record<string, string> = {}) {
  const lines: string[] = [];
  const rt = await createRuntime({
    fn: 'local',
    config: loadConfig({ SPOOL_KEY_PREFIX: 'test:faults', SPOOL_REDIS_TIMEOUT_MS: '2000', ...env }),
    credentials: stack.credentials,
    kickWorker: async () => {},
    logger: new Logger({ logLevel: 'INFO', sink: (l) => lines.push(l) }),
  });
  const call = async (h: ReturnType<typeof createEnqueueHandler>, ...a: Parameters<typeof apiEvent>) =>
    json(await h(apiEvent(...a), lambdaContext(30_000, 'enqueue')));
  return { rt, lines, call, enqueue: createEnqueueHandler(rt), health: createHealthHandler(rt) };
}

const job = (payload: unknown = { n: 1 }) => ({ handler: 'echo', payload });
const unavailable = (r: { status: number; headers: Record<string, string>; body: any }, what: string) => {
  expect(r.status, what).toBe(503);
  expect(r.headers['retry-after'], what).toBe('5');
  expect(r.body.error.code, what).toBe('redis_unavailable');
};

describe('a stalled Redis', () => {
  it('answers 503 with Retry-After within the Redis timeout; the same Idempotency-Key makes the retry safe', async () => {
    const stack = await privateStack();
    try {
      const { call, enqueue, health, lines } = await api(stack);
      expect((await call(enqueue, 'POST', '/v1/queues/st/jobs', { body: job() })).status).toBe(201);
      stack.redis.pause();
      const post = () =>
        call(enqueue, 'POST', '/v1/queues/st/jobs', {
          body: job({ secret: 'payload-marker' }),
          headers: { 'idempotency-key': 'stall-1' },
        });
      unavailable(await post(), 'POST while stalled');
      unavailable(await call(enqueue, 'GET', '/v1/queues/st/jobs/x'), 'GET while stalled');
      unavailable(await call(health, 'GET', '/v1/health'), 'health while stalled');
      // The log says why, without the command the client sent (it holds the job).
      const logged = lines.filter((l) => l.includes('redis_unavailable')).join('\n');
      expect(logged).toContain('TimeoutError');
      expect(logged).not.toContain('payload-marker');
      stack.redis.resume();
      // The stalled write lands once Redis runs again, or not: a retry with the key finds it either way.
      const again = await post();
      expect([200, 201]).toContain(again.status);
      const third = await post();
      expect(third).toMatchObject({ status: 200, body: { id: again.body.id, deduplicated: true } });
      const listed = await call(enqueue, 'GET', '/v1/queues/st/jobs', { query: 'state=waiting' });
      expect(listed.body.total).toBe(2);
    } finally {
      await stack.stop();
    }
  });
});

describe('Redis refusing commands', () => {
  it('out of memory (the EVALSHA, NOSCRIPT, then EVAL fallback fails with OOM): 503, nothing written', async () => {
    const stack = await privateStack(['--maxmemory', '1', '--maxmemory-policy', 'noeviction']);
    try {
      const { call, enqueue } = await api(stack);
      unavailable(await call(enqueue, 'POST', '/v1/queues/oom/jobs', { body: job() }), 'POST at OOM');
      unavailable(
        await call(enqueue, 'POST', '/v1/queues/oom/jobs', { body: { jobs: [job(), job()] } }),
        'batch at OOM',
      );
      const admin = stack.redis.admin();
      expect(await admin.dbsize()).toBe(0);
      const stats = await admin.info('commandstats');
      expect(stats).toMatch(/cmdstat_evalsha:calls=\d+/);
      expect(stats).toMatch(/cmdstat_eval:calls=\d+/);
    } finally {
      await stack.stop();
    }
  });

  it('busy running a script: 503; answers again once the script is killed', async () => {
    const stack = await privateStack(['--busy-reply-threshold', '50']);
    try {
      const { call, enqueue } = await api(stack);
      const runner = stack.redis.admin();
      const spinning = runner.eval('while true do end', 0).catch((e: Error) => e.message);
      const probe = stack.redis.admin();
      let reply = '';
      for (let i = 0; i < 100 && !reply.startsWith('BUSY'); i++)
        reply = await probe.ping().then(String, (e: Error) => e.message);
      expect(reply).toMatch(/^BUSY/);
      unavailable(await call(enqueue, 'POST', '/v1/queues/busy/jobs', { body: job() }), 'POST while busy');
      await probe.script('KILL');
      expect(await spinning).toMatch(/killed/i);
      expect((await call(enqueue, 'POST', '/v1/queues/busy/jobs', { body: job() })).status).toBe(201);
    } finally {
      await stack.stop();
    }
  });

  it('a replica: writes are READONLY, reads MASTERDOWN when it serves no stale data: 503', async () => {
    const nowhere = String(await freePort());
    for (const [stale, code] of [
      ['yes', 'READONLY'],
      ['no', 'MASTERDOWN'],
    ] as const) {
      const stack = await privateStack(['--replicaof', '127.0.0.1', nowhere, '--replica-serve-stale-data', stale], {
        ready: (r) => r === 'PONG' || r.startsWith('MASTERDOWN'),
      });
      try {
        const { call, enqueue, lines } = await api(stack);
        // Writes (the enqueue script): READONLY when it serves stale data, else MASTERDOWN like any
        // script call. Reads: served stale, or MASTERDOWN.
        unavailable(await call(enqueue, 'POST', '/v1/queues/ro/jobs', { body: job() }), `POST on ${code}`);
        expect(lines.join('\n')).toContain(code);
        const read = await call(enqueue, 'GET', '/v1/queues/ro/jobs/x');
        if (code === 'READONLY') expect(read.status).toBe(404);
        else {
          unavailable(read, 'GET on MASTERDOWN');
          expect(lines.join('\n')).toContain('MASTERDOWN');
        }
      } finally {
        await stack.stop();
      }
    }
  });

  it('still loading its dataset (LOADING): 503', async () => {
    const seed = await startPrivateRedis(['--enable-debug-command', 'local']);
    const dir = seed.dir;
    const admin = seed.admin();
    await admin.call('DEBUG', 'POPULATE', '20000');
    await admin.save();
    await seed.child.kill('SIGKILL');
    const stack = await privateStack(['--key-load-delay', '1000', '--loading-process-events-interval-bytes', '1024'], {
      dir,
      ready: (r) => r.startsWith('LOADING'),
    });
    try {
      const { call, enqueue, lines } = await api(stack);
      unavailable(await call(enqueue, 'POST', '/v1/queues/load/jobs', { body: job() }), 'POST while loading');
      expect(lines.join('\n')).toContain('LOADING');
    } finally {
      await stack.stop();
      await seed.stop();
    }
  });
});

describe('the unavailable classification is anchored on the Redis error code', () => {
  it('reads the code at the start of the reply, whatever the client put before it', () => {
    const e = (m: string) => Object.assign(new Error(m), { name: 'UpstashError' });
    expect(redisErrorCode(e("OOM command not allowed when used memory > 'maxmemory'., command was: [...]"))).toBe(
      'OOM',
    );
    expect(redisErrorCode(e('Command failed: LOADING Redis is loading the dataset in memory'))).toBe('LOADING');
    expect(redisErrorCode(e('Command 2 [ evalsha ] failed: NOSCRIPT No matching script'))).toBe('NOSCRIPT');
    expect(redisErrorCode(e('ERR user_script:1: a timeout, then 503'))).toBe('ERR');
    expect(redisErrorCode(new Error('plain'))).toBeUndefined();
    for (const m of [
      'OOM command not allowed',
      'BUSY Redis is busy running a script',
      'LOADING Redis is loading',
      "READONLY You can't write against a read only replica.",
      'MASTERDOWN Link with MASTER is down',
      'Command failed: NOSCRIPT No matching script',
      'ERR Redis unavailable: connect ECONNREFUSED',
    ])
      expect(isUnavailable(e(m)), m).toBe(true);
    expect(
      isUnavailable(Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' })),
    ).toBe(true);
    expect(
      isUnavailable(new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) })),
    ).toBe(true);
  });

  it('a script error whose text mentions timeouts, networks or 503 is not "unavailable" (real Redis)', async () => {
    const redis = testRedis();
    for (const text of [
      'ERR user data: network timeout 503 ECONNREFUSED socket hang up',
      'WRONGTYPE Operation against a key holding the wrong kind of value (fetch failed, 502)',
      'ERR job payload says: Redis unavailable',
    ]) {
      const err = await guard(() => redis.eval(`return redis.error_reply(ARGV[1])`, [], [text])).catch(
        (x: unknown) => x,
      );
      expect(err, text).toBeInstanceOf(Error);
      expect(err, text).not.toBeInstanceOf(RedisUnavailableError);
      expect(isUnavailable(err), text).toBe(false);
    }
  });
});
