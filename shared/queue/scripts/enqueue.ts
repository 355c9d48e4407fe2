import type { JobState } from '../types.js';
import { ARGS, defineScript, returns } from './define.js';
import { BASE, DUE, WAITING } from './lib.js';

/**
 * The enqueue script's body, also carried whole by the fire script (scripts/schedules.ts), which
 * enqueues a schedule's job with the same rules in the same call.
 */
export const ENQUEUE_BODY = `
local now = serverNow(clock)
-- The live jobs the input's idempotency keys name inside their windows: key -> { id, spec, state }.
local held = {}
local keyList, listed = {}, {}
for _, j in ipairs(input) do
  if j[4] and j[4] > 0 then j[3].runAt = now + j[4] end
  local k = j[3].idem
  if k and not listed[k] then
    listed[k] = true
    keyList[#keyList + 1] = k
  end
end
if #keyList > 0 then
  local named, namedKeys = {}, {}
  local ids = redis.call('HMGET', K.idempotency, unpack(keyList))
  for i, id in ipairs(keyList) do
    if ids[i] then
      named[#named + 1] = ids[i]
      namedKeys[#namedKeys + 1] = id
    end
  end
  if #named > 0 then
    local ends = redis.call('ZMSCORE', K.idempotencyExpiry, unpack(namedKeys))
    local metas = readMetas(K.meta, named)
    local specs = redis.call('HMGET', K.jobs, unpack(named))
    for i, id in ipairs(named) do
      local m, until_ = metas[i], ends[i] and tonumber(ends[i])
      if m and specs[i] and until_ and until_ > now then held[namedKeys[i]] = { id = id, spec = specs[i], state = m.state } end
    end
  end
end

local maxWait = tonumber(redis.call('HGET', K.settings, 'maxWaitMs'))
local out, fresh, conflicts, seen = {}, {}, {}, {}
for i, j in ipairs(input) do
  local id, spec, m = j[1], j[2], j[3]
  local h = m.idem and (seen[m.idem] or held[m.idem])
  if h and h.id == id then
    -- this very job, written by an earlier run of this call
    out[i] = { id = id, deduplicated = false, state = h.state }
    seen[m.idem] = h
  elseif h then
    if h.spec == spec then out[i] = { id = h.id, deduplicated = true, state = h.state }
    else conflicts[#conflicts + 1] = { index = i - 1, id = h.new and cjson.null or h.id } end
  else
    fresh[#fresh + 1] = i
    if m.idem then
      seen[m.idem] = { id = id, spec = spec, new = true, state = (m.runAt and m.runAt > now) and 'delayed' or 'waiting' }
    end
  end
end
if #conflicts > 0 then return cjson.encode({ jobs = {}, conflicts = conflicts, kick = false }) end

-- HSET answers how many fields are new: fewer than the jobs means an earlier run of this call wrote
-- some (same ids, same specs); those are read and left as they are.
local specs = {}
for _, i in ipairs(fresh) do
  specs[#specs + 1] = input[i][1]
  specs[#specs + 1] = input[i][2]
end
local added = 0
chunked(#specs, function(a, b) added = added + redis.call('HSET', K.jobs, unpack(specs, a, b)) end)
local existing = {}
if added < #fresh then
  local ids = {}
  for x, i in ipairs(fresh) do ids[x] = input[i][1] end
  local metas = readMetas(K.meta, ids)
  for x, i in ipairs(fresh) do
    if metas[x] then existing[i] = metas[x].state end
  end
end

local w = newWrites()
local delayed, idems, idexp, expiring = {}, {}, {}, {}
local created, waiting = 0, 0
local earliest = nil
for _, i in ipairs(fresh) do
  local id, m = input[i][1], input[i][3]
  if existing[i] then
    out[i] = { id = id, deduplicated = false, state = existing[i] }
  else
    created = created + 1
    m.createdAt = now
    m.updatedAt = now
    m.attempts = 0
    local ex = m.expiresAt
    if m.expireAfterMs and (not ex or now + m.expireAfterMs < ex) then ex = now + m.expireAfterMs end
    if maxWait and (not ex or now + maxWait < ex) then ex = now + maxWait end
    m.expireAfterMs = nil
    m.expiresAt = ex
    if ex then
      expiring[#expiring + 1] = num(ex)
      expiring[#expiring + 1] = id
    end
    if m.runAt and m.runAt > now then
      m.state = 'delayed'
      putMeta(w, id, m)
      delayed[#delayed + 1] = num(m.runAt)
      delayed[#delayed + 1] = id
      if not earliest or m.runAt < earliest then earliest = m.runAt end
    else
      waiting = waiting + 1
      toWaiting(w, id, m, now)
    end
    if m.idem then
      idems[#idems + 1] = m.idem
      idems[#idems + 1] = id
      idexp[#idexp + 1] = num(now + window)
      idexp[#idexp + 1] = m.idem
    end
    out[i] = { id = id, deduplicated = false, state = m.state }
  end
end
local wakeAt = nil
-- A worker marked running: its lease keeps the queue due now (see lease), and an enqueue that found
-- no worker scored the queue in touched; this call writes neither.
local marked = false
if debounce > 0 and waiting > 0 then marked = redis.call('EXISTS', K.worker) == 1 end
if created > 0 then
  wakeAt = wakeOf(K.delayed, earliest)
  if waiting == 0 then dueBy(K.due, queue, earliest) elseif not marked then dueBy(K.due, queue, now) end
  writeMetas(K.meta, w)
  writeWaiting(K.waiting, K.waitingSince, K.counters, w)
  bulk('ZADD', K.delayed, delayed)
  bulk('HSET', K.idempotency, idems)
  bulk('ZADD', K.idempotencyExpiry, idexp)
  redis.call('HINCRBY', K.counters, 'enqueued', created)
  if #expiring > 0 then
    bulk('ZADD', K.expiry, expiring)
    redis.call('HSET', K.settings, 'expiring', '1')
  end
end
local kick = false
if debounce > 0 and waiting > 0 and not marked then
  kick = redis.call('SET', K.kick, '1', 'NX', 'PX', debounce) ~= false
end
if created > 0 and not marked then redis.call('ZADD', K.touched, num(now), queue) end
return cjson.encode({ jobs = out, kick = kick, wakeAt = wakeAt })
`;

