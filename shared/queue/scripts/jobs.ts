import { LUA_BASE } from './common.js';
import { defineScript } from './define.js';

/** get: many jobs by id. ARGV: JSON [id, ...]. Returns JSON [[id, spec|false, metaJson|false], ...]. */
export const GET = defineScript(
  'get',
  ['jobs', 'meta'],
  `
local ids = cjson.decode(ARGV[1])
local out = {}
if #ids > 0 then
  local specs = redis.call('HMGET', K.jobs, unpack(ids))
  local metas = redis.call('HMGET', K.meta, unpack(ids))
  for i, id in ipairs(ids) do out[i] = { id, specs[i], metas[i] } end
end
return cjson.encode(out)
`,
);

/**
 * list: one state's sorted set, in its order, from a cursor (score, id). KEYS: the state's set, jobs, meta.
 * ARGV: limit, cursor score ('' for the start), cursor id. Returns JSON [[[id, spec, meta, score], ...], total].
 */
export const LIST = defineScript(
  'list',
  ['waiting', 'jobs', 'meta'],
  `
local limit = tonumber(ARGV[1])
local start = 0
if ARGV[3] ~= '' then
  local r = redis.call('ZRANK', K.waiting, ARGV[3])
  if r then start = r + 1 else start = redis.call('ZCOUNT', K.waiting, '-inf', ARGV[2]) end
end
local page = redis.call('ZRANGE', K.waiting, start, start + limit - 1, 'WITHSCORES')
local out = {}
for i = 1, #page, 2 do
  local id = page[i]
  out[#out + 1] = { id, redis.call('HGET', K.jobs, id), redis.call('HGET', K.meta, id), page[i + 1] }
end
return cjson.encode({ out, redis.call('ZCARD', K.waiting) })
`,
);

/**
 * cancel: a waiting or delayed job is removed with its records. ARGV: id.
 * Returns JSON [status ('ok'|'conflict'|'not_found'), state].
 */
export const CANCEL = defineScript(
  'cancel',
  ['waiting', 'waitingSince', 'delayed', 'jobs', 'meta', 'counters'],
  LUA_BASE,
  `
local id = ARGV[1]
local raw = redis.call('HGET', K.meta, id)
if not raw then return cjson.encode({ 'not_found' }) end
local m = cjson.decode(raw)
if m.state ~= 'waiting' and m.state ~= 'delayed' then return cjson.encode({ 'conflict', m.state }) end
redis.call('ZREM', K.waiting, id)
redis.call('ZREM', K.waitingSince, id)
redis.call('ZREM', K.delayed, id)
redis.call('HDEL', K.jobs, id)
redis.call('HDEL', K.meta, id)
redis.call('HINCRBY', K.counters, 'cancelled', 1)
return cjson.encode({ 'ok', m.state })
`,
);
