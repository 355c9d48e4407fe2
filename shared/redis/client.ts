import { Redis } from '@upstash/redis';
import { RedisUnavailableError } from '../queue/errors.js';

export interface RedisCredentials {
  url: string;
  token: string;
}

/** How long one Redis call (one HTTP request, retries included) may take by default: SPOOL_REDIS_TIMEOUT_MS. */
export const DEFAULT_REDIS_TIMEOUT_MS = 5_000;

/**
 * A client for Upstash (or the local endpoint). Every call is aborted after `timeoutMs` (retries
 * included), so a stalled Redis is a 503 long before the function times out. `failFast` trades the
 * client's default retry (about 4 s before a dead endpoint fails) for two quick retries, so an API
 * answers 503 promptly.
 */
export function createRedis(creds: RedisCredentials, opts: { failFast?: boolean; timeoutMs?: number } = {}): Redis {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS;
  return new Redis({
    url: creds.url,
    token: creds.token,
    // A function: a fresh signal per request (one shared signal would abort every later call).
    signal: () => AbortSignal.timeout(timeoutMs),
    ...(opts.failFast ? { retry: { retries: 2, backoff: (n: number) => 50 * 2 ** n } } : {}),
  });
}

/**
 * Redis error codes that mean "not now": out of memory, busy with a script, loading, a replica that
 * takes no writes or lost its master, a cluster in flux, a script cache that lost a script again
 * after the EVAL fallback (NOSCRIPT reaching `guard`).
 */
const UNAVAILABLE_CODES = new Set([
  'OOM',
  'BUSY',
  'LOADING',
  'READONLY',
  'MASTERDOWN',
  'MISCONF',
  'TRYAGAIN',
  'CLUSTERDOWN',
  'NOREPLICAS',
  'NOSCRIPT',
]);

/** What @upstash/redis puts before a Redis error: `Command failed: `, `Command 2 [ evalsha ] failed: `. */
const CLIENT_PREFIX = /^Command (?:\d+ \[ [^\]]* \] )?failed: /;

/** The Redis reply of an error from @upstash/redis (prefix removed, `, command was: ...` kept). */
function replyOf(err: Error): string {
  return err.message.replace(CLIENT_PREFIX, '');
}

/** The Redis error code of an @upstash/redis error (`OOM`, `BUSY`, `ERR`, ...), read at the start of the reply. */
export function redisErrorCode(err: unknown): string | undefined {
  if (!(err instanceof Error) || err.name !== 'UpstashError') return undefined;
  return /^([A-Z][A-Z_]*)(?: |$)/.exec(replyOf(err))?.[1];
}

/** Network failures of fetch (undici) and Node sockets, by code: the endpoint could not be reached. */
const NETWORK_CODES =
  /^(?:E(?:CONNREFUSED|CONNRESET|CONNABORTED|TIMEDOUT|NOTFOUND|AI_AGAIN|PIPE|HOSTUNREACH|NETUNREACH)|UND_ERR_\w+)$/;

/** True when an error means Redis (or the endpoint in front of it) cannot serve the call now. */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof RedisUnavailableError) return true;
  if (!(err instanceof Error)) return false;
  // Our timeout (AbortSignal.timeout) or an abort.
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return true;
  // undici: `TypeError: fetch failed` with the socket error as its cause.
  if (err.name === 'TypeError' && err.message === 'fetch failed') return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && NETWORK_CODES.test(code)) return true;
  // A non-JSON error answer: a gateway in front of Redis failed (502/503/504 pages).
  if (err.name === 'UpstashJSONParseError') return true;
  const redisCode = redisErrorCode(err);
  if (redisCode === undefined) return false;
  if (UNAVAILABLE_CODES.has(redisCode)) return true;
  // The local endpoint's answer when its Redis connection is down.
  return replyOf(err).startsWith('ERR Redis unavailable');
}

/** An error of a Redis call as it may be logged: its name and Redis reply, never the command sent (it holds jobs). */
export function describeRedisError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const reply = replyOf(err);
  const cut = reply.indexOf(', command was: ');
  const cause = (err as { cause?: unknown }).cause;
  const why = cause instanceof Error ? ` (${(cause as { code?: string }).code ?? cause.name}: ${cause.message})` : '';
  return `${err.name}: ${cut < 0 ? reply : reply.slice(0, cut)}${why}`.slice(0, 500);
}

/** Run a Redis call; an unreachable Redis becomes RedisUnavailableError, any other error passes through. */
export async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isUnavailable(err)) throw new RedisUnavailableError(err);
    throw err;
  }
}
