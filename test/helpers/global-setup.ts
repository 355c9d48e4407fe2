/**
 * vitest globalSetup: ensure a Redis answers at REDIS_URL (start a throwaway redis-server if none
 * does), start the local Upstash-compatible endpoint on a random port with a random token, and
 * provide `{ url, token }` to tests as `inject('upstash')`.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { LOCAL_REDIS_URL } from '../../local/defaults.js';
import { redisAnswers } from '../../local/redis.js';
import { startUpstashLocal, type UpstashLocal } from '../../local/upstash/server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    upstash: { url: string; token: string };
  }
}

const execFileAsync = promisify(execFile);

async function ensureRedis(url: string): Promise<void> {
  if (await redisAnswers(url)) return;
  const u = new URL(url);
  const port = u.port || '6379';
  // No persistence; left running afterwards (other test runs may share it).
  await execFileAsync('redis-server', [
    '--port',
    port,
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'yes',
  ]);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await redisAnswers(url)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`global-setup: started redis-server on port ${port} but it does not answer PING at ${url}`);
}

let endpoint: UpstashLocal | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redisUrl = process.env.REDIS_URL || LOCAL_REDIS_URL;
  await ensureRedis(redisUrl);
  endpoint = await startUpstashLocal({ redisUrl, port: 0, token: randomBytes(24).toString('hex') });
  const { url, token } = endpoint;
  project.provide('upstash', { url, token });
  process.env.UPSTASH_REDIS_REST_URL = url;
  process.env.UPSTASH_REDIS_REST_TOKEN = token;
  return async () => {
    await endpoint?.close();
    endpoint = undefined;
  };
}
