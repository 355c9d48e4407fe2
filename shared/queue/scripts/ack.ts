import type { AckStatus } from '../types.js';
import { ARGS, defineScript, luaLibrary, returns } from './define.js';
import { FLOW } from './flow.js';
import { BASE, DEAD, DUE, DUE_FREED, HISTORY, IDEMPOTENCY, WAITING, WORKERS } from './lib.js';

/** The fencing check shared by complete, fail and extend. */
const LEASE_CHECK = luaLibrary(
  'leaseCheck',
  `
-- The meta record of item i (id, token) when the caller still holds its lease; otherwise nil, with
-- res[i] saying why. An id seen before in the same call is stale (it was acknowledged already). A job
-- this very token already acknowledged into one of \`acked\` (a state -> true table; the same call
-- run again) answers ok with where it went, and is left as it is.
local function leased(i, id, token, metas, res, seenIds, acked)
  local m = metas[i]
  if not m then res[i] = { status = 'not_found' } return nil end
  if not seenIds[id] and acked and acked[m.state] and m.ackToken == token then
    seenIds[id] = true
    res[i] = { status = 'ok', state = m.state, runAt = m.runAt }
    return nil
  end
  if seenIds[id] or m.state ~= 'active' or m.leaseToken ~= token then
    res[i] = { status = 'stale', state = m.state }
    return nil
  end
  seenIds[id] = true
  return m
end
`,
);

export const COMPLETE = defineScript({
  name: 'complete',
  summary: `
Complete leased jobs. A stale token (the lease expired and the job moved on, or another worker
holds it) is refused. Safe to run twice: a job this token completed already answers ok, unchanged.
Each completed job records its attempt in its history, and keeps the response snippet it is given.
A completed job's target origin answered: its circuit breaker closes (its field leaves the settings hash).
Retention as jobs complete: each time the completed count passes a multiple of TRIM_EVERY, the call
removes up to (jobs it completed + TRIM_EXTRA) completed jobs older than retentionMs (with the
idempotency keys that name them), so removal keeps up with completion at any rate; what is left
when completions stop is purge's.`,
  keys: {
    active: 'completed jobs leave it',
    completed: 'completed jobs join it; jobs past retention leave it',
    jobs: 'jobs past retention leave it',
    meta: 'jobs past retention leave it',
    idempotency: 'keys of jobs past retention leave it',
    idempotencyExpiry: 'keys of jobs past retention leave it',
    counters: 'writes completed',
    settings: 'the circuit breakers of the origins of completed jobs leave it (closed); read (maxConcurrency, paused)',
    waiting: 'read (jobs a concurrency cap holds)',
    due: 'now when a completed job frees a slot of a concurrency cap that waiting jobs need',
  },
  args: {
    clock: ARGS.clock,
    queue: ARGS.queue,
    retentionMs: { kind: 'number', doc: 'completed jobs kept this long (SPOOL_COMPLETED_RETENTION_MS)' },
    items: {
      kind: 'json',
      doc: '[[id, token, attempt?], ...]; attempt: { agoMs?, ranMs?, status?, requestId?, response? }',
    },
  },
  result: returns<{ results: Array<{ status: AckStatus; state?: string }>; trimmed: number }>(
    '{ results = [{ status = ok|stale|not_found, state? }, ...] in the order of items, trimmed (jobs past retention removed) }',
  ),
  uses: [BASE, IDEMPOTENCY, DUE_FREED, HISTORY, LEASE_CHECK],
  body: `
local now = serverNow(clock)
local ids = {}
for i, it in ipairs(items) do ids[i] = it[1] end
local metas = readMetas(K.meta, ids)
local w = newWrites()
local res, seenIds, done, z = {}, {}, {}, {}
local closed, seenOrigin = {}, {}
for i, it in ipairs(items) do
  local m = leased(i, it[1], it[2], metas, res, seenIds, { completed = true })
  if m and m.origin and not seenOrigin[m.origin] then
    seenOrigin[m.origin] = true
    closed[#closed + 1] = 'breaker:' .. m.origin
  end
  if m then
    local r = it[3] or {}
    recordAttempt(m, now, 'completed', 'completed', r)
    if type(r.response) == 'table' then m.response = r.response end
    m.state = 'completed'
    m.ackToken = m.leaseToken
    m.completedAt = now
    m.updatedAt = now
    m.leaseToken = nil
    m.leaseUntil = nil
    putMeta(w, it[1], m)
    done[#done + 1] = it[1]
    z[#z + 1] = num(now)
    z[#z + 1] = it[1]
    res[i] = { status = 'ok', state = 'completed' }
  end
end
local trimmed = 0
if #done > 0 then
  bulk('HDEL', K.settings, closed)
  bulk('ZREM', K.active, done)
  bulk('ZADD', K.completed, z)
  writeMetas(K.meta, w)
  local total = redis.call('HINCRBY', K.counters, 'completed', #done)
  dueFreed(K.due, K.settings, K.waiting, queue, now)
  -- Every TRIM_EVERY completions, up to #done + TRIM_EXTRA past retention leave (more than came in).
  local TRIM_EVERY, TRIM_EXTRA = 50, 100
  if math.floor(total / TRIM_EVERY) ~= math.floor((total - #done) / TRIM_EVERY) then
    local old = redis.call('ZRANGEBYSCORE', K.completed, '-inf', '(' .. num(now - retentionMs), 'LIMIT', 0,
      #done + TRIM_EXTRA)
    if #old > 0 then
      forgetKeys(K.idempotency, K.idempotencyExpiry, old, readMetas(K.meta, old))
      bulk('ZREM', K.completed, old)
      bulk('HDEL', K.jobs, old)
      bulk('HDEL', K.meta, old)
      trimmed = #old
    end
  end
end
return cjson.encode({ results = res, trimmed = trimmed })
`,
});

