import { createHash, randomBytes } from 'node:crypto';
import { Redis } from '@upstash/redis';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCAL_REDIS_URL } from '../../local/defaults.js';
import { startRedisServer } from '../../local/redis.js';
import { forRedis } from '../../local/upstash/scripts.js';
import { startUpstashLocal } from '../../local/upstash/server.js';
import { cleanupPrefix, testRedis, uniquePrefix, upstashConfig } from '../helpers/redis.js';

const prefix = uniquePrefix('upstash-local');
const key = (name: string): string => `${prefix}:${name}`;
const redis = testRedis();
const { url, token } = upstashConfig();

afterAll(async () => {
  await cleanupPrefix(prefix);
  expect(await testRedis().exists(key('str'))).toBe(0);
});

/** Raw call to the endpoint; returns status and parsed JSON body (every body must be JSON). */
async function raw(
  path: string,
  body: unknown,
  opts: { token?: string | null; base64?: boolean } = {},
): Promise<{ status: number; json: any; contentType: string | null }> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  const t = opts.token === undefined ? token : opts.token;
  if (t !== null) headers.Authorization = `Bearer ${t}`;
  if (opts.base64) headers['Upstash-Encoding'] = 'base64';
  const res = await fetch(`${url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text), contentType: res.headers.get('content-type') };
}

describe('strings', () => {
  it('round-trips unicode and every control character', async () => {
    const controls = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join('');
    const value = `héllo wörld 日本語 🚀 ${controls} "quotes" \\ end`;
    await redis.set(key('str'), value);
    expect(await redis.get(key('str'))).toBe(value);
    expect(await redis.strlen(key('str'))).toBe(Buffer.byteLength(value));
  });

  it('round-trips a 1 MiB value (multi-byte, control characters)', async () => {
    const unit = 'aé日🚀\u0000\u0001\n\t"\\';
    const parts: string[] = [];
    for (let bytes = 0; bytes < 1024 * 1024; ) {
      const part = unit + randomBytes(16).toString('hex');
      parts.push(part);
      bytes += Buffer.byteLength(part);
    }
    const value = parts.join('');
    expect(Buffer.byteLength(value)).toBeGreaterThanOrEqual(1024 * 1024);
    await redis.set(key('big'), value);
    const back = await redis.get<string>(key('big'));
    expect(back?.length).toBe(value.length);
    expect(back === value).toBe(true);
    expect(await redis.strlen(key('big'))).toBe(Buffer.byteLength(value));
  });

  it('answers UTF-8 strings without the Upstash-Encoding header, base64 with it', async () => {
    const value = 'plain ✓ ü';
    expect((await raw('/', ['set', key('plain'), value])).json).toEqual({ result: 'OK' });
    const plain = await raw('/', ['get', key('plain')]);
    expect(plain.status).toBe(200);
    expect(plain.contentType).toMatch(/application\/json/);
    expect(plain.json).toEqual({ result: value });
    const b64 = await raw('/', ['get', key('plain')], { base64: true });
    expect(b64.json).toEqual({ result: Buffer.from(value).toString('base64') });
    // integers stay numbers, nil is null, arrays stay arrays; numbers/booleans are accepted as args
    expect((await raw('/', ['incrby', key('n'), 5])).json).toEqual({ result: 5 });
    expect((await raw('/', ['get', key('missing')])).json).toEqual({ result: null });
    expect((await raw('/', ['rpush', key('l'), 'a', 1, true])).json).toEqual({ result: 3 });
    expect((await raw('/', ['lrange', key('l'), 0, -1])).json).toEqual({ result: ['a', '1', 'true'] });
  });
});

describe('structured values', () => {
  it('stores a JSON object and gets it back', async () => {
    const obj = { id: 'job-1', attempts: 3, tags: ['a', 'ü'], nested: { ok: true, n: null } };
    await redis.set(key('obj'), obj);
    expect(await redis.get(key('obj'))).toEqual(obj);
  });

  it('hset + hgetall (flat RESP2 array on the wire, object in the client)', async () => {
    await redis.hset(key('h'), { name: 'spool', count: 7, meta: { a: 1 } });
    expect(await redis.hgetall(key('h'))).toEqual({ name: 'spool', count: 7, meta: { a: 1 } });
    const wire = await raw('/', ['hgetall', key('h')]);
    expect(Array.isArray(wire.json.result)).toBe(true);
    expect(wire.json.result).toHaveLength(6);
  });

  it('zadd + zrange withScores', async () => {
    await redis.zadd(key('z'), { score: 2.5, member: 'b' }, { score: 1, member: 'a' }, { score: -3, member: 'c' });
    expect(await redis.zrange(key('z'), 0, -1, { withScores: true })).toEqual(['c', -3, 'a', 1, 'b', 2.5]);
    expect(await redis.zscore(key('z'), 'b')).toBe(2.5);
  });
});

describe('pipeline and multi-exec', () => {
  it('pipeline: a failing command is reported, the others succeed', async () => {
    const p = redis.pipeline();
    p.set(key('p1'), 'text');
    p.incr(key('p1')); // WRONGTYPE-ish: not an integer
    p.incr(key('p2'));
    p.get(key('p1'));
    const out = await p.exec({ keepErrors: true });
    expect(out[0]).toEqual({ result: 'OK', error: undefined });
    expect(out[1]?.error).toMatch(/not an integer/);
    expect(out[2]).toEqual({ result: 1, error: undefined });
    expect(out[3]).toEqual({ result: 'text', error: undefined });

    const p2 = redis.pipeline();
    p2.incr(key('p1'));
    await expect(p2.exec()).rejects.toThrow(/Command 1 \[ incr \] failed: ERR value is not an integer/);
  });

  it('multi: a failing command yields its error, the others still run', async () => {
    const m = redis.multi();
    m.set(key('m1'), 'text');
    m.incr(key('m1'));
    m.set(key('m2'), 'after');
    m.incr(key('m3'));
    const out = await m.exec({ keepErrors: true });
    expect(out.map((e) => e.error === undefined)).toEqual([true, false, true, true]);
    expect(out[1]?.error).toMatch(/not an integer/);
    expect(out[3]?.result).toBe(1);
    expect(await redis.get(key('m2'))).toBe('after');
  });

  it('multi-exec really runs MULTI/EXEC: a queueing error aborts everything', async () => {
    const res = await raw('/multi-exec', [
      ['set', key('abort1'), 'v'],
      ['set', key('abort2')], // wrong arity: rejected at queue time
    ]);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatch(/EXECABORT/);
    expect(await redis.exists(key('abort1'))).toBe(0);
  });
});

describe('scripts', () => {
  it('EVAL and EVALSHA', async () => {
    const script = `-- ${randomBytes(8).toString('hex')}\nredis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])`;
    expect(await redis.eval(script, [key('ev')], ['from-eval'])).toBe('from-eval');
    const sha = await redis.scriptLoad(script);
    expect(sha).toBe(createHash('sha1').update(script).digest('hex'));
    expect(await redis.evalsha(sha, [key('ev')], ['from-evalsha'])).toBe('from-evalsha');
  });

  it('Lua floats and tables come through as Redis returns them', async () => {
    // RESP2: Lua numbers are truncated to integers, tables become nested arrays, false becomes nil
    const res = await raw('/', ['eval', 'return {1, 2.9, "x", {3, "y"}, false}', 0]);
    expect(res.json).toEqual({ result: [1, 2, 'x', [3, 'y'], null] });
    expect(await redis.eval('return {1, 2.9, {"a"}}', [], [])).toEqual([1, 2, ['a']]);
  });

  it('createScript falls back from EVALSHA to EVAL on NOSCRIPT (first call works)', async () => {
    const text = `-- ${randomBytes(12).toString('hex')}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`;
    const sha = createHash('sha1').update(text).digest('hex');
    expect(await redis.scriptExists(sha)).toEqual([0]);
    const noscript = await raw('/', ['evalsha', sha, 1, key('cs'), 1]);
    expect(noscript.status).toBe(400);
    expect(noscript.json.error).toMatch(/NOSCRIPT/);

    const script = redis.createScript<number>(text);
    expect(await script.exec([key('cs')], ['4'])).toBe(4);
    expect(await script.exec([key('cs')], ['1'])).toBe(5);
  });

  it('Lua error replies surface as errors', async () => {
    await expect(redis.eval("return redis.error_reply('spool boom')", [], [])).rejects.toThrow(/spool boom/);
    const res = await raw('/', ['eval', "return redis.error_reply('spool boom')", 0]);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatch(/spool boom/);
  });
});

describe("Upstash's script flags (Redis 7 refuses allow-key-locking)", () => {
  const sha = (s: string) => createHash('sha1').update(s).digest('hex');
  const body = (flags: string, lua: string) => `#!lua flags=${flags}\n-- ${randomBytes(8).toString('hex')}\n${lua}`;

  it('forRedis drops only allow-key-locking; a shebang left without flags is blanked, lines kept', () => {
    expect(forRedis('#!lua flags=allow-key-locking\nreturn 1')).toBe('\nreturn 1');
    expect(forRedis('#!lua flags=no-writes,allow-key-locking\nreturn 1')).toBe('#!lua flags=no-writes\nreturn 1');
    expect(forRedis('#!lua flags=allow-key-locking,no-writes\nreturn 1')).toBe('#!lua flags=no-writes\nreturn 1');
    expect(forRedis('#!lua flags=no-writes\nreturn 1')).toBe('#!lua flags=no-writes\nreturn 1');
    expect(forRedis('return 1')).toBe('return 1');
  });

  it('EVAL runs a flagged body; EVALSHA, SCRIPT LOAD and SCRIPT EXISTS speak the digest the client computed', async () => {
    const text = body('allow-key-locking', "return redis.call('INCRBY', KEYS[1], ARGV[1])");
    const digest = sha(text);
    expect(await redis.scriptExists(digest)).toEqual([0]);
    // createScript: EVALSHA (NOSCRIPT), then EVAL with the body, then EVALSHA by the client's digest
    const script = redis.createScript<number>(text);
    expect(await script.exec([key('flag:n')], ['2'])).toBe(2);
    expect(await redis.scriptExists(digest)).toEqual([1]);
    expect(await redis.evalsha(digest, [key('flag:n')], ['3'])).toBe(5);
    const p = redis.pipeline();
    p.evalsha(digest, [key('flag:n')], ['1']);
    p.eval(text, [key('flag:n')], ['1']);
    expect(await p.exec()).toEqual([6, 7]);
    const loaded = body('allow-key-locking', 'return 42');
    expect(await redis.scriptLoad(loaded)).toBe(sha(loaded));
    expect(await redis.evalsha(sha(loaded), [], [])).toBe(42);
    expect(await redis.scriptExists(sha(loaded), digest, sha('never sent'))).toEqual([1, 1, 0]);
  });

  it('keeps no-writes, which Redis enforces', async () => {
    const read = body('no-writes,allow-key-locking', "return redis.call('GET', KEYS[1])");
    await redis.set(key('flag:ro'), 'v');
    expect(await redis.eval(read, [key('flag:ro')], [])).toBe('v');
    const write = body('no-writes,allow-key-locking', "return redis.call('SET', KEYS[1], 'w')");
    await expect(redis.eval(write, [key('flag:ro')], [])).rejects.toThrow(/write command.*not allowed|no-writes/i);
    expect(await redis.get(key('flag:ro'))).toBe('v');
  });

  it('reports errors on the line of the body the client sent', async () => {
    const bad = body('allow-key-locking', "error('boom on line 3')");
    await expect(redis.eval(bad, [], [])).rejects.toThrow(/:3: boom on line 3/);
  });

  it('a restarted endpoint does not know the digest: NOSCRIPT, and the client resends the body', async () => {
    const text = body('allow-key-locking', "return 'again'");
    expect(await redis.eval(text, [], [])).toBe('again');
    const fresh = await startUpstashLocal({
      redisUrl: process.env.REDIS_URL || LOCAL_REDIS_URL,
      port: 0,
      token: 'fresh',
    });
    try {
      const other = new Redis({ url: fresh.url, token: 'fresh' });
      await expect(other.evalsha(sha(text), [], [])).rejects.toThrow(/NOSCRIPT/);
      expect(await other.createScript<string>(text).exec([], [])).toBe('again');
      expect(await other.evalsha(sha(text), [], [])).toBe('again');
    } finally {
      await fresh.close();
    }
  });
});

