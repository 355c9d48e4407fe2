/**
 * Recurring schedules (issue 12): a job enqueued on a cron or every N ms. Each schedule is one
 * definition (as PUT, in `schedules`) and one state (`scheduleStates`), and is scored in
 * `schedulesDue` at its next fire. Firing a schedule enqueues its job and advances the schedule in one
 * script (FIRE_SCHEDULE), at most once per fire time: the script only fires a schedule still due at
 * the time its caller read, and the job's idempotency key is `schedule:<id>:<fire time>`.
 */
import { randomUUID } from 'node:crypto';
import type * as z from 'zod/mini';
import { guard } from '../../redis/client.js';
import { firstIssue } from '../../validation/zod.js';
import { list, optNum, type SpoolCore } from '../core.js';
import { ConflictError, PayloadTooLargeError, SpoolError, ValidationError } from '../errors.js';
import { globalKey } from '../keys.js';
import { catchUp, cronOf, isTimeZone, nextFire, type Recurrence } from '../recurrence.js';
import { assertQueueName, normalizeJob, SCHEDULE_ID, scheduleInputSchema } from '../schema.js';
import {
  DELETE_SCHEDULE,
  DUE_SCHEDULES,
  FIRE_SCHEDULE,
  PUT_SCHEDULE,
  READ_SCHEDULES,
  type ScheduleStateRecord,
} from '../scripts/schedules.js';
import { CLAIM_TIMER } from '../scripts/timer.js';
import type { JobInput } from '../types.js';
import { TIMER_SLACK_MS } from './timer.js';

/** Most schedules a deployment keeps. */
export const MAX_SCHEDULES = 1000;
/** Most schedules one firing run fires (the rest fire on the run right after). */
export const FIRE_LIMIT = 100;

/** Job fields a schedule's job may not set: each fire sets its own, or an absolute time would repeat. */
const FIRE_OWNED: Record<string, string> = {
  idempotencyKey: 'is set by each fire (schedule:<id>:<fire time>)',
  runAt: 'is an absolute time, the same for every fire: use delayMs',
  expiresAt: 'is an absolute time, the same for every fire: use expireAfterMs',
};

export type ScheduleInput = z.input<typeof scheduleInputSchema>;

/** A schedule's definition as stored: what PUT gave, checked, times as epoch ms. */
export interface ScheduleDefinition {
  queue: string;
  cron?: string;
  everyMs?: number;
  timezone: string;
  job: JobInput;
  paused: boolean;
  startAt?: number;
  endAt?: number;
}

/** A schedule as the engine answers it: its definition and its state (epoch ms). */
export interface Schedule extends ScheduleDefinition, Omit<ScheduleStateRecord, 'rev' | 'putBy'> {
  id: string;
}

/** One fire of fireDueSchedules. */
export interface Fired {
  id: string;
  queue: string;
  fireAt: number;
  jobId?: string;
  /** The fire's job existed already (its idempotency key named it). */
  deduplicated: boolean;
  /** Ticks this fire stood for besides its own. */
  missed: number;
  /** As enqueue answers: kick a worker for the queue. */
  kick: boolean;
  /** As enqueue answers: arm the queue's worker timer for this time. */
  wakeAt?: number;
  /** The job did not validate: the schedule advanced without one and keeps this in lastError. */
  error?: string;
}

const toMs = (t: number | string | undefined): number | undefined =>
  t === undefined ? undefined : typeof t === 'number' ? t : Date.parse(t);

export function assertScheduleId(id: string): void {
  if (!SCHEDULE_ID.test(id)) throw new ValidationError('id', 'must match [A-Za-z0-9_.:-]{1,128}');
}

/**
 * Check a schedule as PUT (400 naming the field: `cron`, `everyMs`, `timezone`, `startAt`, `endAt`,
 * `job.<field>`, ...) and answer its definition. The job is checked as an enqueue would check it.
 */
