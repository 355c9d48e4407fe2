import { LUA_BASE, LUA_DEAD } from './common.js';
import { defineScript } from './define.js';

/** Checks an item's lease: sets `m` or records why not. Needs res, metas, seenIds. */
const LUA_CHECK_LEASE = `
local function leased(i, id, token, metas, res, seenIds)
  local m = metas[i]
  if not m then res[i] = { 'not_found' } return nil end
  if seenIds[id] or m.state ~= 'active' or m.leaseToken ~= token then res[i] = { 'stale', m.state } return nil end
  seenIds[id] = true
  return m
end
`;

/**
 * complete: many jobs. ARGV: now, JSON [[id, token], ...]. A stale token (the lease expired and the
 * job moved on, or another worker holds it) is refused. Returns JSON [[status], ...].
 */
export const COMPLETE = defineScript(
  'complete',
  ['active', 'completed', 'meta', 'counters'],
  LUA_BASE,
  LUA_CHECK_LEASE,
  `
local now = tonumber(ARGV[1])
local items = cjson.decode(ARGV[2])
local ids = {}
for i, it in ipairs(items) do ids[i] = it[1] end
local metas = readMetas(ids)
local res, seenIds, done, z = {}, {}, {}, {}
for i, it in ipairs(items) do
  local m = leased(i, it[1], it[2], metas, res, seenIds)
  if m then
    m.state = 'completed'
    m.completedAt = now
    m.updatedAt = now
    m.leaseToken = nil
    m.leaseUntil = nil
    putMeta(it[1], m)
    done[#done + 1] = it[1]
    z[#z + 1] = num(now)
    z[#z + 1] = it[1]
    res[i] = { 'ok', 'completed' }
  end
end
if #done > 0 then
  bulk('ZREM', K.active, done)
  bulk('ZADD', K.completed, z)
  flushMeta()
  redis.call('HINCRBY', K.counters, 'completed', #done)
end
return cjson.encode(res)
`,
);

/**
 * fail: many jobs. ARGV: now, deadCap, JSON [{id, token, message, class, fingerprint, retryable,
 * retryAfterMs?, requestId?, jitter}, ...]. Retryable with attempts left: delayed by exponential
 * backoff with full jitter (delay = min(max, base * 2^(attempt-1)) * jitter), at least the carried
 * Retry-After, capped at the policy's max. Otherwise dead with the failure story.
 * Returns JSON [[status, state, runAt?], ...].
 */
export const FAIL = defineScript(
  'fail',
  ['active', 'delayed', 'dead', 'deadFingerprints', 'jobs', 'meta', 'counters'],
  LUA_BASE,
  LUA_DEAD,
  LUA_CHECK_LEASE,
  `
local now = tonumber(ARGV[1])
local deadCap = tonumber(ARGV[2])
local items = cjson.decode(ARGV[3])
local ids = {}
for i, it in ipairs(items) do ids[i] = it.id end
local metas = readMetas(ids)
local res, seenIds, gone, delayed = {}, {}, {}, {}
local retried = 0
for i, it in ipairs(items) do
  local m = leased(i, it.id, it.token, metas, res, seenIds)
  if m then
    m.error = { message = it.message, class = it.class, fingerprint = it.fingerprint, requestId = it.requestId,
      at = now, attempt = m.attempts, retryable = it.retryable }
    m.firstFailedAt = m.firstFailedAt or now
    m.lastFailedAt = now
    m.updatedAt = now
    m.leaseToken = nil
    m.leaseUntil = nil
    gone[#gone + 1] = it.id
    if it.retryable and m.attempts < m.maxAttempts then
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
      delayed[#delayed + 1] = num(m.runAt)
      delayed[#delayed + 1] = it.id
      retried = retried + 1
      res[i] = { 'ok', 'delayed', m.runAt }
    else
      toDead(it.id, m, now)
      res[i] = { 'ok', 'dead' }
    end
    putMeta(it.id, m)
  end
end
if #gone > 0 then
  bulk('ZREM', K.active, gone)
  bulk('ZADD', K.delayed, delayed)
  flushMeta()
  redis.call('HINCRBY', K.counters, 'failed', #gone)
  if retried > 0 then redis.call('HINCRBY', K.counters, 'retried', retried) end
  flushDead(now, deadCap)
end
return cjson.encode(res)
`,
);

/**
 * extend: heartbeat many leases. ARGV: now, leaseUntilMax (0: none), JSON [[id, token, leaseMs], ...].
 * Returns JSON [[status, state|leaseUntil], ...].
 */
export const EXTEND = defineScript(
  'extend',
  ['active', 'meta'],
  LUA_BASE,
  LUA_CHECK_LEASE,
  `
local now = tonumber(ARGV[1])
local untilMax = tonumber(ARGV[2])
local items = cjson.decode(ARGV[3])
local ids = {}
for i, it in ipairs(items) do ids[i] = it[1] end
local metas = readMetas(ids)
local res, seenIds, z = {}, {}, {}
for i, it in ipairs(items) do
  local m = leased(i, it[1], it[2], metas, res, seenIds)
  if m then
    local lu = now + it[3]
    if untilMax > 0 and lu > untilMax then lu = untilMax end
    if lu < m.leaseUntil then lu = m.leaseUntil end
    m.leaseUntil = lu
    m.updatedAt = now
    putMeta(it[1], m)
    z[#z + 1] = num(lu)
    z[#z + 1] = it[1]
    res[i] = { 'ok', lu }
  end
end
if #z > 0 then
  bulk('ZADD', K.active, z)
  flushMeta()
end
return cjson.encode(res)
`,
);