describe('auth, routing, refused commands', () => {
  it.each(['/', '/pipeline', '/multi-exec', '/no-such-path'])(
    'wrong or missing token on %s -> 401 JSON',
    async (path) => {
      const body = path === '/' ? ['get', key('x')] : [['get', key('x')]];
      for (const t of ['wrong-token', null, `${token}x`]) {
        const res = await raw(path, body, { token: t });
        expect(res.status).toBe(401);
        expect(res.contentType).toMatch(/application\/json/);
        expect(typeof res.json.error).toBe('string');
      }
    },
  );

  it('an unknown path is a 404 with a JSON body', async () => {
    const res = await raw('/no-such-path', ['get', key('x')]);
    expect(res.status).toBe(404);
    expect(res.contentType).toMatch(/application\/json/);
    expect(res.json.error).toMatch(/not found/i);
  });

  it('malformed bodies are 400 JSON errors', async () => {
    expect((await raw('/', { not: 'an array' })).status).toBe(400);
    const bad = await raw('/', ['set', key('x'), { nested: 1 }]);
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/argument 2/);
  });

  it('refuses connection-state commands with a clear error', async () => {
    const res = await raw('/', ['select', 1]);
    expect(res.status).toBe(400);
    expect(res.json.error).toBe("ERR command 'select' is not allowed on the shared connection of this endpoint");
    expect((await raw('/', ['CLIENT', 'SETNAME', 'x'])).json.error).toMatch(/not allowed/);
    expect((await raw('/', ['subscribe', 'ch'])).json.error).toMatch(/not allowed/);

    const pipe = await raw('/pipeline', [
      ['select', 1],
      ['set', key('after-select'), 'v'],
    ]);
    expect(pipe.status).toBe(200);
    expect(pipe.json[0].error).toMatch(/not allowed/);
    expect(pipe.json[1]).toEqual({ result: 'OK' });

    const multi = await raw('/multi-exec', [
      ['set', key('in-multi'), 'v'],
      ['select', 2],
    ]);
    expect(multi.status).toBe(400);
    expect(multi.json.error).toMatch(/not allowed/);
    expect(await redis.exists(key('in-multi'))).toBe(0);
    // the shared connection is still on the same database
    expect(await redis.get(key('after-select'))).toBe('v');
  });
});

