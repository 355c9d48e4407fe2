import { ARGS, defineScript, REQUEST_KEY, returns } from './define.js';
import { BASE, DEAD, IDEMPOTENCY } from './lib.js';

export const PURGE = defineScript({
  name: 'purge',
  summary: `
Bounded and resumable clean-up: completed jobs past retention, dead jobs past their TTL (counted in
deadPastTtl) and over the cap (deadTrimmed), idempotency keys past their window, and orphans
(records whose id is in no state set, or that lack their spec or meta; counted in orphans). The
orphan sweep (an HSCAN of meta, and of jobs while the two hashes differ in size, whose cursors are
kept in counters so the next call resumes) runs only when the hashes differ in size, while a sweep
is under way, or when the last finished sweep is older than sweepEveryMs: a call with nothing to do
reads a few sizes and the oldest member of three sets. A removed job leaves every set (waitingSince
too) and gives up the idempotency key that names it. A dry run counts the same work and writes
nothing. nextAt: when something of the queue next passes its retention, TTL or window (none: nothing
will); jobs: the job records left; emptySince: when a queue holding no job was first found so (kept
in counters with the enqueued count then, for forgetQueue). Safe to run twice: a call that removed anything keeps its answer
under the request nonce, and a run that finds it answers it and removes nothing more.`,
  keys: {
    completed: 'completed jobs past retention and orphans leave it',
    dead: 'dead jobs past their TTL or over the cap, and orphans, leave it',
    deadFingerprints: '',
    deadIndex: '',
    jobs: 'removed jobs leave it (and is scanned for orphans)',
    meta: 'removed jobs leave it (and is scanned for orphans)',
    idempotency: 'keys past their window, and keys of removed jobs, leave it',
    idempotencyExpiry: 'keys past their window, and keys of removed jobs, leave it',
    counters:
      'writes deadPastTtl, deadTrimmed, orphans, purge:cursor, purge:jobs-cursor, purge:swept-at, purge:empty-since, purge:empty-enqueued',
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
    scanCount: { kind: 'number', doc: 'HSCAN COUNT of the orphan sweep' },
    sweepEveryMs: {
      kind: 'number',
      doc: 'start an orphan sweep when the last finished one is older (0: only when sizes differ)',
    },
    requestTtlMs: ARGS.requestTtlMs,
  },
  result: returns<{
    completed: number;
    deadPastTtl: number;
    deadTrimmed: number;
    idempotencyKeys: number;
    orphans: number;
    more: boolean;
    nextAt?: number;
    jobs: number;
    emptySince?: number;
  }>(
    '{ completed, deadPastTtl, deadTrimmed, idempotencyKeys, orphans, more (call again), nextAt?, jobs, emptySince? }',
  ),
  uses: [BASE, IDEMPOTENCY, DEAD],
  body: `
local earlier = requestTtlMs > 0 and redis.call('GET', K.request)
if earlier then return earlier end
local now = serverNow(clock)
local more = false
local nextAt = nil
-- The members of key scored up to \`cutoff\`, at most limit (oldest first); also lowers nextAt to the
-- first member past it plus \`keep\` (one read: the oldest limit + 1 members).
local function expired(key, cutoff, keep)
  local r = redis.call('ZRANGE', key, 0, limit, 'WITHSCORES')
  local out = {}
  for i = 1, #r, 2 do
    local score = tonumber(r[i + 1])
    if score <= cutoff and #out < limit then
      out[#out + 1] = r[i]
    elseif score > cutoff then
      if not nextAt or score + keep < nextAt then nextAt = score + keep end
      break
    else
      more = true
      break
    end
  end
  return out
end

-- Keys past their window first; the jobs removed below give up the keys still inside theirs.
local keys = expired(K.idempotencyExpiry, now, 0)
if not dryRun and #keys > 0 then
  bulk('HDEL', K.idempotency, keys)
  bulk('ZREM', K.idempotencyExpiry, keys)
end

local done = expired(K.completed, now - retentionMs, retentionMs)
if not dryRun and #done > 0 then
  forgetKeys(K.idempotency, K.idempotencyExpiry, done, readMetas(K.meta, done))
  bulk('ZREM', K.completed, done)
  bulk('HDEL', K.jobs, done)
  bulk('HDEL', K.meta, done)
end

local pastTtl = expired(K.dead, now - deadTtlMs, deadTtlMs)
local over = redis.call('ZCARD', K.dead) - #pastTtl - deadCap
local trimmed = 0
if over > 0 then
  trimmed = math.min(over, limit)
  if over > limit then more = true end
end
if not dryRun then
  if #pastTtl > 0 then
    removeDead(K.dead, K.deadFingerprints, K.deadIndex, K.jobs, K.meta, K.idempotency, K.idempotencyExpiry, pastTtl)
    redis.call('HINCRBY', K.counters, 'deadPastTtl', #pastTtl)
  end
  if trimmed > 0 then
    trimmed = trimDead(K.dead, K.deadFingerprints, K.deadIndex, K.jobs, K.meta, K.idempotency, K.idempotencyExpiry, K.counters,
      deadCap, limit)
  end
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
local metaN, jobsN = redis.call('HLEN', K.meta), redis.call('HLEN', K.jobs)
local c = redis.call('HMGET', K.counters, 'purge:cursor', 'purge:jobs-cursor', 'purge:swept-at', 'purge:empty-since',
  'purge:empty-enqueued', 'enqueued')
local cursor, jobsCursor, sweptAt = c[1] or '0', c[2] or '0', tonumber(c[3] or '0')
local sweep = cursor ~= '0' or jobsCursor ~= '0' or metaN ~= jobsN
  or (sweepEveryMs > 0 and now - sweptAt >= sweepEveryMs)
if sweep then
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
  local nextJobsCursor = '0'
  if jobsN ~= metaN then
    local rj = redis.call('HSCAN', K.jobs, jobsCursor, 'COUNT', scanCount)
    for i = 1, #rj[2], 2 do
      if redis.call('HEXISTS', K.meta, rj[2][i]) == 0 then
        orphans[#orphans + 1] = rj[2][i]
        orphanMetas[#orphans] = false
      end
    end
    nextJobsCursor = rj[1]
  end
  if nextCursor ~= '0' or nextJobsCursor ~= '0' then more = true end
  if not dryRun then
    if #orphans > 0 then
      forgetKeys(K.idempotency, K.idempotencyExpiry, orphans, orphanMetas)
      bulk('ZREM', K.waiting, orphans)
      bulk('ZREM', K.waitingSince, orphans)
      bulk('ZREM', K.delayed, orphans)
      bulk('ZREM', K.active, orphans)
      bulk('ZREM', K.completed, orphans)
      bulk('ZREM', K.dead, orphans)
    local members = {}
    for i = 1, #orphans do
      local m = orphanMetas[i]
      if m and m.diedAt then members[#members + 1] = deadMember(fingerprintOf(m), m.diedAt, orphans[i]) end
    end
    bulk('ZREM', K.deadIndex, members)
      bulk('HDEL', K.jobs, orphans)
      bulk('HDEL', K.meta, orphans)
      redis.call('HINCRBY', K.counters, 'orphans', #orphans)
      metaN = redis.call('HLEN', K.meta)
    end
    redis.call('HSET', K.counters, 'purge:cursor', nextCursor, 'purge:jobs-cursor', nextJobsCursor)
    if nextCursor == '0' and nextJobsCursor == '0' then redis.call('HSET', K.counters, 'purge:swept-at', num(now)) end
  end
end
-- A dry run removed nothing: what a real one would leave.
if dryRun then metaN = metaN - #done - #pastTtl - trimmed end
-- Since when the queue holds no job, and its enqueued count then (forgetQueue compares both): kept
-- from the first purge that finds it empty until one finds a job or a new enqueue.
local emptySince = nil
if metaN <= 0 then
  local enqueued = c[6] or '0'
  if c[4] and c[5] == enqueued then
    emptySince = tonumber(c[4])
  else
    emptySince = now
    if not dryRun then
      redis.call('HSET', K.counters, 'purge:empty-since', num(now), 'purge:empty-enqueued', enqueued)
    end
  end
elseif c[4] and not dryRun then
  redis.call('HDEL', K.counters, 'purge:empty-since', 'purge:empty-enqueued')
end
local out = cjson.encode({ completed = #done, deadPastTtl = #pastTtl, deadTrimmed = trimmed,
  idempotencyKeys = #keys, orphans = #orphans, more = more, nextAt = nextAt, jobs = math.max(0, metaN),
  emptySince = emptySince })
if requestTtlMs > 0 and not dryRun and #done + #pastTtl + trimmed + #keys + #orphans > 0 then
  redis.call('SET', K.request, out, 'PX', requestTtlMs)
end
return out
`,
});

