/**
 * vitest globalSetup: ensure a Redis answers at REDIS_URL (start a throwaway redis-server if none
 * does), start the local Upstash-compatible endpoint on a random port with a random token, and
 * provide `{ url, token }` to tests as `inject('upstash')`.
 */
import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { LOCAL_REDIS_URL } from '../../local/defaults.js';
import { redisAnswers, startRedisServer } from '../../local/redis.js';
import { startUpstashLocal, type UpstashLocal } from '../../local/upstash/server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    upstash: { url: string; token: string };
  }
}

async function ensureRedis(url: string): Promise<void> {
  if (await redisAnswers(url)) return;
  const port = Number(new URL(url).port || '6379');
  // No persistence; detached and left running afterwards (other test runs may share it).
  await startRedisServer({ port, detached: true }).catch((e: Error) => {
    throw new Error(`global-setup: could not start redis-server on port ${port} for ${url}: ${e.message}`);
  });
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
