/**
 * Lua fragments shared by the scripts. Each script concatenates the ones it needs; the `K` table
 * (from defineScript) must hold the keys a fragment names.
 */

/** Helpers: bulk variadic calls, exact integer formatting, meta reads and buffered meta writes. */
export const LUA_BASE = `
local PRIORITY_SPAN = 1099511627776
local function num(x) return string.format('%.0f', x) end
-- Calls fn(i, j) over 1..n in chunks small enough for unpack().
local function chunked(n, fn)
  local i = 1
  while i <= n do
    local j = math.min(i + 3999, n)
    fn(i, j)
    i = j + 1
  end
end
local function bulk(cmd, key, args)
  chunked(#args, function(i, j) redis.call(cmd, key, unpack(args, i, j)) end)
end
local function readMetas(ids)
  local out = {}
  chunked(#ids, function(i, j)
    local raw = redis.call('HMGET', K.meta, unpack(ids, i, j))
    for x = 1, #raw do
      if raw[x] then out[i + x - 1] = cjson.decode(raw[x]) else out[i + x - 1] = false end
    end
  end)
  return out
end
local MW = {}
local function putMeta(id, m)
  MW[#MW + 1] = id
  MW[#MW + 1] = cjson.encode(m)
end
local function flushMeta()
  if #MW > 0 then bulk('HSET', K.meta, MW) end
  MW = {}
end
`;

/** Buffered moves to waiting: one HINCRBY for the sequence, one ZADD per index. Needs K.waiting, K.waitingSince, K.counters. */
export const LUA_WAITING = `
local WQ = {}
local function toWaiting(id, m, since)
  m.state = 'waiting'
  m.runAt = nil
  m.leaseToken = nil
  m.leaseUntil = nil
  WQ[#WQ + 1] = { id, m.priority or 0, since }
end
local function flushWaiting()
  local n = #WQ
  if n == 0 then return end
  local last = redis.call('HINCRBY', K.counters, 'seq', n)
  local z, s = {}, {}
  for i, w in ipairs(WQ) do
    z[#z + 1] = num((1000 - w[2]) * PRIORITY_SPAN + (last - n + i))
    z[#z + 1] = w[1]
    s[#s + 1] = num(w[3])
    s[#s + 1] = w[1]
  end
  bulk('ZADD', K.waiting, z)
  bulk('ZADD', K.waitingSince, s)
  WQ = {}
end
`;

/**
 * Buffered moves to dead, the DLQ cap, and record removal with fingerprint bookkeeping.
 * Needs K.dead, K.deadFingerprints, K.jobs, K.meta, K.counters. Call flushMeta() before flushDead().
 */
export const LUA_DEAD = `
local DQ = {}
local function toDead(id, m, now)
  m.state = 'dead'
  m.diedAt = now
  m.leaseToken = nil
  m.leaseUntil = nil
  m.runAt = nil
  DQ[#DQ + 1] = { id, (m.error and m.error.fingerprint) or 'unknown' }
end
local function adjustFingerprints(delta)
  for fp, d in pairs(delta) do
    if d ~= 0 then
      local left = redis.call('HINCRBY', K.deadFingerprints, fp, d)
      if left <= 0 then redis.call('HDEL', K.deadFingerprints, fp) end
    end
  end
end
-- Remove dead jobs' records entirely (ids are members of K.dead). Returns how many.
local function removeDead(ids)
  if #ids == 0 then return 0 end
  local metas = readMetas(ids)
  local delta = {}
  for i = 1, #ids do
    local m = metas[i]
    local fp = (m and m.error and m.error.fingerprint) or 'unknown'
    delta[fp] = (delta[fp] or 0) - 1
  end
  adjustFingerprints(delta)
  bulk('ZREM', K.dead, ids)
  bulk('HDEL', K.jobs, ids)
  bulk('HDEL', K.meta, ids)
  return #ids
end
-- Trim the DLQ to its cap, oldest first, counted in counters.deadTrimmed. Returns how many.
local function trimDead(cap, limit)
  local over = redis.call('ZCARD', K.dead) - cap
  if over <= 0 then return 0 end
  if limit and over > limit then over = limit end
  local ids = redis.call('ZRANGE', K.dead, 0, over - 1)
  removeDead(ids)
  redis.call('HINCRBY', K.counters, 'deadTrimmed', #ids)
  return #ids
end
local function flushDead(now, cap)
  local n = #DQ
  if n == 0 then return 0 end
  local z, delta = {}, {}
  for _, d in ipairs(DQ) do
    z[#z + 1] = num(now)
    z[#z + 1] = d[1]
    delta[d[2]] = (delta[d[2]] or 0) + 1
  end
  bulk('ZADD', K.dead, z)
  adjustFingerprints(delta)
  redis.call('HINCRBY', K.counters, 'dead', n)
  DQ = {}
  return trimDead(cap)
end
`;