export const FORGET_QUEUE = defineScript({
  name: 'forgetQueue',
  summary: `
Take a queue out of the registry when it holds no job and has held none since before \`before\` with
no enqueue since (purge keeps purge:empty-since and the enqueued count then), and no worker is
marked running on it. Its counters and
audit list stay: an enqueue brings it back with them. Safe to run twice (the second run finds it gone).`,
  keys: {
    meta: 'read: the queue holds no job when it is empty',
    counters: 'read: enqueued, purge:empty-since, purge:empty-enqueued',
    worker: 'read: a queue with a worker marked running is kept (its enqueues write no touched)',
    touched: 'the queue leaves it',
    queues: 'the queue leaves it',
  },
  args: {
    before: { kind: 'number', doc: 'epoch ms: forgotten only when empty since before this' },
    queue: ARGS.queue,
  },
  result: returns<{ forgotten: boolean }>('{ forgotten }'),
  body: `
if redis.call('HLEN', K.meta) > 0 or redis.call('EXISTS', K.worker) == 1 then
  return cjson.encode({ forgotten = false })
end
local c = redis.call('HMGET', K.counters, 'purge:empty-since', 'purge:empty-enqueued', 'enqueued')
if not c[1] or tonumber(c[1]) >= before or c[2] ~= (c[3] or '0') then return cjson.encode({ forgotten = false }) end
redis.call('ZREM', K.touched, queue)
redis.call('SREM', K.queues, queue)
return cjson.encode({ forgotten = true })
`,
});
