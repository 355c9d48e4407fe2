import { Redis } from '@upstash/redis';
import { describe, expect, it } from 'vitest';
import { deltasOf, evaluateQueue, type Thresholds } from '../../../shared/health/evaluate.js';
import { metricData } from '../../../shared/health/metrics.js';
import { Spool } from '../../../shared/queue/engine.js';
import { ValidationError } from '../../../shared/queue/errors.js';
import { globalKey, queueKey } from '../../../shared/queue/keys.js';
import { harness, job } from '../../helpers/harness.js';
import { commandsOf, privateStack, totalCommands } from '../../helpers/private-redis.js';

/**
 * Issue 11: flow control per queue, applied inside the lease script (counts, never times: the
 * harness's clock stands in for the server's).
 */
describe('flow control', () => {
  const { spool, clock, redis, prefix } = harness('flow', { config: { leaseMs: 30_000, leaseGraceMs: 0 } });
  const due = (q: string) => redis.zscore(globalKey(prefix, 'due'), q).then((s) => (s === null ? null : Number(s)));
  const jobs = (n: number) => Array.from({ length: n }, (_, i) => job({ i }));
  // What GET answers beside the fields a test sets: the breakers' defaults, no breaker yet, no automatic replay.
  const rest = {
    maxWaitMs: null,
    circuitBreaker: { enabled: true, failures: 5, coolDownMs: 10_000, maxCoolDownMs: 300_000 },
    breakers: [],
    autoReplay: null,
  };

  it('settings default to running, no rate limit, no cap; PUT merges, null clears, the answer is whole', async () => {
    const q = 'f-settings';
    expect(await spool.settings(q)).toEqual({ paused: false, rateLimit: null, maxConcurrency: null, ...rest });
    const a = await spool.putSettings(q, { maxConcurrency: 3 });
    expect(a.settings).toEqual({ paused: false, rateLimit: null, maxConcurrency: 3, ...rest });
    const b = await spool.putSettings(q, { rateLimit: { limit: 5, periodMs: 1000 } });
    expect(b.settings).toEqual({ paused: false, rateLimit: { limit: 5, periodMs: 1000 }, maxConcurrency: 3, ...rest });
    const t = clock.now();
    const c = await spool.putSettings(q, { paused: true, maxConcurrency: null });
    expect(c.settings).toEqual({
      paused: true,
      pausedAt: t,
      rateLimit: { limit: 5, periodMs: 1000 },
      maxConcurrency: null,
      ...rest,
    });
    // a circuitBreaker given replaces the stored one, its missing fields at their defaults; null: the defaults
    const cb = await spool.putSettings(q, { circuitBreaker: { failures: 2 } });
    expect(cb.settings.circuitBreaker).toEqual({ ...rest.circuitBreaker, failures: 2 });
    const off = await spool.putSettings(q, { circuitBreaker: { enabled: false, coolDownMs: 500 } });
    expect(off.settings.circuitBreaker).toEqual({ ...rest.circuitBreaker, enabled: false, coolDownMs: 500 });
    expect((await spool.putSettings(q, { circuitBreaker: null })).settings.circuitBreaker).toEqual(rest.circuitBreaker);
    // pausing again keeps the first pausedAt; the same call twice ends the same
    clock.advance(5_000);
    expect((await spool.putSettings(q, { paused: true })).settings.pausedAt).toBe(t);
    expect(await spool.settings(q)).toEqual(c.settings);
    const d = await spool.putSettings(q, { paused: false, rateLimit: null });
    expect(d.settings).toEqual({ paused: false, rateLimit: null, maxConcurrency: null, ...rest });
  });

  it('every bad setting is a ValidationError naming the field, and writes nothing', async () => {
    const q = 'f-bad';
    await spool.putSettings(q, { maxConcurrency: 2 });
    const bad: Array<[unknown, string]> = [
      [{ nope: 1 }, 'nope'],
      [{ paused: 'yes' }, 'paused'],
      [{ maxConcurrency: 0 }, 'maxConcurrency'],
      [{ maxConcurrency: 1.5 }, 'maxConcurrency'],
      [{ maxConcurrency: 100_001 }, 'maxConcurrency'],
      [{ rateLimit: { limit: 0, periodMs: 1000 } }, 'rateLimit.limit'],
      [{ rateLimit: { limit: 1, periodMs: 99 } }, 'rateLimit.periodMs'],
      [{ rateLimit: { limit: 1 } }, 'rateLimit.periodMs'],
      [{ rateLimit: { limit: 1, periodMs: 1000, burst: 2 } }, 'rateLimit.burst'],
      [{ rateLimit: 5 }, 'rateLimit'],
      [{ circuitBreaker: { failures: 0 } }, 'circuitBreaker.failures'],
      [{ circuitBreaker: { coolDownMs: 50 } }, 'circuitBreaker.coolDownMs'],
      [{ circuitBreaker: { coolDownMs: 60_000, maxCoolDownMs: 1_000 } }, 'circuitBreaker.maxCoolDownMs'],
      [{ circuitBreaker: { window: 3 } }, 'circuitBreaker.window'],
      [[], '(body)'],
      [null, '(body)'],
    ];
    for (const [input, field] of bad) {
      const err = await spool.putSettings(q, input).catch((e: unknown) => e);
      expect(err, JSON.stringify(input)).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).field, JSON.stringify(input)).toBe(field);
    }
    expect(await spool.settings(q)).toEqual({ paused: false, rateLimit: null, maxConcurrency: 2, ...rest });
  });

  it('paused: enqueue is accepted, nothing is leased, the queue is not due; resume makes it due and kicks', async () => {
    const q = 'f-pause';
    await spool.putSettings(q, { paused: true });
    const e = await spool.enqueue(q, jobs(3));
    expect(e.jobs).toHaveLength(3);
    const l = await spool.lease(q, { count: 10, workerMarkMs: 60_000, keepMark: false });
    expect(l.jobs).toHaveLength(0);
    expect(l.waiting).toBe(3);
    expect(l.held).toBe('paused');
    // nothing active or delayed: the paused queue needs no worker
    expect(await due(q)).toBeNull();
    // the worker left; enqueues to the paused queue kick none
    expect((await spool.enqueue(q, job('more'))).kick).toBe(false);
    const r = await spool.putSettings(q, { paused: false });
    expect(r.kick).toBe(true);
    expect(await due(q)).toBe(clock.now());
    const after = await spool.lease(q, { count: 10 });
    expect(after.jobs).toHaveLength(4);
    expect(after.held).toBeUndefined();
  });

  it('maxConcurrency: at most N active across leases; a completion frees a slot', async () => {
    const q = 'f-cap';
    await spool.putSettings(q, { maxConcurrency: 3 });
    await spool.enqueue(q, jobs(10));
    const a = await spool.lease(q, { count: 2 });
    const b = await spool.lease(q, { count: 5 });
    expect([a.jobs.length, b.jobs.length]).toEqual([2, 1]);
    expect(b.held).toBe('concurrency');
    const c = await spool.lease(q, { count: 5 });
    expect(c.jobs).toHaveLength(0);
    // due at the first lease deadline (a job that ends frees a slot), not now
    expect(await due(q)).toBe(Math.min(...[...a.jobs, ...b.jobs].map((j) => j.leaseUntil!)));
    await spool.complete(q, [{ id: a.jobs[0]!.id, token: a.jobs[0]!.token }]);
    const d = await spool.lease(q, { count: 5 });
    expect(d.jobs).toHaveLength(1);
    expect(await redis.zcard(queueKey(prefix, q, 'active'))).toBe(3);
  });

  it('maxConcurrency: a completion or failure that frees a slot makes the queue due now, not at the next lease deadline', async () => {
    const q = 'f-cap-due';
    await spool.putSettings(q, { maxConcurrency: 1 });
    await spool.enqueue(q, jobs(3));
    const a = await spool.lease(q, { count: 3 });
    expect(a.jobs).toHaveLength(1);
    expect(await due(q)).toBe(a.jobs[0]!.leaseUntil);
    // the slot is free now: the waiting jobs need a worker now (the model test found them due at
    // the finished lease's deadline, 30 s on)
    await spool.complete(q, [{ id: a.jobs[0]!.id, token: a.jobs[0]!.token }]);
    expect(await due(q)).toBeLessThanOrEqual(clock.now());
    const b = await spool.lease(q, { count: 3 });
    expect(await due(q)).toBe(b.jobs[0]!.leaseUntil);
    await spool.fail(q, [{ id: b.jobs[0]!.id, token: b.jobs[0]!.token, error: { message: 'x', retryable: false } }]);
    expect(await due(q)).toBeLessThanOrEqual(clock.now());
    // paused: a freed slot makes nothing due
    const c = await spool.lease(q, { count: 3 });
    await spool.putSettings(q, { paused: true });
    await spool.enqueue(q, jobs(1));
    const before = await due(q);
    await spool.complete(q, [{ id: c.jobs[0]!.id, token: c.jobs[0]!.token }]);
    expect(await due(q)).toBe(before);
  });

  it('two workers leasing at once never exceed the cap', async () => {
    const q = 'f-cap-race';
    await spool.putSettings(q, { maxConcurrency: 7 });
    await spool.enqueue(q, jobs(100));
    const leases = await Promise.all(Array.from({ length: 20 }, () => spool.lease(q, { count: 3 })));
    expect(leases.reduce((n, l) => n + l.jobs.length, 0)).toBe(7);
  });

  it('rateLimit: at most limit starts per period in a sliding window; many concurrent leases spend each token once', async () => {
    const q = 'f-rate';
    await spool.putSettings(q, { rateLimit: { limit: 10, periodMs: 1000 } });
    await spool.enqueue(q, jobs(100));
    const t0 = clock.now();
    const first = await Promise.all(Array.from({ length: 25 }, () => spool.lease(q, { count: 2 })));
    const started = first.reduce((n, l) => n + l.jobs.length, 0);
    expect(started).toBe(10);
    const held = first.find((l) => l.jobs.length === 0)!;
    expect(held.held).toBe('rate');
    expect(held.heldUntil).toBe(t0 + 1000);
    expect(await due(q)).toBe(t0 + 1000);
    // half a period on: the window still holds all 10
    clock.advance(500);
    expect((await spool.lease(q, { count: 5 })).jobs).toHaveLength(0);
    clock.advance(300);
    const mid = await spool.lease(q, { count: 1 });
    expect(mid.jobs).toHaveLength(0);
    // one period after the first starts, the window frees them
    clock.set(t0 + 1000);
    const next = await Promise.all(Array.from({ length: 8 }, () => spool.lease(q, { count: 3 })));
    expect(next.reduce((n, l) => n + l.jobs.length, 0)).toBe(10);
    // in any window of a period: starts counted by their lease times
    const times = [...first, ...next].flatMap((l) => l.jobs.map(() => l.now));
    for (const t of times) expect(times.filter((x) => x > t - 1000 && x <= t).length).toBeLessThanOrEqual(10);
  });

  it('rate and cap together: the smaller allowance wins; a raised cap makes the queue due now', async () => {
    const q = 'f-both';
    await spool.putSettings(q, { rateLimit: { limit: 5, periodMs: 10_000 }, maxConcurrency: 2 });
    await spool.enqueue(q, jobs(10));
    const a = await spool.lease(q, { count: 10 });
    expect(a.jobs).toHaveLength(2);
    expect(a.held).toBe('concurrency');
    const r = await spool.putSettings(q, { maxConcurrency: 10 });
    expect(r.settings.maxConcurrency).toBe(10);
    expect(await due(q)).toBe(clock.now());
    const b = await spool.lease(q, { count: 10 });
    expect(b.jobs).toHaveLength(3);
    expect(b.held).toBe('rate');
  });

  it('expiry: a waiting job met past its expireAfterMs dies Expired, with its story; one leased in time runs', async () => {
    const q = 'f-expire';
    const t0 = clock.now();
    const made = await spool.enqueue(q, [job('late', { expireAfterMs: 5_000 }), job('ok', { expireAfterMs: 60_000 })]);
    const [late, ok] = made.jobs.map((j) => j.id);
    expect((await spool.get(q, late!))!.expiresAt).toBe(t0 + 5_000);
    clock.advance(5_000);
    const l = await spool.lease(q, { count: 10 });
    expect(l.expired).toBe(1);
    expect(l.jobs.map((j) => j.id)).toEqual([ok]);
    const dead = (await spool.get(q, late!))!;
    expect(dead.state).toBe('dead');
    expect(dead.attempts).toBe(0);
    expect(dead.lastError).toMatchObject({ class: 'Expired', fingerprint: 'expired', retryable: false });
    expect(dead.lastError!.message).toContain('expired: still waiting');
    // a replay after its expiry lifts it: the job runs
    clock.advance(1_000);
    expect((await spool.replay(q, { dryRun: false, ids: [late!] })).moved).toBe(1);
    const again = await spool.lease(q, { count: 10 });
    expect(again.expired).toBe(0);
    expect(again.jobs.map((j) => j.id)).toEqual([late]);
  });

  it('expiry: a delayed job no lease meets (a paused queue) dies at the scheduled reclaim; the due index says when', async () => {
    const q = 'f-expire-delayed';
    await spool.putSettings(q, { paused: true });
    const t0 = clock.now();
    const made = await spool.enqueue(q, [
      job('d', { delayMs: 3_600_000, expiresAt: t0 + 60_000 }),
      job('w', { expireAfterMs: 120_000 }),
    ]);
    const [d, w] = made.jobs.map((j) => j.id);
    await spool.reclaim(q);
    // paused, nothing active: due only by the first expiry
    expect(await due(q)).toBe(t0 + 60_000);
    clock.set(t0 + 60_000);
    const r1 = await spool.lease(q, { count: 0 });
    expect(r1.expired).toBe(1);
    expect((await spool.get(q, d!))!.lastError).toMatchObject({ class: 'Expired' });
    expect((await spool.get(q, d!))!.lastError!.message).toContain('still delayed');
    expect(await due(q)).toBe(t0 + 120_000);
    clock.set(t0 + 120_000);
    expect((await spool.reclaim(q)).waiting).toBe(0);
    expect((await spool.get(q, w!))!.state).toBe('dead');
    const [snap] = await spool.snapshot([q]);
    expect(snap).toMatchObject({ waiting: 0, delayed: 0, dead: 2 });
    expect(await due(q)).toBeNull();
  });

  it('maxWaitMs: jobs enqueued while it is set expire that long after their enqueue; null clears it', async () => {
    const q = 'f-maxwait';
    const before = (await spool.enqueue(q, job('before'))).jobs[0]!.id;
    const s = await spool.putSettings(q, { maxWaitMs: 10_000, paused: true });
    expect(s.settings.maxWaitMs).toBe(10_000);
    const t0 = clock.now();
    const [own, queued] = (await spool.enqueue(q, [job('own', { expireAfterMs: 5_000 }), job('q')])).jobs.map(
      (j) => j.id,
    );
    expect((await spool.get(q, own!))!.expiresAt).toBe(t0 + 5_000);
    expect((await spool.get(q, queued!))!.expiresAt).toBe(t0 + 10_000);
    expect((await spool.get(q, before))!.expiresAt).toBeUndefined();
    clock.set(t0 + 10_000);
    await spool.putSettings(q, { paused: false, maxWaitMs: null });
    const l = await spool.lease(q, { count: 10 });
    expect(l.expired).toBe(2);
    expect(l.jobs.map((j) => j.id)).toEqual([before]);
    expect((await spool.settings(q)).maxWaitMs).toBeNull();
  });

  it('expiry input: bad values are a ValidationError naming the field', async () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ expireAfterMs: 999 }, 'expireAfterMs'],
      [{ expireAfterMs: 1.5 }, 'expireAfterMs'],
      [{ expiresAt: clock.now() - 1 }, 'expiresAt'],
      [{ expiresAt: 'soon' }, 'expiresAt'],
      [{ expireAfterMs: 5_000, expiresAt: clock.now() + 10_000 }, 'expiresAt'],
      [{ runAt: clock.now() + 10_000, expiresAt: clock.now() + 5_000 }, 'expiresAt'],
    ];
    for (const [extra, field] of bad) {
      const err = await spool.enqueue('f-expire-bad', job('x', extra)).catch((e: unknown) => e);
      expect(err, JSON.stringify(extra)).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).field, JSON.stringify(extra)).toBe(field);
    }
    const bad2 = await spool.putSettings('f-expire-bad', { maxWaitMs: 10 }).catch((e: unknown) => e);
    expect((bad2 as ValidationError).field).toBe('maxWaitMs');
  });

  it('health: a paused backlog is no symptom; paused longer than the threshold is degraded (a ticket)', async () => {
    const q = 'f-health';
    const t: Thresholds = {
      waiting: { degraded: 2, unhealthy: 5 },
      dead: { degraded: 10, unhealthy: 100 },
      oldestWaitingMs: { degraded: 60_000, unhealthy: 120_000 },
      leaseExpired: { degraded: 0, unhealthy: 10 },
      pausedMs: 3_600_000,
    };
    const judge = async () => {
      const [snap] = await spool.snapshot([q]);
      return evaluateQueue(snap!, deltasOf(snap!, undefined, false), t);
    };
    await spool.enqueue(q, jobs(8));
    clock.advance(200_000);
    expect((await judge()).symptoms.map((x) => x.check).sort()).toEqual(['oldestWaitingAge', 'waiting']);
    await spool.putSettings(q, { paused: true });
    clock.advance(1_000);
    const a = await judge();
    expect(a.snapshot.pausedForMs).toBe(1_000);
    expect(a.status).toBe('healthy');
    expect(a.symptoms).toEqual([]);
    const age = metricData([a], clock.now(), '*').find(
      (d) => d.MetricName === 'OldestWaitingAgeSeconds' && d.Dimensions,
    );
    expect(age!.Value).toBe(0);
    clock.advance(3_600_000);
    const b = await judge();
    expect(b.status).toBe('degraded');
    expect(b.symptoms).toMatchObject([{ check: 'paused', status: 'degraded', value: 3601, threshold: 3600 }]);
    await spool.putSettings(q, { paused: false });
    expect((await judge()).symptoms.map((x) => x.check).sort()).toEqual(['oldestWaitingAge', 'waiting']);
  });
});

