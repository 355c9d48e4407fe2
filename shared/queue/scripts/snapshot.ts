import { ARGS, defineScript, returns } from './define.js';
import { BASE } from './lib.js';

export const SNAPSHOT = defineScript({
  name: 'snapshot',
  readOnly: true,
  summary:
    "A queue's health figures without scanning it: set sizes, the oldest members, every counter, and whether it is paused (since when).",
  keys: {
    waiting: 'counted',
    waitingSince: 'its first member is the oldest waiting job',
    delayed: 'counted; its first member is the next run',
    active: 'counted; members scored up to now are leases expired',
    completed: 'counted',
    dead: 'counted; its first member is the oldest dead job',
    counters: 'read whole',
    settings: 'paused, pausedAt read',
  },
  args: {
    clock: ARGS.clock,
  },
  result: returns<{
    now: number;
    waiting: number;
    delayed: number;
    active: number;
    completed: number;
    dead: number;
    oldestWaitingSince?: string;
    leaseExpired: number;
    oldestDiedAt?: string;
    nextRunAt?: string;
    counters: Record<string, string>;
    pausedAt?: string;
  }>(
    '{ now, waiting, delayed, active, completed, dead, oldestWaitingSince?, leaseExpired, oldestDiedAt?, nextRunAt?, counters = { [name] = value }, pausedAt? (when paused: since when) }',
  ),
  uses: [BASE],
  body: `
local now = serverNow(clock)
local function firstScore(key) return redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2] end
local flat = redis.call('HGETALL', K.counters)
local counters = {}
for i = 1, #flat, 2 do counters[flat[i]] = flat[i + 1] end
local paused = redis.call('HMGET', K.settings, 'paused', 'pausedAt')
local pausedAt = nil
if paused[1] == '1' then pausedAt = paused[2] or num(now) end
return cjson.encode({
  now = now,
  waiting = redis.call('ZCARD', K.waiting),
  delayed = redis.call('ZCARD', K.delayed),
  active = redis.call('ZCARD', K.active),
  completed = redis.call('ZCARD', K.completed),
  dead = redis.call('ZCARD', K.dead),
  oldestWaitingSince = firstScore(K.waitingSince),
  leaseExpired = redis.call('ZCOUNT', K.active, '-inf', num(now)),
  oldestDiedAt = firstScore(K.dead),
  nextRunAt = firstScore(K.delayed),
  counters = counters,
  pausedAt = pausedAt,
})
`,
});
