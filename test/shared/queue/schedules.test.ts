import { Redis } from '@upstash/redis';
import { describe, expect, it } from 'vitest';
import { globalKey, queueKey, Spool, ValidationError } from '../../../shared/queue/index.js';
import { MAX_SCHEDULES } from '../../../shared/queue/ops/schedules.js';
import { catchUp, MISSED_EXACT_MAX, nextFire } from '../../../shared/queue/recurrence.js';
import { PUT_SCHEDULE } from '../../../shared/queue/scripts/schedules.js';
import { harness, job } from '../../helpers/harness.js';
import { commandsOf, privateStack, totalCommands } from '../../helpers/private-redis.js';

const MIN = 60_000;
const at = (iso: string) => Date.parse(iso);
const utc = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());

/** A schedule of `queue` as PUT, every `everyMs` unless `extra` says otherwise. */
const every = (queue: string, everyMs: number, extra: Record<string, unknown> = {}) => ({
  queue,
  everyMs,
  job: job({ n: 1 }),
  ...extra,
});

/** The ids of the jobs of `queue`, by state. */
async function jobsOf(spool: Spool, queue: string) {
  const page = await spool.list(queue, 'waiting', { limit: 100 });
  const delayed = await spool.list(queue, 'delayed', { limit: 100 });
  return [...page.jobs, ...delayed.jobs];
}

describe('schedules: stored as PUT, checked as a job is', () => {
  const { spool, clock, prefix, redis } = harness('schedules-put');

  it('refuses a bad schedule with 400 naming the field, and writes nothing', async () => {
    const cases: Array<[unknown, string]> = [
      [{ queue: 'q', job: job() }, 'cron'],
      [{ queue: 'q', cron: '* * * * *', everyMs: 1000, job: job() }, 'cron'],
      [{ queue: 'q', cron: '61 * * * *', job: job() }, 'cron'],
      [{ queue: 'q', cron: '* * * * * *', job: job() }, 'cron'],
      [{ queue: 'q', cron: '0 0 * * *', timezone: 'Mars/Olympus', job: job() }, 'timezone'],
      [{ queue: 'q', everyMs: 999, job: job() }, 'everyMs'],
      [{ queue: 'bad queue', everyMs: 1000, job: job() }, 'queue'],
      [{ queue: 'q', everyMs: 1000, job: job({}, { priority: 5000 }) }, 'job.priority'],
      [{ queue: 'q', everyMs: 1000, job: { payload: 1 } }, 'job.target'],
      [{ queue: 'q', everyMs: 1000, job: job({}, { idempotencyKey: 'k' }) }, 'job.idempotencyKey'],
      [{ queue: 'q', everyMs: 1000, job: job({}, { runAt: clock.now() + MIN }) }, 'job.runAt'],
      [{ queue: 'q', everyMs: 1000, job: job({}, { expiresAt: clock.now() + MIN }) }, 'job.expiresAt'],
      [{ queue: 'q', everyMs: 1000, job: job(), startAt: 'tomorrow' }, 'startAt'],
      [{ queue: 'q', everyMs: 1000, job: job(), startAt: 2000, endAt: 1000 }, 'endAt'],
      [{ queue: 'q', everyMs: 1000, job: job(), colour: 'red' }, 'colour'],
      [{ id: 'other', queue: 'q', everyMs: 1000, job: job() }, 'id'],
    ];
    for (const [input, field] of cases) {
      const e = await spool.putSchedule('s1', input).catch((x: unknown) => x);
      expect(e, JSON.stringify(input)).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).field, JSON.stringify(input)).toBe(field);
    }
    await expect(spool.putSchedule('bad id!', every('q', 1000))).rejects.toMatchObject({ field: 'id' });
    expect(await redis.exists(globalKey(prefix, 'schedules'), globalKey(prefix, 'schedulesDue'))).toBe(0);
  });

  it('creates, replaces, lists, gets and deletes; POST of an existing id is a conflict', async () => {
    const created = await spool.putSchedule('a', every('q1', 10_000));
    expect(created.created).toBe(true);
    expect(created.schedule).toMatchObject({
      id: 'a',
      queue: 'q1',
      everyMs: 10_000,
      timezone: 'UTC',
      paused: false,
      fires: 0,
      missed: 0,
      createdAt: clock.now(),
      nextRunAt: clock.now() + 10_000,
    });
    await expect(spool.putSchedule('a', every('q1', 5_000), { create: true })).rejects.toMatchObject({
      status: 409,
    });
    clock.advance(1_000);
    const replaced = await spool.putSchedule('a', { ...every('q1', 5_000), timezone: 'Europe/Berlin' });
    expect(replaced.created).toBe(false);
    // everyMs counts from the schedule's creation, which a replace keeps.
    expect(replaced.schedule).toMatchObject({ everyMs: 5_000, createdAt: clock.now() - 1_000 });
    expect(replaced.schedule.nextRunAt).toBe(clock.now() + 4_000);
    await spool.putSchedule('b', { queue: 'q2', cron: '0 9 * * 1-5', job: job({ big: `${2n ** 60n}` }) });

    expect((await spool.listSchedules()).map((s) => s.id)).toEqual(['a', 'b']);
    expect((await spool.listSchedules({ queue: 'q2' })).map((s) => s.id)).toEqual(['b']);
    expect((await spool.getSchedule('b'))?.job.payload).toEqual({ big: '1152921504606846976' });
    expect(await spool.deleteSchedule('a')).toBe(true);
    expect(await spool.deleteSchedule('a')).toBe(false);
    expect(await spool.getSchedule('a')).toBeUndefined();
    expect(await redis.zscore(globalKey(prefix, 'schedulesDue'), 'a')).toBeNull();
  });

  it('keeps a job payload exactly as given (empty arrays and objects, which a Lua round trip would merge)', async () => {
    const payload = { list: [], nested: { empty: {} }, n: 1234567890123 };
    await spool.putSchedule('exact', { ...every('q3', 1000), job: job(payload) });
    expect((await spool.getSchedule('exact'))?.job.payload).toEqual(payload);
  });

  it(`refuses a new schedule past ${MAX_SCHEDULES} (the script's cap, here 1), but replaces an existing one`, async () => {
    const { spool: s2 } = harness('schedules-cap');
    const put = (id: string, expectRev: number) =>
      s2.run(PUT_SCHEDULE, 'q', {
        clock: 0,
        id,
        definition: JSON.stringify(every('q', 1000)),
        expectRev,
        nextAt: 0,
        createdAt: 1,
        create: false,
        max: 1,
      });
    expect((await put('one', 0)).status).toBe('ok');
    expect((await put('two', 0)).status).toBe('full');
    expect((await put('one', 1)).status).toBe('ok');
    // The same call again (a retry) answers as its first run; another write from a stale read moved.
    expect((await put('one', 1)).status).toBe('ok');
    const other = await s2.run(PUT_SCHEDULE, 'q', {
      clock: 0,
      id: 'one',
      definition: JSON.stringify(every('q', 2000)),
      expectRev: 1,
      nextAt: 0,
      createdAt: 1,
      create: false,
      max: 1,
    });
    expect(other.status).toBe('moved');
  });
});

