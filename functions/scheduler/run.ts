/**
 * The scheduler's firing run: fire the schedules due now (shared/queue/ops/schedules.ts), wait for one
 * due within moments and fire again, wake the workers of the queues the fires enqueued to, and arm
 * the schedule timer for the next fire. Every wake-up runs it: a schedule timer (SQS), the minute
 * rule (the safety net, which fires what a lost timer missed) and a direct invocation.
 */
import * as z from 'zod/mini';
import type { Logger } from '../../shared/log/logger.js';
import { claimScheduleTimer, type Fired, fireDueSchedules } from '../../shared/queue/ops/schedules.js';
import { parseWith } from '../../shared/validation/zod.js';
import { isSqsEvent } from '../lib/events.js';
import { type Invocation, isScheduledEvent } from '../lib/handler.js';
import { armTimer, kickIfNeeded, type Runtime } from '../lib/runtime.js';

/**
 * A fire due at most this long after a run's fires is waited for and fired in the same run: a timer
 * message arrives up to a second early (SQS counts whole seconds, rounded down).
 */
export const SLEEP_UNTIL_DUE_MS = 1_500;
/** Fire rounds of one run, at most (each but the first after a wait of at most SLEEP_UNTIL_DUE_MS). */
export const MAX_FIRE_ROUNDS = 4;
/** A run waits for a fire only with at least this much of its invocation left after the wait. */
const DEADLINE_MARGIN_MS = 5_000;
/**
 * The message of the ERROR line (fields `schedule`, `queue`, `error`) a run logs for a fire whose job
 * no longer validates: nothing was enqueued, the schedule advanced and keeps `lastError`. A metric
 * filter on the scheduler's log group matches it exactly and tickets (infra/constructs/monitoring.ts,
 * runbook "Schedule fires without a job"): change it only together with that filter.
 */
export const SCHEDULE_FIRED_NO_JOB = 'schedule fired no job: its job does not validate';

export interface FiringReport {
  /** Fire rounds run (a round fires whatever is due then). */
  rounds: number;
  /** Fires, by schedule id, in order. */
  fired: string[];
  /** Fires whose job was enqueued before (the same schedule and fire time): nothing new. */
  deduplicated: number;
  /** Fires whose job no longer validates (the schedule advanced and keeps lastError). */
  errors: number;
  /** Ticks skipped by the fires of this run (downtime catch-up). */
  missed: number;
  /** Queues whose worker was kicked. */
  kicked: string[];
  /** The next fire (epoch ms, the Redis server's clock), if any schedule has one. */
  nextDueAt?: number;
  /** The schedule timer armed by this run: due in this many ms (absent: one was pending already, or none needed). */
  armedInMs?: number;
}

/**
 * Arm the schedule timer `delayMs` from now, unless one is pending for then or sooner
 * (claimScheduleTimer: so that runs and routes arming the same wake arm one timer). Answers the
 * delay armed, if one was. A failure is logged, never thrown: the minute tick fires what the timer
 * would have (later).
 */
export async function armScheduleTimer(
  rt: Pick<Runtime, 'scheduleTimer' | 'clock' | 'spool'>,
  log: Pick<Logger, 'debug' | 'warn'>,
  delayMs: number,
): Promise<number | undefined> {
  const ms = Math.max(0, Math.round(delayMs));
  // No schedule timer queue here (the CLI): claiming would hold back a process that can arm one.
  if (rt.scheduleTimer.enabled === false) return undefined;
  try {
    // A timer due now has fired (the claim script): the one that woke this run does not count as pending.
    const claim = await claimScheduleTimer(rt.spool, ms);
    if (!claim.claimed) {
      log.debug('schedule timer pending already', { delayMs: ms, at: claim.at });
      return undefined;
    }
    await rt.scheduleTimer.arm(rt.clock() + ms);
    log.debug('schedule timer armed', { delayMs: ms });
    return ms;
  } catch (err) {
    log.warn("schedule timer arm failed; the scheduler's minute tick will fire the schedules", {
      delayMs: ms,
      error: err instanceof Error ? err.message : String(err),
    });
    return undefined;
  }
}

/** The workers of the queues the fires enqueued to: one kick per queue, one worker timer per queue. */
async function wakeWorkers(rt: Runtime, log: Logger, now: number, fired: Fired[], kicked: string[]): Promise<void> {
  const kick = new Set<string>();
  const wakeAt = new Map<string, number>();
  for (const f of fired) {
    if (f.kick) kick.add(f.queue);
    if (f.wakeAt !== undefined)
      wakeAt.set(f.queue, Math.min(f.wakeAt, wakeAt.get(f.queue) ?? Number.POSITIVE_INFINITY));
  }
  await Promise.all([
    ...[...kick].map(async (queue) => {
      await kickIfNeeded(rt, queue, true, log, 'schedule-fire');
      kicked.push(queue);
    }),
    // A fire's job due later (its delayMs) moved the queue's first delayed job earlier: its timer.
    ...[...wakeAt].map(([queue, at]) => armTimer(rt, log, queue, at - now)),
  ]);
}

