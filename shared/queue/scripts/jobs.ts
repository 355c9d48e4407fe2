import type { JobState } from '../types.js';
import { ARGS, defineScript, REQUEST_KEY, returns } from './define.js';
import { BASE, DUE, IDEMPOTENCY, REQUEST, WAITING } from './lib.js';

/** A job's two records as stored: spec JSON and meta JSON (false when missing). */
export interface StoredJob {
  id: string;
  spec: string | false;
  meta: string | false;
}

export const GET = defineScript({
  name: 'get',
  readOnly: true,
  summary: 'Many jobs by id, as stored.',
  keys: {
    jobs: '',
    meta: '',
  },
  args: {
    ids: { kind: 'json', doc: '[id, ...] (at least one)' },
  },
  result: returns<{ jobs: StoredJob[] }>('{ jobs = [{ id, spec|false, meta|false }, ...] } in the order of ids'),
  body: `
local out = {}
if #ids > 0 then
  local specs = redis.call('HMGET', K.jobs, unpack(ids))
  local metas = redis.call('HMGET', K.meta, unpack(ids))
  for i, id in ipairs(ids) do out[i] = { id = id, spec = specs[i], meta = metas[i] } end
end
return cjson.encode({ jobs = out })
`,
});

export const LIST = defineScript({
  name: 'list',
  readOnly: true,
  summary: `
A page of one state's sorted set, in its order, from a cursor (score, id): the page starts after
the cursor's id, or (when that job left the set) after every member scored up to the cursor's score.`,
  keys: {
    state: 'ZSET of the listed state: waiting, delayed, active, completed or dead',
    jobs: '',
    meta: '',
  },
  args: {
    limit: { kind: 'number', doc: 'jobs per page' },
    cursorScore: { kind: 'string', doc: "the cursor's score ('' for the first page)" },
    cursorId: { kind: 'string', doc: "the cursor's id ('' for the first page)" },
  },
  result: returns<{ jobs: Array<StoredJob & { score: string }>; total: number }>(
    '{ jobs = [{ id, spec|false, meta|false, score }, ...], total = members of the set }',
  ),
  body: `
local start = 0
if cursorId ~= '' then
  local r = redis.call('ZRANK', K.state, cursorId)
  if r then start = r + 1 else start = redis.call('ZCOUNT', K.state, '-inf', cursorScore) end
end
local page = redis.call('ZRANGE', K.state, start, start + limit - 1, 'WITHSCORES')
local out = {}
for i = 1, #page, 2 do
  local id = page[i]
  out[#out + 1] = { id = id, spec = redis.call('HGET', K.jobs, id), meta = redis.call('HGET', K.meta, id), score = page[i + 1] }
end
return cjson.encode({ jobs = out, total = redis.call('ZCARD', K.state) })
`,
});

export const CANCEL = defineScript({
  name: 'cancel',
  summary: `
Cancel a waiting or delayed job: removed with its records, counted in cancelled; its idempotency
key is given up (when it still names the job). Safe to run twice: the answer is kept under the
request nonce, and a run that finds it answers it and changes nothing.`,
  keys: {
    waiting: 'a cancelled job leaves it',
    waitingSince: 'a cancelled job leaves it',
    delayed: 'a cancelled job leaves it',
    jobs: 'a cancelled job leaves it',
    meta: 'a cancelled job leaves it',
    idempotency: "a cancelled job's key leaves it",
    idempotencyExpiry: "a cancelled job's key leaves it",
    counters: 'writes cancelled',
    request: REQUEST_KEY,
  },
  args: {
    id: { kind: 'string', doc: 'the job' },
    requestTtlMs: ARGS.requestTtlMs,
  },
  result: returns<{ status: 'ok' | 'conflict' | 'not_found'; state?: JobState }>(
    '{ status = ok|conflict|not_found, state? (the state it was in) }',
  ),
  uses: [BASE, IDEMPOTENCY, REQUEST],
  body: `
local earlier = keptAnswer(K.request, requestTtlMs)
if earlier then return earlier end
local function answer(a) return keepAnswer(K.request, requestTtlMs, a) end
local raw = redis.call('HGET', K.meta, id)
if not raw then return answer({ status = 'not_found' }) end
local m = cjson.decode(raw)
if m.state ~= 'waiting' and m.state ~= 'delayed' then return answer({ status = 'conflict', state = m.state }) end
redis.call('ZREM', K.waiting, id)
redis.call('ZREM', K.waitingSince, id)
redis.call('ZREM', K.delayed, id)
redis.call('HDEL', K.jobs, id)
redis.call('HDEL', K.meta, id)
forgetKeys(K.idempotency, K.idempotencyExpiry, { id }, { m })
redis.call('HINCRBY', K.counters, 'cancelled', 1)
return answer({ status = 'ok', state = m.state })
`,
});

export const RUN_NOW = defineScript({
  name: 'runNow',
  summary: `
Run a delayed job now: it joins waiting (waiting since now) in its priority order and runs when a
worker next leases (the queue is due now). A job in any other state is refused. Safe to run
twice: the answer is kept under the request nonce, and a run that finds it answers it and changes
nothing.`,
  keys: {
    delayed: 'the job leaves it',
    waiting: 'the job joins it',
    waitingSince: 'the job joins it',
    meta: '',
    counters: 'writes seq',
    due: 'the queue is due now',
    request: REQUEST_KEY,
  },
  args: {
    clock: ARGS.clock,
    id: { kind: 'string', doc: 'the job' },
    queue: ARGS.queue,
    requestTtlMs: ARGS.requestTtlMs,
  },
  result: returns<{ status: 'ok' | 'conflict' | 'not_found'; state?: JobState }>(
    '{ status = ok|conflict|not_found, state? (the state it was in) }',
  ),
  uses: [BASE, WAITING, DUE, REQUEST],
  body: `
local earlier = keptAnswer(K.request, requestTtlMs)
if earlier then return earlier end
local function answer(a) return keepAnswer(K.request, requestTtlMs, a) end
local raw = redis.call('HGET', K.meta, id)
if not raw then return answer({ status = 'not_found' }) end
local m = cjson.decode(raw)
if m.state ~= 'delayed' then return answer({ status = 'conflict', state = m.state }) end
local now = serverNow(clock)
local w = newWrites()
m.updatedAt = now
toWaiting(w, id, m, now)
redis.call('ZREM', K.delayed, id)
writeMetas(K.meta, w)
writeWaiting(K.waiting, K.waitingSince, K.counters, w)
dueBy(K.due, queue, now)
return answer({ status = 'ok', state = 'delayed' })
`,
});
