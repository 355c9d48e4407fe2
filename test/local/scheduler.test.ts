/**
 * Recurring schedules locally: in-process timers stand in for the SQS schedule timer queue and
 * deliver the same event to the scheduler. No function schedule runs here (not even the scheduler's
 * safety-net tick), so every fire was woken by a schedule timer. Counted jobs, fires and timers, not
 * time; every wait is bounded.
 */
import { expect, it } from 'vitest';
import { localStack } from '../helpers/local-stack.js';

const stack = localStack('local-sched');

const api = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${stack.server.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as any };
};

/** Jobs enqueued to `queue` so far (its cumulative counter). */
const enqueued = async (queue: string): Promise<number> => {
  const { body } = await api('GET', '/v1/queues');
  return body.queues.find((q: { queue: string }) => q.queue === queue)?.counters.enqueued ?? 0;
};

/** Polls `ok` every 50 ms, at most `tries` times. */
async function until(what: string, ok: () => Promise<boolean> | boolean, tries = 400): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

it('an every-2-s schedule fires on the schedule timers, one job per fire; DELETE stops it', async () => {
  const put = await api('PUT', '/v1/schedules/every-2s', {
    queue: 'ticks',
    everyMs: 2_000,
    job: { handler: 'echo', payload: { from: 'schedule' } },
  });
  expect(put.status).toBe(201);
  // The PUT armed the first timer; each fire's run arms the next.
  expect(stack.server.host.pendingTimers().scheduler).toBe(1);

  await until('three fires', async () => (await api('GET', '/v1/schedules/every-2s')).body.fires >= 3);
  const fired = (await api('GET', '/v1/schedules/every-2s')).body;
  expect(fired.missed).toBe(0);
  expect(await enqueued('ticks')).toBe(fired.fires);
  // The jobs ran: the worker was kicked for each fire.
  await until('the fired jobs to complete', async () => {
    const { body } = await api('GET', '/v1/queues/ticks/jobs?state=completed&limit=100');
    return body.total >= 3;
  });

  expect((await api('DELETE', '/v1/schedules/every-2s')).status).toBe(200);
  const atDelete = await enqueued('ticks');
  const runs = stack.server.host.invocations.scheduler;
  // The timer armed for the next fire is still delivered; it wakes a scheduler that fires nothing
  // and arms nothing (were the schedule still there, that run would fire it and arm the next).
  await until(
    'the pending timer to be delivered',
    () => stack.server.host.pendingTimers().scheduler === 0 && stack.server.host.invocations.scheduler > runs,
  );
  // A run of our own, awaited, as the last word: nothing due, nothing armed.
  await stack.server.runSchedule('scheduler');
  expect(stack.server.host.pendingTimers().scheduler).toBe(0);
  expect(await enqueued('ticks')).toBe(atDelete);
  expect((await api('GET', '/v1/schedules/every-2s')).status).toBe(404);
}, 40_000);
