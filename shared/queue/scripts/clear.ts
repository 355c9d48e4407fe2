import { ARGS, defineScript, REQUEST_KEY, returns } from './define.js';
import { BASE, DEAD, IDEMPOTENCY } from './lib.js';

export const CLEAR = defineScript({
  name: 'clear',
  summary: `
Clear a queue: remove its waiting and delayed jobs (with includeDead its dead ones too; with force
its active ones too, whose workers' acks are then refused as stale) with their records and the
idempotency keys that name them. Without force, a queue with active jobs is refused (conflict, and
nothing is written). Writes the call's audit record (with the counts removed) to the audit list in
the same script. A queue left holding no job leaves the registry (touched, queues) and the due
index; else its due time is set from what is left. The worker mark goes too (the next enqueue
writes the indexes and may kick; an enqueue that finds the mark writes neither, see enqueue). Safe to run twice: the answer is kept under the
request nonce, and a run that finds it answers it and removes nothing more. One script over the
whole queue: its cost grows with the jobs removed.`,
  keys: {
    waiting: 'cleared jobs leave it',
    waitingSince: 'cleared jobs leave it',
    delayed: 'cleared jobs leave it',
    active: 'read; with force, its jobs leave it',
    dead: 'with includeDead, its jobs leave it',
    deadFingerprints: '',
    deadIndex: '',
    jobs: 'cleared jobs leave it',
    meta: 'cleared jobs leave it',
    idempotency: 'keys of cleared jobs leave it',
    idempotencyExpiry: 'keys of cleared jobs leave it',
    auditDlqReplay: "this call's audit record joins it",
    request: REQUEST_KEY,
    due: 'the queue leaves it (nothing is left to run)',
    worker: 'deleted: a worker still running sets it again with its next lease',
    touched: 'the queue leaves it when it holds no job',
    queues: 'the queue leaves it when it holds no job',
  },
  args: {
    includeDead: { kind: 'flag', doc: 'remove the dead jobs too' },
    force: { kind: 'flag', doc: 'clear even while jobs are active (they are removed too)' },
    audit: { kind: 'json', doc: "{ record, cap }: this call's audit record and the list's cap" },
    requestTtlMs: ARGS.requestTtlMs,
    queue: ARGS.queue,
  },
  result: returns<{
    status: 'ok' | 'conflict';
    waiting: number;
    delayed: number;
    active: number;
    dead: number;
    left: number;
    unregistered: boolean;
  }>(
    '{ status = ok|conflict, waiting, delayed, active, dead (removed; conflict: active is how many are active), left (jobs kept), unregistered }',
  ),
  uses: [BASE, IDEMPOTENCY, DEAD],
  body: `
local earlier = requestTtlMs > 0 and redis.call('GET', K.request)
if earlier then return earlier end
local activeN = redis.call('ZCARD', K.active)
if activeN > 0 and not force then
  return cjson.encode({ status = 'conflict', waiting = 0, delayed = 0, active = activeN, dead = 0,
    left = redis.call('HLEN', K.meta), unregistered = false })
end
-- Remove the members of a state set, with their records and the idempotency keys that name them.
local function removeAll(key)
  local ids = redis.call('ZRANGE', key, 0, -1)
  if #ids == 0 then return 0 end
  forgetKeys(K.idempotency, K.idempotencyExpiry, ids, readMetas(K.meta, ids))
  bulk('ZREM', key, ids)
  bulk('HDEL', K.jobs, ids)
  bulk('HDEL', K.meta, ids)
  return #ids
end
local waiting = removeAll(K.waiting)
redis.call('DEL', K.waitingSince)
local delayed = removeAll(K.delayed)
local active = 0
if force then active = removeAll(K.active) end
local dead = 0
if includeDead then
  dead = removeDead(K.dead, K.deadFingerprints, K.deadIndex, K.jobs, K.meta, K.idempotency, K.idempotencyExpiry,
    redis.call('ZRANGE', K.dead, 0, -1))
end
local left = redis.call('HLEN', K.meta)
-- Nothing is left to run: no waiting or delayed job, and no lease to reclaim.
redis.call('ZREM', K.due, queue)
redis.call('DEL', K.worker)
local unregistered = false
if left == 0 then
  redis.call('ZREM', K.touched, queue)
  redis.call('SREM', K.queues, queue)
  unregistered = true
end
local r = audit.record
r.removed = { waiting = waiting, delayed = delayed, active = active, dead = dead }
r.unregistered = unregistered
redis.call('LPUSH', K.auditDlqReplay, cjson.encode(r))
redis.call('LTRIM', K.auditDlqReplay, 0, audit.cap - 1)
local out = cjson.encode({ status = 'ok', waiting = waiting, delayed = delayed, active = active, dead = dead,
  left = left, unregistered = unregistered })
if requestTtlMs > 0 then redis.call('SET', K.request, out, 'PX', requestTtlMs) end
return out
`,
});
