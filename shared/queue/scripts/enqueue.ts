import type { JobState } from '../types.js';
import { ARGS, defineScript, returns } from './define.js';
import { BASE, WAITING } from './lib.js';

export const ENQUEUE = defineScript({
  name: 'enqueue',
  summary: `
Enqueue jobs. A job whose idempotency key is inside its window returns the existing id and writes
nothing. Kick: true when new waiting work exists, no worker is marked running, and this call won
the debounce.`,
  keys: {
    waiting: 'new jobs due now join it',
    waitingSince: 'new jobs due now join it',
    delayed: 'new jobs due later join it',
    jobs: 'new jobs join it',
    meta: 'new jobs join it',
    idempotency: 'read, and new keys join it',
    idempotencyExpiry: 'read, and new keys join it',
    counters: 'writes enqueued (and seq)',
    worker: 'read',
    kick: 'SET NX PX by the call that kicks',
  },
  args: {
    now: ARGS.now,
    window: { kind: 'number', doc: 'idempotency window ms' },
    debounce: { kind: 'number', doc: 'kick debounce ms (0: never kick)' },
    input: { kind: 'json', doc: '[[id, specJson, meta], ...]' },
  },
  result: returns<{ jobs: Array<{ id: string; deduplicated: boolean; state?: JobState }>; kick: boolean }>(
    '{ jobs = [{ id, deduplicated, state? (new jobs) }, ...] in the order of input, kick }',
  ),
  uses: [BASE, WAITING],
  body: `
local w = newWrites()
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
    out[i] = { id = existing, deduplicated = true }
  else
    created = created + 1
    m.createdAt = now
    m.updatedAt = now
    m.attempts = 0
    specs[#specs + 1] = id
    specs[#specs + 1] = spec
    if m.runAt and m.runAt > now then
      m.state = 'delayed'
      putMeta(w, id, m)
      delayed[#delayed + 1] = num(m.runAt)
      delayed[#delayed + 1] = id
    else
      waiting = waiting + 1
      toWaiting(w, id, m, now)
    end
    if m.idem then
      seen[m.idem] = id
      idems[#idems + 1] = m.idem
      idems[#idems + 1] = id
      idexp[#idexp + 1] = num(now + window)
      idexp[#idexp + 1] = m.idem
    end
    out[i] = { id = id, deduplicated = false, state = m.state }
  end
end
if created > 0 then
  bulk('HSET', K.jobs, specs)
  writeMetas(K.meta, w)
  writeWaiting(K.waiting, K.waitingSince, K.counters, w)
  bulk('ZADD', K.delayed, delayed)
  bulk('HSET', K.idempotency, idems)
  bulk('ZADD', K.idempotencyExpiry, idexp)
  redis.call('HINCRBY', K.counters, 'enqueued', created)
end
local kick = false
if debounce > 0 and waiting > 0 and redis.call('EXISTS', K.worker) == 0 then
  kick = redis.call('SET', K.kick, '1', 'NX', 'PX', debounce) ~= false
end
return cjson.encode({ jobs = out, kick = kick })
`,
});
