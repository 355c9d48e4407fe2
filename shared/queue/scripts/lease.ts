import { ARGS, defineScript, luaLibrary, REQUEST_KEY, returns } from './define.js';
import { EXPIRY, FLOW } from './flow.js';
import { BASE, DEAD, DUE, HISTORY, WAITING, WORKERS } from './lib.js';

/** What lease does before leasing: due delayed jobs to waiting, expired leases to waiting or dead. */
const RECLAIM = luaLibrary(
  'reclaim',
  `
-- Queue the move to waiting of up to \`limit\` delayed jobs due by \`now\` (waiting since their run-at)
-- and take them out of delayedKey. Returns how many.
local function promoteDue(delayedKey, metaKey, w, now, limit)
  local due = redis.call('ZRANGEBYSCORE', delayedKey, '-inf', now, 'LIMIT', 0, limit)
  if #due == 0 then return 0 end
  local metas = readMetas(metaKey, due)
  local promoted = 0
  for i, id in ipairs(due) do
    local m = metas[i]
    if m then
      m.updatedAt = now
      toWaiting(w, id, m, m.runAt or now)
      promoted = promoted + 1
    end
  end
  bulk('ZREM', delayedKey, due)
  return promoted
end

-- Up to \`limit\` active jobs whose lease expired by \`now\`: each fails with LeaseExpired and is queued
-- back to waiting, or to dead when its attempts are spent; they leave activeKey. The ones back to
-- waiting are counted in leaseExpired. Returns how many went back to waiting, and how many to dead.
local function expireLeases(activeKey, metaKey, countersKey, w, now, limit)
  local expired = redis.call('ZRANGEBYSCORE', activeKey, '-inf', now, 'LIMIT', 0, limit)
  if #expired == 0 then return 0, 0 end
  local metas = readMetas(metaKey, expired)
  local toWaitingCount, toDeadCount = 0, 0
  for i, id in ipairs(expired) do
    local m = metas[i]
    if m then
      local spent = m.attempts >= m.maxAttempts
      m.error = { message = 'lease expired: the worker neither completed nor failed the job before ' .. num(m.leaseUntil or now),
        class = 'LeaseExpired', fingerprint = 'lease-expired', at = now, attempt = m.attempts, retryable = not spent }
      m.firstFailedAt = m.firstFailedAt or now
      m.lastFailedAt = now
      m.updatedAt = now
      -- The attempt ended when its lease did.
      recordAttempt(m, now, 'leaseExpired', spent and 'dead' or 'waiting', { agoMs = now - (m.leaseUntil or now),
        class = 'LeaseExpired', message = 'the worker neither completed nor failed the job before its lease expired' })
      if spent then
        toDead(w, id, m, now)
        toDeadCount = toDeadCount + 1
      else
        toWaiting(w, id, m, now)
        toWaitingCount = toWaitingCount + 1
      end
    end
  end
  bulk('ZREM', activeKey, expired)
  if toWaitingCount > 0 then redis.call('HINCRBY', countersKey, 'leaseExpired', toWaitingCount) end
  return toWaitingCount, toDeadCount
end
`,
  [BASE, WAITING, DEAD, HISTORY],
);

