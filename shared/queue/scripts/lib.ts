import { luaLibrary } from './define.js';

/**
 * Lua libraries shared by the scripts. Each function takes what it needs (keys, the script's pending
 * writes, times) as parameters; a script owns its pending writes (`newWrites()`) and applies them
 * with the write functions, which keep the one ordering that matters themselves (see writeDead).
 */

/** Exact integers, chunked variadic calls, meta reads, and a script's pending writes. */
export const BASE = luaLibrary(
  'base',
  `
-- Waiting order: (1000 - priority) * PRIORITY_SPAN + sequence, so higher priority first, FIFO within one.
local PRIORITY_SPAN = 1099511627776

-- Epoch ms: \`clock\` when the caller gave one (a test's clock), else the Redis server's (TIME), so that
-- every worker and producer reads one clock, whatever their own say.
local function serverNow(clock)
  if clock > 0 then return clock end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- An integer as a string, exactly (cjson and tostring would round past 14 digits).
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

-- One variadic command on key with a flat list of arguments, chunked; nothing when the list is empty.
local function bulk(cmd, key, args)
  chunked(#args, function(i, j) redis.call(cmd, key, unpack(args, i, j)) end)
end

-- The decoded meta records of ids, in order (false for a missing one).
local function readMetas(metaKey, ids)
  local out = {}
  chunked(#ids, function(i, j)
    local raw = redis.call('HMGET', metaKey, unpack(ids, i, j))
    for x = 1, #raw do
      if raw[x] then out[i + x - 1] = cjson.decode(raw[x]) else out[i + x - 1] = false end
    end
  end)
  return out
end

-- A script's pending writes: meta records, moves to waiting, moves to dead (see putMeta, toWaiting,
-- toDead), applied by writeMetas, writeWaiting and writeDead.
local function newWrites()
  return { meta = {}, waiting = {}, dead = {} }
end

-- Queue m as id's meta record (encoded now: call it after the last change to m).
local function putMeta(w, id, m)
  w.meta[#w.meta + 1] = id
  w.meta[#w.meta + 1] = cjson.encode(m)
end

-- Write the queued meta records (one HSET per 4000 fields) and forget them.
local function writeMetas(metaKey, w)
  bulk('HSET', metaKey, w.meta)
  w.meta = {}
end
`,
);

/** Moves to waiting: one HINCRBY for the sequence and one ZADD per index, however many jobs move. */
export const WAITING = luaLibrary(
  'waiting',
  `
-- Make m waiting since \`since\` (ms) and queue its meta record and its move.
local function toWaiting(w, id, m, since)
  m.state = 'waiting'
  m.runAt = nil
  m.leaseToken = nil
  m.leaseUntil = nil
  putMeta(w, id, m)
  w.waiting[#w.waiting + 1] = { id, m.priority or 0, since }
end

-- Add the queued moves to waiting (in the order queued) and waitingSince, and forget them.
local function writeWaiting(waitingKey, waitingSinceKey, countersKey, w)
  local n = #w.waiting
  if n == 0 then return end
  local last = redis.call('HINCRBY', countersKey, 'seq', n)
  local z, s = {}, {}
  for i, e in ipairs(w.waiting) do
    z[#z + 1] = num((1000 - e[2]) * PRIORITY_SPAN + (last - n + i))
    z[#z + 1] = e[1]
    s[#s + 1] = num(e[3])
    s[#s + 1] = e[1]
  end
  bulk('ZADD', waitingKey, z)
  bulk('ZADD', waitingSinceKey, s)
  w.waiting = {}
end
`,
  [BASE],
);

