import { createHash } from 'node:crypto';
import {
  GLOBAL_KEYS,
  QUEUE_KEY_DOCS,
  QUEUE_KEYS,
  type QueueKeyName,
  SCRIPT_GLOBAL_KEY_DOCS,
  type ScriptGlobalKeyName,
} from '../keys.js';

/**
 * Lua shared by scripts: `local function`s (and literal constants) only. A library holds no state
 * and reads nothing of the script it is part of: every key, buffer and value a function needs is a
 * parameter (test/shared/queue/scripts.test.ts holds both rules). `requires` are the libraries
 * whose functions it calls; a script carries each library once, after what it requires.
 */
export interface LuaLibrary {
  readonly name: string;
  readonly requires: readonly LuaLibrary[];
  readonly source: string;
}

export function luaLibrary(name: string, source: string, requires: readonly LuaLibrary[] = []): LuaLibrary {
  return { name, requires, source: source.trim() };
}

/** How an argument travels in ARGV, and how the script binds it. */
export type ArgKind =
  /** `tonumber(ARGV[i])` */
  | 'number'
  /** `ARGV[i]` as sent */
  | 'string'
  /** `ARGV[i] == '1'`; sent as '1' or '0' */
  | 'flag'
  /** `cjson.decode(ARGV[i])`; sent as JSON */
  | 'json';

export interface ArgSpec {
  readonly kind: ArgKind;
  readonly doc: string;
}

/** The KEYS entry of a script that keeps its answer for a retried call (keys.ts requestKey). */
export const REQUEST_KEY =
  "STRING this call's answer under its nonce, kept briefly so that the call retried answers the same";

/** Arguments several scripts take, described once. */
export const ARGS = {
  clock: { kind: 'number', doc: "epoch ms standing in for the server's clock (a test's); 0: Redis TIME" },
  deadCap: { kind: 'number', doc: 'most dead jobs kept (SPOOL_DEAD_CAP)' },
  leaseForMax: { kind: 'number', doc: 'ms from now no lease may outlive (0: none)' },
  requestTtlMs: { kind: 'number', doc: 'ms the answer is kept under the request nonce (0: not kept, not looked for)' },
  queue: { kind: 'string', doc: "the queue's name: its member in the global indexes (due, touched)" },
  worker: {
    kind: 'json',
    doc: "the calling worker's entry of the active workers: { id, ttlMs, held, done, gone? } ({} for none)",
  },
} as const satisfies Record<string, ArgSpec>;

export type ArgValue<T extends ArgKind> = T extends 'number'
  ? number
  : T extends 'string'
    ? string
    : T extends 'flag'
      ? boolean
      : unknown;

/** A script's result type, carried by its definition so that the operation calling it reads it by name. */
export interface Returns<R> {
  readonly doc: string;
  /** Type only; never set. */
  readonly type?: R;
}

export const returns = <R>(doc: string): Returns<R> => ({ doc });

export interface ScriptSpec<K extends string, A extends Record<string, ArgSpec>, R> {
  name: string;
  /** What the script does; the first lines of its header. */
  summary: string;
  /**
   * KEYS, in order, with what the script does with each ('' for nothing to add to what keys.ts says
   * the key holds). A name of shared/queue/keys.ts is that key of the queue (or, for a name of
   * SCRIPT_GLOBAL_KEY_DOCS, that global index); any other name must be
   * passed by the caller (core.run's `keys`) and says what it holds.
   */
  keys: Record<K, string>;
  /** ARGV, in order. Each is bound to a local of its name. */
  args: A;
  result: Returns<R>;
  uses?: readonly LuaLibrary[];
  /** The script only reads: it carries Upstash's (and Redis's) `no-writes` flag, and Redis refuses any write in it. */
  readOnly?: boolean;
  body: string;
}

/**
 * The first line of every script. Upstash runs a script under a database-wide lock unless its body
 * starts with `allow-key-locking`; then it locks only the keys passed in KEYS (every key a script
 * touches is declared: test/shared/queue/scripts.test.ts), so scripts of different queues run in
 * parallel. Redis 7 refuses that flag; the local endpoint (local/upstash) removes it before Redis
 * sees the script and maps the digests.
 */
export const shebang = (readOnly: boolean): string => `#!lua flags=${readOnly ? 'no-writes,' : ''}allow-key-locking`;

/**
 * A Lua script of the engine: its name, its KEYS (bound to `K.<name>`), its ARGV (bound to locals of
 * their names), its source with a header stating both and the result, and the source's SHA-1.
 */
export interface ScriptDef<
  K extends string = string,
  A extends Record<string, ArgSpec> = Record<string, ArgSpec>,
  R = unknown,
> {
  readonly name: string;
  readonly keys: readonly K[];
  readonly args: A;
  /** The libraries the source carries, in its order. */
  readonly libraries: readonly LuaLibrary[];
  readonly source: string;
  /** Only reads (flag no-writes). */
  readonly readOnly: boolean;
  /** SHA-1 of the source, computed here so the first EVALSHA can share an HTTP request with other calls. */
  readonly sha1: string;
  readonly result: Returns<R>;
}

