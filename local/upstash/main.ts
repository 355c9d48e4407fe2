/**
 * `npm run upstash:local` — local Upstash-compatible REST endpoint in front of a real Redis.
 * Env: REDIS_URL, UPSTASH_REDIS_REST_URL (the port is taken from it) and UPSTASH_REDIS_REST_TOKEN,
 * defaults in local/defaults.ts (redis://127.0.0.1:6379, http://127.0.0.1:8079, spool-local-token).
 */
import { redactUrl } from '../../shared/log/redact.js';
import { localSettings } from '../defaults.js';
import { startUpstashLocal } from './server.js';

const { redisUrl, restUrl, token } = localSettings(process.env);
const port = Number(restUrl.port) || (restUrl.protocol === 'https:' ? 443 : 80);
const host = restUrl.hostname === '[::1]' ? '::1' : restUrl.hostname;

try {
  const server = await startUpstashLocal({ redisUrl, port, host, token });
  console.log(
    `upstash-local listening on ${server.url} (token from UPSTASH_REDIS_REST_TOKEN) -> ${redactUrl(redisUrl)}`,
  );
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`upstash-local: ${signal}, stopping`);
    server.close().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error('upstash-local: error while stopping', e);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
} catch (e) {
  console.error(`upstash-local: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
