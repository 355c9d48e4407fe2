import { BREAKER_DEFAULTS as D } from '../schema.js';
import { ARGS, defineScript, luaLibrary, returns } from './define.js';
import { BASE, DEAD, DUE } from './lib.js';

/**
 * Flow control (issue 11), applied inside the lease script so that every worker on every Lambda obeys
 * the same numbers: the queue's settings hash (keys.ts `settings`), one HGETALL per lease call, and a
 * function per control. Each answers how many of `want` jobs it lets start now, and when it would let
 * more (nil: not by itself).
 */
export const FLOW = luaLibrary(
  'flow',
  `
-- The queue's settings hash as a table (field -> string); {} when nothing is set (the defaults).
local function readSettings(settingsKey)
  local flat = redis.call('HGETALL', settingsKey)
  local s = {}
  for i = 1, #flat, 2 do s[flat[i]] = flat[i + 1] end
  return s
end

-- paused: nothing starts, and nothing by itself lets jobs start later (resuming does).
local function pausedAllows(s, want)
  if s.paused == '1' then return 0 end
  return want
end

-- maxConcurrency: at most N of the queue's jobs active (activeKey holds them; counted after reclaim).
-- A job that ends frees a slot: its lease deadline is the latest it frees one.
local function concurrencyAllows(s, activeKey, want)
  local cap = tonumber(s.maxConcurrency)
  if not cap then return want end
  local free = cap - redis.call('ZCARD', activeKey)
  if free < 0 then free = 0 end
  if free < want then return free end
  return want
end

-- rateLimit { limit, periodMs }: at most \`limit\` leases in any periodMs (a sliding log in rateKey of
-- the leases of the last period). Answers how many may start now and, when that is fewer than
-- \`want\`, when the next one may (the oldest lease in the window leaves it).
local function rateAllows(s, rateKey, now, want)
  if not s.rateLimit then return want, nil end
  local r = cjson.decode(s.rateLimit)
  redis.call('ZREMRANGEBYSCORE', rateKey, '-inf', num(now - r.periodMs))
  local free = r.limit - redis.call('ZCARD', rateKey)
  if free < 0 then free = 0 end
  if free >= want then return want, nil end
  local oldest = redis.call('ZRANGE', rateKey, 0, 0, 'WITHSCORES')[2]
  local at = now + 1
  if oldest then at = tonumber(oldest) + r.periodMs end
  return free, at
end

-- Spend the rate limit's window on the leases made (their tokens, at now); kept one period.
local function rateSpend(s, rateKey, now, tokens)
  if not s.rateLimit or #tokens == 0 then return end
  local r = cjson.decode(s.rateLimit)
  local z = {}
  for _, t in ipairs(tokens) do
    z[#z + 1] = num(now)
    z[#z + 1] = t
  end
  bulk('ZADD', rateKey, z)
  redis.call('PEXPIRE', rateKey, r.periodMs + 1000)
end

-- How many of \`want\` jobs flow control lets start now, what held the rest back ('' for nothing:
-- paused, concurrency or rate), and when more may start by the rate limit (nil: not by itself).
local function flowAllows(s, activeKey, rateKey, now, want)
  local n = pausedAllows(s, want)
  if n < want then return n, 'paused', nil end
  n = concurrencyAllows(s, activeKey, want)
  local by = ''
  if n < want then by = 'concurrency' end
  if n == 0 then return 0, by, nil end
  local r, at = rateAllows(s, rateKey, now, n)
  if r < n then return r, 'rate', at end
  return n, by, nil
end

-- Circuit breakers, one per target origin (scheme://host:port), kept in the settings hash as
-- \`breaker:<origin>\` = { state = closed|open|halfOpen, failures (consecutive), openUntil, coolDownMs,
-- probeUntil (half-open: the probe's lease deadline) }. The queue's circuitBreaker setting (JSON
-- { enabled, failures, coolDownMs, maxCoolDownMs }) or, absent, breakerDefault() configures them.
local function breakerDefault()
  return { enabled = true, failures = ${D.failures}, coolDownMs = ${D.coolDownMs}, maxCoolDownMs = ${D.maxCoolDownMs} }
end

-- The breakers of settings \`s\`: { cfg, of = { origin = record } }, or nil when they are off.
local function breakerSettings(s)
  local cfg = breakerDefault()
  if s.circuitBreaker then cfg = cjson.decode(s.circuitBreaker) end
  if cfg.enabled == false then return nil end
  local of = {}
  for f, v in pairs(s) do
    if string.sub(f, 1, 8) == 'breaker:' then of[string.sub(f, 9)] = cjson.decode(v) end
  end
  return { cfg = cfg, of = of }
end

-- The record of origin's breaker as this call sees it (changed: the records it changed so far).
local function breakerOf(breakers, changed, origin)
  local b = changed[origin]
  if b == nil then b = breakers.of[origin] end
  if b == false then return nil end
  return b
end

-- What origin's breaker says of starting one of its jobs now: 'lease', 'probe' (the one job that
-- goes through once the cool-down is over), or the time to defer the job to.
local function breakerGate(breakers, changed, origin, now)
  if not breakers then return 'lease' end
  local b = breakerOf(breakers, changed, origin)
  if not b or b.state == 'closed' then return 'lease' end
  if b.state == 'open' then
    if now < b.openUntil then return b.openUntil end
    return 'probe'
  end
  if b.probeUntil and now < b.probeUntil then return b.probeUntil end
  return 'probe'
end

-- origin's breaker half-opens: its probe is leased until leaseUntil.
local function breakerProbe(breakers, changed, origin, leaseUntil)
  local b = breakerOf(breakers, changed, origin)
  local p = {}
  for k, v in pairs(b) do p[k] = v end
  p.state = 'halfOpen'
  p.probeUntil = leaseUntil
  changed[origin] = p
end

-- A failure to origin that counts (5xx, 429, a timeout, a connection error): one more in the run;
-- the run reaching cfg.failures opens the breaker for the cool-down; a failed probe (half-open, or
-- open past its cool-down) opens it again for twice the cool-down, up to maxCoolDownMs; a 429 or
-- 503 with Retry-After opens it for at least that long.
local function breakerTrip(breakers, changed, origin, now, status, retryAfterMs)
  local cfg = breakers.cfg
  local b0 = breakerOf(breakers, changed, origin) or { state = 'closed', failures = 0 }
  local b = {}
  for k, v in pairs(b0) do b[k] = v end
  b.failures = (b.failures or 0) + 1
  b.lastFailedAt = now
  if b.state == 'halfOpen' or (b.state == 'open' and now >= b.openUntil) then
    b.coolDownMs = math.min((b.coolDownMs or cfg.coolDownMs) * 2, cfg.maxCoolDownMs)
    b.state = 'open'
    b.openUntil = now + b.coolDownMs
    b.probeUntil = nil
  elseif b.state == 'closed' and b.failures >= cfg.failures then
    b.coolDownMs = cfg.coolDownMs
    b.state = 'open'
    b.openUntil = now + b.coolDownMs
    b.openedAt = now
  end
  if retryAfterMs and retryAfterMs > 0 and (status == 429 or status == 503) then
    if b.state ~= 'open' then
      b.state = 'open'
      b.openedAt = now
      b.coolDownMs = b.coolDownMs or cfg.coolDownMs
      b.openUntil = now + retryAfterMs
      b.probeUntil = nil
    elseif b.openUntil < now + retryAfterMs then
      b.openUntil = now + retryAfterMs
    end
  end
  changed[origin] = b
end

-- origin answered (a success, or a failure that is the job's, not the target's): its breaker closes.
local function breakerClose(breakers, changed, origin)
  if breakerOf(breakers, changed, origin) then changed[origin] = false end
end

-- Write the breakers changed: a record, or false (closed: the field goes).
local function breakersWrite(settingsKey, changed)
  local set, del = {}, {}
  for origin, b in pairs(changed) do
    if b == false then
      del[#del + 1] = 'breaker:' .. origin
    else
      set[#set + 1] = 'breaker:' .. origin
      set[#set + 1] = cjson.encode(b)
    end
  end
  bulk('HSET', settingsKey, set)
  bulk('HDEL', settingsKey, del)
end

-- The queue's due time when flow control held waiting jobs back: the earliest of the rate limit's
-- next start (\`at\`), its first delayed run-at and its first lease deadline (the end of a job frees
-- a slot of the cap); no entry when none (a paused queue with nothing active or delayed: resuming
-- makes it due).
local function dueHeld(dueKey, activeKey, queue, at, nextRunAt)
  local t = at
  if nextRunAt and (not t or tonumber(nextRunAt) < t) then t = tonumber(nextRunAt) end
  local lease = redis.call('ZRANGE', activeKey, 0, 0, 'WITHSCORES')[2]
  if lease and (not t or tonumber(lease) < t) then t = tonumber(lease) end
  if t then redis.call('ZADD', dueKey, num(t), queue) else redis.call('ZREM', dueKey, queue) end
end
`,
  [BASE],
);

