import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { Spool } from '../../../shared/queue/engine.js';
import { COUNTER_NAMES } from '../../../shared/queue/ops/snapshot.js';
import {
  defineScript,
  type LuaLibrary,
  luaLibrary,
  returns,
  type ScriptDef,
} from '../../../shared/queue/scripts/define.js';
import { BASE } from '../../../shared/queue/scripts/lib.js';
import { analyzeKeys, fieldWrites, freeNames, LUA_BUILTINS, libraryShapeProblems } from '../../helpers/lua.js';
import { testRedis } from '../../helpers/redis.js';

const ROOT = join(import.meta.dirname, '../../..');
const SCRIPTS_DIR = join(ROOT, 'shared/queue/scripts');

/** Every script of the engine: each ScriptDef exported by a module of shared/queue/scripts. */
const modules = readdirSync(SCRIPTS_DIR).filter((f) => f.endsWith('.ts'));
const SCRIPTS: ScriptDef[] = (
  await Promise.all(modules.map((f) => import(join(SCRIPTS_DIR, f)) as Promise<Record<string, unknown>>))
).flatMap((m) =>
  Object.values(m).filter((v): v is ScriptDef => typeof v === 'object' && v !== null && 'sha1' in v && 'source' in v),
);
const LIBRARIES = [...new Set(SCRIPTS.flatMap((s) => s.libraries))];

/**
 * The digest of every script. A change to a script (or to a library it carries) changes its digest:
 * update it here, so the change shows in the diff and in review. A deployment keeps running the old
 * body until its containers restart; a new digest is loaded by the first EVALSHA's NOSCRIPT -> EVAL.
 */
const DIGESTS: Record<string, string> = {
  deleteSchedule: '5dc1372bfaab6f176f5851647299ac23e2040d06',
  dueSchedules: 'b8622320871379d48b009118a6cc6d061eaeeb1f',
  fireSchedule: '7ab1e77b2860cc6b27805740c102a4696af12a57',
  putSchedule: '7b89121ab94562d59c07c4e261cc491baff5fa9e',
  readSchedules: '5ed96ecf3e9b118a157cfbac0541e5f723412515',
  clear: '1df074cef57019c5ee85d03410200d8b0ac0d041',
  complete: '348d752c04d432d73327d133cdbe5864c4b4b583',
  fail: 'c62e0a7871b6de59dd0270bdb43316df43f5f1d3',
  extend: 'adf22e7f13fa16c732918ec551a38b27ee9493fa',
  deadGroups: '9d420a8cdb687e3fd6b0e88f843a50a866344e29',
  replay: 'b29fe9e14524c2552cca8c62129f7b65df46d87f',
  deleteDead: '22cb70e1b6e0dde0f00d23bc05e56c4265173a82',
  enqueue: 'cc25c49f9653432b6a51f94916fef9eef6a8f007',
  get: '5bca9caa7ba342ab363208ac4412504dee3b34fa',
  list: '699ff6f7e5e36af80d47f6e12bb3b2eb72841852',
  cancel: '78e4c0fe49cac750b34e4949501e67144818052c',
  runNow: '92505737bf30eb9e6f9493b331f94c9c420b6a65',
  lease: 'e324870f58f58100a068402315477a8af3615eda',
  release: '28a8180f8d76aeab495163a03047e68a215ddafc',
  claimTimer: '36c577b40b59d82154009f401573a373cefe114b',
  purge: 'af28ffa6612857c6a2193c0e83c9a0cedfc912d1',
  forgetQueue: '93510be0598c751e3c7c758552696a877445e4c3',
  snapshot: '16f403c01e95bb26b8010707e69b6fab644a0860',
  settings: '2f49f54b6bacfef37aa64ac6a4a9ac74d369d432',
  settingsRead: '21035b748e65087670230a1864b8df330299f048',
  activeWorkers: 'abce62417859c2271a016dccbd0ea56a5eba7866',
};

/** Fields of the counters hash that are the engine's own, not counters (keys.ts). */
const ENGINE_FIELDS = [
  'seq',
  'fence',
  'purge:cursor',
  'purge:jobs-cursor',
  'purge:swept-at',
  'purge:empty-since',
  'purge:empty-enqueued',
];

/** The members of an interface of a TypeScript file, read with the compiler. */
function interfaceMembers(file: string, name: string): string[] {
  const src = ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.ES2022);
  for (const s of src.statements) {
    if (ts.isInterfaceDeclaration(s) && s.name.text === name)
      return s.members.flatMap((m) => (m.name && ts.isIdentifier(m.name) ? [m.name.text] : []));
  }
  throw new Error(`no interface ${name} in ${file}`);
}

/** A script made for these tests only (its body is what is checked). */
const fixture = (body: string, uses: LuaLibrary[] = [], keys: Record<string, string> = { a: 'ZSET', b: 'HASH' }) =>
  defineScript({ name: 'fixture', summary: 'test fixture', keys, args: {}, result: returns('{}'), uses, body });

