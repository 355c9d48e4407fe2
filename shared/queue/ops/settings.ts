import { wellFormedDeep } from '../../text/index.js';
import { firstIssue } from '../../validation/zod.js';
import type { SpoolCore } from '../core.js';
import { ValidationError } from '../errors.js';
import { assertQueueName, settingsInputSchema } from '../schema.js';
import { SETTINGS, SETTINGS_READ } from '../scripts/flow.js';
import type { QueueSettings, SettingsInput } from '../types.js';

/**
 * The fields of a queue's settings hash (keys.ts `settings`) and how each is kept: `paused` '1'
 * (absent: running), `pausedAt` epoch ms (written by the script), `rateLimit` JSON `{ limit, periodMs }`,
 * `maxConcurrency` an integer. A field absent is its default: running, no rate limit, no cap.
 */
export const QUEUE_SETTING_FIELDS = ['paused', 'pausedAt', 'rateLimit', 'maxConcurrency'] as const;

/** Settings as stored (field -> string) to what GET answers, every default filled in. */
export function settingsOf(raw: Record<string, string> | unknown[]): QueueSettings {
  const h = Array.isArray(raw) ? {} : raw;
  const out: QueueSettings = {
    paused: h.paused === '1',
    rateLimit: null,
    maxConcurrency: null,
  };
  if (out.paused && h.pausedAt !== undefined) out.pausedAt = Number(h.pausedAt);
  if (h.rateLimit) {
    const r = JSON.parse(h.rateLimit) as { limit: number; periodMs: number };
    out.rateLimit = { limit: Number(r.limit), periodMs: Number(r.periodMs) };
  }
  if (h.maxConcurrency !== undefined) out.maxConcurrency = Number(h.maxConcurrency);
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
  return { set, del };
}

/** A queue's flow-control settings, defaults filled in. One read. */
export async function getSettings(core: SpoolCore, queue: string): Promise<QueueSettings> {
  assertQueueName(queue);
  const r = await core.run(SETTINGS_READ, queue, { clock: core.scriptClock() });
  return settingsOf(r.settings);
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
  return { settings: settingsOf(r.settings), kick: r.kick };
}
