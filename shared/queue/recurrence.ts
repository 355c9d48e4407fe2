/**
 * When a schedule fires: cron (5 fields, in an IANA time zone, through croner) or every N ms from an
 * anchor, bounded by startAt (inclusive) and endAt (exclusive). Only the scheduler and the API that
 * stores schedules import this module (croner stays out of the worker's bundle).
 *
 * Daylight saving, as croner does it and test/shared/queue/schedules.test.ts pins: a time the spring
 * change skips fires at the first valid time after the gap (02:30 on a day that jumps from 02:00 to
 * 03:00 fires at 03:00); a time the autumn change repeats fires once, at its first occurrence; a cron
 * that fires every hour fires every real hour (25 fires on a 25-hour day).
 */
import { Cron } from 'croner';

export interface Recurrence {
  cron?: string;
  everyMs?: number;
  timezone: string;
  startAt?: number;
  endAt?: number;
  /** The anchor of everyMs without startAt: fires at anchor + k·everyMs, k ≥ 1. */
  anchor: number;
}

/** Exact counting of the ticks a catch-up fire stands for stops here; past it the count is estimated. */
export const MISSED_EXACT_MAX = 1000;

/** croner's cron for a recurrence (throws croner's own message on a bad pattern or time zone). */
export function cronOf(cron: string, timezone: string): Cron {
  return new Cron(cron, { mode: '5-part', timezone });
}

/** Whether `tz` is an IANA time zone this runtime knows. */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * The first fire strictly after `after` (epoch ms), or undefined when there is none (past endAt, or a
 * cron that never matches). `cron` reuses a parsed pattern.
 */
export function nextFire(r: Recurrence, after: number, cron?: Cron): number | undefined {
  let t: number | undefined;
  if (r.everyMs !== undefined) {
    const anchor = r.startAt ?? r.anchor;
    const kMin = r.startAt !== undefined ? 0 : 1;
    const k = Math.max(kMin, Math.floor((after - anchor) / r.everyMs) + 1);
    t = anchor + k * r.everyMs;
  } else if (r.cron !== undefined) {
    const c = cron ?? cronOf(r.cron, r.timezone);
    // croner answers the first match strictly after the date it is given (whole seconds).
    const from = r.startAt !== undefined && r.startAt - 1 > after ? r.startAt - 1000 : after;
    let d = c.nextRun(new Date(from));
    while (d && r.startAt !== undefined && d.getTime() < r.startAt) d = c.nextRun(d);
    t = d?.getTime();
  }
  if (t === undefined || (r.endAt !== undefined && t >= r.endAt)) return undefined;
  return t;
}

/**
 * The ticks strictly after `from` up to and including `now` (the ones a late fire at `from` skipped),
 * and the first fire after `now`. everyMs counts exactly; cron counts exactly up to MISSED_EXACT_MAX
 * and estimates the rest from the mean interval of the ticks it counted.
 */
export function catchUp(r: Recurrence, from: number, now: number): { missed: number; next: number | undefined } {
  if (r.everyMs !== undefined) {
    const next = nextFire(r, Math.max(from, now));
    const last = Math.min(now, r.endAt !== undefined ? r.endAt - 1 : now);
    const missed = last > from ? Math.max(0, Math.floor((last - from) / r.everyMs)) : 0;
    return { missed, next };
  }
  const cron = r.cron !== undefined ? cronOf(r.cron, r.timezone) : undefined;
  let missed = 0;
  let t = nextFire(r, from, cron);
  while (t !== undefined && t <= now && missed < MISSED_EXACT_MAX) {
    missed++;
    t = nextFire(r, t, cron);
  }
  if (t !== undefined && t <= now) {
    // Past the exact count: the mean interval so far stands for the rest of the period.
    const mean = (t - from) / (missed + 1);
    missed += Math.floor((now - t) / mean) + 1;
    t = nextFire(r, now, cron);
  }
  return { missed, next: t };
}
