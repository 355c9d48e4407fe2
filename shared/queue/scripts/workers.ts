import { ARGS, defineScript, returns } from './define.js';
import { BASE, WORKERS } from './lib.js';

export const ACTIVE_WORKERS = defineScript({
  name: 'activeWorkers',
  summary: `
The queue's active workers: every entry still in time, oldest start first. Entries whose time ran
out (their worker stopped calling without its last lease or extend) are removed on the way.`,
  keys: {
    workers: 'entries whose time ran out leave it',
    workersInfo: 'entries whose time ran out leave it',
  },
  args: {
    clock: ARGS.clock,
  },
  result: returns<{ now: number; workers: Array<{ id: string; info: string; expiresAt: string }> }>(
    '{ now, workers = [{ id, info (JSON: startedAt, lastHeartbeatAt, held, done), expiresAt }, ...] }',
  ),
  uses: [BASE, WORKERS],
  body: `
local now = serverNow(clock)
trimWorkers(K.workers, K.workersInfo, now, 1000)
local flat = redis.call('ZRANGE', K.workers, 0, -1, 'WITHSCORES')
local out = {}
if #flat > 0 then
  local ids = {}
  for i = 1, #flat, 2 do ids[#ids + 1] = flat[i] end
  local infos = redis.call('HMGET', K.workersInfo, unpack(ids))
  for i, id in ipairs(ids) do
    if infos[i] then out[#out + 1] = { id = id, info = infos[i], expiresAt = flat[2 * i] } end
  end
end
return cjson.encode({ now = now, workers = out })
`,
});
