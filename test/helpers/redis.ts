import { randomBytes } from 'node:crypto';
import { Redis } from '@upstash/redis';
import { inject } from 'vitest';

/** `{ url, token }` of the local Upstash-compatible endpoint started by test/global-setup.ts. */
export function upstashConfig(): { url: string; token: string } {
  const provided = inject('upstash');
  if (provided) return provided;
  const url = process.env.UPSTASH_REDIS_REST_URL;
  const token = process.env.UPSTASH_REDIS_REST_TOKEN;
  if (!url || !token) throw new Error('upstash endpoint not provided: is test/global-setup.ts configured?');
  return { url, token };
}

/** An `@upstash/redis` client at default settings, talking to the local endpoint. */
export function testRedis(): Redis {
  const { url, token } = upstashConfig();
  return new Redis({ url, token });
}

/** A key prefix unique to this test run, e.g. `test:jobs:3f9a1c2b7d4e`. */
export function uniquePrefix(name: string): string {
  return `test:${name}:${randomBytes(6).toString('hex')}`;
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

/** Deletes every key starting with `prefix` (SCAN + DEL through the endpoint); returns how many. */
export async function cleanupPrefix(prefix: string): Promise<number> {
  if (!prefix.startsWith('test:'))
    throw new Error(`cleanupPrefix: refusing prefix not starting with "test:": ${prefix}`);
  const redis = testRedis();
  const match = `${escapeGlob(prefix)}*`;
  let cursor: string | number = '0';
  let deleted = 0;
  do {
    const [next, keys]: [string | number, string[]] = await redis.scan(cursor, { match, count: 1000 });
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (String(cursor) !== '0');
  return deleted;
}
