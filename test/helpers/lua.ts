/**
 * Static checks of the engine's Lua (test/shared/queue/scripts.test.ts), on luaparse's syntax tree:
 *
 * - keyProblems: every key a `redis.call` names must be one of the script's declared `K.<name>`
 *   (Upstash's key-level locking refuses any other key; Redis Cluster needs them declared). A key
 *   may reach the call through parameters of named functions (`bulk(cmd, key, args)`): then every
 *   call of that function must pass a declared key there, checked the same way. Anything else (a
 *   key built from a string, read from a table, held in a local) is a problem.
 * - freeNames: the globals a chunk reads (a library may read only Lua's and Redis's builtins; a
 *   script also KEYS and ARGV), so nothing relies on a local the including script happens to define.
 * - libraryShapeProblems: a library is `local function`s and literal constants only (no buffers).
 * - fieldWrites: the counters fields and the meta fields (`m.<field> = …`) the scripts write.
 *
 * Known limit: a local that shadows a parameter of the same name is not told apart from it.
 */
import type {
  CallExpression,
  Chunk,
  Expression,
  FunctionDeclaration,
  Identifier,
  MemberExpression,
  Node,
  StringLiteral,
} from 'luaparse';
import luaparse from 'luaparse';

export const LUA_BUILTINS = new Set([
  'redis',
  'cjson',
  'math',
  'string',
  'table',
  'unpack',
  'tonumber',
  'tostring',
  'ipairs',
  'pairs',
  'type',
  'next',
  'select',
  'error',
  'assert',
  'pcall',
]);

/** Commands whose every argument is a key. Any other command's key is its first argument. */
const MULTI_KEY = new Set(['DEL', 'EXISTS', 'UNLINK', 'TOUCH', 'MGET', 'WATCH']);
/** Commands that name no key (the server's clock). */
const KEYLESS = new Set(['TIME']);

export function parseLua(source: string): Chunk {
  return luaparse.parse(source, { scope: true, locations: true, luaVersion: '5.1', encodingMode: 'pseudo-latin1' });
}

interface Site {
  call: CallExpression;
  /** Enclosing functions, outermost first. */
  fns: FunctionDeclaration[];
}

function isNode(x: unknown): x is Node {
  return typeof x === 'object' && x !== null && typeof (x as { type?: unknown }).type === 'string';
}

/** Every node with its enclosing functions. */
function walk(root: Node, visit: (n: Node, fns: FunctionDeclaration[]) => void): void {
  const go = (n: Node, fns: FunctionDeclaration[]) => {
    visit(n, fns);
    const inner = n.type === 'FunctionDeclaration' ? [...fns, n] : fns;
    for (const [k, v] of Object.entries(n)) {
      if (k === 'loc' || k === 'range' || k === 'globals' || k === 'comments') continue;
      if (Array.isArray(v)) for (const c of v) if (isNode(c)) go(c, inner);
      if (isNode(v)) go(v, inner);
    }
  };
  go(root, []);
}

const isRedisCall = (e: Expression): e is MemberExpression =>
  e.type === 'MemberExpression' &&
  e.base.type === 'Identifier' &&
  e.base.name === 'redis' &&
  (e.identifier.name === 'call' || e.identifier.name === 'pcall');

export const literal = (e: Expression | undefined): string | undefined =>
  e?.type === 'StringLiteral' ? (e as StringLiteral).raw.slice(1, -1) : undefined;

const line = (n: Node) => n.loc?.start.line ?? 0;

export interface Analysis {
  problems: string[];
  /** Declared keys some redis.call names. */
  used: Set<string>;
  /** redis.call sites checked. */
  calls: number;
  /** [command, key names it resolves to, the call's arguments, its enclosing functions] of every redis.call. */
  sites: Array<{ command: string | undefined; keys: Set<string>; call: CallExpression; fns: FunctionDeclaration[] }>;
}