describe('the scripts found', () => {
  it('are every script of shared/queue/scripts, each with a distinct name', () => {
    expect(SCRIPTS.map((s) => s.name).sort()).toEqual(Object.keys(DIGESTS).sort());
    expect(LIBRARIES.map((l) => l.name).sort()).toEqual([
      'base',
      'dead',
      'due',
      'dueFreed',
      'expiry',
      'flow',
      'history',
      'idempotency',
      'leaseCheck',
      'reclaim',
      'request',
      'waiting',
      'workers',
    ]);
  });
});

describe("Upstash's key-level locking", () => {
  it('every script starts with allow-key-locking, and with no-writes exactly when it only reads', () => {
    const readOnly = SCRIPTS.filter((s) => s.readOnly).map((s) => s.name);
    expect(readOnly.sort()).toEqual([
      'deadGroups',
      'dueSchedules',
      'get',
      'list',
      'readSchedules',
      'settingsRead',
      'snapshot',
    ]);
    for (const s of SCRIPTS) {
      expect(s.source.split('\n')[0], s.name).toBe(
        s.readOnly ? '#!lua flags=no-writes,allow-key-locking' : '#!lua flags=allow-key-locking',
      );
    }
  });

  it('a read-only script that writes is refused by Redis (the flag is kept on the way to Redis 7)', async () => {
    const spool = new Spool(testRedis(), { config: { prefix: 'test:no-writes' } });
    const def = defineScript({
      name: 'writesAnyway',
      summary: `declared read-only, writes anyway ${Math.random()}`,
      keys: { counters: '' },
      args: {},
      result: returns('{}'),
      readOnly: true,
      body: "redis.call('HINCRBY', K.counters, 'x', 1)\nreturn '{}'",
    });
    await expect(spool.run(def, 'q', {})).rejects.toThrow(/write command.*not allowed|no-writes/i);
  });
});

describe('keys: a redis.call names only the keys its script declares', () => {
  for (const s of SCRIPTS) {
    it(s.name, () => {
      const a = analyzeKeys(s.source, s.keys);
      expect(a.problems).toEqual([]);
      expect(a.calls).toBeGreaterThan(0);
      // and every declared key is used: KEYS is exactly what the script touches
      expect([...a.used].sort()).toEqual([...s.keys].sort());
    });
  }

  it('the check finds an undeclared key, however it reaches redis.call', () => {
    const problems = (body: string, uses: LuaLibrary[] = []) =>
      analyzeKeys(fixture(body, uses).source, ['a', 'b']).problems;
    expect(problems("return redis.call('ZCARD', K.a)")).toEqual([]);
    // the server's clock names no key; any other command without one is a problem
    expect(problems("return redis.call('TIME')")).toEqual([]);
    expect(problems("return redis.call('ZCARD')")).toEqual([expect.stringMatching(/a redis\.call without a key/)]);
    expect(problems("return redis.call('ZCARD', K.c)")).toEqual([
      expect.stringMatching(/K\.c is not a declared key \(declared: a, b\)/),
    ]);
    expect(problems("return redis.call('GET', KEYS[1] .. ':x')")).toEqual([
      expect.stringMatching(/a key built by an expression/),
    ]);
    expect(problems("return redis.call('GET', 'spool:{q}:meta')")).toEqual([
      expect.stringMatching(/a key built by an expression \(StringLiteral\)/),
    ]);
    // through a helper's parameter: each call of the helper is checked
    expect(
      problems("local function card(key) return redis.call('ZCARD', key) end\nreturn card(K.a) + card(K.meta)"),
    ).toEqual([expect.stringMatching(/K\.meta is not a declared key/)]);
    // through a library function, as the scripts call them
    expect(problems("bulk('ZREM', K.a, { 'x' })\nbulk('ZREM', K.nope, { 'x' })", [BASE])).toEqual([
      expect.stringMatching(/K\.nope is not a declared key/),
    ]);
    expect(problems("local set = K.a\nreturn redis.call('ZCARD', set)")).toEqual([
      expect.stringMatching(/key set is neither K\.<name> nor a parameter/),
    ]);
    expect(problems("local sets = { K.a }\nreturn redis.call('ZCARD', sets[1])")).toEqual([
      expect.stringMatching(/a key built by an expression \(IndexExpression\)/),
    ]);
    // every argument of a multi-key command is a key
    expect(problems("return redis.call('DEL', K.a, K.zz)")).toEqual([expect.stringMatching(/K\.zz is not/)]);
    expect(problems("local rcall = redis.call\nreturn rcall('GET', 'x')")).toEqual([
      expect.stringMatching(/redis\.call is used other than by calling it/),
    ]);
    expect(problems("local cmd = 'GET'\nreturn redis.call(cmd, K.a)")).toEqual([
      expect.stringMatching(/the command is not a string literal/),
    ]);
    expect(problems("K.a = 'elsewhere'\nreturn redis.call('ZCARD', K.a)")).toEqual([
      expect.stringMatching(/K\.a is assigned/),
    ]);
  });
});

