/**
 * Schedules under random sequences (fast-check) on real Redis, under a test clock: create, replace,
 * pause, resume and delete schedules (everyMs and cron), jump the clock by up to two hours or to the
 * next fire exactly, and fire
 * with one to three firing runs at once (overlapping ticks). After every step the schedules' keys and
 * the jobs of their queues are read and checked:
 *
 * - every fire enqueued exactly one job, keyed `schedule:<id>:<fire time>`, and no fire time twice
 *   (a schedule created again under its id at the time its former self fired gets that job back);
 * - a fire came at or after its time, at the time the schedule was due, on its grid (everyMs from
 *   the schedule's creation; cron on whole minutes);
 * - after a firing run nothing is left due; `schedules:due` holds exactly the schedules that have a
 *   next fire, at that time, and a paused or deleted schedule has none;
 * - a deleted schedule fires no more; `fires` counts the fires of its current life.
 *
 * Bounded: a fixed seed and RUNS runs of at most STEPS steps; MODEL_SEED and MODEL_RUNS change them.
 */
import fc from 'fast-check';
import { afterAll, expect, it } from 'vitest';
import { globalKey, Spool } from '../../../shared/queue/index.js';
import type { Schedule } from '../../../shared/queue/ops/schedules.js';
import { cleanupPrefix, testRedis, uniquePrefix } from '../../helpers/redis.js';

/** MODEL_SEED (`random` draws one) and MODEL_RUNS, as for test/shared/queue/model.test.ts (`npm run test:model` runs both). */
const SEED =
  process.env.MODEL_SEED === 'random'
    ? Math.floor(Math.random() * 2 ** 31)
    : Number(process.env.MODEL_SEED ?? 20261201);
const RUNS = Number(process.env.MODEL_RUNS ?? 50);
const STEPS = 30;
const IDS = ['a', 'b', 'c'] as const;
const WHEN = [
  { everyMs: 1_000 },
  { everyMs: 2_500 },
  { everyMs: 60_000 },
  { cron: '* * * * *' },
  { cron: '*/5 * * * *' },
];

type Step =
  | { op: 'put'; id: string; when: number; paused: boolean }
  | { op: 'delete'; id: string }
  | { op: 'advance'; ms: number }
  /** To the earliest next fire, exactly. */
  | { op: 'toNext' }
  | { op: 'fire'; runs: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    op: fc.constant('put' as const),
    id: fc.constantFrom(...IDS),
    when: fc.nat({ max: WHEN.length - 1 }),
    paused: fc.constantFrom(false, false, false, true),
  }),
  fc.record({ op: fc.constant('delete' as const), id: fc.constantFrom(...IDS) }),
  fc.record({
    op: fc.constant('advance' as const),
    ms: fc.oneof(fc.integer({ min: 0, max: 3_000 }), fc.integer({ min: 0, max: 7_200_000 })),
  }),
  fc.record({ op: fc.constant('toNext' as const) }),
  fc.record({ op: fc.constant('fire' as const), runs: fc.integer({ min: 1, max: 3 }) }),
);

const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await cleanupPrefix(p);
});
let steps = 0;