describe('blocking commands', () => {
  it('a BLPOP with a 2 s timeout does not stall other callers', async () => {
    const other = new Redis({ url, token });
    let blpopAnswered = false;
    const blpop = raw('/', ['blpop', key('never-pushed'), 2], { base64: true }).then((r) => {
      blpopAnswered = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 100)); // let the BLPOP reach Redis
    for (let i = 0; i < 20; i++) {
      await other.set(key(`while-blocked:${i}`), i);
      expect(await other.get(key(`while-blocked:${i}`))).toBe(i);
    }
    const p = other.pipeline();
    p.incr(key('while-blocked:counter'));
    p.get(key('while-blocked:0'));
    expect(await p.exec()).toEqual([1, 0]);
    // Every other call was answered while the BLPOP still waited (an order, not a time).
    expect(blpopAnswered).toBe(false);

    const r = await blpop;
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ result: null });
  });

  it('a BLPOP gets a value pushed by another caller', async () => {
    const blpop = raw('/', ['blpop', key('q'), 5]);
    await new Promise((r) => setTimeout(r, 100));
    await redis.rpush(key('q'), 'job-42');
    expect((await blpop).json).toEqual({ result: [key('q'), 'job-42'] });
  });
});

describe('Redis down', () => {
  it('answers a prompt 5xx JSON error when its Redis goes away', async () => {
    const server = await startRedisServer();
    try {
      const endpoint = await startUpstashLocal({ redisUrl: server.url, port: 0, token: 't' });
      try {
        const call = (body: unknown, path = '/') =>
          fetch(`${endpoint.url}${path}`, {
            method: 'POST',
            headers: { Authorization: 'Bearer t' },
            body: JSON.stringify(body),
          });
        expect(await (await call(['ping'])).json()).toEqual({ result: 'PONG' });

        await server.stop({ graceMs: 0 });
        await new Promise((r) => setTimeout(r, 50));

        for (const [path, body] of [
          ['/', ['get', 'x']],
          ['/pipeline', [['get', 'x']]],
          ['/multi-exec', [['get', 'x']]],
        ] as const) {
          const res = await call(body, path);
          expect(res.status).toBeGreaterThanOrEqual(500);
          expect((await res.json()).error).toEqual(expect.any(String));
        }
        // the client (with retries off) fails fast instead of hanging
        const client = new Redis({ url: endpoint.url, token: 't', retry: false });
        await expect(client.get('x')).rejects.toThrow();
      } finally {
        await endpoint.close();
      }
    } finally {
      await server.stop({ graceMs: 0 });
    }
  });
});
