import { ARGS, defineScript, returns } from './define.js';
import { BASE } from './lib.js';

export const SNAPSHOT = defineScript({
  name: 'snapshot',
  readOnly: true,
  summary:
    "A queue's health figures without scanning it: set sizes, the oldest members, every counter, whether it is paused (since when), and the target origins whose circuit breaker is open.",
  keys: {
    waiting: 'counted',
    waitingSince: 'its first member is the oldest waiting job',
    delayed: 'counted; its first member is the next run',
    active: 'counted; members scored up to now are leases expired',
    completed: 'counted',
    dead: 'counted; its first member is the oldest dead job',
    counters: 'read whole',
    settings: 'read whole: paused, pausedAt, the breakers',
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
    breakersOpen: string[] | Record<string, never>;
  }>(
    '{ now, waiting, delayed, active, completed, dead, oldestWaitingSince?, leaseExpired, oldestDiedAt?, nextRunAt?, counters = { [name] = value }, pausedAt? (when paused: since when), breakersOpen = [origin, ...] (open or half-open) }',
  ),
  uses: [BASE],
  body: `
local now = serverNow(clock)
local function firstScore(key) return redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2] end
local flat = redis.call('HGETALL', K.counters)
local counters = {}
for i = 1, #flat, 2 do counters[flat[i]] = flat[i + 1] end
local s = {}
local sflat = redis.call('HGETALL', K.settings)
for i = 1, #sflat, 2 do s[sflat[i]] = sflat[i + 1] end
local pausedAt = nil
if s.paused == '1' then pausedAt = s.pausedAt or num(now) end
local breakersOpen = {}
for f, v in pairs(s) do
  if string.sub(f, 1, 8) == 'breaker:' and cjson.decode(v).state ~= 'closed' then
    breakersOpen[#breakersOpen + 1] = string.sub(f, 9)
  end
end
table.sort(breakersOpen)
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
  breakersOpen = breakersOpen,
})
`,
});