export function checkSchedule(core: SpoolCore, id: string, input: unknown): ScheduleDefinition {
  // The fields each fire sets, refused with why before the schema would call them unknown.
  const job = (input as { job?: unknown } | null)?.job;
  if (job && typeof job === 'object')
    for (const [field, reason] of Object.entries(FIRE_OWNED))
      if ((job as Record<string, unknown>)[field] !== undefined) throw new ValidationError(`job.${field}`, reason);
  const r = scheduleInputSchema.safeParse(input);
  if (!r.success) {
    const { field, reason } = firstIssue(r.error);
    throw new ValidationError(field, reason);
  }
  const s = r.data;
  if (s.id !== undefined && s.id !== id) throw new ValidationError('id', `must be the id of the path (${id})`);
  if ((s.cron === undefined) === (s.everyMs === undefined))
    throw new ValidationError('cron', 'give exactly one of "cron" and "everyMs"');
  const timezone = s.timezone ?? 'UTC';
  if (!isTimeZone(timezone))
    throw new ValidationError('timezone', 'is not an IANA time zone (like "Europe/Berlin" or "UTC")');
  if (s.cron !== undefined) {
    let matches: boolean;
    try {
      matches = cronOf(s.cron, timezone).nextRun() !== null;
    } catch (e) {
      const why = (e instanceof Error ? e.message : String(e)).replace(/^CronPattern: /, '');
      throw new ValidationError('cron', `is not a 5-field cron expression "m h dom mon dow": ${why}`);
    }
    if (!matches) throw new ValidationError('cron', 'never matches a date (like "0 0 31 2 *")');
  }
  const startAt = toMs(s.startAt);
  const endAt = toMs(s.endAt);
  if (startAt !== undefined && !Number.isFinite(startAt)) throw new ValidationError('startAt', 'is not a valid time');
  if (endAt !== undefined && !Number.isFinite(endAt)) throw new ValidationError('endAt', 'is not a valid time');
  if (startAt !== undefined && endAt !== undefined && endAt <= startAt)
    throw new ValidationError('endAt', 'is not after startAt');
  normalizeJob(s.job, core.config, core.now(), 'job');
  const def: ScheduleDefinition = { queue: s.queue, timezone, job: s.job as JobInput, paused: s.paused ?? false };
  if (s.cron !== undefined) def.cron = s.cron.trim();
  if (s.everyMs !== undefined) def.everyMs = s.everyMs;
  if (startAt !== undefined) def.startAt = startAt;
  if (endAt !== undefined) def.endAt = endAt;
  return def;
}

const recurrenceOf = (d: ScheduleDefinition, anchor: number): Recurrence => ({
  ...(d.cron !== undefined ? { cron: d.cron } : {}),
  ...(d.everyMs !== undefined ? { everyMs: d.everyMs } : {}),
  timezone: d.timezone,
  ...(d.startAt !== undefined ? { startAt: d.startAt } : {}),
  ...(d.endAt !== undefined ? { endAt: d.endAt } : {}),
  anchor,
});

function scheduleOf(id: string, defJson: string, stateJson: string): Schedule {
  const d = JSON.parse(defJson) as ScheduleDefinition;
  const st = JSON.parse(stateJson) as ScheduleStateRecord;
  const out: Schedule = {
    id,
    ...d,
    fires: Number(st.fires),
    missed: Number(st.missed),
    createdAt: Number(st.createdAt),
    updatedAt: Number(st.updatedAt),
  };
  if (st.nextRunAt !== undefined) out.nextRunAt = Number(st.nextRunAt);
  if (st.lastRunAt !== undefined) out.lastRunAt = Number(st.lastRunAt);
  if (st.lastJobId !== undefined) out.lastJobId = st.lastJobId;
  if (st.lastError) out.lastError = { message: st.lastError.message, at: Number(st.lastError.at) };
  return out;
}

/** Schedules as stored: the ones `ids` names (that exist), or every one when `ids` is empty. */
async function readStored(core: SpoolCore, ids: string[]): Promise<Array<[string, string, string]>> {
  const r = await core.run(READ_SCHEDULES, '', { ids });
  return list(r.schedules);
}

