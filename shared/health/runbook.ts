/**
 * The runbook's sections and the words of the health checks, once. The health function's messages,
 * the CDK alarms' descriptions and the CLI read them from here; a test checks that every anchor is
 * a heading of docs/runbook.md.
 *
 * Wording: a figure trips when it is strictly ABOVE its threshold (shared/config/schema.ts), so every
 * sentence says "above" — never "at least".
 */

/** The runbook in the repository; a page links to `<runbook base URL>#<anchor>`. */
export const RUNBOOK_FILE = 'docs/runbook.md';

/** Sections of docs/runbook.md (GitHub-style anchors of its headings). */
export const RUNBOOK = {
  // Procedures
  beforeYouStart: 'before-you-start',
  pagesAndTickets: 'pages-and-tickets',
  rotateToken: 'rotate-the-upstash-token',
  // Pages (alarms)
  oldestWaitingAge: 'oldest-waiting-age',
  newDeadJobs: 'new-dead-jobs',
  dlqTrimmed: 'dlq-trimmed',
  heartbeatMissing: 'health-heartbeat-missing',
  api5xx: 'api-5xx-rate',
  workerErrorRate: 'worker-error-rate',
  // Pages or tickets of the health function
  healthMessages: 'health-function-messages',
  waitingBacklog: 'waiting-backlog',
  pausedQueue: 'paused-queue',
  breakerOpen: 'circuit-breaker-open',
  // Tickets (alarms)
  deadJobs: 'dead-jobs',
  leaseExpired: 'lease-expired',
  functionErrors: 'function-errors',
  functionThrottles: 'function-throttles',
  functionDuration: 'function-duration-near-timeout',
  workerAsyncFailures: 'worker-async-failures',
  timerFailures: 'timer-failures',
  schedulerErrors: 'scheduler-errors',
  scheduleTimerFailures: 'schedule-timer-failures',
  scheduleFiresWithoutJob: 'schedule-fires-without-a-job',
} as const;
export type RunbookAnchor = (typeof RUNBOOK)[keyof typeof RUNBOOK];

/** Who acts: a page is a symptom someone must act on now; a ticket is everything else. */
export type Severity = 'page' | 'ticket';

/** The figures the health rules judge (shared/health/evaluate.ts). */
export type Check = 'waiting' | 'dead' | 'oldestWaitingAge' | 'leaseExpired' | 'deadTrimmed' | 'paused' | 'breakerOpen';

export interface CheckWords {
  /** What the figure is, in a sentence: "dead jobs". */
  readonly label: string;
  readonly unit: 'jobs' | 'seconds' | 'origins';
  readonly runbook: RunbookAnchor;
  /** The next step; `{queue}` stands for the queue's name (see fillStep). */
  readonly step: string;
  /**
   * The CDK alarm that already reports this symptom for every queue (fleet-wide, and per named
   * queue), and its severity. The health function sends no page of its own for a symptom an alarm
   * pages for, and demotes one an alarm tickets (functions/health/run.ts; runbook "Health function
   * messages"). Undefined: only the health function sees it.
   */
  readonly coveredBy: { readonly severity: Severity; readonly alarm: RunbookAnchor } | undefined;
}

/** Run the worker for a queue now; the shell variables are set as the runbook's "Before you start" says. */
const DRAIN = 'awscurl --service execute-api --region "$AWS_REGION" -X POST "$API_URL/v1/queues/{queue}/drain"';

export const CHECKS: Readonly<Record<Check, CheckWords>> = {
  waiting: {
    label: 'waiting jobs',
    unit: 'jobs',
    runbook: RUNBOOK.waitingBacklog,
    step: `spool status; spool jobs ls {queue} --state waiting; if no worker runs (worker errors, throttles): ${DRAIN}`,
    coveredBy: undefined,
  },
  dead: {
    label: 'dead jobs',
    unit: 'jobs',
    runbook: RUNBOOK.deadJobs,
    step: 'spool dlq ls {queue}; fix the cause; spool dlq replay {queue} (a dry run), then spool dlq replay {queue} --yes',
    coveredBy: { severity: 'ticket', alarm: RUNBOOK.deadJobs },
  },
  oldestWaitingAge: {
    label: 'oldest waiting job age',
    unit: 'seconds',
    runbook: RUNBOOK.oldestWaitingAge,
    step: `spool status; check the worker runs (errors, throttles) and the targets answer; then ${DRAIN}`,
    coveredBy: { severity: 'page', alarm: RUNBOOK.oldestWaitingAge },
  },
  leaseExpired: {
    label: 'jobs whose lease expired',
    unit: 'jobs',
    runbook: RUNBOOK.leaseExpired,
    step: 'spool status; workers die mid-job (timeouts, out of memory): read the worker log; the jobs run again once reclaimed',
    coveredBy: { severity: 'ticket', alarm: RUNBOOK.leaseExpired },
  },
  deadTrimmed: {
    label: 'dead jobs trimmed from the DLQ since the previous check',
    unit: 'jobs',
    runbook: RUNBOOK.dlqTrimmed,
    step: 'jobs were lost: spool dlq ls {queue}; stop the failures; spool dlq replay {queue} --yes, or raise SPOOL_DEAD_CAP',
    coveredBy: { severity: 'page', alarm: RUNBOOK.dlqTrimmed },
  },
  paused: {
    label: 'time the queue has been paused',
    unit: 'seconds',
    runbook: RUNBOOK.pausedQueue,
    step: 'spool queue settings {queue}; if the pause is over: spool queue resume {queue}',
    coveredBy: undefined,
  },
  breakerOpen: {
    label: 'target origins whose circuit breaker is open',
    unit: 'origins',
    runbook: RUNBOOK.breakerOpen,
    step: 'these targets fail (5xx, 429, timeouts): their jobs wait, no attempt spent, until a probe succeeds; spool queue settings {queue}',
    coveredBy: undefined,
  },
};

/** How a value compares with the threshold it tripped: always strictly above. */
export const TRIPS_WHEN = 'above';

/** `dead jobs = 12 jobs (above 10 jobs)` */
export function symptomText(check: Check, value: number, threshold: number): string {
  const w = CHECKS[check];
  return `${w.label} = ${value} ${w.unit} (${TRIPS_WHEN} ${threshold} ${w.unit})`;
}

/**
 * A step with every placeholder filled (`{queue}` → the queue, each occurrence). A placeholder
 * left without a value is a bug in the wording, so it throws rather than paging with a hole.
 */
export function fillStep(step: string, values: Readonly<Record<string, string>>): string {
  const out = step.replace(/\{([A-Za-z]+)\}/g, (whole, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`runbook step: no value for ${whole} in ${JSON.stringify(step)}`);
    return v;
  });
  return out;
}

/**
 * The link to a runbook section: `<base>#<anchor>`. The base is the runbook's URL
 * (SPOOL_RUNBOOK_BASE_URL / context runbookBaseUrl); without one, the repository path.
 */
export function runbookUrl(anchor: RunbookAnchor, base?: string): string {
  const b = base === undefined || base === '' ? RUNBOOK_FILE : base.replace(/#.*$/, '');
  return `${b}#${anchor}`;
}