describe('schedules: fire on time, once per fire', () => {
  const { spool, clock, prefix, redis } = harness('schedules-fire');

  it('an every-2-s schedule fires every 2 s, each fire one job keyed by the schedule and fire time', async () => {
    const t0 = clock.now();
    await spool.putSchedule('tick', every('ticks', 2_000));
    expect((await spool.fireDueSchedules()).fired).toEqual([]);
    clock.advance(1_999);
    const early = await spool.fireDueSchedules();
    expect(early.fired).toEqual([]);
    expect(early.nextDueAt).toBe(t0 + 2_000);
    for (let i = 1; i <= 5; i++) {
      clock.set(t0 + i * 2_000);
      const r = await spool.fireDueSchedules();
      expect(r.fired).toMatchObject([{ id: 'tick', queue: 'ticks', fireAt: t0 + i * 2_000, missed: 0 }]);
      expect(r.nextDueAt).toBe(t0 + (i + 1) * 2_000);
      // Fired again at the same time (an overlapping tick, a retried timer): nothing more.
      expect((await spool.fireDueSchedules()).fired).toEqual([]);
    }
    const jobs = await jobsOf(spool, 'ticks');
    expect(jobs.map((j) => j.idempotencyKey).sort()).toEqual(
      [1, 2, 3, 4, 5].map((i) => `schedule:tick:${t0 + i * 2_000}`).sort(),
    );
    expect(await spool.getSchedule('tick')).toMatchObject({
      fires: 5,
      missed: 0,
      lastRunAt: t0 + 10_000,
      nextRunAt: t0 + 12_000,
      lastJobId: expect.any(String),
    });
  });

  it('ticks that overlap fire once: five firing runs at once enqueue one job', async () => {
    await spool.putSchedule('overlap', every('overlap', 60_000));
    clock.advance(60_000);
    const runs = await Promise.all([1, 2, 3, 4, 5].map(() => spool.fireDueSchedules()));
    expect(runs.flatMap((r) => r.fired).filter((f) => f.id === 'overlap')).toHaveLength(1);
    expect(await jobsOf(spool, 'overlap')).toHaveLength(1);
  });

  it("a fire's job is a job of its queue: it kicks the queue's worker and is leased like any other", async () => {
    await spool.putSchedule('kicks', every('kicked', 30_000, { job: job({ hello: 'world' }, { priority: 7 }) }));
    clock.advance(30_000);
    const { fired } = await spool.fireDueSchedules();
    const f = fired.find((x) => x.id === 'kicks');
    expect(f).toMatchObject({ kick: true, deduplicated: false });
    const leased = await spool.lease('kicked', { count: 5 });
    expect(leased.jobs.map((j) => [j.id, j.payload, j.priority])).toEqual([[f!.jobId, { hello: 'world' }, 7]]);
    expect(await redis.zscore(globalKey(prefix, 'touched'), 'kicked')).not.toBeNull();
  });

  it('a delayed job arms its queue (wakeAt), as an enqueue with a delay does', async () => {
    await spool.putSchedule('later', every('later', 10_000, { job: job({}, { delayMs: 5_000 }) }));
    clock.advance(10_000);
    const { fired } = await spool.fireDueSchedules();
    const f = fired.find((x) => x.id === 'later');
    expect(f).toMatchObject({ kick: false, wakeAt: clock.now() + 5_000 });
    expect(await redis.zscore(queueKey(prefix, 'later', 'delayed'), f!.jobId!)).toBe(clock.now() + 5_000);
  });

  it('after downtime a schedule fires once for the missed period and counts the rest in missed', async () => {
    const t0 = clock.now();
    await spool.putSchedule('down', every('down', MIN));
    clock.set(t0 + 10 * MIN + 30_000); // down for ten and a half minutes
    const { fired, nextDueAt } = await spool.fireDueSchedules();
    const f = fired.find((x) => x.id === 'down');
    // It fires once, for its first missed time; nine more ticks passed (t0+2min .. t0+10min).
    expect(f).toMatchObject({ fireAt: t0 + MIN, missed: 9 });
    expect(nextDueAt).toBeLessThanOrEqual(t0 + 11 * MIN);
    expect(await jobsOf(spool, 'down')).toHaveLength(1);
    expect(await spool.getSchedule('down')).toMatchObject({ fires: 1, missed: 9, nextRunAt: t0 + 11 * MIN });
    clock.set(t0 + 11 * MIN);
    expect((await spool.fireDueSchedules()).fired.find((x) => x.id === 'down')).toMatchObject({ missed: 0 });
  });

  it('a deleted schedule fires no more; a paused one neither, and resumes without a catch-up', async () => {
    await spool.putSchedule('gone', every('gone', 5_000));
    await spool.putSchedule('nap', every('nap', 5_000));
    expect(await spool.deleteSchedule('gone')).toBe(true);
    const paused = await spool.putSchedule('nap', every('nap', 5_000, { paused: true }));
    expect(paused.schedule.nextRunAt).toBeUndefined();
    clock.advance(60_000);
    const r = await spool.fireDueSchedules();
    expect(r.fired.filter((f) => f.id === 'gone' || f.id === 'nap')).toEqual([]);
    expect(await jobsOf(spool, 'gone')).toEqual([]);
    const resumed = await spool.putSchedule('nap', every('nap', 5_000));
    expect(resumed.schedule.nextRunAt).toBeGreaterThanOrEqual(clock.now());
    expect(resumed.schedule.nextRunAt! - clock.now()).toBeLessThanOrEqual(5_000);
    expect(resumed.schedule.missed).toBe(0);
  });

  it('startAt is the first fire; nothing fires at or past endAt, and then nextRunAt is gone', async () => {
    const start = clock.now() + 3_000;
    const s = await spool.putSchedule('window', every('window', 1_000, { startAt: start, endAt: start + 2_500 }));
    expect(s.schedule.nextRunAt).toBe(start);
    const fires: number[] = [];
    for (let t = start; t <= start + 5_000; t += 1_000) {
      clock.set(t);
      for (const f of (await spool.fireDueSchedules()).fired) if (f.id === 'window') fires.push(f.fireAt);
    }
    expect(fires).toEqual([start, start + 1_000, start + 2_000]);
    expect((await spool.getSchedule('window'))?.nextRunAt).toBeUndefined();
  });

  it('a replace right after a fire does not fire that tick again', async () => {
    await spool.putSchedule('again', every('again', 7_000));
    clock.advance(7_000);
    await spool.fireDueSchedules();
    const r = await spool.putSchedule('again', every('again', 7_000, { job: job({ v: 2 }) }));
    expect(r.schedule.nextRunAt).toBe(clock.now() + 7_000);
    expect((await spool.fireDueSchedules()).fired.filter((f) => f.id === 'again')).toEqual([]);
  });

  it('a job that no longer validates advances the schedule without a job and keeps lastError', async () => {
    await spool.putSchedule('big', every('big', 4_000, { job: job({ text: 'x'.repeat(500) }) }));
    const strict = new Spool(redis, { config: { prefix, payloadMaxBytes: 100 }, clock: clock.now });
    clock.advance(4_000);
    const { fired } = await strict.fireDueSchedules();
    expect(fired.find((f) => f.id === 'big')).toMatchObject({ error: expect.stringContaining('job.payload') });
    expect(fired.find((f) => f.id === 'big')?.jobId).toBeUndefined();
    expect(await spool.getSchedule('big')).toMatchObject({
      fires: 1,
      nextRunAt: clock.now() + 4_000,
      lastError: { message: expect.stringContaining('job.payload'), at: clock.now() },
    });
    expect(await jobsOf(spool, 'big')).toEqual([]);
  });
});