export const FAIL = defineScript({
  name: 'fail',
  summary: `
Fail leased jobs. Retryable with attempts left: delayed by exponential backoff with full jitter
(delay = min(max, base * 2^(attempt-1)) * jitter), at least the carried Retry-After, capped at the
policy's max. Otherwise dead with the failure story. A stale token is refused. Safe to run twice: a
job this token failed already answers ok with where it went (delayed, runAt; or dead), unchanged.
Each failed job records its attempt in its history (with \`short\`, the message cut for it).
Retries make the queue due by the first of them; wakeAt: that run-at when it is sooner than the
queue's first delayed job was (arm the queue's timer for it).
Circuit breakers (flow library): an item's \`breaker\` says what the failure tells of its job's target
origin: 'trip' (5xx, 429, a timeout, a connection error) counts toward opening its breaker, 'ok' (the
target answered: the failure is the job's) closes it; the settings hash is read only then.`,
  keys: {
    active: 'failed jobs leave it',
    delayed: 'retried jobs join it',
    dead: 'jobs failed for good join it',
    deadFingerprints: '',
    deadIndex: '',
    jobs: 'dead jobs the cap trims leave it',
    meta: '',
    idempotency: 'keys of dead jobs the cap trims leave it',
    idempotencyExpiry: 'keys of dead jobs the cap trims leave it',
    counters: 'writes failed, retried, dead, deadTrimmed',
    due: 'lowered to the first retry; now when a failed job frees a slot of a concurrency cap that waiting jobs need',
    settings: "read (circuitBreaker, maxConcurrency, paused); the breakers of the failed jobs' origins are written",
    waiting: 'read (jobs a concurrency cap holds)',
  },
  args: {
    clock: ARGS.clock,
    deadCap: ARGS.deadCap,
    queue: ARGS.queue,
    items: {
      kind: 'json',
      doc: '[{ id, token, message, class, fingerprint, retryable, retryAfterMs?, requestId?, jitter, short, agoMs?, ranMs?, status?, breaker? (trip or ok) }, ...]',
    },
  },
  result: returns<{ results: Array<{ status: AckStatus; state?: string; runAt?: number }>; wakeAt?: number }>(
    '{ results = [{ status = ok|stale|not_found, state = delayed|dead (or the state of a stale job), runAt? }, ...], wakeAt? }',
  ),
  uses: [BASE, DEAD, DUE, DUE_FREED, HISTORY, LEASE_CHECK, FLOW],
  body: `
local now = serverNow(clock)
local ids = {}
for i, it in ipairs(items) do ids[i] = it.id end
-- What the failures tell the circuit breakers of their origins: [origin, 'trip' or 'ok', status, retryAfterMs].
local told = {}
local metas = readMetas(K.meta, ids)
local w = newWrites()
local res, seenIds, gone, delayed = {}, {}, {}, {}
local retried = 0
local earliest = nil
for i, it in ipairs(items) do
  local m = leased(i, it.id, it.token, metas, res, seenIds, { delayed = true, dead = true })
  if m then
    if m.origin and it.breaker then told[#told + 1] = { m.origin, it.breaker, it.status, it.retryAfterMs } end
    m.ackToken = m.leaseToken
    m.error = { message = it.message, class = it.class, fingerprint = it.fingerprint, requestId = it.requestId,
      at = now, attempt = m.attempts, retryable = it.retryable }
    m.firstFailedAt = m.firstFailedAt or now
    m.lastFailedAt = now
    m.updatedAt = now
    m.leaseToken = nil
    m.leaseUntil = nil
    gone[#gone + 1] = it.id
    local retry = it.retryable and m.attempts < m.maxAttempts
    recordAttempt(m, now, 'failed', retry and 'delayed' or 'dead', { agoMs = it.agoMs, ranMs = it.ranMs,
      status = it.status, class = it.class, message = it.short, requestId = it.requestId })
    if retry then
      local b = m.backoff
      local d = b.baseMs
      if b.type ~= 'fixed' then
        local e = b.baseMs * math.pow(2, m.attempts - 1)
        if e > b.maxMs then e = b.maxMs end
        d = math.floor(e * it.jitter)
      end
      if it.retryAfterMs and it.retryAfterMs > d then d = it.retryAfterMs end
      if d > b.maxMs then d = b.maxMs end
      m.state = 'delayed'
      m.runAt = now + d
      putMeta(w, it.id, m)
      delayed[#delayed + 1] = num(m.runAt)
      delayed[#delayed + 1] = it.id
      if not earliest or m.runAt < earliest then earliest = m.runAt end
      retried = retried + 1
      res[i] = { status = 'ok', state = 'delayed', runAt = m.runAt }
    else
      toDead(w, it.id, m, now)
      res[i] = { status = 'ok', state = 'dead' }
    end
  end
end
local wakeAt = nil
if #gone > 0 then
  if earliest then
    wakeAt = wakeOf(K.delayed, earliest)
    dueBy(K.due, queue, earliest)
  end
  bulk('ZREM', K.active, gone)
  bulk('ZADD', K.delayed, delayed)
  writeMetas(K.meta, w)
  redis.call('HINCRBY', K.counters, 'failed', #gone)
  if retried > 0 then redis.call('HINCRBY', K.counters, 'retried', retried) end
  dueFreed(K.due, K.settings, K.waiting, queue, now)
  writeDead(K.dead, K.deadFingerprints, K.deadIndex, K.jobs, K.meta, K.idempotency, K.idempotencyExpiry, K.counters, w, now,
    deadCap)
end
if #told > 0 then
  local breakers = breakerSettings(readSettings(K.settings))
  if breakers then
    local changed = {}
    for _, t in ipairs(told) do
      if t[2] == 'trip' then breakerTrip(breakers, changed, t[1], now, t[3], t[4])
      else breakerClose(breakers, changed, t[1]) end
    end
    breakersWrite(K.settings, changed)
  end
end
return cjson.encode({ results = res, wakeAt = wakeAt })
`,
});

