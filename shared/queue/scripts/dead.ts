import { LUA_BASE, LUA_DEAD, LUA_WAITING } from './common.js';
import { defineScript } from './define.js';

/**
 * deadGroups: the DLQ grouped by fingerprint. Counts are exact (kept in dead:fingerprints); samples
 * come from the newest `scan` dead jobs. ARGV: scan, samples per group.
 * Returns JSON [[fp, count, ...flat], [[id, spec, meta], ...samples newest first], total].
 */
export const DEAD_GROUPS = defineScript(
  'deadGroups',
  ['dead', 'deadFingerprints', 'jobs', 'meta'],
  LUA_BASE,
  `
local scan = tonumber(ARGV[1])
local per = tonumber(ARGV[2])
local counts = redis.call('HGETALL', K.deadFingerprints)
local ids = redis.call('ZREVRANGE', K.dead, 0, scan - 1)
local samples, taken = {}, {}
if #ids > 0 then
  local metas = redis.call('HMGET', K.meta, unpack(ids))
  for i, id in ipairs(ids) do
    local raw = metas[i]
    if raw then
      local m = cjson.decode(raw)
      local fp = (m.error and m.error.fingerprint) or 'unknown'
      if (taken[fp] or 0) < per then
        taken[fp] = (taken[fp] or 0) + 1
        samples[#samples + 1] = { id, redis.call('HGET', K.jobs, id), raw }
      end
    end
  end
end
return cjson.encode({ counts, samples, redis.call('ZCARD', K.dead) })
`,
);

/**
 * replay: move a selection of dead jobs back to waiting with attempts reset; with dryRun, report
 * exactly what would move and write nothing. ARGV: now, dryRun (1|0), JSON ids ('' for none),
 * fingerprint ('' for any), failedAfter ('-inf' or ms), failedBefore ('+inf' or ms), limit, scanMax.
 * Returns JSON [[[id, metaJson], ...matched], scanned, truncated].
 */
export const REPLAY = defineScript(
  'replay',
  ['dead', 'deadFingerprints', 'jobs', 'meta', 'waiting', 'waitingSince', 'counters'],
  LUA_BASE,
  LUA_WAITING,
  LUA_DEAD,
  `
local now = tonumber(ARGV[1])
local dry = ARGV[2] == '1'
local fp = ARGV[4]
local after, before = ARGV[5], ARGV[6]
local limit = tonumber(ARGV[7])
local scanMax = tonumber(ARGV[8])
local lo = after == '-inf' and -math.huge or tonumber(after)
local hi = before == '+inf' and math.huge or tonumber(before)
local matched, metasOf = {}, {}
local scanned, truncated = 0, false
local function consider(id, m)
  if #matched >= limit then return end
  if m and m.state == 'dead' and (fp == '' or (m.error and m.error.fingerprint == fp)) then
    matched[#matched + 1] = id
    metasOf[#matched] = m
  end
end
if ARGV[3] ~= '' then
  local ids = cjson.decode(ARGV[3])
  local metas = readMetas(ids)
  for i, id in ipairs(ids) do
    scanned = scanned + 1
    local score = tonumber(redis.call('ZSCORE', K.dead, id))
    if score and score >= lo and score <= hi then consider(id, metas[i]) end
  end
else
  local offset = 0
  while #matched < limit and scanned < scanMax do
    local chunk = redis.call('ZRANGEBYSCORE', K.dead, after, before, 'LIMIT', offset, math.min(200, scanMax - scanned))
    if #chunk == 0 then break end
    offset = offset + #chunk
    local metas = readMetas(chunk)
    for i, id in ipairs(chunk) do
      scanned = scanned + 1
      consider(id, metas[i])
    end
  end
  if #matched < limit and scanned >= scanMax then
    truncated = #redis.call('ZRANGEBYSCORE', K.dead, after, before, 'LIMIT', offset, 1) > 0
  end
end
local report = {}
for i, id in ipairs(matched) do report[i] = { id, cjson.encode(metasOf[i]) } end
if not dry and #matched > 0 then
  local delta = {}
  for i, id in ipairs(matched) do
    local m = metasOf[i]
    local f = (m.error and m.error.fingerprint) or 'unknown'
    delta[f] = (delta[f] or 0) - 1
    m.attempts = 0
    m.replays = (m.replays or 0) + 1
    m.replayedAt = now
    m.diedAt = nil
    m.updatedAt = now
    toWaiting(id, m, now)
    putMeta(id, m)
  end
  adjustFingerprints(delta)
  bulk('ZREM', K.dead, matched)
  flushMeta()
  flushWaiting()
  redis.call('HINCRBY', K.counters, 'replayed', #matched)
end
return cjson.encode({ report, scanned, truncated })
`,
);

/** deleteDead: remove dead jobs for good. ARGV: JSON [id, ...]. Returns JSON [deleted ids]. */
export const DELETE_DEAD = defineScript(
  'deleteDead',
  ['dead', 'deadFingerprints', 'jobs', 'meta', 'counters'],
  LUA_BASE,
  LUA_DEAD,
  `
local ids = cjson.decode(ARGV[1])
local found = {}
for _, id in ipairs(ids) do
  if redis.call('ZSCORE', K.dead, id) then found[#found + 1] = id end
end
removeDead(found)
return cjson.encode({ found })
`,
);
