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
  queueUnhealthy: 'queue-unhealthy',
  deadJobs: 'dead-jobs',
  deadJobsCritical: 'dead-jobs-critical',
  oldestWaitingAge: 'oldest-waiting-age',
  leaseExpired: 'lease-expired',
  dlqTrimmed: 'dlq-trimmed',
  heartbeatMissing: 'health-heartbeat-missing',
  functionErrors: 'function-errors',
  functionThrottles: 'function-throttles',
  functionDuration: 'function-duration-near-timeout',
  api5xx: 'api-5xx-rate',
  rotateToken: 'rotate-the-upstash-token',
} as const;
export type RunbookAnchor = (typeof RUNBOOK)[keyof typeof RUNBOOK];

/** The figures the health rules judge (shared/health/evaluate.ts). */
export type Check = 'waiting' | 'dead' | 'oldestWaitingAge' | 'leaseExpired' | 'deadTrimmed';

export interface CheckWords {
  /** What the figure is, in a sentence: "dead jobs". */
  readonly label: string;
  readonly unit: 'jobs' | 'seconds';
  readonly runbook: RunbookAnchor;
  /** The next step; `{queue}` stands for the queue's name (see fillStep). */
  readonly step: string;
}

export const CHECKS: Readonly<Record<Check, CheckWords>> = {
  waiting: {
    label: 'waiting jobs',
    unit: 'jobs',
    runbook: RUNBOOK.queueUnhealthy,
    step: 'check that workers run (worker errors/throttles, reserved concurrency); POST /v1/queues/{queue}/drain',
  },
  dead: {
    label: 'dead jobs',
    unit: 'jobs',
    runbook: RUNBOOK.deadJobs,
    step: 'GET /v1/queues/{queue}/dlq, fix the cause, then POST /v1/queues/{queue}/dlq/replay (dry run first)',
  },
  oldestWaitingAge: {
    label: 'oldest waiting job age',
    unit: 'seconds',
    runbook: RUNBOOK.oldestWaitingAge,
    step: 'check that workers run and targets answer; POST /v1/queues/{queue}/drain',
  },
  leaseExpired: {
    label: 'jobs whose lease expired',
    unit: 'jobs',
    runbook: RUNBOOK.leaseExpired,
    step: 'workers are dying mid-job (timeouts, crashes): check worker logs; expired leases are reclaimed on the next lease or purge',
  },
  deadTrimmed: {
    label: 'dead jobs trimmed from the DLQ since the previous check',
    unit: 'jobs',
    runbook: RUNBOOK.dlqTrimmed,
    step: 'the DLQ of {queue} is at its cap and drops the oldest dead jobs: replay or delete dead jobs, or raise SPOOL_DEAD_CAP',
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
