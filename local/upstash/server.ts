/**
 * Local Upstash-compatible REST endpoint in front of a real Redis (dev/test tool only).
 *
 * Speaks the subset of the Upstash REST protocol that `@upstash/redis` uses:
 *   POST /            body ["cmd", ...args]          -> {"result": X} | 400 {"error": "..."}
 *   POST /pipeline    body [["cmd", ...], ...]       -> [{"result"} | {"error"}, ...]
 *   POST /multi-exec  body [["cmd", ...], ...]       -> same, executed in MULTI/EXEC
 * Replies keep their RESP2 shape. With `Upstash-Encoding: base64`, bulk and simple strings are
 * base64 of the raw bytes; errors are never encoded. Scripts may carry Upstash's
 * `allow-key-locking` flag, which Redis 7 refuses: see ./scripts.ts.
 */

import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { Redis, type RedisOptions, ReplyError } from 'ioredis';
import { redactUrl } from '../../shared/log/redact.js';
import { LOCAL_HOST, LOCAL_REDIS_URL } from '../defaults.js';
import { ScriptFlags } from './scripts.js';

export interface UpstashLocalOptions {
  redisUrl?: string;
  port?: number;
  host?: string;
  token: string;
  /** Largest accepted request body in bytes (default 64 MiB). */
  maxBodyBytes?: number;
}

export interface UpstashLocal {
  url: string;
  token: string;
  port: number;
  close(): Promise<void>;
}

type Arg = string;
type Cmd = [name: string, ...args: Arg[]];

/** Commands that block the connection they run on; they get a dedicated connection. */
const BLOCKING = new Set([
  'BLPOP',
  'BRPOP',
  'BRPOPLPUSH',
  'BLMOVE',
  'BLMPOP',
  'BZPOPMIN',
  'BZPOPMAX',
  'BZMPOP',
  'WAIT',
  'WAITAOF',
]);

/** Commands that change the state of the (shared) connection: refused everywhere. */
const REFUSED = new Set([
  'SELECT',
  'MULTI',
  'EXEC',
  'DISCARD',
  'WATCH',
  'UNWATCH',
  'SUBSCRIBE',
  'PSUBSCRIBE',
  'SSUBSCRIBE',
  'UNSUBSCRIBE',
  'PUNSUBSCRIBE',
  'SUNSUBSCRIBE',
  'MONITOR',
  'QUIT',
  'RESET',
  'HELLO',
  'AUTH',
  'SYNC',
  'PSYNC',
  'REPLCONF',
  'READONLY',
  'READWRITE',
  'ASKING',
]);
/** CLIENT subcommands that only read; all others (SETNAME, REPLY, TRACKING, KILL, ...) are refused. */
const CLIENT_READ_ONLY = new Set(['LIST', 'INFO', 'ID', 'GETNAME', 'TRACKINGINFO', 'GETREDIR', 'HELP']);

const DEFAULT_MAX_BODY = 64 * 1024 * 1024;
const MAX_IDLE_DEDICATED = 8;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function isBlocking(cmd: Cmd): boolean {
  const name = cmd[0];
  if (BLOCKING.has(name)) return true;
  if (name === 'XREAD' || name === 'XREADGROUP') {
    for (let i = 1; i < cmd.length; i++) if ((cmd[i] as string).toUpperCase() === 'BLOCK') return true;
  }
  return false;
}

function refusal(cmd: Cmd): string | undefined {
  const name = cmd[0];
  if (REFUSED.has(name) || (name === 'CLIENT' && !CLIENT_READ_ONLY.has((cmd[1] ?? '').toUpperCase()))) {
    const shown = name === 'CLIENT' && cmd[1] ? `client ${cmd[1].toLowerCase()}` : name.toLowerCase();
    return `ERR command '${shown}' is not allowed on the shared connection of this endpoint`;
  }
  return undefined;
}

/** Validates one JSON command and converts its arguments to strings (upper-cased command name). */
function toCommand(raw: unknown): Cmd {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new HttpError(400, 'ERR a command must be a non-empty JSON array ["cmd", ...args]');
  }
  const out = new Array<string>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const a: unknown = raw[i];
    if (typeof a === 'string') out[i] = a;
    else if (typeof a === 'number' || typeof a === 'boolean') out[i] = String(a);
    else throw new HttpError(400, `ERR argument ${i} must be a JSON string, number or boolean`);
  }
  // Upper-case name: ioredis keys its reply transformers by lower-case names (e.g. hgetall -> object).
  out[0] = (out[0] as string).toUpperCase();
  return out as Cmd;
}

function toCommands(raw: unknown): Cmd[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new HttpError(400, 'ERR body must be a non-empty JSON array of commands');
  }
  return raw.map(toCommand);
}

