import { ARGS, defineScript, returns } from './define.js';
import { ENQUEUE, ENQUEUE_BODY } from './enqueue.js';
import { BASE, DUE, WAITING } from './lib.js';

/**
 * A schedule's state as the scripts keep it (keys.ts `scheduleStates`): numbers and short strings
 * only, so that cjson can decode and re-encode it without changing it. The definition (with the
 * user's job, whose JSON cjson could alter) lives apart in `schedules` and no script rewrites it.
 */
export interface ScheduleStateRecord {
  /** Bumped by every PUT: a fire read under an older revision does nothing. */
  rev: number;
  /** SHA-1 of the definition the revision was written with (a retried PUT finds its own write). */
  putBy?: string;
  /** The next fire; absent while paused or once past endAt. */
  nextRunAt?: number;
  /** The fire time of the last fire. */
  lastRunAt?: number;
  /** The job the last fire enqueued. */
  lastJobId?: string;
  /** Fires so far (a catch-up after downtime is one). */
  fires: number;
  /** Ticks skipped: a fire after downtime stands for the period and counts the rest here. */
  missed: number;
  /** The last fire's job did not validate (the schedule went on without a job). */
  lastError?: { message: string; at: number };
  createdAt: number;
  /** The last PUT. */
  updatedAt: number;
}

export const PUT_SCHEDULE = defineScript({
  name: 'putSchedule',
  summary: `
Create or replace a schedule: its definition (written as given) and its state (rev + 1, nextRunAt as
computed by the caller from the state it read, fires, missed, lastRunAt and createdAt kept). The
caller read the state at revision \`expectRev\` (0: there was none); if it changed since, nothing is
written and the answer is \`moved\` (read again). \`create\`: an existing schedule is a conflict.
A new schedule past \`max\` schedules is refused (\`full\`). Safe to run twice: the second run of the
same call finds its own revision and answers as the first did.`,
  keys: {
    schedules: 'the definition is written',
    scheduleStates: 'the state is written',
    schedulesDue: 'scored at nextAt, or left (paused, ended)',
  },
  args: {
    clock: ARGS.clock,
    id: { kind: 'string', doc: "the schedule's id" },
    definition: { kind: 'string', doc: 'the definition JSON, stored as it is' },
    expectRev: { kind: 'number', doc: 'the revision the caller read (0: none)' },
    nextAt: { kind: 'number', doc: 'epoch ms of the next fire (0: none: paused or ended)' },
    createdAt: { kind: 'number', doc: "a new schedule's creation time (the anchor of everyMs without startAt)" },
    create: { kind: 'flag', doc: 'refuse an existing schedule (POST)' },
    max: { kind: 'number', doc: 'most schedules a deployment keeps' },
  },
  result: returns<{
    status: 'ok' | 'moved' | 'exists' | 'full';
    created?: boolean;
    state?: ScheduleStateRecord;
  }>("{ status = 'ok' | 'moved' | 'exists' | 'full', created?, state? (as written) }"),
  uses: [BASE],
  body: `
local now = serverNow(clock)
local digest = redis.sha1hex(definition)
local raw = redis.call('HGET', K.scheduleStates, id)
local s = raw and cjson.decode(raw) or nil
-- putBy: the digest of the definition a revision was written with (a retried call finds its own write)
if s and s.rev == expectRev + 1 and s.putBy == digest then
  return cjson.encode({ status = 'ok', created = expectRev == 0, state = s })
end
if create and s then return cjson.encode({ status = 'exists' }) end
if (s and s.rev or 0) ~= expectRev then return cjson.encode({ status = 'moved' }) end
if not s and redis.call('HLEN', K.schedules) >= max then return cjson.encode({ status = 'full' }) end
local created = s == nil
s = s or { rev = 0, fires = 0, missed = 0, createdAt = createdAt }
s.rev = s.rev + 1
s.updatedAt = now
s.putBy = digest
if nextAt > 0 then s.nextRunAt = nextAt else s.nextRunAt = nil end
redis.call('HSET', K.schedules, id, definition)
redis.call('HSET', K.scheduleStates, id, cjson.encode(s))
if nextAt > 0 then redis.call('ZADD', K.schedulesDue, num(nextAt), id) else redis.call('ZREM', K.schedulesDue, id) end
return cjson.encode({ status = 'ok', created = created, state = s })
`,
});