describe('libraries: functions that take what they need', () => {
  for (const lib of LIBRARIES) {
    it(`${lib.name}: local functions and literal constants only, reading no name of the including script`, () => {
      expect(libraryShapeProblems(lib.source)).toEqual([]);
      // With what it requires before it, a library reads only builtins: no K, no KEYS, no ARGV, no local
      // of a script.
      const own = [
        ...new Set(
          lib.requires.flatMap(function deps(r: LuaLibrary): LuaLibrary[] {
            return [...r.requires.flatMap(deps), r];
          }),
        ),
      ];
      const names = freeNames([...own.map((r) => r.source), lib.source].join('\n'));
      expect(names.filter((n) => !LUA_BUILTINS.has(n))).toEqual([]);
    });
  }

  it('the checks find a shared buffer and a name borrowed from the script', () => {
    const buffer = luaLibrary('buffer', 'local MW = {}\nlocal function put(x) MW[#MW + 1] = x end');
    expect(libraryShapeProblems(buffer.source)).toEqual([expect.stringMatching(/LocalStatement at the top level/)]);
    const borrowing = luaLibrary(
      'borrowing',
      "local function due() return redis.call('ZRANGEBYSCORE', K.delayed, 0, now) end",
    );
    expect(freeNames(borrowing.source).filter((n) => !LUA_BUILTINS.has(n))).toEqual(['K', 'now']);
    const counted = luaLibrary('counted', 'local LIMIT = 1000\nlocal function f(n) return math.min(n, LIMIT) end');
    expect(libraryShapeProblems(counted.source)).toEqual([]);
  });

  for (const s of SCRIPTS) {
    it(`${s.name}: reads only builtins, KEYS and ARGV from outside itself`, () => {
      expect(freeNames(s.source).filter((n) => !LUA_BUILTINS.has(n) && n !== 'KEYS' && n !== 'ARGV')).toEqual([]);
    });
  }

  it('the check finds a script relying on a local it does not define', () => {
    const s = fixture("return redis.call('ZRANGEBYSCORE', K.a, '-inf', now, 'LIMIT', 0, scanLimit)");
    expect(freeNames(s.source).filter((n) => !LUA_BUILTINS.has(n) && n !== 'KEYS' && n !== 'ARGV')).toEqual([
      'now',
      'scanLimit',
    ]);
  });
});

describe('what the scripts write is in the types', () => {
  const writes = SCRIPTS.map((s) => fieldWrites(s.source, s.keys));

  it('every counter a script writes is a QueueCounters field the snapshot reports, and each is written', () => {
    const written = new Set(writes.flatMap((w) => [...w.counters]));
    expect([...written].filter((f) => !ENGINE_FIELDS.includes(f)).sort()).toEqual([...COUNTER_NAMES].sort());
    expect([...COUNTER_NAMES].sort()).toEqual(interfaceMembers('shared/queue/types.ts', 'QueueCounters').sort());
  });

  it('every field a script writes into a meta record is in the Meta type', () => {
    const written = new Set(writes.flatMap((w) => [...w.meta]));
    expect(written.size).toBeGreaterThan(10);
    const meta = new Set(interfaceMembers('shared/queue/core.ts', 'Meta'));
    expect([...written].filter((f) => !meta.has(f))).toEqual([]);
  });

  it('the checks read counter and meta writes through helpers', () => {
    const w = fieldWrites(
      fixture(
        "local function bump(countersKey, n) redis.call('HINCRBY', countersKey, 'madeUp', n) end\nbump(K.counters, 1)\nlocal m = {}\nm.colour = 'red'",
        [],
        { counters: 'HASH' },
      ).source,
      ['counters'],
    );
    expect([...w.counters]).toEqual(['madeUp']);
    expect([...w.meta]).toEqual(['colour']);
  });
});

describe('digests', () => {
  const redis = testRedis();

  for (const s of SCRIPTS) {
    it(`${s.name} is pinned, and Redis computes the same SHA-1 (the EVALSHA the engine sends)`, async () => {
      expect(s.sha1, `spool:${s.name} changed: its digest is now ${s.sha1}`).toBe(DIGESTS[s.name]);
      expect(await redis.scriptLoad(s.source)).toBe(s.sha1);
    });
  }

  it('any change to a script changes its digest', () => {
    const a = fixture("return redis.call('ZCARD', K.a)");
    const b = fixture("return redis.call('ZCARD', K.b)");
    expect(a.sha1).not.toBe(b.sha1);
  });
});