/** Problems with the keys the redis.calls of `source` name, given the script's declared keys. */
export function analyzeKeys(source: string, declared: readonly string[]): Analysis {
  const ast = parseLua(source);
  const named = new Map<string, FunctionDeclaration>();
  const callsOf = new Map<string, Site[]>();
  const redisCalls: Site[] = [];
  const problems: string[] = [];
  const calleeOf = new Set<Node>();
  walk(ast, (n, fns) => {
    if (n.type === 'FunctionDeclaration' && n.identifier?.type === 'Identifier') named.set(n.identifier.name, n);
    if (n.type === 'CallExpression') {
      calleeOf.add(n.base);
      if (isRedisCall(n.base)) redisCalls.push({ call: n, fns });
      else if (n.base.type === 'Identifier') {
        const list = callsOf.get(n.base.name) ?? [];
        list.push({ call: n, fns });
        callsOf.set(n.base.name, list);
      }
    }
    if (n.type === 'AssignmentStatement') {
      for (const v of n.variables)
        if (v.type === 'MemberExpression' && v.base.type === 'Identifier' && v.base.name === 'K')
          problems.push(`line ${line(v)}: K.${v.identifier.name} is assigned (K holds the declared KEYS only)`);
    }
  });
  walk(ast, (n) => {
    if (n.type === 'MemberExpression' && isRedisCall(n) && !calleeOf.has(n))
      problems.push(`line ${line(n)}: redis.${n.identifier.name} is used other than by calling it`);
  });

  const used = new Set<string>();
  /** The declared keys `e` can be, pushing a problem for anything that is not one. */
  const resolve = (e: Expression | undefined, fns: FunctionDeclaration[], at: Node, depth = 0): Set<string> => {
    const out = new Set<string>();
    if (!e) {
      problems.push(`line ${line(at)}: a redis.call without a key`);
      return out;
    }
    if (depth > 20) {
      problems.push(`line ${line(at)}: a key passed through more than 20 calls`);
      return out;
    }
    if (e.type === 'MemberExpression' && e.indexer === '.' && e.base.type === 'Identifier' && e.base.name === 'K') {
      const k = e.identifier.name;
      if (declared.includes(k)) out.add(k);
      else problems.push(`line ${line(e)}: K.${k} is not a declared key (declared: ${declared.join(', ')})`);
      return out;
    }
    if (e.type === 'Identifier') {
      for (let i = fns.length - 1; i >= 0; i--) {
        const f = fns[i]!;
        const index = f.parameters.findIndex((p) => p.type === 'Identifier' && p.name === e.name);
        if (index < 0) continue;
        if (f.identifier?.type !== 'Identifier') {
          problems.push(`line ${line(e)}: key ${e.name} is a parameter of an anonymous function`);
          return out;
        }
        for (const site of callsOf.get(f.identifier.name) ?? []) {
          for (const k of resolve(site.call.arguments[index], site.fns, site.call, depth + 1)) out.add(k);
        }
        return out;
      }
      problems.push(`line ${line(e)}: key ${e.name} is neither K.<name> nor a parameter`);
      return out;
    }
    problems.push(`line ${line(e)}: a key built by an expression (${e.type}), not K.<name>`);
    return out;
  };
  /** The literal command names an argument can be (through parameters, as for keys). */
  const commands = (e: Expression | undefined, fns: FunctionDeclaration[], depth = 0): Array<string | undefined> => {
    const lit = literal(e);
    if (lit !== undefined || e?.type !== 'Identifier' || depth > 20) return [lit?.toUpperCase()];
    for (let i = fns.length - 1; i >= 0; i--) {
      const f = fns[i]!;
      const index = f.parameters.findIndex((p) => p.type === 'Identifier' && p.name === (e as Identifier).name);
      if (index < 0) continue;
      if (f.identifier?.type !== 'Identifier') return [undefined];
      return (callsOf.get(f.identifier.name) ?? []).flatMap((s) => commands(s.call.arguments[index], s.fns, depth + 1));
    }
    return [undefined];
  };

  const sites: Analysis['sites'] = [];
  for (const { call, fns } of redisCalls) {
    const cmds = commands(call.arguments[0], fns);
    if (cmds.some((c) => c === undefined))
      problems.push(`line ${line(call)}: the command is not a string literal (nor a parameter always given one)`);
    const multi = cmds.some((c) => c !== undefined && MULTI_KEY.has(c));
    const keyless = cmds.every((c) => c !== undefined && KEYLESS.has(c));
    if (keyless && call.arguments.length > 1) problems.push(`line ${line(call)}: ${cmds[0]} takes no argument`);
    const keyArgs = keyless ? [] : multi ? call.arguments.slice(1) : [call.arguments[1]];
    const keys = new Set<string>();
    for (const a of keyArgs) for (const k of resolve(a, fns, call)) keys.add(k);
    if (multi && keyArgs.length === 0) problems.push(`line ${line(call)}: a redis.call without a key`);
    for (const k of keys) used.add(k);
    sites.push({ command: cmds.length === 1 ? cmds[0] : undefined, keys, call, fns });
  }
  return { problems, used, calls: redisCalls.length, sites };
}

/** The globals a chunk reads or writes. */
export function freeNames(source: string): string[] {
  // luaparse's scope option lists them on the chunk (its types leave the field out).
  const { globals } = parseLua(source) as Chunk & { globals?: Identifier[] };
  return [...new Set((globals ?? []).map((g) => g.name))].sort();
}

/** A library's top level may hold `local function`s and literal constants only. */
export function libraryShapeProblems(source: string): string[] {
  const problems: string[] = [];
  for (const s of parseLua(source).body) {
    if (s.type === 'FunctionDeclaration' && s.isLocal && s.identifier?.type === 'Identifier') continue;
    if (
      s.type === 'LocalStatement' &&
      s.init.every((e) => ['NumericLiteral', 'StringLiteral', 'BooleanLiteral'].includes(e.type))
    )
      continue;
    problems.push(
      `line ${line(s)}: ${s.type} at the top level of a library (only local functions and literal constants)`,
    );
  }
  return problems;
}

/**
 * The fields the scripts write: of the counters hash (HINCRBY/HSET on K.counters, directly or through
 * parameters) and of meta records (assignments to `m.<field>`, the scripts' name for a decoded record).
 */
export function fieldWrites(source: string, declared: readonly string[]): { counters: Set<string>; meta: Set<string> } {
  const counters = new Set<string>();
  const { sites } = analyzeKeys(source, declared);
  for (const s of sites) {
    if (!s.keys.has('counters')) continue;
    const args = s.call.arguments;
    if (s.command === 'HINCRBY') {
      const f = literal(args[2]);
      counters.add(f ?? '<not a literal>');
    } else if (s.command === 'HSET') {
      for (let i = 2; i < args.length; i += 2) counters.add(literal(args[i]) ?? '<not a literal>');
    } else if (s.command === 'HDEL') {
      for (let i = 2; i < args.length; i++) counters.add(literal(args[i]) ?? '<not a literal>');
    } else if (s.command !== 'HGETALL' && s.command !== 'HGET' && s.command !== 'HMGET') {
      counters.add(`<${s.command ?? 'a dynamic command'} on counters>`);
    }
  }
  const meta = new Set<string>();
  walk(parseLua(source), (n) => {
    if (n.type !== 'AssignmentStatement') return;
    for (const v of n.variables)
      if (v.type === 'MemberExpression' && v.base.type === 'Identifier' && v.base.name === 'm')
        meta.add(v.identifier.name);
  });
  return { counters, meta };
}