/**
 * Create (`create`: POST, 409 when the id exists) or replace a schedule. Its next fire is computed
 * from now, never at or before its last fire (so a replace does not fire a tick twice); fires,
 * missed, lastRunAt and createdAt are kept. Answers the schedule as stored.
 */
export async function putSchedule(
  core: SpoolCore,
  id: string,
  input: unknown,
  opts: { create?: boolean } = {},
): Promise<{ schedule: Schedule; created: boolean }> {
  assertScheduleId(id);
  const def = checkSchedule(core, id, input);
  const definition = JSON.stringify(def);
  for (let attempt = 0; attempt < 5; attempt++) {
    const now = core.now();
    const [held] = await readStored(core, [id]);
    const st = held ? (JSON.parse(held[2]) as ScheduleStateRecord) : undefined;
    if (opts.create && st) throw new ConflictError(`schedule ${id} exists`, { id });
    const createdAt = st ? Number(st.createdAt) : now;
    const after = Math.max(now - 1, st?.lastRunAt !== undefined ? Number(st.lastRunAt) : -1);
    const next = def.paused ? undefined : nextFire(recurrenceOf(def, createdAt), after);
    const r = await core.run(PUT_SCHEDULE, def.queue, {
      clock: core.scriptClock(),
      id,
      definition,
      expectRev: st ? Number(st.rev) : 0,
      nextAt: next ?? 0,
      createdAt,
      create: opts.create === true,
      max: MAX_SCHEDULES,
    });
    if (r.status === 'moved') continue;
    if (r.status === 'exists') throw new ConflictError(`schedule ${id} exists`, { id });
    if (r.status === 'full')
      throw new ConflictError(`a deployment keeps at most ${MAX_SCHEDULES} schedules: delete one first`, {
        max: MAX_SCHEDULES,
      });
    return {
      schedule: scheduleOf(id, definition, JSON.stringify(r.state)),
      created: r.created === true,
    };
  }
  throw new SpoolError(`schedule ${id} keeps changing: try again`, 'conflict', 409);
}

export async function getSchedule(core: SpoolCore, id: string): Promise<Schedule | undefined> {
  assertScheduleId(id);
  const [held] = await readStored(core, [id]);
  return held ? scheduleOf(id, held[1], held[2]) : undefined;
}

