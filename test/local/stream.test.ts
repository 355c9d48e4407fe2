/**
 * A stream of single-job POSTs through the local server's real kick path (enqueue kicks the worker
 * in-process) is served by one worker: the worker lingers between jobs and its mark holds, so no
 * enqueue kicks another. Counted invocations, not time (the linger is long enough for a slow box).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type LocalServer, startLocal } from '../../local/server.js';
import { getJobs } from '../../shared/queue/ops/jobs.js';
import { cleanupPrefix, uniquePrefix, upstashConfig } from '../helpers/redis.js';

const prefix = uniquePrefix('stream');
let local: LocalServer;

beforeAll(async () => {
  local = await startLocal({
    port: 0,
    upstash: upstashConfig(),
    env: { SPOOL_KEY_PREFIX: prefix, SPOOL_WORKER_LINGER_MS: '2000', SPOOL_WORKER_POLL_MS: '50', LOG_LEVEL: 'WARN' },
    schedules: false,
    log: () => {},
  });
});

afterAll(async () => {
  await local?.close();
  await cleanupPrefix(prefix);
});

const post = async (n: number) => {
  const res = await fetch(`${local.url}/v1/queues/stream/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ handler: 'echo', payload: { n } }),
  });
  return (await res.json()) as { id: string };
};

it('30 single POSTs one after another start one worker; every job completes', async () => {
  const before = local.host.invocations.worker;
  const out = [];
  for (let n = 0; n < 30; n++) out.push(await post(n));
  for (;;) {
    const jobs = await getJobs(
      local.host.runtime.spool,
      'stream',
      out.map((o) => o.id),
    );
    if (jobs.every((j) => j?.state === 'completed')) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(local.host.invocations.worker - before).toBe(1);
}, 30_000);