describe('the cost of flow control', () => {
  it('a lease of 10 stays one script call; with no setting it adds one HGETALL; a cap one ZCARD; a rate limit four', async () => {
    const stack = await privateStack();
    try {
      let now = 1_800_000_000_000;
      const spool = new Spool(new Redis({ ...stack.credentials, retry: false }), {
        config: { prefix: 'p' },
        clock: () => now,
      });
      const admin = stack.redis.admin();
      const cost = async (q: string, settings?: Parameters<Spool['putSettings']>[1]) => {
        if (settings) await spool.putSettings(q, settings);
        await spool.enqueue(
          q,
          Array.from({ length: 30 }, (_, i) => job(i)),
          { kick: false },
        );
        // warm: the script is loaded, the rate window exists
        await spool.lease(q, { count: 10 });
        now += 1;
        return commandsOf(admin, () => spool.lease(q, { count: 10 }));
      };
      const plain = await cost('plain');
      const capped = await cost('capped', { maxConcurrency: 100 });
      const rated = await cost('rated', { rateLimit: { limit: 1000, periodMs: 1000 } });
      const held = await cost('held', { rateLimit: { limit: 10, periodMs: 1000 } });
      const paused = await cost('paused', { paused: true });
      const expiring = await cost('expiring', { maxWaitMs: 3_600_000 });
      // the enqueue reads the queue's maxWaitMs: one HGET a call, however many jobs
      const enqueueOf = (q: string) =>
        commandsOf(admin, () =>
          spool.enqueue(
            q,
            Array.from({ length: 10 }, (_, i) => job(i)),
            { kick: false },
          ),
        );
      const [e1, e2] = [await enqueueOf('plain'), await enqueueOf('expiring')];
      expect(e1.hget).toBe(1);
      // with maxWaitMs: each job joins the expiry index (one ZADD) and the settings say so (one HSET)
      expect(totalCommands(e2) - totalCommands(e1)).toBe(2);
      for (const c of [plain, capped, rated, held, paused]) expect(c.evalsha).toBe(1);
      // 18 commands with no setting (17 before flow control: the HGETALL of the settings hash)
      expect(plain.hgetall).toBe(1);
      expect(totalCommands(plain)).toBe(18);
      expect(totalCommands(capped) - totalCommands(plain)).toBe(1);
      expect((capped.zcard ?? 0) - (plain.zcard ?? 0)).toBe(1);
      expect(totalCommands(rated) - totalCommands(plain)).toBe(4);
      // held by the rate limit: nothing leased, fewer commands than a lease that leases
      expect(totalCommands(held)).toBeLessThan(totalCommands(plain));
      expect(totalCommands(paused)).toBeLessThan(totalCommands(plain));
      // a queue with expiring jobs: one ZRANGEBYSCORE of the index, one ZRANGE (its first entry) and the due ZADD LT
      expect(totalCommands(expiring) - totalCommands(plain)).toBe(3);
    } finally {
      await stack.stop();
    }
  }, 60_000);
});
