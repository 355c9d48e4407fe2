import { LUA_BASE, LUA_DEAD } from './common.js';
import { defineScript } from './define.js';

/**
 * purge: bounded and resumable clean-up. ARGV: now, dryRun (1|0), completed retention ms, dead TTL ms,
 * dead cap, limit per category, orphan scan count. Removes completed past retention, dead past TTL
 * (counters.deadPastTtl) and over the cap (counters.deadTrimmed), idempotency keys past their window, and orphans: records
 * whose id is in no state set, found by an HSCAN of meta (and of jobs when the two hashes differ in
 * size) whose cursor is kept in counters so the next call resumes. A dry run counts the same work and
 * writes nothing. Returns JSON [completed, deadPastTtl, deadTrimmed, idempotencyKeys, orphans, more].
 */
export const PURGE = defineScript(
  'purge',
  [
    'completed',
    'dead',
    'deadFingerprints',
    'jobs',
    'meta',
    'idempotency',
    'idempotencyExpiry',
    'counters',
    'waiting',
    'delayed',
    'active',
  ],
  LUA_BASE,
  LUA_DEAD,
  `
local now = tonumber(ARGV[1])
local dry = ARGV[2] == '1'
local retention = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local cap = tonumber(ARGV[5])
local limit = tonumber(ARGV[6])
local scanCount = tonumber(ARGV[7])
local more = false

local done = redis.call('ZRANGEBYSCORE', K.completed, '-inf', now - retention, 'LIMIT', 0, limit)
if #done == limit then more = true end
if not dry and #done > 0 then
  bulk('ZREM', K.completed, done)
  bulk('HDEL', K.jobs, done)
  bulk('HDEL', K.meta, done)
end

local pastTtl = redis.call('ZRANGEBYSCORE', K.dead, '-inf', now - ttl, 'LIMIT', 0, limit)
if #pastTtl == limit then more = true end
local trimmed = 0
if dry then
  local over = redis.call('ZCARD', K.dead) - #pastTtl - cap
  if over > 0 then trimmed = math.min(over, limit) end
  if over > limit then more = true end
else
  if #pastTtl > 0 then
    removeDead(pastTtl)
    redis.call('HINCRBY', K.counters, 'deadPastTtl', #pastTtl)
  end
  trimmed = trimDead(cap, limit)
  if redis.call('ZCARD', K.dead) > cap then more = true end
end

local keys = redis.call('ZRANGEBYSCORE', K.idempotencyExpiry, '-inf', now, 'LIMIT', 0, limit)
if #keys == limit then more = true end
if not dry and #keys > 0 then
  bulk('HDEL', K.idempotency, keys)
  bulk('ZREM', K.idempotencyExpiry, keys)
end

local SETS = { waiting = K.waiting, delayed = K.delayed, active = K.active, completed = K.completed, dead = K.dead }
local orphans = {}
local cursor = redis.call('HGET', K.counters, 'purge:cursor') or '0'
local r = redis.call('HSCAN', K.meta, cursor, 'COUNT', scanCount)
for i = 1, #r[2], 2 do
  local id = r[2][i]
  local m = cjson.decode(r[2][i + 1])
  local set = SETS[m.state]
  if not set or not redis.call('ZSCORE', set, id) or redis.call('HEXISTS', K.jobs, id) == 0 then orphans[#orphans + 1] = id end
end
local nextCursor = r[1]
local jobsCursor = '0'
if redis.call('HLEN', K.jobs) ~= redis.call('HLEN', K.meta) + 0 then
  jobsCursor = redis.call('HGET', K.counters, 'purge:jobs-cursor') or '0'
  local rj = redis.call('HSCAN', K.jobs, jobsCursor, 'COUNT', scanCount)
  for i = 1, #rj[2], 2 do
    if redis.call('HEXISTS', K.meta, rj[2][i]) == 0 then orphans[#orphans + 1] = rj[2][i] end
  end
  jobsCursor = rj[1]
end
if nextCursor ~= '0' or jobsCursor ~= '0' then more = true end
if not dry then
  if #orphans > 0 then
    for _, set in pairs(SETS) do bulk('ZREM', set, orphans) end
    bulk('HDEL', K.jobs, orphans)
    bulk('HDEL', K.meta, orphans)
    redis.call('HINCRBY', K.counters, 'orphans', #orphans)
  end
  redis.call('HSET', K.counters, 'purge:cursor', nextCursor, 'purge:jobs-cursor', jobsCursor)
end
return cjson.encode({ #done, #pastTtl, trimmed, #keys, #orphans, more })
`,
);