/** Expiry (issue 11): a job still waiting or delayed at its expiresAt goes dead with error class Expired. */
export const EXPIRY = luaLibrary(
  'expiry',
  `
-- Whether m (waiting or delayed) is past its expiry by now. A job replayed from dead after its
-- expiry has none any more (the replay is a decision to run it).
local function isExpired(m, now)
  return m.expiresAt ~= nil and now >= m.expiresAt and (m.replayedAt == nil or m.replayedAt < m.expiresAt)
end

-- m, waiting or delayed, expired: dead with error class Expired (no attempt ran; its story says when).
local function expire(w, id, m, now)
  m.error = { message = 'expired: still ' .. m.state .. ' at its expiry ' .. num(m.expiresAt) .. ' (enqueued '
    .. num(m.createdAt) .. ')', class = 'Expired', fingerprint = 'expired', at = now, attempt = m.attempts,
    retryable = false }
  m.updatedAt = now
  toDead(w, id, m, now)
end

-- The jobs of the expiry index due by now, up to \`limit\`: those still waiting or delayed expire and
-- leave waitingKey, waitingSinceKey and delayedKey; every entry read leaves the index (a job leased,
-- completed or gone meanwhile needs none: a lease checks the jobs it meets). Returns how many expired.
local function expireDue(expiryKey, waitingKey, waitingSinceKey, delayedKey, metaKey, w, now, limit)
  local ids = redis.call('ZRANGEBYSCORE', expiryKey, '-inf', num(now), 'LIMIT', 0, limit)
  if #ids == 0 then return 0 end
  local metas = readMetas(metaKey, ids)
  local gone = {}
  for i, id in ipairs(ids) do
    local m = metas[i]
    if m and (m.state == 'waiting' or m.state == 'delayed') and isExpired(m, now) then
      expire(w, id, m, now)
      gone[#gone + 1] = id
    end
  end
  bulk('ZREM', expiryKey, ids)
  bulk('ZREM', waitingKey, gone)
  bulk('ZREM', waitingSinceKey, gone)
  bulk('ZREM', delayedKey, gone)
  return #gone
end
`,
  [BASE, DEAD],
);