/** Every schedule (at most MAX_SCHEDULES), sorted by id; `queue`: only that queue's. */
export async function listSchedules(core: SpoolCore, opts: { queue?: string } = {}): Promise<Schedule[]> {
  if (opts.queue !== undefined) assertQueueName(opts.queue);
  const out: Schedule[] = [];
  for (const [id, def, state] of await readStored(core, [])) {
    const s = scheduleOf(id, def, state);
    if (opts.queue === undefined || s.queue === opts.queue) out.push(s);
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Delete a schedule: it fires no more (jobs it fired stay). False when there was none. */
export async function deleteSchedule(core: SpoolCore, id: string): Promise<boolean> {
  assertScheduleId(id);
  const r = await core.run(DELETE_SCHEDULE, '', { id });
  return r.deleted === true;
}

/** When the first schedule is due (epoch ms), or undefined when none is: one command. */
export async function nextScheduleDue(core: SpoolCore): Promise<number | undefined> {
  const first = await guard(() =>
    core.redis.zrange<(string | number)[]>(globalKey(core.config.prefix, 'schedulesDue'), 0, 0, { withScores: true }),
  );
  return first.length >= 2 ? Number(first[1]) : undefined;
}

/**
 * Fire every schedule due now (the Redis server's clock, or the test clock), at most `limit`: each
 * enqueues its job and advances in one script call. A schedule that fires late (downtime, a lost
 * timer) fires once, for its first missed time, and counts the ticks it skipped in `missed`; its
 * next fire is the first after now. When nothing is due (the idle case) this costs one command.
 */
export async function fireDueSchedules(
  core: SpoolCore,
  opts: { limit?: number; trace?: string } = {},
): Promise<{ now: number; fired: Fired[]; nextDueAt?: number }> {
  const first = await nextScheduleDue(core);
  const local = core.now();
  // Not due by this process's clock either: nothing to read (the scheduler sleeps or arms for it).
  if (first === undefined || first > local + TIMER_SLACK_MS)
    return { now: local, fired: [], ...(first !== undefined ? { nextDueAt: first } : {}) };
  const limit = opts.limit ?? FIRE_LIMIT;
  const r = await core.run(DUE_SCHEDULES, '', { clock: core.scriptClock(), limit });
  const now = Number(r.now);
  const fired: Fired[] = [];
  // A full read may have left schedules due now: then the next fire is now (the caller fires again).
  let nextDueAt = list(r.due).length >= limit ? now : optNum(r.next);
  for (const [id, defJson, stateJson] of list(r.due)) {
    if (typeof defJson !== 'string' || typeof stateJson !== 'string') continue;
    const f = await fireOne(core, id, defJson, stateJson, now, opts.trace);
    if (!f) continue;
    fired.push(f.fired);
    if (f.next !== undefined && (nextDueAt === undefined || f.next < nextDueAt)) nextDueAt = f.next;
  }
  return { now, fired, ...(nextDueAt !== undefined ? { nextDueAt } : {}) };
}

async function fireOne(
  core: SpoolCore,
  id: string,
  defJson: string,
  stateJson: string,
  now: number,
  trace: string | undefined,
): Promise<{ fired: Fired; next?: number } | undefined> {
  const def = JSON.parse(defJson) as ScheduleDefinition;
  const st = JSON.parse(stateJson) as ScheduleStateRecord;
  if (st.nextRunAt === undefined) return undefined;
  const fireAt = Number(st.nextRunAt);
  const { missed, next } = catchUp(recurrenceOf(def, Number(st.createdAt)), fireAt, now);
  let input: unknown[] = [];
  let invalid = '';
  try {
    const j = normalizeJob({ ...def.job, idempotencyKey: `schedule:${id}:${fireAt}` }, core.config, now, 'job', trace);
    input = [j.delayMs ? [randomUUID(), j.spec, j.meta, j.delayMs] : [randomUUID(), j.spec, j.meta]];
  } catch (e) {
    if (!(e instanceof ValidationError || e instanceof PayloadTooLargeError)) throw e;
    invalid = e.message;
  }
  const r = await core.run(FIRE_SCHEDULE, def.queue, {
    clock: core.scriptClock(),
    window: core.config.idempotencyWindowMs,
    debounce: core.config.kickDebounceMs,
    input,
    id,
    rev: Number(st.rev),
    fireAt,
    nextAt: next ?? 0,
    missed,
    invalid,
  });
  if (r.status !== 'fired' || r.again) return undefined;
  const fired: Fired = {
    id,
    queue: def.queue,
    fireAt,
    deduplicated: r.deduplicated === true,
    missed,
    kick: r.kick === true,
  };
  if (typeof r.jobId === 'string') fired.jobId = r.jobId;
  const wakeAt = optNum(r.wakeAt);
  if (wakeAt !== undefined) fired.wakeAt = wakeAt;
  if (invalid) fired.error = invalid;
  return { fired, ...(next !== undefined ? { next } : {}) };
}

/**
 * Claim the schedules' one pending timer for a wake `dueInMs` from now (the claimTimer script on the
 * `scheduleTimer` key): claimed when no timer is pending for that time or sooner; the caller then arms it.
 */
export async function claimScheduleTimer(core: SpoolCore, dueInMs: number): Promise<{ claimed: boolean; at: number }> {
  const r = await core.run(
    CLAIM_TIMER,
    '',
    {
      clock: core.scriptClock(),
      dueInMs: Math.max(0, Math.round(dueInMs)),
      slackMs: TIMER_SLACK_MS,
      nonce: randomUUID(),
    },
    { timer: globalKey(core.config.prefix, 'scheduleTimer') },
  );
  return { claimed: r.claimed === true, at: Number(r.at) };
}