/** The libraries in the order a script carries them: each once, after what it requires. */
export function libraryOrder(uses: readonly LuaLibrary[]): LuaLibrary[] {
  const out: LuaLibrary[] = [];
  const visit = (lib: LuaLibrary, path: readonly string[]) => {
    if (path.includes(lib.name)) throw new Error(`Lua library cycle: ${[...path, lib.name].join(' -> ')}`);
    if (out.includes(lib)) return;
    for (const r of lib.requires) visit(r, [...path, lib.name]);
    out.push(lib);
  };
  for (const lib of uses) visit(lib, []);
  return out;
}

const BIND: Record<ArgKind, (i: number) => string> = {
  number: (i) => `tonumber(ARGV[${i}])`,
  string: (i) => `ARGV[${i}]`,
  flag: (i) => `ARGV[${i}] == '1'`,
  json: (i) => `cjson.decode(ARGV[${i}])`,
};

const pad = (s: string, n: number) => s + ' '.repeat(Math.max(1, n - s.length));

export function defineScript<const K extends string, const A extends Record<string, ArgSpec>, R>(
  spec: ScriptSpec<K, A, R>,
): ScriptDef<K, A, R> {
  const keys = Object.keys(spec.keys) as K[];
  const keyDoc = (k: K): string => {
    const role: string = spec.keys[k];
    const holds = Object.hasOwn(QUEUE_KEY_DOCS, k)
      ? QUEUE_KEY_DOCS[k as string as QueueKeyName]
      : Object.hasOwn(SCRIPT_GLOBAL_KEY_DOCS, k)
        ? SCRIPT_GLOBAL_KEY_DOCS[k as string as ScriptGlobalKeyName]
        : undefined;
    if (!holds && !role) throw new Error(`spool:${spec.name}: key ${k} is not in keys.ts: say what it holds`);
    return holds && role ? `${holds}; ${role}` : (holds ?? role);
  };
  const args = Object.entries(spec.args) as Array<[string, ArgSpec]>;
  for (const doc of [...keys.map(keyDoc), ...args.map(([, s]) => s.doc), spec.result.doc]) {
    if (/\n|\]\]/.test(doc))
      throw new Error(`spool:${spec.name}: a key, argument or result doc is one line without "]]"`);
  }
  const libs = libraryOrder(spec.uses ?? []);
  const kw = Math.max(0, ...keys.map((k) => k.length)) + 2;
  const aw = Math.max(0, ...args.map(([a]) => a.length)) + 2;
  const indent = (text: string) =>
    text
      .trim()
      .split('\n')
      .map((l) => `  ${l}`.trimEnd())
      .join('\n');
  const header = [
    `--[[ spool:${spec.name}`,
    indent(spec.summary),
    '',
    '  KEYS',
    ...keys.map((k, i) => `    ${pad(`[${i + 1}]`, 5)}${pad(k, kw)}${keyDoc(k)}`),
    '  ARGV',
    ...(args.length
      ? args.map(([a, s], i) => `    ${pad(`[${i + 1}]`, 5)}${pad(a, aw)}${pad(s.kind, 8)}${s.doc}`)
      : ['    (none)']),
    '  Returns (JSON object)',
    `    ${spec.result.doc}`,
    ...(libs.length ? ['  Uses', `    ${libs.map((l) => l.name).join(', ')}`] : []),
    ']]',
  ];
  const bindKeys = [
    'local K = {',
    ...keys.map((k, i) => {
      const name = Object.hasOwn(QUEUE_KEYS, k)
        ? `<prefix>:{<queue>}:${QUEUE_KEYS[k as string as QueueKeyName]}`
        : Object.hasOwn(SCRIPT_GLOBAL_KEY_DOCS, k)
          ? `<prefix>:${GLOBAL_KEYS[k as string as ScriptGlobalKeyName]}`
          : 'given by the caller';
      return `  ${pad(`${k} = KEYS[${i + 1}],`, kw + 12)}-- ${name}`;
    }),
    '}',
  ];
  const bindArgs = args.map(([a, s], i) => `local ${pad(`${a} = ${BIND[s.kind](i + 1)}`, aw + 26)}-- ${s.doc}`);
  const source = [
    shebang(spec.readOnly ?? false),
    ...header,
    ...bindKeys,
    ...bindArgs,
    ...libs.map((l) => `\n-- library: ${l.name}\n${l.source}`),
    '',
    spec.body.trim(),
    '',
  ].join('\n');
  return {
    name: spec.name,
    keys,
    args: spec.args,
    libraries: libs,
    source,
    readOnly: spec.readOnly ?? false,
    sha1: createHash('sha1').update(source).digest('hex'),
    result: spec.result,
  };
}