/**
 * Fire what is due; while the next fire is at most SLEEP_UNTIL_DUE_MS away (and the invocation has
 * time), wait for it and fire again, MAX_FIRE_ROUNDS rounds at most; then arm the schedule timer for
 * the next fire. The minute tick (`tick`) arms only after fires of its own: a tick with nothing due
 * costs one Redis command, and a tick after a lost timer fires what it missed and re-arms the chain.
 * Throws only when the fires themselves fail (Redis): a timer message is then delivered again, and
 * the minute tick runs anyway.
 */
export async function runFiring(inv: Invocation, opts: { tick?: boolean } = {}): Promise<FiringReport> {
  const { rt, log } = inv;
  const report: FiringReport = { rounds: 0, fired: [], deduplicated: 0, errors: 0, missed: 0, kicked: [] };
  let now = 0;
  for (;;) {
    const r = await fireDueSchedules(rt.spool);
    report.rounds++;
    now = r.now;
    for (const f of r.fired) {
      report.fired.push(f.id);
      if (f.deduplicated) report.deduplicated++;
      report.missed += f.missed;
      if (f.error !== undefined) {
        report.errors++;
        log.error(SCHEDULE_FIRED_NO_JOB, {
          schedule: f.id,
          queue: f.queue,
          error: f.error,
        });
      }
    }
    await wakeWorkers(rt, log, r.now, r.fired, report.kicked);
    report.nextDueAt = r.nextDueAt;
    if (r.nextDueAt === undefined || report.rounds >= MAX_FIRE_ROUNDS) break;
    const wait = r.nextDueAt - r.now;
    if (wait > SLEEP_UNTIL_DUE_MS || rt.clock() + wait > inv.deadline - DEADLINE_MARGIN_MS) break;
    if (wait > 0) await rt.sleep(wait);
  }
  if (report.nextDueAt !== undefined && !(opts.tick && report.fired.length === 0)) {
    const armed = await armScheduleTimer(rt, log, report.nextDueAt - now);
    if (armed !== undefined) report.armedInMs = armed;
  }
  log.info('schedules fired', { ...report, fired: report.fired.length, ids: report.fired.slice(0, 20) });
  return report;
}

const scheduleTimerSchema = z.object({ scheduleTimer: z.object({ at: z.number() }) });

export interface ScheduleTimersReport {
  /** Timer messages that were due: they ran one firing run between them. */
  due: number;
  /** Timers not yet due (past SQS's 900 s): armed again. */
  rearmed: number;
  firing?: FiringReport;
  /** SQS partial batch response: the records to deliver again. */
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

/**
 * Schedule timer messages: one due (at most a second from now) runs the firing run, once for the
 * whole batch; one due later (its delay was past 900 s) is armed again for the rest. A record that
 * fails is reported back (partial batch response) and SQS delivers it again; a malformed one is
 * dropped with a warning.
 */
export async function runScheduleTimers(
  event: { Records: Array<{ messageId: string; body: string }> },
  inv: Invocation,
): Promise<ScheduleTimersReport> {
  const { rt, log } = inv;
  const report: ScheduleTimersReport = { due: 0, rearmed: 0, batchItemFailures: [] };
  const due: string[] = [];
  for (const rec of event.Records) {
    let at: number;
    try {
      at = parseWith(scheduleTimerSchema, JSON.parse(rec.body)).scheduleTimer.at;
    } catch (err) {
      log.warn('schedule timer message dropped: not a schedule timer', {
        messageId: rec.messageId,
        error: err instanceof Error ? err.message : String(err),
      });
      continue;
    }
    if (at - rt.clock() <= 1_000) {
      due.push(rec.messageId);
      continue;
    }
    try {
      await rt.scheduleTimer.arm(at);
      report.rearmed++;
    } catch (err) {
      log.warn('schedule timer re-arm failed; SQS delivers it again', {
        messageId: rec.messageId,
        error: err instanceof Error ? err.message : String(err),
      });
      report.batchItemFailures.push({ itemIdentifier: rec.messageId });
    }
  }
  report.due = due.length;
  if (due.length > 0) {
    try {
      report.firing = await runFiring(inv);
    } catch (err) {
      log.warn('firing failed; SQS delivers the timers again', {
        error: err instanceof Error ? err.message : String(err),
      });
      for (const id of due) report.batchItemFailures.push({ itemIdentifier: id });
    }
  }
  log.info('schedule timers done', {
    due: report.due,
    rearmed: report.rearmed,
    failed: report.batchItemFailures.length,
  });
  return report;
}

/**
 * Every invocation of the scheduler but the API's: schedule timer messages (SQS), the minute rule
 * (EventBridge) and a direct invocation (`{}`) each run the firing run.
 */
export async function runInvocation(event: unknown, inv: Invocation): Promise<FiringReport | ScheduleTimersReport> {
  if (isSqsEvent(event)) return runScheduleTimers(event, inv);
  if (isScheduledEvent(event)) return runFiring(inv, { tick: true });
  if (event && typeof event === 'object' && Object.keys(event).length === 0) return runFiring(inv);
  throw new Error('scheduler: expected schedule timer messages (SQS), a scheduled event or {}');
}