describe('schedules: more due than one run fires', () => {
  const { spool, clock } = harness('schedules-many');

  it('more schedules due than one run fires: the run says the next is due now, and the next run fires them', async () => {
    for (const id of ['m1', 'm2', 'm3', 'm4', 'm5']) await spool.putSchedule(id, every('many', 9_000));
    clock.advance(9_000);
    const first = await spool.fireDueSchedules({ limit: 2 });
    expect(first.fired.map((f) => f.id)).toHaveLength(2);
    expect(first.nextDueAt).toBe(clock.now());
    const rest: string[] = [];
    for (let i = 0; i < 5 && rest.length < 3; i++)
      rest.push(...(await spool.fireDueSchedules({ limit: 2 })).fired.map((f) => f.id));
    expect([...first.fired.map((f) => f.id), ...rest].sort()).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect((await spool.fireDueSchedules()).nextDueAt).toBeGreaterThan(clock.now());
  });
});

describe('cron schedules, in a time zone, across daylight-saving changes', () => {
  const { spool, clock } = harness('schedules-cron', { start: at('2026-03-26T12:00:00Z') });

  /** Fire `id` at each of its nextRunAt until `until`, answering the fire times. */
  async function fireUntil(id: string, until: number): Promise<string[]> {
    const out: string[] = [];
    for (let guard = 0; guard < 100; guard++) {
      const next = (await spool.getSchedule(id))?.nextRunAt;
      if (next === undefined || next > until) break;
      clock.set(next);
      for (const f of (await spool.fireDueSchedules()).fired) if (f.id === id) out.push(utc(f.fireAt)!);
    }
    return out;
  }

  it('02:30 Berlin fires at 03:00 on the day the clocks jump from 02:00 to 03:00, once each day', async () => {
    await spool.putSchedule('berlin', { queue: 'tz', cron: '30 2 * * *', timezone: 'Europe/Berlin', job: job() });
    expect(await fireUntil('berlin', at('2026-03-31T00:00:00Z'))).toEqual([
      '2026-03-27T01:30:00.000Z', // 02:30 CET
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:00:00.000Z', // 03:00 CEST: 02:30 did not happen that night
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
  });

  it('01:30 New York fires once on the night 01:00-02:00 happens twice', async () => {
    clock.set(at('2026-10-30T12:00:00Z'));
    await spool.putSchedule('ny', { queue: 'tz', cron: '30 1 * * *', timezone: 'America/New_York', job: job() });
    expect(await fireUntil('ny', at('2026-11-03T00:00:00Z'))).toEqual([
      '2026-10-31T05:30:00.000Z', // 01:30 EDT
      '2026-11-01T05:30:00.000Z', // 01:30 EDT, the first of the two; not again at 01:30 EST
      '2026-11-02T06:30:00.000Z', // 01:30 EST
    ]);
  });

  it('hourly in New York fires every real hour through the 25-hour day', async () => {
    clock.set(at('2026-11-01T03:59:00Z')); // 23:59 EDT on Oct 31
    await spool.putSchedule('hourly', { queue: 'tz', cron: '0 * * * *', timezone: 'America/New_York', job: job() });
    const fires = await fireUntil('hourly', at('2026-11-02T04:00:00Z')); // to 00:00 EST on Nov 2
    expect(fires).toHaveLength(25);
    expect(new Set(fires).size).toBe(25);
  });

  it('a cron that never matches (31 February) is refused', async () => {
    await expect(spool.putSchedule('never', { queue: 'tz', cron: '0 0 31 2 *', job: job() })).rejects.toMatchObject({
      field: 'cron',
    });
  });

  it('a cron catch-up counts the ticks it skipped', async () => {
    clock.set(at('2026-05-01T10:00:30Z'));
    await spool.putSchedule('five', { queue: 'tz', cron: '*/5 * * * *', job: job() });
    clock.set(at('2026-05-01T11:02:00Z'));
    const { fired } = await spool.fireDueSchedules();
    // First missed 10:05; skipped 10:10 .. 11:00 (11 ticks); next 11:05.
    expect(fired.find((f) => f.id === 'five')).toMatchObject({ fireAt: at('2026-05-01T10:05:00Z'), missed: 11 });
    expect((await spool.getSchedule('five'))?.nextRunAt).toBe(at('2026-05-01T11:05:00Z'));
  });
});

describe('recurrence arithmetic', () => {
  const base = { timezone: 'UTC', anchor: 0 };

  it('everyMs: fires at anchor + k·everyMs (k ≥ 1), or from startAt (k ≥ 0), never at or past endAt', () => {
    expect(nextFire({ ...base, everyMs: 1000 }, 0)).toBe(1000);
    expect(nextFire({ ...base, everyMs: 1000 }, 1500)).toBe(2000);
    expect(nextFire({ ...base, everyMs: 1000, startAt: 5000 }, 0)).toBe(5000);
    expect(nextFire({ ...base, everyMs: 1000, startAt: 5000, endAt: 6000 }, 5000)).toBeUndefined();
  });

  it('catchUp past the exact count estimates from the mean interval', () => {
    const r = { ...base, cron: '* * * * *' };
    const from = at('2026-01-01T00:00:00Z');
    const { missed, next } = catchUp(r, from, from + (MISSED_EXACT_MAX + 500) * MIN + 30_000);
    expect(missed).toBe(MISSED_EXACT_MAX + 500);
    expect(next).toBe(from + (MISSED_EXACT_MAX + 501) * MIN);
  });
});

describe('the cost of schedules (INFO commandstats on a private Redis, script commands counted)', () => {
  it('a firing run with nothing due is one command; one fire is one script call', async () => {
    const stack = await privateStack();
    try {
      let now = 1_800_000_000_000;
      const spool = new Spool(new Redis({ ...stack.credentials, retry: false }), {
        config: { prefix: 'p' },
        clock: () => now,
      });
      const admin = stack.redis.admin();
      // No schedule at all, and one not due yet: one ZRANGE each.
      expect(await commandsOf(admin, () => spool.fireDueSchedules())).toEqual({ zrange: 1 });
      await spool.putSchedule('s', every('q', 60_000));
      now += 30_000;
      expect(await commandsOf(admin, () => spool.fireDueSchedules())).toEqual({ zrange: 1 });
      // warm: the scripts are loaded
      now += 30_000;
      await spool.fireDueSchedules();
      now += 60_000;
      const fire = await commandsOf(admin, () => spool.fireDueSchedules());
      expect(fire.evalsha).toBe(2); // the read of what is due, and the fire
      // 1 ZRANGE (is anything due), the read (TIME is not counted: the test clock; ZRANGE twice,
      // HMGET twice) and the fire: the enqueue script's commands plus the state's HGET and HSET and
      // the due ZADD.
      expect(totalCommands(fire)).toBe(24);
    } finally {
      await stack.stop();
    }
  }, 60_000);
});