it(`random sequences keep every schedule firing once per fire time (seed ${SEED}, ${RUNS} runs × ≤ ${STEPS} steps)`, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: STEPS, size: 'max' }), async (seq) => {
      const prefix = uniquePrefix('schedules-model');
      prefixes.push(prefix);
      let now = 1_800_000_000_000;
      const spool = new Spool(testRedis(), { config: { prefix }, clock: () => now });
      /** The fire times seen per queue (each schedule fires into the queue of its id). */
      const fired = new Map<string, number[]>();
      /** A life of a schedule: its fires since it was created (a delete ends it). */
      const lives = new Map<string, { fires: number; createdAt: number }>();
      for (const s of seq) {
        steps++;
        if (s.op === 'put') {
          const when = WHEN[s.when]!;
          const r = await spool.putSchedule(s.id, { queue: s.id, job: { handler: 't' }, paused: s.paused, ...when });
          if (r.created) lives.set(s.id, { fires: 0, createdAt: now });
          expect(r.schedule.createdAt).toBe(lives.get(s.id)!.createdAt);
        } else if (s.op === 'delete') {
          await spool.deleteSchedule(s.id);
          lives.delete(s.id);
        } else if (s.op === 'advance') {
          now += s.ms;
        } else if (s.op === 'toNext') {
          const next = Math.min(...(await spool.listSchedules()).map((x) => x.nextRunAt ?? Number.POSITIVE_INFINITY));
          if (Number.isFinite(next)) now = Math.max(now, next);
        } else {
          const before = new Map((await spool.listSchedules()).map((x) => [x.id, x]));
          const runs = await Promise.all(Array.from({ length: s.runs }, () => spool.fireDueSchedules()));
          for (const f of runs.flatMap((r) => r.fired)) {
            const was = before.get(f.id)!;
            // It fired the time it was due at, which had come, on its grid.
            expect(f.fireAt).toBe(was.nextRunAt);
            expect(f.fireAt).toBeLessThanOrEqual(now);
            if (was.everyMs !== undefined) expect((f.fireAt - was.createdAt) % was.everyMs).toBe(0);
            else expect(f.fireAt % 60_000).toBe(0);
            const times = fired.get(f.queue) ?? [];
            // A schedule deleted and created again at the very time its former self fired fires that
            // time again: its job is the first one (the same idempotency key), nothing new.
            if (f.deduplicated) expect(times).toContain(f.fireAt);
            else fired.set(f.queue, [...times, f.fireAt]);
            lives.get(f.id)!.fires++;
          }
        }
        await check(spool, prefix, now, s.op === 'fire', fired, lives);
      }
    }),
    { seed: SEED, numRuns: RUNS, endOnFailure: true },
  );
  console.info(`schedules model: seed ${SEED}, ${RUNS} runs, ${steps} steps`);
  expect(steps).toBeGreaterThan(RUNS);
}, 300_000);

async function check(
  spool: Spool,
  prefix: string,
  now: number,
  afterFire: boolean,
  fired: Map<string, number[]>,
  lives: Map<string, { fires: number }>,
): Promise<void> {
  const all = await spool.listSchedules();
  const byId = new Map<string, Schedule>(all.map((s) => [s.id, s]));
  expect([...byId.keys()].sort()).toEqual([...lives.keys()].sort());
  const due = await spool.redis.zrange<(string | number)[]>(globalKey(prefix, 'schedulesDue'), 0, -1, {
    withScores: true,
  });
  const dueMap: Record<string, number> = {};
  for (let i = 0; i < due.length; i += 2) dueMap[String(due[i])] = Number(due[i + 1]);
  const expected: Record<string, number> = {};
  for (const s of all) {
    expect(s.fires).toBe(lives.get(s.id)!.fires);
    if (s.paused) expect(s.nextRunAt).toBeUndefined();
    else expect(s.nextRunAt).toBeDefined();
    if (s.nextRunAt !== undefined) {
      expected[s.id] = s.nextRunAt;
      if (s.lastRunAt !== undefined) expect(s.nextRunAt).toBeGreaterThan(s.lastRunAt);
      if (afterFire) expect(s.nextRunAt).toBeGreaterThan(now);
    }
  }
  expect(dueMap).toEqual(expected);
  // One job per fire, keyed by the schedule and the fire time, none twice.
  for (const id of IDS) {
    const times = fired.get(id) ?? [];
    expect(new Set(times).size).toBe(times.length);
    const keys: string[] = [];
    for (const state of ['waiting', 'delayed'] as const) {
      let cursor: string | undefined;
      do {
        const page = await spool.list(id, state, { limit: 100, ...(cursor ? { cursor } : {}) });
        keys.push(...page.jobs.map((j) => j.idempotencyKey ?? ''));
        cursor = page.cursor;
      } while (cursor);
    }
    expect(keys.sort()).toEqual(times.map((t) => `schedule:${id}:${t}`).sort());
  }
}
