import { LUA_BASE, LUA_DEAD, LUA_WAITING } from './common.js';
import { defineScript } from './define.js';

/**
 * Promote due delayed jobs and reclaim expired leases (jobs back to waiting, or to dead when
 * their attempts are spent). Needs ARGV-derived locals now, scanLimit, deadCap.
 */
export const LUA_RECLAIM = `
local promoted, leaseExpired, leaseExpiredDead = 0, 0, 0
local due = redis.call('ZRANGEBYSCORE', K.delayed, '-inf', now, 'LIMIT', 0, scanLimit)
if #due > 0 then
  local metas = readMetas(due)
  for i, id in ipairs(due) do
    local m = metas[i]
    if m then
      local since = m.runAt or now
      m.updatedAt = now
      toWaiting(id, m, since)
      putMeta(id, m)
      promoted = promoted + 1
    end
  end
  bulk('ZREM', K.delayed, due)
end
local expired = redis.call('ZRANGEBYSCORE', K.active, '-inf', now, 'LIMIT', 0, scanLimit)
if #expired > 0 then
  local metas = readMetas(expired)
  for i, id in ipairs(expired) do
    local m = metas[i]
    if m then
      local spent = m.attempts >= m.maxAttempts
      m.error = { message = 'lease expired: the worker neither completed nor failed the job before ' .. num(m.leaseUntil or now),
        class = 'LeaseExpired', fingerprint = 'lease-expired', at = now, attempt = m.attempts, retryable = not spent }
      m.firstFailedAt = m.firstFailedAt or now
      m.lastFailedAt = now
      m.updatedAt = now
      if spent then
        toDead(id, m, now)
        leaseExpiredDead = leaseExpiredDead + 1
      else
        toWaiting(id, m, now)
        leaseExpired = leaseExpired + 1
      end
      putMeta(id, m)
    end
  end
  bulk('ZREM', K.active, expired)
  if leaseExpired > 0 then redis.call('HINCRBY', K.counters, 'leaseExpired', leaseExpired) end
end
flushMeta()
flushWaiting()
flushDead(now, deadCap)
`;

/**
 * lease: up to N jobs, after promotion and reclaim. ARGV: now, count, leaseMs, leaseUntilMax (0: none),
 * graceMs, workerMarkMs (0: leave the worker mark alone), deadCap, scanLimit.
 * Each leased job: attempts + 1, lease deadline max(leaseMs, timeoutMs + grace) capped by leaseUntilMax,
 * and a fencing token. Returns JSON [[[id, spec, metaJson], ...], waitingLeft, nextRunAt|'', promoted,
 * leaseExpired, leaseExpiredDead, workerRunning (0|1)]. With count 0 it only promotes and reclaims.
 */
export const LEASE = defineScript(
  'lease',
  [
    'waiting',
    'waitingSince',
    'delayed',
    'active',
    'dead',
    'deadFingerprints',
    'jobs',
    'meta',
    'counters',
    'worker',
    'kick',
  ],
  LUA_BASE,
  LUA_WAITING,
  LUA_DEAD,
  `
local now = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local leaseMs = tonumber(ARGV[3])
local untilMax = tonumber(ARGV[4])
local grace = tonumber(ARGV[5])
local markMs = tonumber(ARGV[6])
local deadCap = tonumber(ARGV[7])
local scanLimit = tonumber(ARGV[8])
`,
  LUA_RECLAIM,
  `
local jobs = {}
if count > 0 then
  local ids = redis.call('ZRANGE', K.waiting, 0, count - 1)
  if #ids > 0 then
    local metas = readMetas(ids)
    local specs = redis.call('HMGET', K.jobs, unpack(ids))
    local fence = redis.call('HINCRBY', K.counters, 'fence', #ids)
    local act = {}
    for i, id in ipairs(ids) do
      local m = metas[i]
      if m and specs[i] then
        m.attempts = m.attempts + 1
        m.state = 'active'
        m.updatedAt = now
        m.leasedAt = now
        local lu = now + math.max(leaseMs, (m.timeoutMs or 0) + grace)
        if untilMax > 0 and lu > untilMax then lu = untilMax end
        m.leaseUntil = lu
        m.leaseToken = num(fence - #ids + i)
        putMeta(id, m)
        act[#act + 1] = num(lu)
        act[#act + 1] = id
        jobs[#jobs + 1] = { id, specs[i], cjson.encode(m) }
      end
    end
    bulk('ZREM', K.waiting, ids)
    bulk('ZREM', K.waitingSince, ids)
    bulk('ZADD', K.active, act)
    flushMeta()
  end
end
local waitingLeft = redis.call('ZCARD', K.waiting)
if markMs > 0 then
  if #jobs > 0 then
    redis.call('SET', K.worker, '1', 'PX', markMs)
  else
    redis.call('DEL', K.worker, K.kick)
  end
end
local nextRun = redis.call('ZRANGE', K.delayed, 0, 0, 'WITHSCORES')[2] or ''
return cjson.encode({ jobs, waitingLeft, nextRun, promoted, leaseExpired, leaseExpiredDead, redis.call('EXISTS', K.worker) })
`,
);
