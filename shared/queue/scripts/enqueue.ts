import { LUA_BASE, LUA_WAITING } from './common.js';
import { defineScript } from './define.js';

/**
 * enqueue: one or many jobs. ARGV: now, idempotency window ms, kick debounce ms (0: never kick),
 * JSON [[id, specJson, meta], ...]. A job whose idempotency key is inside its window returns the
 * existing id and writes nothing. Returns JSON [[id, deduplicated(0|1), state], ...], kick].
 * Kick: true when new waiting work exists, no worker is marked running, and this call won the debounce.
 */
export const ENQUEUE = defineScript(
  'enqueue',
  [
    'waiting',
    'waitingSince',
    'delayed',
    'jobs',
    'meta',
    'idempotency',
    'idempotencyExpiry',
    'counters',
    'worker',
    'kick',
  ],
  LUA_BASE,
  LUA_WAITING,
  `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local debounce = tonumber(ARGV[3])
local input = cjson.decode(ARGV[4])
local out, specs, delayed, idems, idexp, seen = {}, {}, {}, {}, {}, {}
local created, waiting = 0, 0
for i, j in ipairs(input) do
  local id, spec, m = j[1], j[2], j[3]
  local existing = false
  if m.idem then
    existing = seen[m.idem] or false
    if not existing then
      local prev = redis.call('HGET', K.idempotency, m.idem)
      if prev then
        local exp = tonumber(redis.call('ZSCORE', K.idempotencyExpiry, m.idem))
        if exp and exp > now then existing = prev end
      end
    end
  end
  if existing then
    out[i] = { existing, 1, '' }
  else
    created = created + 1
    m.createdAt = now
    m.updatedAt = now
    m.attempts = 0
    specs[#specs + 1] = id
    specs[#specs + 1] = spec
    if m.runAt and m.runAt > now then
      m.state = 'delayed'
      delayed[#delayed + 1] = num(m.runAt)
      delayed[#delayed + 1] = id
    else
      waiting = waiting + 1
      toWaiting(id, m, now)
    end
    putMeta(id, m)
    if m.idem then
      seen[m.idem] = id
      idems[#idems + 1] = m.idem
      idems[#idems + 1] = id
      idexp[#idexp + 1] = num(now + window)
      idexp[#idexp + 1] = m.idem
    end
    out[i] = { id, 0, m.state }
  end
end
if created > 0 then
  bulk('HSET', K.jobs, specs)
  flushMeta()
  flushWaiting()
  bulk('ZADD', K.delayed, delayed)
  bulk('HSET', K.idempotency, idems)
  bulk('ZADD', K.idempotencyExpiry, idexp)
  redis.call('HINCRBY', K.counters, 'enqueued', created)
end
local kick = false
if debounce > 0 and waiting > 0 and redis.call('EXISTS', K.worker) == 0 then
  kick = redis.call('SET', K.kick, '1', 'NX', 'PX', debounce) ~= false
end
return cjson.encode({ out, kick })
`,
);