export const DELETE_SCHEDULE = defineScript({
  name: 'deleteSchedule',
  summary: `
Delete a schedule: its definition, its state and its due entry; it fires no more. Jobs it fired stay
in their queue. Safe to run twice (the second run finds nothing and answers deleted = false).`,
  keys: {
    schedules: 'the definition is removed',
    scheduleStates: 'the state is removed',
    schedulesDue: 'the entry is removed',
  },
  args: {
    id: { kind: 'string', doc: "the schedule's id" },
  },
  result: returns<{ deleted: boolean }>('{ deleted (false: there was none) }'),
  uses: [BASE],
  body: `
local n = redis.call('HDEL', K.schedules, id)
redis.call('HDEL', K.scheduleStates, id)
redis.call('ZREM', K.schedulesDue, id)
return cjson.encode({ deleted = n == 1 })
`,
});

export const DUE_SCHEDULES = defineScript({
  name: 'dueSchedules',
  summary: `
Read the schedules due now (nextRunAt <= now), earliest first, at most \`limit\`, with their definitions
and states, and when the first schedule not due now is due. Only reads.`,
  keys: {
    schedules: 'read',
    scheduleStates: 'read',
    schedulesDue: 'read',
  },
  args: {
    clock: ARGS.clock,
    limit: { kind: 'number', doc: 'most schedules answered' },
  },
  result: returns<{ now: number; due: Array<[string, string | false, string | false]>; next?: number }>(
    '{ now, due = [[id, definition JSON or false, state JSON or false], ...], next? (epoch ms of the first not due) }',
  ),
  uses: [BASE],
  readOnly: true,
  body: `
local now = serverNow(clock)
local ids = redis.call('ZRANGE', K.schedulesDue, '-inf', num(now), 'BYSCORE', 'LIMIT', 0, limit)
local due = {}
if #ids > 0 then
  local defs = redis.call('HMGET', K.schedules, unpack(ids))
  local states = redis.call('HMGET', K.scheduleStates, unpack(ids))
  for i, id in ipairs(ids) do due[i] = { id, defs[i], states[i] } end
end
local after = redis.call('ZRANGE', K.schedulesDue, '(' .. num(now), '+inf', 'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES')
return cjson.encode({ now = now, due = due, next = after[2] and tonumber(after[2]) or nil })
`,
});

export const READ_SCHEDULES = defineScript({
  name: 'readSchedules',
  summary: `
Read schedules: the ones \`ids\` names, or every one when it is empty. Definitions are answered as
stored (JSON text), so that a job's payload reaches the caller exactly. Only reads.`,
  keys: {
    schedules: 'read',
    scheduleStates: 'read',
  },
  args: {
    ids: { kind: 'json', doc: '[id, ...] (empty: every schedule)' },
  },
  result: returns<{ schedules: Array<[string, string, string]> }>(
    '{ schedules = [[id, definition JSON, state JSON], ...] (the ones that exist) }',
  ),
  uses: [BASE],
  readOnly: true,
  body: `
local out = {}
if #ids > 0 then
  local defs = redis.call('HMGET', K.schedules, unpack(ids))
  local states = redis.call('HMGET', K.scheduleStates, unpack(ids))
  for i, id in ipairs(ids) do
    if defs[i] and states[i] then out[#out + 1] = { id, defs[i], states[i] } end
  end
else
  local defs = redis.call('HGETALL', K.schedules)
  local states = {}
  local all = redis.call('HGETALL', K.scheduleStates)
  for i = 1, #all, 2 do states[all[i]] = all[i + 1] end
  for i = 1, #defs, 2 do
    local st = states[defs[i]]
    if st then out[#out + 1] = { defs[i], defs[i + 1], st } end
  end
end
return cjson.encode({ schedules = out })
`,
});

