import { defineScript } from './define.js';

/**
 * snapshot: a queue's health figures without scanning it. ARGV: now.
 * Returns JSON [waiting, delayed, active, completed, dead, oldestWaitingSince|'', leaseExpired,
 * oldestDiedAt|'', nextRunAt|'', [counter, value, ...]].
 */
export const SNAPSHOT = defineScript(
  'snapshot',
  ['waiting', 'waitingSince', 'delayed', 'active', 'completed', 'dead', 'counters'],
  `
local now = ARGV[1]
local function first(key) return redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2] or '' end
return cjson.encode({
  redis.call('ZCARD', K.waiting), redis.call('ZCARD', K.delayed), redis.call('ZCARD', K.active),
  redis.call('ZCARD', K.completed), redis.call('ZCARD', K.dead),
  first(K.waitingSince), redis.call('ZCOUNT', K.active, '-inf', now), first(K.dead), first(K.delayed),
  redis.call('HGETALL', K.counters) })
`,
);
