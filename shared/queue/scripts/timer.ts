import { ARGS, defineScript, returns } from './define.js';
import { BASE } from './lib.js';

export const CLAIM_TIMER = defineScript({
  name: 'claimTimer',
  summary: `
Claim the queue's timer for a wake \`dueInMs\` from now: yes when no timer is pending for that time or
sooner (the key is absent, has fired: due now or before, or is due more than \`slackMs\` later), and then this call's is
the queue's pending timer until it fires (+ slackMs). The caller arms the timer only when claimed, so
workers leaving at once, each wanting the same wake, arm it once. Safe to run twice: the same nonce
answers claimed again.`,
  keys: {
    timer: 'the pending timer: set when claimed',
  },
  args: {
    clock: ARGS.clock,
    dueInMs: { kind: 'number', doc: 'when the wake is due, ms from now' },
    slackMs: { kind: 'number', doc: 'a pending timer due at most this much later still serves' },
    nonce: { kind: 'string', doc: "this call's id (a retried call answers as its first run did)" },
  },
  result: returns<{ claimed: boolean; at: number }>(
    "{ claimed, at (the pending timer's due time, epoch ms of the server's clock) }",
  ),
  uses: [BASE],
  body: `
local now = serverNow(clock)
local at = now + math.max(0, dueInMs)
local held = redis.call('GET', K.timer)
if held then
  local t, by = string.match(held, '^(%d+):(.*)$')
  t = tonumber(t)
  if by == nonce then return cjson.encode({ claimed = true, at = t }) end
  if t and t > now and t <= at + slackMs then return cjson.encode({ claimed = false, at = t }) end
end
redis.call('SET', K.timer, num(at) .. ':' .. nonce, 'PX', math.max(1, at - now + slackMs))
return cjson.encode({ claimed = true, at = at })
`,
});