/** Idempotency keys name live jobs only: a job that leaves for good gives its key up. */
export const IDEMPOTENCY = luaLibrary(
  'idempotency',
  `
-- Drop the idempotency keys of removed jobs (ids, with their decoded meta records in metas) that
-- still name them; a key that names another job by now is left alone. Returns how many were dropped.
local function forgetKeys(idempotencyKey, idempotencyExpiryKey, ids, metas)
  local keys, owners = {}, {}
  for i = 1, #ids do
    local m = metas[i]
    if m and m.idem then
      keys[#keys + 1] = m.idem
      owners[#owners + 1] = ids[i]
    end
  end
  if #keys == 0 then return 0 end
  local drop = {}
  chunked(#keys, function(i, j)
    local named = redis.call('HMGET', idempotencyKey, unpack(keys, i, j))
    for x = 1, #named do
      if named[x] == owners[i + x - 1] then drop[#drop + 1] = keys[i + x - 1] end
    end
  end)
  bulk('HDEL', idempotencyKey, drop)
  bulk('ZREM', idempotencyExpiryKey, drop)
  return #drop
end
`,
  [BASE],
);

/**
 * Moves to dead, the DLQ cap, and removal of dead jobs with their fingerprint counts and their entries
 * of the dead index (fingerprint, then died-at: a replay by fingerprint reads only its own jobs).
 */
export const DEAD = luaLibrary(
  'dead',
  `
-- The fingerprint a dead job is grouped by.
local function fingerprintOf(m)
  return (m and m.error and m.error.fingerprint) or 'unknown'
end

-- A dead job's member of the dead index: its fingerprint, when it died (16 digits), its id.
local function deadMember(fp, diedAt, id)
  return fp .. ':' .. string.format('%016.0f', diedAt) .. ':' .. id
end

-- Make m dead at \`now\` and queue its meta record and its move.
local function toDead(w, id, m, now)
  m.state = 'dead'
  m.diedAt = now
  m.leaseToken = nil
  m.leaseUntil = nil
  m.runAt = nil
  putMeta(w, id, m)
  w.dead[#w.dead + 1] = { id, fingerprintOf(m) }
end

-- Add delta[fp] to each fingerprint's count; a count that reaches 0 is removed.
local function adjustFingerprints(deadFingerprintsKey, delta)
  for fp, d in pairs(delta) do
    if d ~= 0 then
      local left = redis.call('HINCRBY', deadFingerprintsKey, fp, d)
      if left <= 0 then redis.call('HDEL', deadFingerprintsKey, fp) end
    end
  end
end

-- Remove dead jobs (members of deadKey) with their records, their dead index entries and the
-- idempotency keys that name them. Returns how many.
local function removeDead(deadKey, deadFingerprintsKey, deadIndexKey, jobsKey, metaKey, idempotencyKey,
    idempotencyExpiryKey, ids)
  if #ids == 0 then return 0 end
  local metas = readMetas(metaKey, ids)
  forgetKeys(idempotencyKey, idempotencyExpiryKey, ids, metas)
  local delta, members = {}, {}
  for i = 1, #ids do
    local fp = fingerprintOf(metas[i])
    delta[fp] = (delta[fp] or 0) - 1
    if metas[i] and metas[i].diedAt then members[#members + 1] = deadMember(fp, metas[i].diedAt, ids[i]) end
  end
  adjustFingerprints(deadFingerprintsKey, delta)
  bulk('ZREM', deadIndexKey, members)
  bulk('ZREM', deadKey, ids)
  bulk('HDEL', jobsKey, ids)
  bulk('HDEL', metaKey, ids)
  return #ids
end

-- Trim the DLQ to \`cap\`, oldest first, at most \`limit\` (nil: all), counted in deadTrimmed. Returns how many.
local function trimDead(deadKey, deadFingerprintsKey, deadIndexKey, jobsKey, metaKey, idempotencyKey,
    idempotencyExpiryKey, countersKey, cap, limit)
  local over = redis.call('ZCARD', deadKey) - cap
  if over <= 0 then return 0 end
  if limit and over > limit then over = limit end
  local ids = redis.call('ZRANGE', deadKey, 0, over - 1)
  removeDead(deadKey, deadFingerprintsKey, deadIndexKey, jobsKey, metaKey, idempotencyKey, idempotencyExpiryKey, ids)
  redis.call('HINCRBY', countersKey, 'deadTrimmed', #ids)
  return #ids
end

-- Apply the queued moves to dead, then trim the DLQ to \`cap\`. The pending meta records are written
-- first, here, because trimming reads and deletes records (the newest dead may be trimmed at once).
-- Returns how many were trimmed.
local function writeDead(deadKey, deadFingerprintsKey, deadIndexKey, jobsKey, metaKey, idempotencyKey,
    idempotencyExpiryKey, countersKey, w, now, cap)
  writeMetas(metaKey, w)
  local n = #w.dead
  if n == 0 then return 0 end
  local z, x, delta = {}, {}, {}
  for _, d in ipairs(w.dead) do
    z[#z + 1] = num(now)
    z[#z + 1] = d[1]
    x[#x + 1] = '0'
    x[#x + 1] = deadMember(d[2], now, d[1])
    delta[d[2]] = (delta[d[2]] or 0) + 1
  end
  bulk('ZADD', deadKey, z)
  bulk('ZADD', deadIndexKey, x)
  adjustFingerprints(deadFingerprintsKey, delta)
  redis.call('HINCRBY', countersKey, 'dead', n)
  w.dead = {}
  return trimDead(deadKey, deadFingerprintsKey, deadIndexKey, jobsKey, metaKey, idempotencyKey, idempotencyExpiryKey,
    countersKey, cap)
end
`,
  [BASE, IDEMPOTENCY],
);

