/**
 * `npm start`: the whole of Spool on this machine.
 *   1. a Redis at REDIS_URL, or a redis-server started for the run;
 *   2. the local Upstash-compatible endpoint at UPSTASH_REDIS_REST_URL (token UPSTASH_REDIS_REST_TOKEN),
 *      or the endpoint already there;
 *   3. the functions behind a local API Gateway on PORT, schedules on timers,
 *      demo targets under /demo/ and the dashboard at /dashboard.
 * Defaults (redis://127.0.0.1:6379, http://127.0.0.1:8079, spool-local-token, 3000): local/defaults.ts.
 * Ctrl-C (SIGINT) or SIGTERM stops everything it started.
 */

import { redactUrl } from '../shared/log/redact.js';
import { LOCAL_API_PORT, localSettings } from './defaults.js';
import { ensureRedis, type LocalRedis, RedisServerMissingError } from './redis.js';
import { LOCAL_SCHEDULES } from './schedules.js';
import { type LocalServer, startLocal } from './server.js';
import { startUpstashLocal, type UpstashLocal } from './upstash/server.js';

const log = (line: string) => console.log(line);

const { redisUrl, restUrl, token } = localSettings(process.env);
const port = process.env.PORT === undefined || process.env.PORT === '' ? LOCAL_API_PORT : Number(process.env.PORT);
const msEnv = (name: string, def: number) => (process.env[name] ? Number(process.env[name]) : def);

let redis: LocalRedis | undefined;
let upstash: UpstashLocal | undefined;
let server: LocalServer | undefined;
let stopping: Promise<void> | undefined;

async function stopAll(): Promise<void> {
  // Reverse order: no request may reach a closed endpoint, no endpoint a stopped Redis.
  await server?.close().catch((e: unknown) => log(`[local] closing server: ${String(e)}`));
  await upstash?.close().catch((e: unknown) => log(`[local] closing upstash endpoint: ${String(e)}`));
  await redis?.close().catch((e: unknown) => log(`[local] stopping redis-server: ${String(e)}`));
}

function stop(signal: string): void {
  if (stopping) return;
  log(`\n[local] ${signal}: stopping`);
  const force = setTimeout(() => {
    log('[local] still stopping after 10s; exiting');
    redis?.child?.kill('SIGKILL');
    process.exit(1);
  }, 10_000);
  force.unref();
  stopping = stopAll().then(() => {
    log('[local] stopped');
    process.exit(0);
  });
}
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGHUP', () => stop('SIGHUP'));
// If whoever started us goes away without a signal reaching us (e.g. `npm` killed), stop too.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop('parent process exited');
}, 1000).unref();
// A crash must not leave redis-server behind.
process.on('exit', () => {
  if (redis?.child && redis.child.exitCode === null) redis.child.kill('SIGKILL');
});

async function upstashEndpoint(): Promise<{ url: string; token: string }> {
  const restPort = restUrl.port === '' ? (restUrl.protocol === 'https:' ? 443 : 80) : Number(restUrl.port);
  const host = restUrl.hostname === '[::1]' ? '::1' : restUrl.hostname;
  const loopback = host === 'localhost' || host === '::1' || /^127\./.test(host);
  if (!loopback) {
    log(`[local] using the Upstash endpoint at ${restUrl.origin} (not started here)`);
    return { url: restUrl.origin, token };
  }
  try {
    upstash = await startUpstashLocal({ redisUrl, port: restPort, host, token });
    log(`[local] upstash-local endpoint on ${upstash.url} -> ${redactUrl(redisUrl)}`);
    return { url: upstash.url, token };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    // Something already serves that port (e.g. `npm run upstash:local`): use it if it takes our token.
    const res = await fetch(restUrl.origin, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: '["PING"]',
    }).catch(() => undefined);
    const body = res ? ((await res.json().catch(() => null)) as { result?: unknown } | null) : null;
    if (body?.result === 'PONG') {
      log(`[local] using the Upstash endpoint already on ${restUrl.origin}`);
      return { url: restUrl.origin, token };
    }
    throw new Error(
      `port ${restPort} (UPSTASH_REDIS_REST_URL ${restUrl.origin}) is taken by something that is not an Upstash endpoint accepting UPSTASH_REDIS_REST_TOKEN`,
    );
  }
}

try {
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`PORT must be a port number, got ${process.env.PORT}`);
  redis = await ensureRedis(redisUrl, log);
  const endpoint = await upstashEndpoint();
  server = await startLocal({
    port,
    upstash: endpoint,
    log,
    schedules: {
      worker: msEnv('SPOOL_LOCAL_WORKER_EVERY_MS', LOCAL_SCHEDULES.worker),
      health: msEnv('SPOOL_LOCAL_HEALTH_EVERY_MS', LOCAL_SCHEDULES.health),
      purge: msEnv('SPOOL_LOCAL_PURGE_EVERY_MS', LOCAL_SCHEDULES.purge),
      'dlq-replay': msEnv('SPOOL_LOCAL_DLQ_REPLAY_EVERY_MS', LOCAL_SCHEDULES['dlq-replay']),
      scheduler: msEnv('SPOOL_LOCAL_SCHEDULER_EVERY_MS', LOCAL_SCHEDULES.scheduler),
    },
  });
  if (stopping) await stopping;
  log('');
  log(`Spool is running on ${server.url}  (key prefix "${server.env.SPOOL_KEY_PREFIX}")`);
  log(`  API        ${server.url}/v1/health`);
  log(`  dashboard  ${server.url}/dashboard`);
  log(`  demo       ${server.url}/demo/echo | /demo/flaky | /demo/fail | /demo/slow?ms=N`);
  log(`  CLI        npx spool status   (UPSTASH_REDIS_REST_URL=${endpoint.url})`);
  log('Ctrl-C stops everything.');
  log('');
} catch (e) {
  if (e instanceof RedisServerMissingError) console.error(`\n${e.message}\n`);
  else console.error(`[local] cannot start: ${e instanceof Error ? e.message : String(e)}`);
  await stopAll();
  process.exit(1);
}