/** The enqueue script's keys, which the fire script declares too (it runs the enqueue body). */
const ENQUEUE_KEY_ROLES = {
  waiting: 'the fired job joins it when due now',
  waitingSince: 'the fired job joins it when due now',
  delayed: 'the fired job joins it when it has a delay',
  jobs: 'the fired job joins it',
  meta: 'the fired job joins it',
  idempotency: 'the fire key (schedule:<id>:<fire time>) joins it',
  idempotencyExpiry: 'the fire key joins it',
  counters: 'writes enqueued (and seq)',
  worker: 'read',
  kick: 'SET NX PX by the call that kicks',
  due: 'lowered to when the fired job needs a worker',
  touched: 'the queue is scored now when no worker is marked running',
  settings: 'maxWaitMs read; expiring set when the job joins the expiry index',
  expiry: 'the fired job joins it when it expires',
} as const satisfies Record<(typeof ENQUEUE.keys)[number], string>;

export const FIRE_SCHEDULE = defineScript({
  name: 'fireSchedule',
  summary: `
Fire a schedule once: enqueue its job (the enqueue script's rules, in this call; the job's
idempotency key is derived from the schedule id and the fire time) and advance it in the same
call: lastRunAt = fireAt, fires + 1, missed + \`missed\` (the ticks a catch-up fire stands for),
nextRunAt = nextAt (or none). Only a schedule still at revision \`rev\` and due at \`fireAt\` fires:
an overlapping tick, a retried timer or a retried call finds it advanced and answers \`fired\` with
the job of its fire (or \`stale\`: replaced or deleted since it was read), writing nothing. A job that
no longer validates (\`input\` empty, \`invalid\` says why) advances the schedule without a job and keeps
the error in lastError.`,
  keys: {
    ...ENQUEUE_KEY_ROLES,
    scheduleStates: 'the state is advanced',
    schedulesDue: 'scored at nextAt, or the entry removed',
  },
  args: {
    ...ENQUEUE.args,
    id: { kind: 'string', doc: "the schedule's id" },
    rev: { kind: 'number', doc: 'the revision the caller read' },
    fireAt: { kind: 'number', doc: 'the fire time: the nextRunAt the caller read' },
    nextAt: { kind: 'number', doc: 'epoch ms of the fire after this one (0: none: ended)' },
    missed: { kind: 'number', doc: 'ticks this fire stands for besides its own (a catch-up after downtime)' },
    invalid: { kind: 'string', doc: "why the job did not validate ('' when input holds it)" },
  },
  result: returns<{
    status: 'fired' | 'stale';
    again?: boolean;
    jobId?: string;
    deduplicated?: boolean;
    kick?: boolean;
    wakeAt?: number;
  }>("{ status = 'fired' | 'stale', again? (an earlier run fired it), jobId?, deduplicated?, kick?, wakeAt? }"),
  uses: [BASE, WAITING, DUE],
  body: `
local raw = redis.call('HGET', K.scheduleStates, id)
if not raw then return cjson.encode({ status = 'stale' }) end
local s = cjson.decode(raw)
if s.rev ~= rev or s.nextRunAt ~= fireAt then
  if s.rev == rev and s.lastRunAt == fireAt then
    return cjson.encode({ status = 'fired', again = true, jobId = s.lastJobId })
  end
  return cjson.encode({ status = 'stale' })
end
local out = { status = 'fired', kick = false }
if #input > 0 then
  -- the enqueue script's body, run here so that the job and the schedule's advance are one write
  local e = cjson.decode((function()
${ENQUEUE_BODY.trim()}
  end)())
  local j = e.jobs and e.jobs[1]
  if j then
    out.jobId = j.id
    out.deduplicated = j.deduplicated
  elseif e.conflicts and e.conflicts[1] then
    -- the fire key names another live job: this fire's job exists already
    out.jobId = e.conflicts[1].id
    out.deduplicated = true
  end
  out.kick = e.kick
  out.wakeAt = e.wakeAt
end
s.lastRunAt = fireAt
s.lastJobId = out.jobId
s.fires = s.fires + 1
s.missed = s.missed + missed
if invalid ~= '' then s.lastError = { message = invalid, at = serverNow(clock) } else s.lastError = nil end
if nextAt > 0 then
  s.nextRunAt = nextAt
  redis.call('ZADD', K.schedulesDue, num(nextAt), id)
else
  s.nextRunAt = nil
  redis.call('ZREM', K.schedulesDue, id)
end
redis.call('HSET', K.scheduleStates, id, cjson.encode(s))
return cjson.encode(out)
`,
});