export const ENQUEUE = defineScript({
  name: 'enqueue',
  summary: `
Enqueue jobs. A job whose idempotency key names a live job inside the key's window is a duplicate:
it answers that job's id and state and writes nothing; with another spec (payload, target or
handler) it is a conflict, and then nothing of the call is written. A key whose job is gone is
absent. Safe to run twice: a job whose id exists already (a retried call) is not written again and
answers its state. Kick: true when new waiting work exists, no worker is marked running, and this
call won the debounce. A call that creates jobs makes the queue due (now for waiting jobs, unless a
worker is marked running, whose lease keeps it due now; else its first new run-at) and scores it in touched unless a worker is marked running (that worker was
started by an enqueue that scored it: a stream on one worker writes touched once); wakeAt: the earliest new run-at when it is sooner than the
queue's first delayed job was (arm the queue's timer for it).
Expiry: a new job's expiresAt is the earliest of its own (expiresAt, or expireAfterMs from now) and
now + the queue's maxWaitMs (settings); such a job joins the expiry index (and the settings hash
says \`expiring\`, so leases look at the index).`,
  keys: {
    waiting: 'new jobs due now join it',
    waitingSince: 'new jobs due now join it',
    delayed: 'new jobs due later join it',
    jobs: 'new jobs join it (and the specs of jobs keys name are read)',
    meta: 'new jobs join it (and jobs keys name are read)',
    idempotency: 'read, and new keys join it',
    idempotencyExpiry: 'read, and new keys join it',
    counters: 'writes enqueued (and seq)',
    worker: 'read',
    kick: 'SET NX PX by the call that kicks',
    due: 'lowered to when the new jobs need a worker (not for waiting jobs while a worker is marked running)',
    touched: 'the queue is scored now when jobs are created and no worker is marked running',
    settings: 'maxWaitMs read; expiring set when a job joins the expiry index',
    expiry: 'new jobs that expire join it',
  },
  args: {
    clock: ARGS.clock,
    window: { kind: 'number', doc: 'idempotency window ms' },
    debounce: { kind: 'number', doc: 'kick debounce ms (0: never kick)' },
    input: { kind: 'json', doc: '[[id, specJson, meta, delayMs?], ...] (due at now + delayMs when given)' },
    queue: ARGS.queue,
  },
  result: returns<{
    jobs: Array<{ id: string; deduplicated: boolean; state: JobState }>;
    conflicts?: Array<{ index: number; id?: string | null }>;
    kick: boolean;
    wakeAt?: number;
  }>(
    '{ jobs = [{ id, deduplicated, state }, ...] in the order of input, conflicts? = [{ index (0-based), id? }, ...] (then nothing was written), kick, wakeAt? }',
  ),
  uses: [BASE, WAITING, DUE],
  body: ENQUEUE_BODY,
});