/** A job's attempt history: its last attempts, in its meta record (written with it, no command of its own). */
export const HISTORY = luaLibrary(
  'history',
  `
-- A job keeps its last HISTORY_MAX attempts, oldest first.
local HISTORY_MAX = 10

-- Record m's attempt that ended by \`now\`: \`outcome\` (completed, failed or leaseExpired), \`state\`
-- (where the job went) and what the worker reported in r: agoMs (how long before now it ended),
-- ranMs (how long it ran; else it ran since its lease), status (HTTP), class and message (of a
-- failure), requestId (else the lease holder's). Times are the server's: only durations cross clocks.
-- Call it before m is queued (putMeta, toWaiting, toDead).
local function recordAttempt(m, now, outcome, state, r)
  local ended = now - (tonumber(r.agoMs) or 0)
  local started = m.leasedAt or ended
  if tonumber(r.ranMs) then started = ended - tonumber(r.ranMs) end
  if started > ended then started = ended end
  local h = m.history
  if type(h) ~= 'table' then h = {} end
  h[#h + 1] = { attempt = m.attempts, startedAt = started, endedAt = ended, durationMs = ended - started,
    outcome = outcome, state = state, status = r.status, errorClass = r.class, message = r.message,
    requestId = r.requestId or m.leasedBy }
  while #h > HISTORY_MAX do table.remove(h, 1) end
  m.history = h
end
`,
);

/**
 * The `due` index (keys.ts): per queue, when it next needs a worker. A script that makes work due
 * sooner lowers the queue's score (dueBy); a lease sets it exactly (dueExact). Scripts that only make
 * work later or take it away (extend, cancel, purge) leave it: a score too early costs one reclaim,
 * which makes it exact; a score too late would strand a job, and no script leaves one. Complete and
 * fail free a slot: under a concurrency cap, with jobs waiting, they make the queue due now (DUE_FREED).
 */
export const DUE = luaLibrary(
  'due',
  `
-- Make queue due by t (epoch ms) at the latest: ZADD LT, so a later t changes nothing.
local function dueBy(dueKey, queue, t)
  redis.call('ZADD', dueKey, 'LT', num(t), queue)
end

-- Set queue's due time exactly: now when jobs wait (\`waiting\` of them), else the earlier of its
-- first delayed run-at (nextRunAt: a score, or nil) and its first lease deadline; no entry when neither.
local function dueExact(dueKey, activeKey, queue, now, waiting, nextRunAt)
  local t = nil
  if waiting > 0 then
    t = now
  else
    if nextRunAt then t = tonumber(nextRunAt) end
    local lease = redis.call('ZRANGE', activeKey, 0, 0, 'WITHSCORES')[2]
    if lease and (not t or tonumber(lease) < t) then t = tonumber(lease) end
  end
  if t then redis.call('ZADD', dueKey, num(t), queue) else redis.call('ZREM', dueKey, queue) end
end

-- Jobs about to join delayedKey, the earliest at \`earliest\` (epoch ms, or nil for none): that time
-- when it is sooner than the queue's first delayed job so far (its timer must move earlier), else nil.
-- Call it before adding them.
local function wakeOf(delayedKey, earliest)
  if not earliest then return nil end
  local first = redis.call('ZRANGE', delayedKey, 0, 0, 'WITHSCORES')[2]
  if first and tonumber(first) <= earliest then return nil end
  return earliest
end
`,
  [BASE],
);