/** RESP2 reply (as ioredis callBuffer gives it) -> JSON value. */
function encodeReply(v: unknown, b64: boolean): unknown {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return b64 ? v.toString('base64') : v.toString('utf8');
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return b64 ? Buffer.from(v, 'utf8').toString('base64') : v;
  if (Array.isArray(v)) {
    const out = new Array<unknown>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = encodeReply(v[i], b64);
    return out;
  }
  // An error nested in an array (e.g. a Lua table holding an error reply): its message, unencoded.
  if (v instanceof Error) return v.message;
  if (typeof v === 'bigint') return Number(v);
  return v;
}

const ReplyErrorClass = ReplyError as new (...args: never[]) => Error;

/** An error reply from Redis (as opposed to a connection / client-side failure). */
function isReplyError(e: unknown): e is Error {
  return e instanceof ReplyErrorClass;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      reject(new HttpError(413, `ERR request body larger than ${limit} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new HttpError(413, `ERR request body larger than ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

export async function startUpstashLocal(opts: UpstashLocalOptions): Promise<UpstashLocal> {
  if (!opts.token) throw new Error('startUpstashLocal: a non-empty token is required');
  const host = opts.host ?? LOCAL_HOST;
  if (!isLoopback(host)) throw new Error(`startUpstashLocal: refusing to bind non-loopback host ${host}`);
  const redisUrl = opts.redisUrl ?? LOCAL_REDIS_URL;
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const expectedAuth = Buffer.from(`Bearer ${opts.token}`);

  const baseOptions: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false, // Redis down -> fail at once, never queue
    maxRetriesPerRequest: 1,
    autoResendUnfulfilledCommands: false, // never run a command twice after a reconnect
    connectTimeout: 3000,
    connectionName: 'upstash-local',
    // Pass Redis's own answers on, as Upstash does: a Redis still loading answers LOADING (a 503 for
    // Spool) instead of the endpoint holding every request until the load ends.
    enableReadyCheck: false,
  };

  let lastErrorLog = 0;
  const logError = (e: Error): void => {
    const now = Date.now();
    if (now - lastErrorLog > 5000) {
      lastErrorLog = now;
      console.error(`[upstash-local] redis: ${e.message}`);
    }
  };

  const shared = new Redis(redisUrl, {
    ...baseOptions,
    retryStrategy: (times) => Math.min(times * 100, 2000),
  });
  shared.on('error', logError);
  try {
    await shared.connect();
  } catch (e) {
    shared.disconnect();
    throw new Error(`startUpstashLocal: cannot reach Redis at ${redactUrl(redisUrl)}: ${errorMessage(e)}`);
  }

  // Dedicated connections for blocking commands (and pipelines that contain one).
  const idle: Redis[] = [];
  const dedicated = new Set<Redis>();
  let closing = false;

  async function acquire(): Promise<Redis> {
    for (let c = idle.pop(); c; c = idle.pop()) {
      if (c.status === 'ready') return c;
      dedicated.delete(c);
      c.disconnect();
    }
    const c = new Redis(redisUrl, { ...baseOptions, retryStrategy: () => null });
    c.on('error', () => {}); // failures surface through connect() / the command
    dedicated.add(c);
    try {
      await c.connect();
    } catch (e) {
      dedicated.delete(c);
      c.disconnect();
      throw e;
    }
    return c;
  }

  function release(c: Redis, reusable: boolean): void {
    if (reusable && !closing && c.status === 'ready' && idle.length < MAX_IDLE_DEDICATED) {
      idle.push(c);
    } else {
      dedicated.delete(c);
      c.disconnect();
    }
  }

  /** Runs `fn` on a dedicated connection; drops the connection if the HTTP client goes away meanwhile. */
  async function withDedicated<T>(res: http.ServerResponse, fn: (c: Redis) => Promise<T>): Promise<T> {
    const c = await acquire();
    let abandoned = false;
    const onClose = (): void => {
      if (!res.writableFinished) {
        abandoned = true;
        c.disconnect(); // unblocks nothing server-side, but frees the blocked Redis client
      }
    };
    res.once('close', onClose);
    try {
      return await fn(c);
    } finally {
      res.off('close', onClose);
      release(c, !abandoned);
    }
  }

  type Entry = { result: unknown } | { error: string };
  const scripts = new ScriptFlags();
  /** Each command as Redis must see it, with its reply's translation (./scripts.ts). */
  const translateAll = (cmds: Cmd[]) => cmds.map((c) => scripts.translate(c));
  const replyOf = (t: { reply?: (v: unknown) => unknown } | undefined, v: unknown): unknown =>
    t?.reply ? t.reply(v) : v;

  async function runPipeline(conn: Redis, cmds: Cmd[], b64: boolean): Promise<{ entries: Entry[]; down?: string }> {
    const p = conn.pipeline();
    const ts = translateAll(cmds);
    for (const { cmd } of ts) p.callBuffer(cmd[0], ...cmd.slice(1));
    const replies = await p.exec();
    if (!replies) throw new Error('ERR pipeline produced no result');
    const entries: Entry[] = new Array(cmds.length);
    let down: string | undefined;
    for (let i = 0; i < cmds.length; i++) {
      const [err, value] = replies[i] ?? [new Error('ERR missing reply'), null];
      if (err) {
        const message = errorMessage(err);
        if (!isReplyError(err)) down ??= message;
        entries[i] = { error: message };
      } else {
        entries[i] = { result: encodeReply(replyOf(ts[i], value), b64) };
      }
    }
    return { entries, down };
  }

  async function runMulti(cmds: Cmd[], b64: boolean): Promise<Entry[]> {
    // ioredis writes MULTI ... EXEC as one block on the shared connection, so no other
    // caller's command can land inside the transaction.
    const m = shared.multi();
    const ts = translateAll(cmds);
    for (const { cmd } of ts) m.callBuffer(cmd[0], ...cmd.slice(1));
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await m.exec();
    } catch (e) {
      const prev = (e as { previousErrors?: Error[] }).previousErrors;
      if (isReplyError(e) && prev && prev.length > 0) {
        throw new HttpError(400, `${e.message} First error: ${prev.map((x) => x.message).join('; ')}`);
      }
      throw e;
    }
    if (!replies) throw new HttpError(400, 'ERR transaction aborted');
    return replies.map(([err, value], i) =>
      err ? { error: err.message } : { result: encodeReply(replyOf(ts[i], value), b64) },
    );
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const auth = req.headers.authorization;
    if (!auth || auth.length !== expectedAuth.length || !timingSafeEqual(Buffer.from(auth), expectedAuth)) {
      sendJson(res, 401, { error: 'Unauthorized' });
      return;
    }
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    let path = q === -1 ? rawUrl : rawUrl.slice(0, q);
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    const route =
      path === '/' || path === ''
        ? 'single'
        : path === '/pipeline'
          ? 'pipeline'
          : path === '/multi-exec'
            ? 'multi'
            : null;
    if (!route) {
      sendJson(res, 404, { error: `Not found: ${path}` });
      return;
    }
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      sendJson(res, 405, { error: 'Method not allowed, use POST' });
      return;
    }
    const b64 = (req.headers['upstash-encoding'] ?? '').toString().toLowerCase() === 'base64';
    let body: unknown;
    try {
      const buf = await readBody(req, maxBody);
      body = JSON.parse(buf.toString('utf8'));
    } catch (e) {
      if (e instanceof HttpError) throw e;
      throw new HttpError(400, 'ERR request body is not valid JSON');
    }

    if (route === 'single') {
      const cmd = toCommand(body);
      const refused = refusal(cmd);
      if (refused) throw new HttpError(400, refused);
      try {
        const t = scripts.translate(cmd);
        const run = t.cmd;
        const value = isBlocking(cmd)
          ? await withDedicated(res, (c) => c.callBuffer(run[0], ...run.slice(1)))
          : await shared.callBuffer(run[0], ...run.slice(1));
        sendJson(res, 200, { result: encodeReply(replyOf(t, value), b64) });
      } catch (e) {
        if (isReplyError(e)) throw new HttpError(400, e.message);
        throw e;
      }
      return;
    }

    const cmds = toCommands(body);
    if (route === 'pipeline') {
      // Refused commands get an error entry; the others still run, in order.
      const runnable: Cmd[] = [];
      const refusedAt = new Map<number, string>();
      cmds.forEach((cmd, i) => {
        const r = refusal(cmd);
        if (r) refusedAt.set(i, r);
        else runnable.push(cmd);
      });
      let entries: Entry[] = [];
      if (runnable.length > 0) {
        const out = runnable.some(isBlocking)
          ? await withDedicated(res, (c) => runPipeline(c, runnable, b64))
          : await runPipeline(shared, runnable, b64);
        if (out.down) throw new Error(out.down);
        entries = out.entries;
      }
      const result: Entry[] = [];
      let j = 0;
      for (let i = 0; i < cmds.length; i++) {
        const r = refusedAt.get(i);
        result.push(r ? { error: r } : (entries[j++] as Entry));
      }
      sendJson(res, 200, result);
      return;
    }

    // multi-exec: a refused command aborts the whole transaction, as a queueing error would.
    for (const cmd of cmds) {
      const r = refusal(cmd);
      if (r) throw new HttpError(400, `EXECABORT Transaction discarded: ${r}`);
    }
    sendJson(res, 200, await runMulti(cmds, b64));
  }

  const server = http.createServer({ keepAlive: true }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof HttpError) sendJson(res, e.status, { error: e.message });
      else sendJson(res, 503, { error: `ERR Redis unavailable: ${errorMessage(e)}` });
    });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0; // blocking commands may legitimately take long

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, host === 'localhost' ? '127.0.0.1' : host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    shared.disconnect();
    throw e;
  }
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 0);
  const urlHost = host === '::1' ? '[::1]' : host === 'localhost' ? '127.0.0.1' : host;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    token: opts.token,
    port,
    close(): Promise<void> {
      closed ??= (async () => {
        closing = true;
        const done = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await done;
        for (const c of dedicated) c.disconnect();
        dedicated.clear();
        idle.length = 0;
        try {
          await shared.quit();
        } catch {
          shared.disconnect();
        }
      })();
      return closed;
    },
  };
}
