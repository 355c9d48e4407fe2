import { ARGS, defineScript, REQUEST_KEY, returns } from './define.js';
import { BASE, DEAD, DUE, REQUEST, WAITING } from './lib.js';

export const DEAD_GROUPS = defineScript({
  name: 'deadGroups',
  readOnly: true,
  summary: `
The DLQ grouped by fingerprint. Counts are exact (kept in deadFingerprints); samples come from the
newest \`scan\` dead jobs, at most \`samples\` per fingerprint.`,
  keys: {
    dead: 'read',
    deadFingerprints: 'read',
    jobs: 'read',
    meta: 'read',
  },
  args: {
    scan: { kind: 'number', doc: 'newest dead jobs to take samples from' },
    samples: { kind: 'number', doc: 'samples per fingerprint' },
  },
  result: returns<{
    counts: Record<string, number>;
    samples: Array<{ id: string; spec: string; meta: string }>;
    total: number;
  }>('{ counts = { [fingerprint] = n }, samples = [{ id, spec, meta }, ...] newest first, total }'),
  body: `
local flat = redis.call('HGETALL', K.deadFingerprints)
local counts = {}
for i = 1, #flat, 2 do counts[flat[i]] = tonumber(flat[i + 1]) end
local ids = redis.call('ZREVRANGE', K.dead, 0, scan - 1)
local out, taken = {}, {}
if #ids > 0 then
  local metas = redis.call('HMGET', K.meta, unpack(ids))
  for i, id in ipairs(ids) do
    local raw = metas[i]
    if raw then
      local m = cjson.decode(raw)
      local fp = (m.error and m.error.fingerprint) or 'unknown'
      if (taken[fp] or 0) < samples then
        taken[fp] = (taken[fp] or 0) + 1
        out[#out + 1] = { id = id, spec = redis.call('HGET', K.jobs, id), meta = raw }
      end
    end
  end
end
return cjson.encode({ counts = counts, samples = out, total = redis.call('ZCARD', K.dead) })
`,
});

