import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../../shared/queue/index.js';
import { harness, job } from '../../helpers/harness.js';

const err = (message: string, retryable = true, extra: Record<string, unknown> = {}) => ({
  message,
  class: 'HttpError',
  retryable,
  ...extra,
});

describe('fail and retry', () => {
  let r = 0.5;
  const { spool, clock } = harness('failure', {
    random: () => r,
    config: { backoffBaseMs: 1_000, backoffMaxMs: 10_000 },
  });

  it('follows exponential backoff with full jitter, capped, then goes dead with the story', async () => {
    const q = 'backoff';
    const {
      jobs: [created],
    } = await spool.enqueue(q, job('x', { maxAttempts: 6 }));
    const delays: number[] = [];
    const jitters = [0.5, 1, 0.25, 0.999, 1];
    for (let attempt = 1; attempt <= 5; attempt++) {
      r = jitters[attempt - 1]!;
      const {
        jobs: [leased],
      } = await spool.lease(q, { count: 1 });
      expect(leased!.attempts).toBe(attempt);
      const before = clock.now();
      const [res] = await spool.fail(q, [
        { id: leased!.id, token: leased!.token, error: err(`boom ${attempt}`, true, { requestId: `req-${attempt}` }) },
      ]);
      expect(res!.state).toBe('delayed');
      delays.push(res!.runAt! - before);
      clock.set(res!.runAt!);
    }
    // min(10s, 1s * 2^(n-1)) * jitter: 1000*.5, 2000*1, 4000*.25, 8000*.999, min(16000,10000)*1
    expect(delays).toEqual([500, 2000, 1000, 7992, 10000]);
    const {
      jobs: [last],
    } = await spool.lease(q, { count: 1 });
    const [res] = await spool.fail(q, [
      { id: last!.id, token: last!.token, error: err('boom 6', true, { requestId: 'req-6' }) },
    ]);
    expect(res).toEqual({ id: created!.id, status: 'ok', state: 'dead' });
    const dead = await spool.get(q, created!.id);
    expect(dead).toMatchObject({
      state: 'dead',
      attempts: 6,
      diedAt: clock.now(),
      lastFailedAt: clock.now(),
      lastError: {
        message: 'boom 6',
        class: 'HttpError',
        fingerprint: fingerprint('HttpError', 'boom 6'),
        requestId: 'req-6',
        attempt: 6,
        at: clock.now(),
      },
    });
    expect(dead!.firstFailedAt).toBeLessThan(dead!.lastFailedAt!);
    const [snap] = await spool.snapshot([q]);
    expect(snap!.counters).toMatchObject({ failed: 6, retried: 5, dead: 1 });
  });

  it('honours a Retry-After carried by the failure, up to the cap', async () => {
    const q = 'retry-after';
    r = 0;
    await spool.enqueue(q, [job(1), job(2)]);
    const { jobs } = await spool.lease(q, { count: 2 });
    const now = clock.now();
    const res = await spool.fail(q, [
      { id: jobs[0]!.id, token: jobs[0]!.token, error: err('429', true, { retryAfterMs: 3_000 }) },
      { id: jobs[1]!.id, token: jobs[1]!.token, error: err('429', true, { retryAfterMs: 60_000 }) },
    ]);
    expect(res.map((x) => x.runAt! - now)).toEqual([3_000, 10_000]);
  });

  it('a permanent failure goes straight to dead', async () => {
    const q = 'permanent';
    await spool.enqueue(q, job(1));
    const {
      jobs: [j],
    } = await spool.lease(q, { count: 1 });
    const [res] = await spool.fail(q, [{ id: j!.id, token: j!.token, error: err('400 bad request', false) }]);
    expect(res!.state).toBe('dead');
    expect((await spool.get(q, j!.id))!.attempts).toBe(1);
  });

  it('a stale lease token can neither complete nor fail a job', async () => {
    const q = 'stale';
    await spool.enqueue(q, job('s', { timeoutMs: 100 }));
    const first = (await spool.lease(q, { count: 1, leaseMs: 1_000 })).jobs[0]!;
    clock.advance(10_000);
    const second = (await spool.lease(q, { count: 1, leaseMs: 1_000 })).jobs[0]!;
    expect(second.id).toBe(first.id);
    expect(second.token).not.toBe(first.token);
    expect(await spool.complete(q, [{ id: first.id, token: first.token }])).toEqual([
      { id: first.id, status: 'stale' },
    ]);
    expect((await spool.fail(q, [{ id: first.id, token: first.token, error: err('late') }]))[0]!.status).toBe('stale');
    expect((await spool.extend(q, [{ id: first.id, token: first.token, leaseMs: 5_000 }]))[0]!.status).toBe('stale');
    expect((await spool.get(q, first.id))!.state).toBe('active');
    expect(await spool.complete(q, [{ id: second.id, token: second.token }])).toEqual([
      { id: second.id, status: 'ok' },
    ]);
    expect(await spool.complete(q, [{ id: 'nope', token: '1' }])).toEqual([{ id: 'nope', status: 'not_found' }]);
  });

  it('a worker that leases and never answers loses nothing: leased again with attempts counted, then dead', async () => {
    const q = 'abandoned';
    const {
      jobs: [created],
    } = await spool.enqueue(q, job('lost', { maxAttempts: 3, timeoutMs: 100 }));
    for (let attempt = 1; attempt <= 3; attempt++) {
      const l = await spool.lease(q, { count: 1, leaseMs: 1_000 });
      expect(l.jobs[0]).toMatchObject({ id: created!.id, attempts: attempt });
      const [snap] = await spool.snapshot([q]);
      expect(snap!.leaseExpired).toBe(0);
      clock.advance(l.jobs[0]!.leaseUntil - clock.now() + 1);
      const [late] = await spool.snapshot([q]);
      expect(late!.leaseExpired).toBe(1);
    }
    const after = await spool.lease(q, { count: 1 });
    expect(after.jobs).toHaveLength(0);
    expect(after.leaseExpiredDead).toBe(1);
    const dead = await spool.get(q, created!.id);
    expect(dead).toMatchObject({
      state: 'dead',
      attempts: 3,
      lastError: { class: 'LeaseExpired', fingerprint: 'lease-expired' },
    });
    const [snap] = await spool.snapshot([q]);
    expect(snap!.counters.leaseExpired).toBe(2);
    expect(snap!.dead).toBe(1);
  });

  it('extends a lease (heartbeat) so it is not reclaimed', async () => {
    const q = 'extend';
    await spool.enqueue(q, job(1, { timeoutMs: 100 }));
    const j = (await spool.lease(q, { count: 1, leaseMs: 1_000 })).jobs[0]!;
    clock.advance(900);
    const [ext] = await spool.extend(q, [{ id: j.id, token: j.token, leaseMs: 5_000 }]);
    expect(ext).toEqual({ id: j.id, status: 'ok', leaseUntil: clock.now() + 5_000 });
    clock.advance(1_000);
    expect((await spool.lease(q, { count: 1 })).leaseExpired).toBe(0);
    expect(await spool.complete(q, [{ id: j.id, token: j.token }])).toEqual([{ id: j.id, status: 'ok' }]);
  });

  it('cancels waiting and delayed jobs only', async () => {
    const q = 'cancel';
    const { jobs } = await spool.enqueue(q, [job(1), job(2, { delayMs: 5_000 }), job(3)]);
    expect(await spool.cancel(q, jobs[0]!.id)).toEqual({ status: 'ok', state: 'waiting' });
    expect(await spool.cancel(q, jobs[1]!.id)).toEqual({ status: 'ok', state: 'delayed' });
    await spool.lease(q, { count: 1 });
    expect(await spool.cancel(q, jobs[2]!.id)).toEqual({ status: 'conflict', state: 'active' });
    expect(await spool.cancel(q, jobs[0]!.id)).toEqual({ status: 'not_found' });
    expect(await spool.get(q, jobs[0]!.id)).toBeNull();
    expect((await spool.snapshot([q]))[0]!.counters.cancelled).toBe(2);
  });

  it('lists a state page by page with a cursor', async () => {
    const q = 'list';
    await spool.enqueue(
      q,
      Array.from({ length: 25 }, (_, i) => job(i)),
    );
    const seen: unknown[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await spool.list(q, 'waiting', { limit: 10, ...(cursor ? { cursor } : {}) });
      expect(page.total).toBe(25);
      seen.push(...page.jobs.map((j) => j.payload));
      cursor = page.cursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(pages).toBe(3);
    await expect(spool.list(q, 'waiting', { cursor: 'garbage' })).rejects.toMatchObject({ field: 'cursor' });
    await expect(spool.list(q, 'bogus' as never)).rejects.toMatchObject({ field: 'state' });
  });
});