export const EXTEND = defineScript({
  name: 'extend',
  summary: `
Heartbeat: extend leases (never shortened, capped by leaseForMax). A stale token is refused. Also
the calling worker's heartbeat in the active workers (worker): its entry written, or removed when
it is gone (the end of its time); items may then be empty.`,
  keys: {
    active: 'extended leases move later',
    meta: '',
    workers: "the calling worker's entry (and lapsed ones leave it)",
    workersInfo: "the calling worker's entry (and lapsed ones leave it)",
  },
  args: {
    clock: ARGS.clock,
    leaseForMax: ARGS.leaseForMax,
    items: { kind: 'json', doc: '[[id, token, leaseMs], ...]' },
    worker: ARGS.worker,
  },
  result: returns<{ results: Array<{ status: AckStatus; state?: string; leaseUntil?: number }> }>(
    '{ results = [{ status = ok|stale|not_found, leaseUntil? (ok), state? (stale) }, ...] }',
  ),
  uses: [BASE, LEASE_CHECK, WORKERS],
  body: `
local now = serverNow(clock)
local ids = {}
for i, it in ipairs(items) do ids[i] = it[1] end
local metas = readMetas(K.meta, ids)
local w = newWrites()
local res, seenIds, z = {}, {}, {}
for i, it in ipairs(items) do
  local m = leased(i, it[1], it[2], metas, res, seenIds)
  if m then
    local lu = now + it[3]
    if leaseForMax > 0 and lu > now + leaseForMax then lu = now + leaseForMax end
    if lu < m.leaseUntil then lu = m.leaseUntil end
    m.leaseUntil = lu
    m.updatedAt = now
    putMeta(w, it[1], m)
    z[#z + 1] = num(lu)
    z[#z + 1] = it[1]
    res[i] = { status = 'ok', leaseUntil = lu }
  end
end
if #z > 0 then
  bulk('ZADD', K.active, z)
  writeMetas(K.meta, w)
end
workerBeat(K.workers, K.workersInfo, worker, now, 0)
return cjson.encode({ results = res })
`,
});