export const LEASE = defineScript({
  name: 'lease',
  summary: `
Lease up to \`count\` jobs by priority, after promoting due delayed jobs and reclaiming expired
leases. Each leased job: attempts + 1, lease deadline max(leaseMs, timeoutMs + grace) capped by
leaseForMax, and a fencing token. With fitCapMs, a job whose timeoutMs + grace exceeds leaseForMax
is not leased (it stays waiting; counted in unfit), unless it exceeds fitCapMs too: no worker's
time would fit it, and it is leased capped, as without. With count 0 it only promotes and reclaims.
The worker mark: set while jobs are leased, or while the worker stays (keepMark); a lease that
leases nothing without keepMark clears it with the kick debounce (the worker is leaving: the next
enqueue kicks a new one). Safe to run twice:
the first run keeps the ids and tokens it leased under the request nonce, and a run that finds them
answers those jobs (the ones still held under those tokens) and changes nothing. Every run but a
repeat sets the queue's due time: now while a worker is marked running; else exactly (now when jobs
are left waiting, else its next run-at or lease deadline; no entry when neither).
Flow control (the settings hash, flow library): paused, maxConcurrency and rateLimit cap the jobs
leased; waiting jobs they hold back are answered in held (what held them) and heldUntil (when the
rate limit lets the next start), and make the queue due then rather than now (a paused queue: not
at all by its waiting jobs). A worker leaving a paused queue keeps the kick debounce for a minute.
Circuit breakers (per target origin, in the settings hash): a job whose origin's breaker is open
goes to delayed until it half-opens (no attempt spent; at most DEFER_SCAN such jobs a call); once
the cool-down is over one job is leased as the probe (half-open) and the others wait for its lease.
The calling worker's entry of the active workers (worker): written with the jobs it holds (those
leased now included), removed when this lease clears the worker mark (it leaves).
Expiry: a job it meets past its expiresAt goes dead (Expired) instead of being leased; when the
queue has expiring jobs (settings: expiring), the expiry index's due entries are handled (at most
scanLimit) and its first one makes the queue due by then.`,
  keys: {
    waiting: 'leased jobs leave it, promoted and reclaimed ones join it',
    waitingSince: 'leased jobs leave it, promoted and reclaimed ones join it',
    delayed: "due jobs leave it; jobs whose target's circuit breaker is open join it (until it half-opens)",
    active: 'leased jobs join it, jobs whose lease expired leave it',
    dead: 'jobs whose lease expired with their attempts spent join it',
    deadFingerprints: '',
    deadIndex: '',
    jobs: 'read (and dead jobs the cap trims leave it)',
    meta: '',
    idempotency: 'keys of dead jobs the cap trims leave it',
    idempotencyExpiry: 'keys of dead jobs the cap trims leave it',
    counters: 'writes leaseExpired, dead, deadTrimmed (and seq, fence)',
    worker: 'set while jobs are leased, cleared when none are left',
    kick: 'cleared with the worker mark',
    request: REQUEST_KEY,
    due: "now while a worker is marked running, else set to the queue's exact due time",
    settings: 'read (flow control); the breaker of an origin whose probe it leases (half-open)',
    rate: 'the leases made join it (with a rate limit); those older than its period leave it',
    workers: "the calling worker's entry (and lapsed ones leave it)",
    workersInfo: "the calling worker's entry (and lapsed ones leave it)",
    expiry: 'read (when the settings say expiring): entries due leave it',
  },
  args: {
    clock: ARGS.clock,
    count: { kind: 'number', doc: 'jobs to lease at most (0: only promote and reclaim)' },
    leaseMs: { kind: 'number', doc: 'minimum lease ms' },
    leaseForMax: ARGS.leaseForMax,
    graceMs: { kind: 'number', doc: "added to a job's timeout to make its lease" },
    workerMarkMs: { kind: 'number', doc: 'mark a worker running this long (0: leave the mark alone)' },
    keepMark: { kind: 'flag', doc: 'the worker stays: keep the mark (and the debounce) even when nothing is leased' },
    fitCapMs: {
      kind: 'number',
      doc: 'leave waiting a job whose timeout + grace exceeds leaseForMax but not this (0: lease every job)',
    },
    deadCap: ARGS.deadCap,
    scanLimit: { kind: 'number', doc: 'due delayed jobs and expired leases handled at most, each' },
    requestTtlMs: ARGS.requestTtlMs,
    requestId: { kind: 'string', doc: "the leasing worker's request id, kept as the job's leasedBy ('' for none)" },
    worker: ARGS.worker,
    queue: ARGS.queue,
  },
  result: returns<{
    now: number;
    jobs: Array<{ id: string; spec: string; meta: string }>;
    waiting: number;
    nextRunAt?: string;
    promoted: number;
    leaseExpired: number;
    leaseExpiredDead: number;
    workerRunning: boolean;
    unfit: number;
    held: '' | 'paused' | 'concurrency' | 'rate';
    heldUntil?: number;
    deferred: number;
    expired: number;
  }>(
    "{ now, jobs = [{ id, spec, meta }, ...], waiting (left), nextRunAt?, promoted, leaseExpired, leaseExpiredDead, workerRunning, unfit (left waiting: too long for leaseForMax), held ('' or what held waiting jobs back: paused, concurrency, rate), heldUntil?, deferred (jobs moved to delayed: their target's breaker is open), expired (jobs dead: Expired) }",
  ),
  uses: [BASE, WAITING, DEAD, HISTORY, RECLAIM, DUE, FLOW, WORKERS, EXPIRY],
  body: `
local now = serverNow(clock)

-- The answer: the jobs leased and the reclaim's counts, with what is left; \`exact\`: set the queue's
-- due time from what is left.
-- marked: whether the worker mark is set, when this call just set or cleared it (else it is read).
-- \`held\`, \`heldUntil\`: what flow control held back (the due time then comes from dueHeld).
-- \`expiring\`: the queue has jobs that expire (its first expiry makes it due by then).
local function answer(jobs, promoted, leaseExpired, leaseExpiredDead, unfit, exact, marked, held, heldUntil, deferred,
    expiring, expired)
  local waiting = redis.call('ZCARD', K.waiting)
  local nextRunAt = redis.call('ZRANGE', K.delayed, 0, 0, 'WITHSCORES')[2]
  if waiting == 0 then held, heldUntil = '', nil end
  if marked == nil then marked = redis.call('EXISTS', K.worker) == 1 end
  -- A worker marked running keeps its queue due now: an enqueue meanwhile writes no due time (see
  -- enqueue), and should the worker die, the schedule finds the queue when its mark expires.
  if exact and held ~= '' then dueHeld(K.due, K.active, queue, heldUntil, nextRunAt)
  elseif exact and marked then dueBy(K.due, queue, now)
  elseif exact then dueExact(K.due, K.active, queue, now, waiting, nextRunAt) end
  if exact and expiring then
    local first = redis.call('ZRANGE', K.expiry, 0, 0, 'WITHSCORES')[2]
    if first then dueBy(K.due, queue, tonumber(first)) end
  end
  return cjson.encode({ now = now, jobs = jobs, waiting = waiting, nextRunAt = nextRunAt, promoted = promoted,
    leaseExpired = leaseExpired, leaseExpiredDead = leaseExpiredDead, workerRunning = marked, unfit = unfit,
    held = held, heldUntil = heldUntil, deferred = deferred or 0, expired = expired or 0 })
end

local earlier = requestTtlMs > 0 and redis.call('GET', K.request)
if earlier then
  -- This call ran before (its reply was lost): the jobs it leased that are still held under its tokens.
  local e = cjson.decode(earlier)
  local jobs = {}
  if #e.ids > 0 then
    local metas = readMetas(K.meta, e.ids)
    local specs = redis.call('HMGET', K.jobs, unpack(e.ids))
    for i, id in ipairs(e.ids) do
      local m = metas[i]
      if m and specs[i] and m.state == 'active' and m.leaseToken == e.tokens[i] then
        jobs[#jobs + 1] = { id = id, spec = specs[i], meta = cjson.encode(m) }
      end
    end
  end
  return answer(jobs, e.promoted, e.leaseExpired, e.leaseExpiredDead, e.unfit or 0, false, nil, '', nil)
end

local w = newWrites()
local promoted = promoteDue(K.delayed, K.meta, w, now, scanLimit)
local leaseExpired, leaseExpiredDead = expireLeases(K.active, K.meta, K.counters, w, now, scanLimit)
writeMetas(K.meta, w)
writeWaiting(K.waiting, K.waitingSince, K.counters, w)
writeDead(K.dead, K.deadFingerprints, K.deadIndex, K.jobs, K.meta, K.idempotency, K.idempotencyExpiry, K.counters, w, now,
  deadCap)

-- Flow control: how many may start (asked for one at least, so that a reclaim knows what is held).
local settings = readSettings(K.settings)
-- Expiry: jobs of the index due by now that are still waiting or delayed go dead (Expired).
local expiring = settings.expiring == '1'
local expired = 0
if expiring then
  expired = expireDue(K.expiry, K.waiting, K.waitingSince, K.delayed, K.meta, w, now, scanLimit)
  writeDead(K.dead, K.deadFingerprints, K.deadIndex, K.jobs, K.meta, K.idempotency, K.idempotencyExpiry, K.counters, w,
    now, deadCap)
end
local allowed, held, heldUntil = flowAllows(settings, K.active, K.rate, now, math.max(count, 1))
if allowed > count then allowed = count end

local jobs, leasedIds, tokens = {}, {}, {}
local unfit = 0
-- Jobs whose target's circuit breaker is open go to delayed until it half-opens, spending no attempt;
-- at most DEFER_SCAN of them a call beyond what it leases (bounded work, however many wait).
local DEFER_SCAN = 100
local breakers = breakerSettings(settings)
local changed = {}
local deferred = 0
local deferredAt = {}
local looked, offset = 0, 0
while #jobs < allowed and looked < allowed + DEFER_SCAN do
  local want = allowed - #jobs
  local batch = math.min(math.max(want, 20), allowed + DEFER_SCAN - looked)
  local ids = redis.call('ZRANGE', K.waiting, offset, offset + batch - 1)
  if #ids == 0 then break end
  looked = looked + #ids
  local metas = readMetas(K.meta, ids)
  local specs = redis.call('HMGET', K.jobs, unpack(ids))
  local fence = redis.call('HINCRBY', K.counters, 'fence', #ids)
  local act, taken = {}, {}
  local unfitHere = 0
  for i, id in ipairs(ids) do
    if #jobs >= allowed then break end
    local m = metas[i]
    local gate = 'lease'
    if m and specs[i] and m.origin then gate = breakerGate(breakers, changed, m.origin, now) end
    local need = m and (m.timeoutMs or 0) + graceMs
    if m and specs[i] and isExpired(m, now) then
      expire(w, id, m, now)
      expired = expired + 1
    elseif m and specs[i] and fitCapMs > 0 and leaseForMax > 0 and need > leaseForMax and need <= fitCapMs then
      unfitHere = unfitHere + 1
    elseif m and specs[i] and type(gate) == 'number' then
      m.state = 'delayed'
      m.runAt = gate
      m.updatedAt = now
      putMeta(w, id, m)
      deferredAt[#deferredAt + 1] = num(gate)
      deferredAt[#deferredAt + 1] = id
      deferred = deferred + 1
    elseif m and specs[i] then
      m.attempts = m.attempts + 1
      m.state = 'active'
      m.updatedAt = now
      m.leasedAt = now
      if requestId ~= '' then m.leasedBy = requestId else m.leasedBy = nil end
      local lu = now + math.max(leaseMs, (m.timeoutMs or 0) + graceMs)
      if leaseForMax > 0 and lu > now + leaseForMax then lu = now + leaseForMax end
      m.leaseUntil = lu
      m.leaseToken = num(fence - #ids + i)
      -- A new lease: the ack that put the job where it was no longer says where it is.
      m.ackToken = nil
      if gate == 'probe' then breakerProbe(breakers, changed, m.origin, lu) end
      putMeta(w, id, m)
      act[#act + 1] = num(lu)
      act[#act + 1] = id
      jobs[#jobs + 1] = { id = id, spec = specs[i], meta = cjson.encode(m) }
      leasedIds[#leasedIds + 1] = id
      tokens[#tokens + 1] = m.leaseToken
    end
    if not (m and specs[i]) or m.state ~= 'waiting' then taken[#taken + 1] = id end
  end
  bulk('ZREM', K.waiting, taken)
  bulk('ZREM', K.waitingSince, taken)
  bulk('ZADD', K.active, act)
  bulk('ZADD', K.delayed, deferredAt)
  deferredAt = {}
  writeMetas(K.meta, w)
  unfit = unfit + unfitHere
  offset = offset + unfitHere
  if #ids < batch then break end
end
rateSpend(settings, K.rate, now, tokens)
breakersWrite(K.settings, changed)
writeDead(K.dead, K.deadFingerprints, K.deadIndex, K.jobs, K.meta, K.idempotency, K.idempotencyExpiry, K.counters, w, now,
  deadCap)
local marked = nil
if workerMarkMs > 0 then
  marked = #jobs > 0 or keepMark
  if marked then
    redis.call('SET', K.worker, '1', 'PX', workerMarkMs)
  elseif held == 'paused' then
    -- Enqueues to a paused queue kick no worker for a minute (resuming kicks one).
    redis.call('DEL', K.worker)
    redis.call('SET', K.kick, '1', 'PX', 60000)
  else
    redis.call('DEL', K.worker, K.kick)
  end
end
if type(worker) == 'table' and worker.id then
  if marked == false then worker.gone = true end
  workerBeat(K.workers, K.workersInfo, worker, now, #jobs)
end
if requestTtlMs > 0 and (#jobs > 0 or promoted > 0 or leaseExpired > 0 or leaseExpiredDead > 0) then
  redis.call('SET', K.request, cjson.encode({ ids = leasedIds, tokens = tokens, promoted = promoted,
    leaseExpired = leaseExpired, leaseExpiredDead = leaseExpiredDead, unfit = unfit }), 'PX', requestTtlMs)
end
return answer(jobs, promoted, leaseExpired, leaseExpiredDead, unfit, true, marked, held, heldUntil, deferred, expiring,
  expired)
`,
});
