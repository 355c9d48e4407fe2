import { afterAll, beforeAll } from 'vitest';
import { type LocalServer, startLocal } from '../../local/server.js';
import { cleanupPrefix, uniquePrefix, upstashConfig } from './redis.js';

/**
 * The local stack for a file's tests: `startLocal` on a free port, under a key prefix of its own,
 * with no function schedule running (so whatever runs was woken by a kick or a timer) and no
 * linger; closed, and its keys removed, after the file's tests. `stack.server` is set once the
 * file's beforeAll has run.
 */
export function localStack(name: string): { readonly server: LocalServer; readonly prefix: string } {
  const prefix = uniquePrefix(name);
  let server: LocalServer | undefined;
  beforeAll(async () => {
    server = await startLocal({
      port: 0,
      upstash: upstashConfig(),
      env: { SPOOL_KEY_PREFIX: prefix, SPOOL_WORKER_LINGER_MS: '0', LOG_LEVEL: 'WARN' },
      schedules: false,
      log: () => {},
    });
  });
  afterAll(async () => {
    await server?.close();
    await cleanupPrefix(prefix);
  });
  return {
    prefix,
    get server() {
      if (!server) throw new Error(`localStack(${name}): used before beforeAll ran`);
      return server;
    },
  };
}