/** A call's answer kept under its nonce (keys.ts requestKey), so that the call retried answers the same. */
export const REQUEST = luaLibrary(
  'request',
  `
-- The answer an earlier run of this call kept under its nonce, or false (ttl 0: none looked for).
local function keptAnswer(requestKey, ttl)
  if ttl > 0 then return redis.call('GET', requestKey) end
  return false
end

-- Encode the answer a and keep it under the call's nonce for ttl ms (0: not kept); returns it.
local function keepAnswer(requestKey, ttl, a)
  local out = cjson.encode(a)
  if ttl > 0 then redis.call('SET', requestKey, out, 'PX', ttl) end
  return out
end
`,
);

/**
 * The active workers of a queue (keys.ts workers, workersInfo): each worker invocation's entry, by
 * its request id, written by its own lease and heartbeat (extend) calls, so that it costs no command
 * of its own; an entry is valid until its score (the worker's last call plus the ttl it gave), and
 * its last lease (it leaves) or its last extend (the end of its time) removes it.
 */
export const WORKERS = luaLibrary(
  'workers',
  `
-- Remove up to \`limit\` entries whose time ran out by \`now\` (their worker stopped calling). Returns how many.
local function trimWorkers(workersKey, infoKey, now, limit)
  local gone = redis.call('ZRANGEBYSCORE', workersKey, '-inf', now, 'LIMIT', 0, limit)
  if #gone == 0 then return 0 end
  bulk('ZREM', workersKey, gone)
  bulk('HDEL', infoKey, gone)
  return #gone
end

-- Record worker w ({ id, ttlMs, held, done, gone }) at \`now\`: its entry, valid ttlMs, with the jobs it
-- holds (\`leased\` more than w.held: the ones this call leased) and has done; with w.gone, remove it.
-- Nothing without an id. Also trims a few entries whose time ran out.
local function workerBeat(workersKey, infoKey, w, now, leased)
  if type(w) ~= 'table' or not w.id or w.id == '' then return end
  if w.gone then
    redis.call('ZREM', workersKey, w.id)
    redis.call('HDEL', infoKey, w.id)
  else
    local raw = redis.call('HGET', infoKey, w.id)
    local started = now
    if raw then started = tonumber(cjson.decode(raw).startedAt) or now end
    redis.call('ZADD', workersKey, num(now + w.ttlMs), w.id)
    redis.call('HSET', infoKey, w.id, cjson.encode({ startedAt = started, lastHeartbeatAt = now,
      held = (tonumber(w.held) or 0) + leased, done = tonumber(w.done) or 0 }))
  end
  trimWorkers(workersKey, infoKey, now, 10)
end
`,
  [BASE],
);

/** A slot a job leaves under a concurrency cap makes the queue due now (complete, fail). */
export const DUE_FREED = luaLibrary(
  'dueFreed',
  `
-- A slot freed (a job left active: completed, failed): a queue whose waiting jobs a concurrency cap
-- held (settings field maxConcurrency, not paused) is due now, not at the lease deadline its last
-- lease set while every slot was taken.
local function dueFreed(dueKey, settingsKey, waitingKey, queue, now)
  local f = redis.call('HMGET', settingsKey, 'maxConcurrency', 'paused')
  if f[1] and f[2] ~= '1' and redis.call('ZCARD', waitingKey) > 0 then dueBy(dueKey, queue, now) end
end
`,
  [DUE],
);
