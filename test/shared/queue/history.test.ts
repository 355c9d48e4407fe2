import { describe, expect, it } from 'vitest';
import { HISTORY_MAX } from '../../../shared/queue/index.js';
import { harness, job } from '../../helpers/harness.js';

/**
 * A job's attempt history: written by complete, fail and the lease-expired path into the job's own
 * record, last HISTORY_MAX kept. Times are the engine's clock (here the harness clock); what the
 * worker measured reaches the record as durations.
 */
describe('attempt history', () => {
  const { spool, clock } = harness('history', { config: { backoffBaseMs: 1_000, backoffMaxMs: 1_000 } });

  it('a completed attempt: when it ran (as the worker measured), how long, the HTTP status, the worker', async () => {
    const q = 'done';
    await spool.enqueue(q, job('a'), { kick: false });
    const leasedAt = clock.now();
    const [j] = (await spool.lease(q, { count: 1, requestId: 'req-lease' })).jobs;
    // The worker ran it from +100 to +350 (its clock) and acknowledges at +400.
    const start = clock.advance(100);
    const end = clock.advance(250);
    clock.advance(50);
    await spool.complete(q, [{ id: j!.id, token: j!.token, run: { startedAt: start, endedAt: end, status: 204 } }]);
    const shown = await spool.get(q, j!.id);
    expect(shown!.history).toEqual([
      {
        attempt: 1,
        startedAt: leasedAt + 100,
        endedAt: leasedAt + 350,
        durationMs: 250,
        outcome: 'completed',
        state: 'completed',
        status: 204,
        requestId: 'req-lease',
      },
    ]);
  });

  it('failed attempts: retried then dead, with the error class, a short message and the request id', async () => {
    const q = 'fails';
    await spool.enqueue(q, job('b', { maxAttempts: 2 }), { kick: false });
    const [first] = (await spool.lease(q, { count: 1 })).jobs;
    const t0 = clock.now();
    const long = `HTTP 503: ${'x'.repeat(1000)}`;
    await spool.fail(q, [
      {
        id: first!.id,
        token: first!.token,
        error: { class: 'HttpError', message: long, retryable: true, requestId: 'req-1' },
        run: { startedAt: t0, endedAt: t0, status: 503 },
      },
    ]);
    // lastError keeps the whole message; the history entry a short one.
    expect((await spool.get(q, first!.id))!.lastError!.message).toBe(long);
    clock.advance(1_000);
    const [second] = (await spool.lease(q, { count: 1 })).jobs;
    expect(second!.id).toBe(first!.id);
    clock.advance(30);
    // No run reported: it ran from its lease until the ack.
    await spool.fail(q, [
      { id: second!.id, token: second!.token, error: { class: 'TypeError', message: 'boom', retryable: true } },
    ]);
    const shown = await spool.get(q, first!.id);
    expect(shown!.state).toBe('dead');
    const [a, b] = shown!.history!;
    expect(a).toMatchObject({ attempt: 1, outcome: 'failed', state: 'delayed', status: 503, errorClass: 'HttpError' });
    expect(a!.requestId).toBe('req-1');
    expect([...a!.message!].length).toBe(300);
    expect(b).toEqual({
      attempt: 2,
      startedAt: t0 + 1_000,
      endedAt: t0 + 1_030,
      durationMs: 30,
      outcome: 'failed',
      state: 'dead',
      errorClass: 'TypeError',
      message: 'boom',
    });
  });

  it('an expired lease is an attempt too: it ended when its lease did, naming the worker that held it', async () => {
    const q = 'expired';
    await spool.enqueue(q, job('c', { maxAttempts: 2, timeoutMs: 1_000 }), { kick: false });
    const leasedAt = clock.now();
    const [held] = (await spool.lease(q, { count: 1, leaseMs: 1_000, requestId: 'req-gone' })).jobs;
    clock.advance(60_000);
    const again = await spool.lease(q, { count: 1, requestId: 'req-next' });
    expect(again.leaseExpired).toBe(1);
    const shown = await spool.get(q, held!.id);
    expect(shown!.history).toEqual([
      {
        attempt: 1,
        startedAt: leasedAt,
        endedAt: held!.leaseUntil,
        durationMs: held!.leaseUntil - leasedAt,
        outcome: 'leaseExpired',
        state: 'waiting',
        errorClass: 'LeaseExpired',
        message: 'the worker neither completed nor failed the job before its lease expired',
        requestId: 'req-gone',
      },
    ]);
  });

  it(`keeps the last ${HISTORY_MAX} attempts, oldest first`, async () => {
    const q = 'many';
    await spool.enqueue(q, job('d', { maxAttempts: 20 }), { kick: false });
    for (let n = 1; n <= 13; n++) {
      const [j] = (await spool.lease(q, { count: 1 })).jobs;
      expect(j!.attempts).toBe(n);
      await spool.fail(q, [{ id: j!.id, token: j!.token, error: { message: `try ${n}`, retryable: true } }]);
      clock.advance(1_000);
    }
    const { history } = (await spool.get(q, (await spool.list(q, 'delayed')).jobs[0]!.id))!;
    expect(history!.map((a) => a.attempt)).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    expect(history!.map((a) => a.message)).toEqual(Array.from({ length: 10 }, (_, i) => `try ${i + 4}`));
  });

  it('a job that never ran has no history', async () => {
    const { jobs } = await spool.enqueue('fresh', job('e'), { kick: false });
    expect((await spool.get('fresh', jobs[0]!.id))!.history).toBeUndefined();
  });
});
