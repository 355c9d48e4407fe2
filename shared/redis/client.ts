import { Redis } from '@upstash/redis';
import { RedisUnavailableError } from '../queue/errors.js';

export interface RedisCredentials {
  url: string;
  token: string;
}

/**
 * A client for Upstash (or the local endpoint). `failFast` trades the client's default retry
 * (about 4 s before a dead endpoint fails) for two quick retries, so an API answers 503 promptly.
 */
export function createRedis(creds: RedisCredentials, opts: { failFast?: boolean } = {}): Redis {
  return new Redis({
    url: creds.url,
    token: creds.token,
    ...(opts.failFast ? { retry: { retries: 2, backoff: (n: number) => 50 * 2 ** n } } : {}),
  });
}

const UNAVAILABLE =
  /redis unavailable|econnrefused|econnreset|etimedout|enotfound|socket hang up|fetch failed|connection is closed|network|timeout|unable to connect|503|502|504/i;

/** True when an error means Redis (or the endpoint in front of it) could not be reached. */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof RedisUnavailableError) return true;
  if (!(err instanceof Error)) return false;
  if (err.name === 'UpstashError' && /^(ERR|WRONGTYPE|NOSCRIPT|BUSY|NOPERM)\b/.test(err.message)) {
    return /^ERR Redis unavailable/i.test(err.message);
  }
  const cause = (err as { cause?: unknown }).cause;
  return UNAVAILABLE.test(err.message) || (cause instanceof Error && UNAVAILABLE.test(cause.message));
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
