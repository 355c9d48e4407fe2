/**
 * The local stack's defaults, once: `npm start` (local/main.ts), `npm run upstash:local`
 * (local/upstash/main.ts), the local API server, the Upstash-compatible endpoint and the `spool` CLI
 * agree on where Redis, the endpoint and the API are, and on the endpoint's token.
 */

/** Every local listener binds loopback only. */
export const LOCAL_HOST = '127.0.0.1';
/** The Redis behind the endpoint (`REDIS_URL`). */
export const LOCAL_REDIS_URL = `redis://${LOCAL_HOST}:6379`;
/** The Upstash-compatible endpoint (`UPSTASH_REDIS_REST_URL`). */
export const LOCAL_REST_URL = `http://${LOCAL_HOST}:8079`;
/** The endpoint's token (`UPSTASH_REDIS_REST_TOKEN`). Local only: it guards nothing of value. */
export const LOCAL_REST_TOKEN = 'spool-local-token';
/** The worker's delivery signing secret (`SPOOL_SIGNING_SECRET`); the demo targets verify with it. Local only. */
export const LOCAL_SIGNING_SECRET = 'spool-local-signing-secret';
/** The local API Gateway's port (`PORT`). */
export const LOCAL_API_PORT = 3000;

export interface LocalSettings {
  redisUrl: string;
  restUrl: URL;
  token: string;
}

/** REDIS_URL, UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN from `env`; an empty value takes the default. */
export function localSettings(env: Record<string, string | undefined>): LocalSettings {
  return {
    redisUrl: env.REDIS_URL || LOCAL_REDIS_URL,
    restUrl: new URL(env.UPSTASH_REDIS_REST_URL || LOCAL_REST_URL),
    token: env.UPSTASH_REDIS_REST_TOKEN || LOCAL_REST_TOKEN,
  };
}