export const SETTINGS = defineScript({
  name: 'settings',
  summary: `
Change a queue's flow-control settings: set the fields of \`set\`, remove those of \`del\` (back to
their defaults). Pausing keeps when (pausedAt; pausing a paused queue keeps the first time), resuming
drops it. Safe to run twice (the same fields end with the same values). When the queue is not paused
afterwards and jobs wait, it is due now, and kick says whether this call won the kick debounce (no
worker marked running): a resume, a raised rate or cap, start the jobs held back. A registered
queue's touched score becomes now, so that the next health run looks at it (a pause is a state of
its own, even for an empty queue).`,
  keys: {
    settings: 'the fields given are set or removed',
    waiting: 'counted',
    worker: 'read',
    kick: 'SET NX PX by the call that kicks',
    due: 'the queue is due now when it is not paused and jobs wait',
    touched: 'scored now when the queue is in it (XX: a settings change registers no queue)',
    autoReplay: 'the queue is in it exactly while its settings have autoReplay',
  },
  args: {
    clock: ARGS.clock,
    set: { kind: 'json', doc: '{ field = value string, ... } to set' },
    del: { kind: 'json', doc: '[field, ...] to remove' },
    debounce: { kind: 'number', doc: 'kick debounce ms (0: never kick)' },
    queue: ARGS.queue,
  },
  result: returns<{ now: number; settings: Record<string, string> | unknown[]; kick: boolean; waiting: number }>(
    '{ now, settings = { field = value } (the whole hash after the change), kick, waiting }',
  ),
  uses: [BASE, DUE, FLOW],
  body: `
local now = serverNow(clock)
local before = readSettings(K.settings)
local hset = {}
for f, v in pairs(set) do
  hset[#hset + 1] = f
  hset[#hset + 1] = v
end
if set.paused == '1' and before.paused ~= '1' then
  hset[#hset + 1] = 'pausedAt'
  hset[#hset + 1] = num(now)
end
local hdel = {}
for _, f in ipairs(del) do
  hdel[#hdel + 1] = f
  if f == 'paused' then hdel[#hdel + 1] = 'pausedAt' end
end
bulk('HDEL', K.settings, hdel)
bulk('HSET', K.settings, hset)
local after = readSettings(K.settings)
redis.call('ZADD', K.touched, 'XX', num(now), queue)
if after.autoReplay then redis.call('SADD', K.autoReplay, queue) else redis.call('SREM', K.autoReplay, queue) end
local waiting = redis.call('ZCARD', K.waiting)
local kick = false
if after.paused ~= '1' and waiting > 0 then
  dueBy(K.due, queue, now)
  -- A resume: the debounce a worker left on the paused queue goes (see the lease script).
  if before.paused == '1' then redis.call('DEL', K.kick) end
  if debounce > 0 and redis.call('EXISTS', K.worker) == 0 then
    kick = redis.call('SET', K.kick, '1', 'NX', 'PX', debounce) ~= false
  end
end
return cjson.encode({ now = now, settings = after, kick = kick, waiting = waiting })
`,
});

export const SETTINGS_READ = defineScript({
  name: 'settingsRead',
  readOnly: true,
  summary: "A queue's flow-control settings hash, whole (defaults are the fields not set).",
  keys: { settings: 'read whole' },
  args: { clock: ARGS.clock },
  result: returns<{ now: number; settings: Record<string, string> | unknown[] }>(
    '{ now, settings = { field = value } }',
  ),
  uses: [BASE, FLOW],
  body: `
return cjson.encode({ now = serverNow(clock), settings = readSettings(K.settings) })
`,
});