export const REPLAY = defineScript({
  name: 'replay',
  summary: `
Move a selection of dead jobs back to waiting with attempts reset (counted in replayed); with
dryRun, report exactly what would move and write nothing. The selection: the given ids (each
once); or, with a fingerprint, that fingerprint's entries of the dead index in died-at order (the
jobs selected are all it reads: O(limit log n), whatever the size of the DLQ); or a scan of the dead
set by died-at, bounded by scanMax (also for a fingerprint while the index does not cover the DLQ:
its size differs from the dead set's, as after an upgrade, until the older dead jobs are gone).
With retryableOnly, only jobs whose last failure was retryable (not retryable: false, not of class
Expired) match; with maxReplays, only jobs replayed fewer times (m.replays) match.
With an audit record, writes it (with matched, moved and byFingerprint) in the same script, dry
runs included. Safe to run twice: the answer is kept under the request nonce, and a run that finds
it answers it and does nothing more.`,
  keys: {
    dead: 'replayed jobs leave it',
    deadFingerprints: '',
    deadIndex: 'replayed jobs leave it; read to select by fingerprint',
    meta: '',
    waiting: 'replayed jobs join it',
    waitingSince: 'replayed jobs join it',
    counters: 'writes replayed (and seq)',
    auditDlqReplay: "this call's audit record joins it",
    request: REQUEST_KEY,
    due: 'the queue is due now when jobs move',
  },
  args: {
    clock: ARGS.clock,
    dryRun: { kind: 'flag', doc: 'report only' },
    ids: { kind: 'json', doc: '[id, ...], or [] to scan the dead set' },
    fingerprint: { kind: 'string', doc: "only jobs with this fingerprint ('' for any)" },
    failedAfter: { kind: 'string', doc: "died at or after ('-inf' or ms)" },
    failedBefore: { kind: 'string', doc: "died at or before ('+inf' or ms)" },
    limit: { kind: 'number', doc: 'jobs matched at most' },
    scanMax: { kind: 'number', doc: 'dead jobs examined at most' },
    retryableOnly: { kind: 'flag', doc: 'only jobs whose last failure was retryable' },
    maxReplays: { kind: 'number', doc: 'only jobs replayed fewer times than this (0: any)' },
    audit: { kind: 'json', doc: "{ record, cap }: this call's audit record and the list's cap ({} for none)" },
    requestTtlMs: ARGS.requestTtlMs,
    queue: ARGS.queue,
  },
  result: returns<{ jobs: Array<{ id: string; meta: string }>; scanned: number; truncated: boolean }>(
    '{ jobs = [{ id, meta (as it was dead) }, ...], scanned, truncated }',
  ),
  uses: [BASE, WAITING, DEAD, DUE],
  body: `
local earlier = requestTtlMs > 0 and redis.call('GET', K.request)
if earlier then return earlier end
local now = serverNow(clock)
local lo = failedAfter == '-inf' and -math.huge or tonumber(failedAfter)
local hi = failedBefore == '+inf' and math.huge or tonumber(failedBefore)
local matched, metasOf = {}, {}
local scanned, truncated = 0, false
local function consider(id, m)
  if #matched >= limit then return end
  if not m or m.state ~= 'dead' then return end
  if retryableOnly and not (m.error and m.error.retryable ~= false and m.error.class ~= 'Expired') then return end
  if maxReplays > 0 and (tonumber(m.replays) or 0) >= maxReplays then return end
  if fingerprint == '' or (m.error and m.error.fingerprint == fingerprint) then
    matched[#matched + 1] = id
    metasOf[#matched] = m
  end
end
-- Consider each of ids, dead jobs read in one HMGET.
local function examine(chunk)
  local metas = readMetas(K.meta, chunk)
  for i, id in ipairs(chunk) do
    scanned = scanned + 1
    consider(id, metas[i])
  end
end
if #ids > 0 then
  -- each id once, in the order first given
  local given, once = ids, {}
  ids = {}
  for _, id in ipairs(given) do
    if not once[id] then
      once[id] = true
      ids[#ids + 1] = id
    end
  end
  local metas = readMetas(K.meta, ids)
  for i, id in ipairs(ids) do
    scanned = scanned + 1
    local score = tonumber(redis.call('ZSCORE', K.dead, id))
    if score and score >= lo and score <= hi then consider(id, metas[i]) end
  end
elseif fingerprint ~= '' and redis.call('ZCARD', K.deadIndex) == redis.call('ZCARD', K.dead) then
  -- this fingerprint's dead jobs, oldest first, died in [lo, hi]
  local from = '[' .. deadMember(fingerprint, math.max(0, lo), '')
  local to = '[' .. fingerprint .. ';'
  if hi ~= math.huge then to = '(' .. deadMember(fingerprint, math.max(0, hi + 1), '') end
  local skip = #fingerprint + 19
  local offset = 0
  while #matched < limit do
    local chunk = redis.call('ZRANGEBYLEX', K.deadIndex, from, to, 'LIMIT', offset, limit - #matched)
    if #chunk == 0 then break end
    offset = offset + #chunk
    local ids = {}
    for x, member in ipairs(chunk) do ids[x] = string.sub(member, skip) end
    examine(ids)
  end
else
  local offset = 0
  while #matched < limit and scanned < scanMax do
    local chunk = redis.call('ZRANGEBYSCORE', K.dead, failedAfter, failedBefore, 'LIMIT', offset, math.min(200, scanMax - scanned))
    if #chunk == 0 then break end
    offset = offset + #chunk
    examine(chunk)
  end
  if #matched < limit and scanned >= scanMax then
    truncated = #redis.call('ZRANGEBYSCORE', K.dead, failedAfter, failedBefore, 'LIMIT', offset, 1) > 0
  end
end
local report = {}
for i, id in ipairs(matched) do report[i] = { id = id, meta = cjson.encode(metasOf[i]) } end
if not dryRun and #matched > 0 then
  local w = newWrites()
  local delta, members = {}, {}
  for i, id in ipairs(matched) do
    local m = metasOf[i]
    local f = fingerprintOf(m)
    delta[f] = (delta[f] or 0) - 1
    if m.diedAt then members[#members + 1] = deadMember(f, m.diedAt, id) end
    m.attempts = 0
    m.replays = (m.replays or 0) + 1
    m.replayedAt = now
    m.diedAt = nil
    m.updatedAt = now
    toWaiting(w, id, m, now)
  end
  adjustFingerprints(K.deadFingerprints, delta)
  bulk('ZREM', K.dead, matched)
  bulk('ZREM', K.deadIndex, members)
  writeMetas(K.meta, w)
  writeWaiting(K.waiting, K.waitingSince, K.counters, w)
  redis.call('HINCRBY', K.counters, 'replayed', #matched)
  dueBy(K.due, queue, now)
end
if audit.record then
  local r, by = audit.record, {}
  for _, m in ipairs(metasOf) do
    local f = fingerprintOf(m)
    by[f] = (by[f] or 0) + 1
  end
  r.matched = #matched
  r.moved = dryRun and 0 or #matched
  r.byFingerprint = by
  redis.call('LPUSH', K.auditDlqReplay, cjson.encode(r))
  redis.call('LTRIM', K.auditDlqReplay, 0, audit.cap - 1)
end
local out = cjson.encode({ jobs = report, scanned = scanned, truncated = truncated })
if requestTtlMs > 0 then redis.call('SET', K.request, out, 'PX', requestTtlMs) end
return out
`,
});

export const DELETE_DEAD = defineScript({
  name: 'deleteDead',
  summary: `
Remove dead jobs for good, with the idempotency keys that name them (ids that are not dead are left
alone). Safe to run twice: the answer is kept under the request nonce, and a run that finds it
answers it and deletes nothing more.`,
  keys: {
    dead: 'deleted jobs leave it',
    deadFingerprints: '',
    deadIndex: '',
    jobs: 'deleted jobs leave it',
    meta: 'deleted jobs leave it',
    idempotency: 'keys of deleted jobs leave it',
    idempotencyExpiry: 'keys of deleted jobs leave it',
    request: REQUEST_KEY,
  },
  args: {
    ids: { kind: 'json', doc: '[id, ...]' },
    requestTtlMs: ARGS.requestTtlMs,
  },
  result: returns<{ deleted: string[] }>('{ deleted = [id, ...] the ids that were dead }'),
  uses: [BASE, DEAD, REQUEST],
  body: `
local earlier = keptAnswer(K.request, requestTtlMs)
if earlier then return earlier end
local found, once = {}, {}
for _, id in ipairs(ids) do
  if not once[id] and redis.call('ZSCORE', K.dead, id) then found[#found + 1] = id end
  once[id] = true
end
removeDead(K.dead, K.deadFingerprints, K.deadIndex, K.jobs, K.meta, K.idempotency, K.idempotencyExpiry, found)
return keepAnswer(K.request, requestTtlMs, { deleted = found })
`,
});
