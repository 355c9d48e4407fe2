/**
 * The health function's own messages: when a queue's status is worth one, where it goes (page,
 * ticket, or dropped because an alarm already covers it), and what it says.
 *
 * - A status must hold for `afterRuns` consecutive health runs (SPOOL_HEALTH_NOTIFY_AFTER_RUNS,
 *   default 3) before it is announced: a blip never pages, and a flapping queue announces nothing.
 * - unhealthy → a page, unless one of its unhealthy symptoms is one an alarm pages for (oldest waiting
 *   age, DLQ trimmed: that page covers the incident; the message is dropped) or all of them are ones
 *   an alarm tickets (dead stock, expired leases: a ticket). degraded → a ticket. healthy again after
 *   a message → a ticket (the recovery). docs/runbook.md "Health function messages" says the same.
 */
import type { HealthStatus, QueueHealth } from './evaluate.js';
import { CHECKS, RUNBOOK, runbookUrl, type Severity, symptomText } from './runbook.js';

/** What the health function remembers of a queue between runs (in the last-run record). */
export interface QueueMemory {
  /** The status seen by the latest run. */
  status: HealthStatus;
  /** When that status began (epoch ms): the first run that saw it. */
  since: number;
  /** Consecutive runs that saw it, this one included. */
  runs: number;
  /** The status last announced or dropped (healthy: nothing is open). */
  notified: HealthStatus;
  /** Whether a message went out for `notified` (a recovery is announced only then). */
  announced: boolean;
}

/** The memory after a run that saw `status` at `at`. */
export function remember(prev: QueueMemory | undefined, status: HealthStatus, at: number): QueueMemory {
  if (!prev) return { status, since: at, runs: 1, notified: 'healthy', announced: false };
  if (prev.status === status) return { ...prev, runs: prev.runs + 1 };
  return { ...prev, status, since: at, runs: 1 };
}

/**
 * Whether a queue's memory has nothing left to do: healthy, and healthy is what was last announced (or
 * nothing was). A run that sees such a queue again, unchanged, would change nothing of it.
 */
export function isSettled(mem: QueueMemory): boolean {
  return mem.status === 'healthy' && mem.notified === 'healthy';
}

export type Route = Severity | 'dropped';

export interface Decision {
  route: Route;
  /** Why, in a few words (logged; says which alarm covers a dropped or demoted one). */
  why: string;
}

/** Whether this run announces the queue's status, and how; undefined: nothing to say. */
export function decide(h: QueueHealth, mem: QueueMemory, afterRuns: number): Decision | undefined {
  if (mem.runs < afterRuns || mem.status === mem.notified) return undefined;
  if (h.status === 'healthy')
    return mem.announced ? { route: 'ticket', why: 'recovered' } : { route: 'dropped', why: 'nothing was announced' };
  if (h.status === 'degraded') return { route: 'ticket', why: 'degraded is a ticket' };
  const unhealthy = h.symptoms.filter((s) => s.status === 'unhealthy');
  const paged = unhealthy.find((s) => CHECKS[s.check].coveredBy?.severity === 'page');
  if (paged)
    return { route: 'dropped', why: `the ${CHECKS[paged.check].coveredBy!.alarm} alarm pages for ${paged.check}` };
  if (unhealthy.some((s) => CHECKS[s.check].coveredBy === undefined))
    return { route: 'page', why: 'no alarm watches this symptom' };
  return { route: 'ticket', why: `alarms ticket ${unhealthy.map((s) => s.check).join(', ')}` };
}

export interface MessageContext {
  /** SPOOL_DEPLOYMENT_NAME: `<stack> (account <id>, <region>)`. */
  deployment: string;
  /** SPOOL_RUNBOOK_BASE_URL. */
  runbookBase: string | undefined;
  /** When this run took place (epoch ms). */
  at: number;
}

const iso = (ms: number) => new Date(ms).toISOString();
const minutes = (ms: number) => `${Math.max(0, Math.round(ms / 60_000))} min`;

/**
 * The SNS subject and message for a decision. Every line is filled: deployment, queue, status and
 * since when, each symptom against its threshold with its runbook URL and next step.
 */
export function renderMessage(
  h: QueueHealth,
  mem: QueueMemory,
  route: Severity,
  ctx: MessageContext,
): { subject: string; message: string } {
  const word = route === 'page' ? 'PAGE' : 'TICKET';
  const recovered = h.status === 'healthy';
  const headline = recovered
    ? `queue ${h.queue} recovered (was ${mem.notified})`
    : `queue ${h.queue} is ${h.status}${mem.notified === 'healthy' ? '' : ` (was ${mem.notified})`}`;
  const held = `${mem.runs} health run${mem.runs === 1 ? '' : 's'}, ${minutes(ctx.at - mem.since)}`;
  const lines = [
    `${word}: ${headline}`,
    `Deployment: ${ctx.deployment}`,
    `Queue: ${h.queue}`,
    `Status: ${h.status} since ${iso(mem.since)} (${held})`,
  ];
  if (recovered) {
    lines.push('Symptoms: none; every figure is within its threshold');
  } else {
    lines.push('Symptoms:');
    for (const s of h.symptoms) {
      lines.push(
        `- ${s.status.toUpperCase()}: ${symptomText(s.check, s.value, s.threshold)}`,
        `  Runbook: ${runbookUrl(CHECKS[s.check].runbook, ctx.runbookBase)}`,
        `  Next: ${s.step}`,
      );
    }
  }
  const snap = h.snapshot;
  lines.push(
    `Figures: waiting ${snap.waiting}, delayed ${snap.delayed}, active ${snap.active}, dead ${snap.dead}, ` +
      `lease expired ${snap.leaseExpired}, oldest waiting ${Math.round(snap.oldestWaitingAgeMs / 1000)} s`,
    `About these messages: ${runbookUrl(RUNBOOK.healthMessages, ctx.runbookBase)}`,
  );
  // SNS subjects: at most 100 characters, ASCII, no line breaks.
  const subject = `${word} ${headline} - ${ctx.deployment}`.replace(/[^\x20-\x7e]/g, '?').slice(0, 99);
  return { subject, message: lines.join('\n') };
}
