/**
 * Queue timers locally: in-process timers stand in for the SQS timer queue and deliver the same
 * event to the worker. No schedule runs here, so a delayed job that runs was woken by a timer.
 * Counted invocations and states, not time.
 */
import { expect, it } from 'vitest';
import { getJobs } from '../../shared/queue/ops/jobs.js';
import { localStack } from '../helpers/local-stack.js';

const stack = localStack('timers');

const post = async (queue: string, body: unknown) => {
  const res = await fetch(`${stack.server.url}/v1/queues/${queue}/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return (await res.json()) as { id?: string; jobs?: Array<{ id: string }> };
};

const settled = async (queue: string, ids: string[]) => {
  for (;;) {
    const jobs = await getJobs(stack.server.host.runtime.spool, queue, ids);
    if (jobs.every((j) => j?.state === 'completed')) return jobs;
    await new Promise((r) => setTimeout(r, 50));
  }
};

it("a delayed job's enqueue arms its queue's timer; the timer wakes a worker that runs it", async () => {
  const before = stack.server.host.invocations.worker;
  const out = await post('later', { handler: 'echo', payload: {}, delayMs: 1_000 });
  const [job] = await settled('later', [out.id!]);
  expect(job!.attempts).toBe(1);
  // No kick (nothing was waiting): the timer's delivery (the SQS event) and the worker it kicked.
  expect(stack.server.host.invocations.worker - before).toBe(2);
}, 30_000);

it('a worker a timer woke arms the next delayed job, which had no timer of its own', async () => {
  const before = stack.server.host.invocations.worker;
  // One call: wakeAt is the first job's; the second gets its timer from the worker that runs the
  // first (which lingers 1.5 s, leaving before the second is due).
  const out = await post('chain', {
    jobs: [
      { handler: 'echo', payload: { n: 1 }, delayMs: 600 },
      { handler: 'echo', payload: { n: 2 }, delayMs: 4_000 },
    ],
  });
  const ids = out.jobs!.map((j) => j.id);
  const jobs = await settled('chain', ids);
  expect(jobs.map((j) => j!.attempts)).toEqual([1, 1]);
  // Two timers, each delivered and kicking a worker.
  expect(stack.server.host.invocations.worker - before).toBe(4);
}, 30_000);
