import { guard } from '../../redis/client.js';
import { wellFormedDeep } from '../../text/index.js';
import { firstIssue } from '../../validation/zod.js';
import type { SpoolCore } from '../core.js';
import { ValidationError } from '../errors.js';
import { globalKey } from '../keys.js';
import { assertQueueName, BREAKER_DEFAULTS, settingsInputSchema } from '../schema.js';
import { SETTINGS, SETTINGS_READ } from '../scripts/flow.js';
import type { AutoReplay, BreakerConfig, BreakerState, QueueSettings, SettingsInput } from '../types.js';

/**
 * The fields of a queue's settings hash (keys.ts `settings`) and how each is kept: `paused` '1'
 * (absent: running), `pausedAt` epoch ms (written by the script), `rateLimit` JSON `{ limit, periodMs }`,
 * `maxConcurrency` an integer, `circuitBreaker` JSON (BreakerConfig). A field absent is its default:
 * running, no rate limit, no cap, no expiry, breakers on with BREAKER_DEFAULTS. `maxWaitMs` an
 * integer; `expiring` '1' once a job joined the expiry index (written by the enqueue script). And `breaker:<origin>`, one per
 * target origin that failed since it last answered (written by the lease and fail scripts).
 */
export const QUEUE_SETTING_FIELDS = [
  'paused',
  'pausedAt',
  'rateLimit',
  'maxConcurrency',
  'maxWaitMs',
  'circuitBreaker',
  'expiring',
  'autoReplay',
] as const;
export const BREAKER_FIELD_PREFIX = 'breaker:';

/**
 * Settings as stored (field -> string) to what GET answers, every default filled in; `now` (the
 * server's clock) says which open breakers are past their cool-down (half-open: the next lease probes).
 */
export function settingsOf(raw: Record<string, string> | unknown[], now: number): QueueSettings {
  const h = (Array.isArray(raw) ? {} : raw) as Record<string, string>;
  const out: QueueSettings = {
    paused: h.paused === '1',
    rateLimit: null,
    maxConcurrency: null,
    maxWaitMs: h.maxWaitMs === undefined ? null : Number(h.maxWaitMs),
    circuitBreaker: h.circuitBreaker ? (JSON.parse(h.circuitBreaker) as BreakerConfig) : { ...BREAKER_DEFAULTS },
    breakers: [],
    autoReplay: null,
  };
  for (const [field, value] of Object.entries(h)) {
    if (!field.startsWith(BREAKER_FIELD_PREFIX)) continue;
    const b = JSON.parse(value) as Omit<BreakerState, 'origin'>;
    const state = b.state === 'open' && b.openUntil !== undefined && now >= b.openUntil ? 'halfOpen' : b.state;
    const s: BreakerState = { origin: field.slice(BREAKER_FIELD_PREFIX.length), state, failures: Number(b.failures) };
    if (b.state === 'open' && b.openUntil !== undefined) s.openUntil = Number(b.openUntil);
    if (b.coolDownMs !== undefined) s.coolDownMs = Number(b.coolDownMs);
    out.breakers.push(s);
  }
  out.breakers.sort((a, b) => a.origin.localeCompare(b.origin));
  if (out.paused && h.pausedAt !== undefined) out.pausedAt = Number(h.pausedAt);
  if (h.rateLimit) {
    const r = JSON.parse(h.rateLimit) as { limit: number; periodMs: number };
    out.rateLimit = { limit: Number(r.limit), periodMs: Number(r.periodMs) };
  }
  if (h.maxConcurrency !== undefined) out.maxConcurrency = Number(h.maxConcurrency);
  if (h.autoReplay) {
    const a = JSON.parse(h.autoReplay) as AutoReplay;
    out.autoReplay = {
      maxJobs: Number(a.maxJobs),
      minAgeMs: Number(a.minAgeMs),
      maxReplaysPerJob: Number(a.maxReplaysPerJob),
    };
  }
  return out;
}

/** Validates a PUT body: the fields to set (as stored) and to clear. Throws ValidationError naming the field. */
export function settingsChange(input: unknown): { set: Record<string, string>; del: string[] } {
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    throw new ValidationError('(body)', 'must be a JSON object of settings');
  const parsed = settingsInputSchema.safeParse(wellFormedDeep(input));
  if (!parsed.success) {
    const { field, reason } = firstIssue(parsed.error, '');
    throw new ValidationError(field, reason);
  }
  const v: SettingsInput = parsed.data;
  const set: Record<string, string> = {};
  const del: string[] = [];
  if (v.paused === true) set.paused = '1';
  else if (v.paused === false) del.push('paused');
  if (v.rateLimit === null) del.push('rateLimit');
  else if (v.rateLimit) set.rateLimit = JSON.stringify({ limit: v.rateLimit.limit, periodMs: v.rateLimit.periodMs });
  if (v.maxConcurrency === null) del.push('maxConcurrency');
  else if (v.maxConcurrency !== undefined) set.maxConcurrency = String(v.maxConcurrency);
  if (v.maxWaitMs === null) del.push('maxWaitMs');
  else if (v.maxWaitMs !== undefined) set.maxWaitMs = String(v.maxWaitMs);
  if (v.circuitBreaker === null) del.push('circuitBreaker');
  else if (v.circuitBreaker) {
    // An object given replaces the stored one; the fields it leaves out take their defaults.
    const c: BreakerConfig = { ...BREAKER_DEFAULTS, ...v.circuitBreaker };
    if (c.maxCoolDownMs < c.coolDownMs)
      throw new ValidationError('circuitBreaker.maxCoolDownMs', 'must be at least circuitBreaker.coolDownMs');
    set.circuitBreaker = JSON.stringify(c);
  }
  if (v.autoReplay === null) del.push('autoReplay');
  else if (v.autoReplay) {
    const { maxJobs, minAgeMs, maxReplaysPerJob } = v.autoReplay;
    set.autoReplay = JSON.stringify({ maxJobs, minAgeMs, maxReplaysPerJob });
  }
  return { set, del };
}

/** A queue's flow-control settings, defaults filled in. One read. */
export async function getSettings(core: SpoolCore, queue: string): Promise<QueueSettings> {
  assertQueueName(queue);
  const r = await core.run(SETTINGS_READ, queue, { clock: core.scriptClock() });
  return settingsOf(r.settings, Number(r.now));
}

/**
 * Merge a change into a queue's settings (PUT): fields given are set, `null` clears, the rest stay.
 * Answers the whole settings after the change, and `kick`: jobs wait that the change lets start and
 * no worker runs (the caller starts one).
 */
export async function putSettings(
  core: SpoolCore,
  queue: string,
  input: unknown,
): Promise<{ settings: QueueSettings; kick: boolean }> {
  assertQueueName(queue);
  const { set, del } = settingsChange(input);
  const r = await core.run(SETTINGS, queue, {
    clock: core.scriptClock(),
    set,
    del,
    debounce: core.config.kickDebounceMs,
  });
  return { settings: settingsOf(r.settings, Number(r.now)), kick: r.kick };
}

/** The queues whose settings have autoReplay (the settings script keeps the index): one read. */
export async function autoReplayQueues(core: SpoolCore): Promise<string[]> {
  const names = await guard(() => core.redis.smembers(globalKey(core.config.prefix, 'autoReplay')));
  return names.map(String).sort();
}