export const RELEASE = defineScript({
  name: 'release',
  summary: `
Give leased jobs back: each goes back to waiting (by its priority) with the attempt its lease took
refunded, as if never leased; a worker leaving before it ran them (the end of its invocation) calls
it. A stale token is refused. Safe to run twice: a job this token released already (still waiting)
answers ok, unchanged. A release makes the queue due now.`,
  keys: {
    active: 'released jobs leave it',
    waiting: 'released jobs join it',
    waitingSince: 'released jobs join it',
    meta: '',
    counters: 'writes seq (the waiting order)',
    due: 'the queue is due now when jobs are released',
  },
  args: {
    clock: ARGS.clock,
    items: { kind: 'json', doc: '[[id, token], ...]' },
    queue: ARGS.queue,
  },
  result: returns<{ results: Array<{ status: AckStatus; state?: string }> }>(
    '{ results = [{ status = ok|stale|not_found, state? }, ...] } in the order of items',
  ),
  uses: [BASE, WAITING, DUE, LEASE_CHECK],
  body: `
local now = serverNow(clock)
local ids = {}
for i, it in ipairs(items) do ids[i] = it[1] end
local metas = readMetas(K.meta, ids)
local w = newWrites()
local res, seenIds, gone = {}, {}, {}
for i, it in ipairs(items) do
  local m = leased(i, it[1], it[2], metas, res, seenIds, { waiting = true })
  if m then
    m.ackToken = m.leaseToken
    if m.attempts > 0 then m.attempts = m.attempts - 1 end
    m.updatedAt = now
    toWaiting(w, it[1], m, m.leasedAt or now)
    gone[#gone + 1] = it[1]
    res[i] = { status = 'ok', state = 'waiting' }
  end
end
if #gone > 0 then
  bulk('ZREM', K.active, gone)
  writeMetas(K.meta, w)
  writeWaiting(K.waiting, K.waitingSince, K.counters, w)
  dueBy(K.due, queue, now)
end
return cjson.encode({ results = res })
`,
});
