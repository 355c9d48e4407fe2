import { ARGS, defineScript, REQUEST_KEY, returns } from './define.js';
import { BASE, DEAD, IDEMPOTENCY } from './lib.js';

export const PURGE = defineScript({
  name: 'purge',
  summary: `
Bounded and resumable clean-up: completed jobs past retention, dead jobs past their TTL (counted in
deadPastTtl) and over the cap (deadTrimmed), idempotency keys past their window, and orphans
(records whose id is in no state set, or that lack their spec or meta; counted in orphans), found by
an HSCAN of meta (and of jobs when the two hashes differ in size) whose cursors are kept in counters
so the next call resumes. A removed job leaves every set (waitingSince too) and gives up the
idempotency key that names it. A dry run counts the same work and writes nothing. Safe to run
twice: a call that removed anything keeps its answer under the request nonce, and a run that finds
it answers it and removes nothing more.`,
  keys: {
    completed: 'completed jobs past retention and orphans leave it',
    dead: 'dead jobs past their TTL or over the cap, and orphans, leave it',
    deadFingerprints: '',
    jobs: 'removed jobs leave it',
    meta: 'removed jobs leave it (and is scanned for orphans)',
    idempotency: 'keys past their window, and keys of removed jobs, leave it',
    idempotencyExpiry: 'keys past their window, and keys of removed jobs, leave it',
    counters: 'writes deadPastTtl, deadTrimmed, orphans, purge:cursor, purge:jobs-cursor',
    waiting: 'orphans leave it',
    waitingSince: 'orphans leave it',
    delayed: 'orphans leave it',
    active: 'orphans leave it',
    request: REQUEST_KEY,
  },
  args: {
    clock: ARGS.clock,
    dryRun: { kind: 'flag', doc: 'count only' },
    retentionMs: { kind: 'number', doc: 'completed jobs kept this long' },
    deadTtlMs: { kind: 'number', doc: 'dead jobs kept this long' },
    deadCap: ARGS.deadCap,
    limit: { kind: 'number', doc: 'records removed per category at most' },
    scanCount: { kind: 'number', doc: 'HSCAN COUNT of the orphan scan' },
    requestTtlMs: ARGS.requestTtlMs,
  },
  result: returns<{
    completed: number;
    deadPastTtl: number;
    deadTrimmed: number;
    idempotencyKeys: number;
    orphans: number;
    more: boolean;
  }>('{ completed, deadPastTtl, deadTrimmed, idempotencyKeys, orphans, more (call again) }'),
  uses: [BASE, IDEMPOTENCY, DEAD],
  body: `
local earlier = requestTtlMs > 0 and redis.call('GET', K.request)
if earlier then return earlier end
local now = serverNow(clock)
local more = false

-- Keys past their window first; the jobs removed below give up the keys still inside theirs.
local keys = redis.call('ZRANGEBYSCORE', K.idempotencyExpiry, '-inf', now, 'LIMIT', 0, limit)
if #keys == limit then more = true end
if not dryRun and #keys > 0 then
  bulk('HDEL', K.idempotency, keys)
  bulk('ZREM', K.idempotencyExpiry, keys)
end

local done = redis.call('ZRANGEBYSCORE', K.completed, '-inf', now - retentionMs, 'LIMIT', 0, limit)
if #done == limit then more = true end
if not dryRun and #done > 0 then
  forgetKeys(K.idempotency, K.idempotencyExpiry, done, readMetas(K.meta, done))
  bulk('ZREM', K.completed, done)
  bulk('HDEL', K.jobs, done)
  bulk('HDEL', K.meta, done)
end

local pastTtl = redis.call('ZRANGEBYSCORE', K.dead, '-inf', now - deadTtlMs, 'LIMIT', 0, limit)
if #pastTtl == limit then more = true end
local trimmed = 0
if dryRun then
  local over = redis.call('ZCARD', K.dead) - #pastTtl - deadCap
  if over > 0 then trimmed = math.min(over, limit) end
  if over > limit then more = true end
else
  if #pastTtl > 0 then
    removeDead(K.dead, K.deadFingerprints, K.jobs, K.meta, K.idempotency, K.idempotencyExpiry, pastTtl)
    redis.call('HINCRBY', K.counters, 'deadPastTtl', #pastTtl)
  end
  trimmed = trimDead(K.dead, K.deadFingerprints, K.jobs, K.meta, K.idempotency, K.idempotencyExpiry, K.counters,
    deadCap, limit)
  if redis.call('ZCARD', K.dead) > deadCap then more = true end
end

-- Whether id is in the set of the state its record names.
local function inItsSet(id, state)
  if state == 'waiting' then return redis.call('ZSCORE', K.waiting, id) end
  if state == 'delayed' then return redis.call('ZSCORE', K.delayed, id) end
  if state == 'active' then return redis.call('ZSCORE', K.active, id) end
  if state == 'completed' then return redis.call('ZSCORE', K.completed, id) end
  if state == 'dead' then return redis.call('ZSCORE', K.dead, id) end
  return false
end
local orphans, orphanMetas = {}, {}
local cursor = redis.call('HGET', K.counters, 'purge:cursor') or '0'
local r = redis.call('HSCAN', K.meta, cursor, 'COUNT', scanCount)
for i = 1, #r[2], 2 do
  local id = r[2][i]
  local m = cjson.decode(r[2][i + 1])
  if not inItsSet(id, m.state) or redis.call('HEXISTS', K.jobs, id) == 0 then
    orphans[#orphans + 1] = id
    orphanMetas[#orphans] = m
  end
end
local nextCursor = r[1]
local jobsCursor = '0'
if redis.call('HLEN', K.jobs) ~= redis.call('HLEN', K.meta) + 0 then
  jobsCursor = redis.call('HGET', K.counters, 'purge:jobs-cursor') or '0'
  local rj = redis.call('HSCAN', K.jobs, jobsCursor, 'COUNT', scanCount)
  for i = 1, #rj[2], 2 do
    if redis.call('HEXISTS', K.meta, rj[2][i]) == 0 then
      orphans[#orphans + 1] = rj[2][i]
      orphanMetas[#orphans] = false
    end
  end
  jobsCursor = rj[1]
end
if nextCursor ~= '0' or jobsCursor ~= '0' then more = true end
if not dryRun then
  if #orphans > 0 then
    forgetKeys(K.idempotency, K.idempotencyExpiry, orphans, orphanMetas)
    bulk('ZREM', K.waiting, orphans)
    bulk('ZREM', K.waitingSince, orphans)
    bulk('ZREM', K.delayed, orphans)
    bulk('ZREM', K.active, orphans)
    bulk('ZREM', K.completed, orphans)
    bulk('ZREM', K.dead, orphans)
    bulk('HDEL', K.jobs, orphans)
    bulk('HDEL', K.meta, orphans)
    redis.call('HINCRBY', K.counters, 'orphans', #orphans)
  end
  redis.call('HSET', K.counters, 'purge:cursor', nextCursor, 'purge:jobs-cursor', jobsCursor)
end
local out = cjson.encode({ completed = #done, deadPastTtl = #pastTtl, deadTrimmed = trimmed,
  idempotencyKeys = #keys, orphans = #orphans, more = more })
if requestTtlMs > 0 and not dryRun and #done + #pastTtl + trimmed + #keys + #orphans > 0 then
  redis.call('SET', K.request, out, 'PX', requestTtlMs)
end
return out
`,
});
