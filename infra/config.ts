/**
 * Deploy-time configuration of Spool: the props of the `Spool` construct, which are the CDK context
 * keys of the `Spool` stack under the same names.
 *
 * Context comes from cdk.json ("context"), from `cdk deploy -c key=value` (always a string there)
 * or from `new App({ context })` in tests (any JSON value); props come typed from a CDK app. Every
 * reader below accepts the JSON form and the string form, and throws on a value it cannot use
 * (naming the key) instead of guessing. The defaults here are the documented ones (README "Deploy",
 * cdk.json).
 */
import { minLeaseWindowMs } from '../functions/worker/run.js';
import { loadConfig, type SpoolConfig } from '../shared/config/index.js';
import { RUNBOOK_FILE } from '../shared/health/runbook.js';
import { DEFAULT_METRIC_NAMESPACE } from '../shared/metrics/names.js';

/** A value of healthThresholds / functionEnv. */
export type EnvValue = string | number | boolean;

/**
 * Props of the `Spool` construct. Each one is the CDK context key of the same name (README
 * "Deploy"); every one is optional and defaults as the context key does.
 */
export interface SpoolProps {
  /** Existing Secrets Manager secret holding the Upstash REST URL and token; default: one is created. */
  readonly secretName?: string;
  readonly keyPrefix?: string;
  readonly metricNamespace?: string;
  /** Queues that get their own alarms, metrics and dashboard rows. */
  readonly queues?: readonly string[];
  /** Page destination: an email address subscribed to the page topic. */
  readonly alarmEmail?: string;
  /** Page destination: an HTTPS endpoint (pager integration) subscribed to the page topic. */
  readonly pagerUrl?: string;
  /** Page destination: an existing SNS topic that alarms and the health function page to. */
  readonly alarmTopicArn?: string;
  /** Ticket destination: an email address (default: alarmEmail). */
  readonly ticketEmail?: string;
  /** Ticket destination: an existing SNS topic. */
  readonly ticketTopicArn?: string;
  /** `'none'`: deploy without any page destination, on purpose (otherwise synth refuses). */
  readonly pages?: 'none';
  /** URL of the runbook (docs/runbook.md as published); pages link to `<runbookBaseUrl>#<section>`. */
  readonly runbookBaseUrl?: string;
  readonly workerTimeoutSeconds?: number;
  readonly workerReservedConcurrency?: number;
  readonly workerMemoryMb?: number;
  readonly functionMemoryMb?: number;
  readonly targetAllowedHosts?: readonly string[];
  /** `SPOOL_HEALTH_*` settings of the health function, e.g. `{ deadUnhealthy: 50 }`. */
  readonly healthThresholds?: Readonly<Record<string, EnvValue>>;
  /** Other `SPOOL_*` settings of every function, e.g. `{ SPOOL_MAX_ATTEMPTS: 8 }`. */
  readonly functionEnv?: Readonly<Record<string, EnvValue>>;
  readonly logLevel?: string;
  readonly logRetentionDays?: number;
  readonly apiThrottleRate?: number;
  readonly apiThrottleBurst?: number;
  /** `rate(...)`, `cron(...)` or a number of minutes. */
  readonly workerSchedule?: string | number;
  readonly healthSchedule?: string | number;
  readonly purgeSchedule?: string | number;
  /** The dlq-replay function's schedule: automatic DLQ replay of the queues whose settings ask for it. */
  readonly dlqReplaySchedule?: string | number;
  /** No longer alarms (dead stock is a ticket at any count; new dead letters page): accepted, with a warning. */
  readonly deadJobsCritical?: number;
  /** Page when more than this many jobs went dead within newDeadJobsWindowMinutes. */
  readonly newDeadJobsThreshold?: number;
  readonly newDeadJobsWindowMinutes?: number;
  readonly oldestWaitingAgeSeconds?: number;
  readonly api5xxRatePercent?: number;
  /** The API 5xx page needs at least this many requests (GET /v1/health not counted) in 5 minutes. */
  readonly api5xxMinRequests?: number;
  /** Page when more than this percentage of worker invocations fail, in 2 of 3 periods of 5 minutes. */
  readonly workerErrorRatePercent?: number;
  readonly durationAlarmPercent?: number;
}

/** The context keys the stack reads: exactly the props of the construct. */
export const CONTEXT_KEYS = [
  'secretName',
  'keyPrefix',
  'metricNamespace',
  'queues',
  'alarmEmail',
  'pagerUrl',
  'alarmTopicArn',
  'ticketEmail',
  'ticketTopicArn',
  'pages',
  'runbookBaseUrl',
  'workerTimeoutSeconds',
  'workerReservedConcurrency',
  'workerMemoryMb',
  'functionMemoryMb',
  'targetAllowedHosts',
  'healthThresholds',
  'functionEnv',
  'logLevel',
  'logRetentionDays',
  'apiThrottleRate',
  'apiThrottleBurst',
  'workerSchedule',
  'healthSchedule',
  'purgeSchedule',
  'dlqReplaySchedule',
  'deadJobsCritical',
  'newDeadJobsThreshold',
  'newDeadJobsWindowMinutes',
  'oldestWaitingAgeSeconds',
  'api5xxRatePercent',
  'api5xxMinRequests',
  'workerErrorRatePercent',
  'durationAlarmPercent',
] as const satisfies ReadonlyArray<keyof SpoolProps>;
/** Compiles only while CONTEXT_KEYS names every prop. */
const contextKeysCoverProps: [Exclude<keyof SpoolProps, (typeof CONTEXT_KEYS)[number]>] extends [never] ? true : never =
  true;
void contextKeysCoverProps;

/**
 * The settings the constructs build from: every key read, checked and defaulted. (The functions' own
 * settings are shared/config's SpoolConfig, from the environment.)
 */
export interface StackConfig {
  /** Existing Secrets Manager secret holding the Upstash REST URL and token; undefined = create one. */
  readonly secretName: string | undefined;
  readonly keyPrefix: string;
  readonly metricNamespace: string;
  /** Queue names that get their own alarms and dashboard rows. */
  readonly queues: readonly string[];
  readonly alarmEmail: string | undefined;
  readonly pagerUrl: string | undefined;
  readonly alarmTopicArn: string | undefined;
  readonly ticketEmail: string | undefined;
  readonly ticketTopicArn: string | undefined;
  /** True only with `pages=none`: no page destination, on purpose. */
  readonly pagesOff: boolean;
  readonly runbookBaseUrl: string | undefined;
  readonly workerTimeoutSeconds: number;
  readonly workerReservedConcurrency: number | undefined;
  readonly workerMemoryMb: number;
  readonly functionMemoryMb: number;
  /** Hosts a worker may call (HTTP targets); empty = any public host. */
  readonly targetAllowedHosts: readonly string[];
  /** Extra `SPOOL_*` settings for every function (lease, retries, DLQ cap...), from context `functionEnv`. */
  readonly functionEnv: Readonly<Record<string, string>>;
  /** `SPOOL_HEALTH_*` environment variables of the health function, from context `healthThresholds`. */
  readonly healthEnv: Readonly<Record<string, string>>;
  readonly logLevel: string;
  readonly logRetentionDays: number;
  readonly apiThrottleRate: number;
  readonly apiThrottleBurst: number;
  readonly workerSchedule: ScheduleSpec;
  /** The health schedule, always with its interval (a cron that has none is refused). */
  readonly healthSchedule: ScheduleSpec & { readonly intervalMinutes: number };
  readonly purgeSchedule: ScheduleSpec;
  readonly dlqReplaySchedule: ScheduleSpec;
  /** Page when more than this many jobs went dead within newDeadJobsWindowMinutes. */
  readonly newDeadJobsThreshold: number;
  readonly newDeadJobsWindowMinutes: number;
  /** Page when the oldest waiting job has waited longer than this. */
  readonly oldestWaitingAgeSeconds: number;
  /** Page when the API answers more than this percentage of 5xx, two periods of 5 minutes in a row. */
  readonly api5xxRatePercent: number;
  readonly api5xxMinRequests: number;
  readonly workerErrorRatePercent: number;
  /** Duration ticket at this percentage of the function timeout (p99). */
  readonly durationAlarmPercent: number;
  /** Things synth should say without refusing (each names its key). */
  readonly warnings: readonly string[];
}

/** A schedule: an EventBridge `rate(...)` / `cron(...)` expression, and its interval when it is a rate. */
export interface ScheduleSpec {
  readonly expression: string;
  /** Interval in minutes for rate expressions; undefined for cron. */
  readonly intervalMinutes: number | undefined;
}

export const CONTEXT_DEFAULTS = {
  keyPrefix: 'spool',
  metricNamespace: DEFAULT_METRIC_NAMESPACE,
  workerTimeoutSeconds: 900,
  workerMemoryMb: 512,
  functionMemoryMb: 256,
  logLevel: 'INFO',
  logRetentionDays: 30,
  apiThrottleRate: 50,
  apiThrottleBurst: 100,
  workerSchedule: 'rate(1 minute)',
  healthSchedule: 'rate(1 minute)',
  purgeSchedule: 'rate(1 hour)',
  dlqReplaySchedule: 'rate(1 hour)',
  newDeadJobsThreshold: 10,
  newDeadJobsWindowMinutes: 15,
  oldestWaitingAgeSeconds: 900,
  api5xxRatePercent: 5,
  api5xxMinRequests: 20,
  workerErrorRatePercent: 10,
  durationAlarmPercent: 80,
} as const;

/**
 * The longest health interval the alarms can watch: the heartbeat alarm needs a period at least as
 * long as the interval, and two such periods, and CloudWatch evaluates at most one day.
 */
export const MAX_HEALTH_INTERVAL_MINUTES = 720;

/** Keys that name a page destination; synth refuses when none is given (unless pages=none). */
export const PAGE_DESTINATION_KEYS = ['pagerUrl', 'alarmEmail', 'alarmTopicArn'] as const;

/** CloudWatch Logs accepts only these retention periods (days). */
const VALID_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

export type ContextReader = (key: string) => unknown;

export class ConfigError extends Error {
  /** The context key (= construct prop) at fault. */
  readonly key: string;
  constructor(key: string, message: string) {
    super(`context "${key}": ${message}`);
    this.name = 'ConfigError';
    this.key = key;
  }
}

function optionalString(get: ContextReader, key: string): string | undefined {
  const v = get(key);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ConfigError(key, `expected a string, got ${JSON.stringify(v)}`);
  const t = v.trim();
  return t === '' ? undefined : t;
}

function stringOr(get: ContextReader, key: string, dflt: string): string {
  return optionalString(get, key) ?? dflt;
}

function optionalNumber(
  get: ContextReader,
  key: string,
  check: { min: number; max: number; integer?: boolean },
): number | undefined {
  const v = get(key);
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v.trim()) : Number.NaN;
  if (!Number.isFinite(n)) throw new ConfigError(key, `expected a number, got ${JSON.stringify(v)}`);
  if (check.integer !== false && !Number.isInteger(n)) throw new ConfigError(key, `expected an integer, got ${n}`);
  if (n < check.min || n > check.max) throw new ConfigError(key, `expected ${check.min}..${check.max}, got ${n}`);
  return n;
}

function numberOr(
  get: ContextReader,
  key: string,
  dflt: number,
  check: { min: number; max: number; integer?: boolean },
): number {
  return optionalNumber(get, key, check) ?? dflt;
}

/** An array of strings, a JSON array string, or a comma-separated string. */
function stringList(get: ContextReader, key: string): string[] {
  let v = get(key);
  if (v === undefined || v === null) return [];
  if (typeof v === 'string' && v.trim().startsWith('[')) {
    try {
      v = JSON.parse(v) as unknown;
    } catch {
      throw new ConfigError(key, 'looks like a JSON array but does not parse');
    }
  }
  const items = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : undefined;
  if (!items?.every((i): i is string => typeof i === 'string')) {
    throw new ConfigError(key, `expected an array of strings or a comma-separated string, got ${JSON.stringify(v)}`);
  }
  const out = items.map((i) => i.trim()).filter((i) => i !== '');
  return [...new Set(out)];
}

const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const HOST_NAME =
  /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:\d{1,5})?$/;

function jsonObject(key: string, raw: unknown): Record<string, unknown> {
  if (raw === undefined || raw === null || raw === '') return {};
  let obj: unknown = raw;
  if (typeof obj === 'string') {
    try {
      obj = JSON.parse(obj) as unknown;
    } catch {
      throw new ConfigError(key, 'expected a JSON object');
    }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new ConfigError(key, 'expected an object');
  for (const [k, v] of Object.entries(obj)) {
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(k)) throw new ConfigError(key, `invalid key ${JSON.stringify(k)}`);
    if (!['number', 'string', 'boolean'].includes(typeof v))
      throw new ConfigError(key, `value of ${k} must be a number, string or boolean`);
  }
  return obj as Record<string, unknown>;
}

/** The functions' environment config for these settings (defaults filled), or a refusal naming `key`. */
function envConfig(key: string, env: Record<string, string>): SpoolConfig {
  try {
    return loadConfig(env);
  } catch (e) {
    throw new ConfigError(key, e instanceof Error ? e.message : String(e));
  }
}

/** Variables the stack sets itself; `functionEnv` may not override them. */
export const MANAGED_ENV = new Set([
  'SPOOL_REDIS_SECRET_ARN',
  'SPOOL_KEY_PREFIX',
  'SPOOL_METRIC_NAMESPACE',
  'SPOOL_ALERT_TOPIC_ARN',
  'SPOOL_WORKER_FUNCTION_NAME',
  'SPOOL_TARGET_ALLOWED_HOSTS',
  'SPOOL_TICKET_TOPIC_ARN',
  'SPOOL_DEPLOYMENT_NAME',
  'SPOOL_RUNBOOK_BASE_URL',
  'SPOOL_METRIC_QUEUES',
  'SPOOL_SCHEDULE_TIMER_QUEUE_URL',
]);

/**
 * `functionEnv` (object or JSON string) → extra `SPOOL_*` variables for every function, e.g.
 * `{"SPOOL_MAX_ATTEMPTS": 8, "SPOOL_DEAD_CAP": 50000}`. Credentials and stack-managed names are refused.
 */
export function functionEnvFrom(raw: unknown): Record<string, string> {
  const key = 'functionEnv';
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(jsonObject(key, raw))) {
    if (!/^SPOOL_[A-Z0-9_]+$/.test(k)) throw new ConfigError(key, `${k}: only SPOOL_* variables (upper case)`);
    if (MANAGED_ENV.has(k)) throw new ConfigError(key, `${k} is set by the stack; use its own context key`);
    if (k.startsWith('SPOOL_HEALTH_')) throw new ConfigError(key, `${k}: use context healthThresholds`);
    env[k] = String(v);
  }
  return env;
}

/**
 * `healthThresholds` (object or JSON string) → `SPOOL_HEALTH_*` env vars.
 * Keys may be camelCase (`maxWaitingAgeSeconds` → `SPOOL_HEALTH_MAX_WAITING_AGE_SECONDS`) or already
 * upper snake case (with or without the `SPOOL_HEALTH_` prefix). Values: numbers, strings, booleans.
 */
export function healthThresholdEnv(raw: unknown): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(jsonObject('healthThresholds', raw))) {
    const snake =
      k.includes('_') || k === k.toUpperCase()
        ? k.toUpperCase()
        : k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
    const name = snake.startsWith('SPOOL_HEALTH_') ? snake : `SPOOL_HEALTH_${snake}`;
    env[name] = String(v);
  }
  return env;
}

/**
 * A schedule from context: a number of minutes (number or numeric string), or an EventBridge
 * `rate(...)` / `cron(...)` expression.
 */
export function parseSchedule(key: string, raw: unknown, dflt: string): ScheduleSpec {
  const v = raw === undefined || raw === null || raw === '' ? dflt : raw;
  if (typeof v === 'number' || (typeof v === 'string' && /^\s*\d+\s*$/.test(v))) {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new ConfigError(key, `expected a whole number of minutes >= 1, got ${v}`);
    return { expression: `rate(${n} ${n === 1 ? 'minute' : 'minutes'})`, intervalMinutes: n };
  }
  if (typeof v !== 'string')
    throw new ConfigError(key, `expected minutes or a rate/cron expression, got ${JSON.stringify(v)}`);
  const s = v.trim();
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(s);
  if (rate) {
    const n = Number(rate[1]);
    const unit = rate[2] ?? 'minutes';
    if (n < 1) throw new ConfigError(key, 'rate must be >= 1');
    // EventBridge rejects "rate(1 minutes)" and "rate(5 minute)".
    if ((n === 1) === unit.endsWith('s'))
      throw new ConfigError(key, 'use a singular unit for 1 and a plural one otherwise');
    const perUnit = unit.startsWith('minute') ? 1 : unit.startsWith('hour') ? 60 : 1440;
    return { expression: s, intervalMinutes: n * perUnit };
  }
  if (/^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$/.test(s)) return { expression: s, intervalMinutes: undefined };
  throw new ConfigError(key, `expected minutes, rate(N unit) or cron(6 fields), got ${JSON.stringify(v)}`);
}

/**
 * The fixed interval of a cron expression, in minutes, or undefined when it has none (specific
 * days, lists, ranges, steps that do not divide the hour or the day evenly).
 * Handles every N minutes (`0/N` or star-slash-N in the minutes field, any hour), every minute
 * (star, star), hourly (`cron(M * * * ? *)`) and every N hours (`cron(M 0/N * * ? *)`).
 */
export function cronIntervalMinutes(expression: string): number | undefined {
  const m = /^cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)$/.exec(expression.trim());
  if (!m) return undefined;
  const [, min, hour, dom, month, dow, year] = m as unknown as [string, string, string, string, string, string, string];
  if (!['*', '?'].includes(dom) || month !== '*' || !['*', '?'].includes(dow) || year !== '*') return undefined;
  const step = (field: string, size: number): number | undefined => {
    const s = /^(?:\*|0)\/(\d+)$/.exec(field);
    if (!s) return undefined;
    const n = Number(s[1]);
    return n >= 1 && size % n === 0 ? n : undefined;
  };
  const fixed = (field: string, max: number) => /^\d+$/.test(field) && Number(field) <= max;
  if (hour === '*') {
    if (min === '*') return 1;
    if (fixed(min, 59)) return 60;
    return step(min, 60);
  }
  const everyHours = step(hour, 24);
  if (everyHours !== undefined && fixed(min, 59)) return everyHours * 60;
  return undefined;
}

function urlOf(get: ContextReader, key: string, protocols: readonly string[]): string | undefined {
  const raw = optionalString(get, key);
  if (raw === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError(key, 'not a URL');
  }
  if (!protocols.includes(u.protocol)) throw new ConfigError(key, `must be a ${protocols.join(' or ')}// URL`);
  return raw;
}

function emailOf(get: ContextReader, key: string): string | undefined {
  const v = optionalString(get, key);
  if (v !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v))
    throw new ConfigError(key, `not an email address: ${JSON.stringify(v)}`);
  return v;
}

function topicArnOf(get: ContextReader, key: string): string | undefined {
  const v = optionalString(get, key);
  if (v !== undefined && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/.test(v))
    throw new ConfigError(key, `not an SNS topic ARN: ${JSON.stringify(v)}`);
  if (v?.endsWith('.fifo')) throw new ConfigError(key, 'CloudWatch alarms cannot publish to a FIFO topic');
  return v;
}

/**
 * The minimum time a worker invocation needs beyond its margin before it leases anything
 * (functions/worker/run.ts: min(SPOOL_JOB_TIMEOUT_MS, 30 s)).
 */
const workerNeedsMs = (env: SpoolConfig): { marginMs: number; windowMs: number } => ({
  marginMs: env.SPOOL_WORKER_TIME_MARGIN_MS,
  windowMs: minLeaseWindowMs(env),
});

export function readConfig(get: ContextReader): StackConfig {
  const d = CONTEXT_DEFAULTS;

  const queues = stringList(get, 'queues');
  for (const q of queues)
    if (!QUEUE_NAME.test(q)) throw new ConfigError('queues', `invalid queue name ${JSON.stringify(q)}`);

  const targetAllowedHosts = stringList(get, 'targetAllowedHosts').map((h) => h.toLowerCase());
  for (const h of targetAllowedHosts)
    if (!HOST_NAME.test(h)) throw new ConfigError('targetAllowedHosts', `invalid host ${JSON.stringify(h)}`);

  const warnings: string[] = [];

  // ---- Where pages and tickets go ----
  const alarmEmail = emailOf(get, 'alarmEmail');
  const pagerUrl = urlOf(get, 'pagerUrl', ['https:']);
  const alarmTopicArn = topicArnOf(get, 'alarmTopicArn');
  const ticketEmail = emailOf(get, 'ticketEmail');
  const ticketTopicArn = topicArnOf(get, 'ticketTopicArn');
  const pages = optionalString(get, 'pages');
  if (pages !== undefined && pages !== 'none')
    throw new ConfigError(
      'pages',
      `the only value is "none" (deploy without paging anyone), got ${JSON.stringify(pages)}`,
    );
  const pagesOff = pages === 'none';
  const pageKeys = PAGE_DESTINATION_KEYS.filter((k) => ({ pagerUrl, alarmEmail, alarmTopicArn })[k] !== undefined);
  if (pagesOff && pageKeys.length > 0)
    throw new ConfigError('pages', `"none" contradicts ${pageKeys.join(', ')}: drop one or the other`);
  if (!pagesOff && pageKeys.length === 0)
    throw new ConfigError(
      PAGE_DESTINATION_KEYS.join('" / "'),
      'no page destination: nobody would be paged. Set pagerUrl (an HTTPS pager integration), alarmEmail ' +
        'or alarmTopicArn (an existing SNS topic), or -c pages=none to deploy without paging on purpose',
    );
  if (ticketEmail !== undefined && ticketTopicArn !== undefined)
    throw new ConfigError('ticketEmail', 'give ticketEmail or ticketTopicArn, not both');
  if (ticketEmail === undefined && ticketTopicArn === undefined && alarmEmail === undefined)
    warnings.push(
      'ticketEmail / ticketTopicArn: tickets go to the ticket topic (output TicketTopicArn), which has no ' +
        'subscriber; set ticketEmail or ticketTopicArn (tickets fall back to alarmEmail, never to the pager)',
    );
  const runbookBaseUrl = urlOf(get, 'runbookBaseUrl', ['https:', 'http:']);
  if (runbookBaseUrl?.includes('#')) throw new ConfigError('runbookBaseUrl', 'no "#": pages add #<section> themselves');
  if (runbookBaseUrl === undefined)
    warnings.push(
      `runbookBaseUrl: pages link to the repository path ${RUNBOOK_FILE}#<section>; set runbookBaseUrl to the URL where the runbook is published`,
    );

  const keyPrefix = stringOr(get, 'keyPrefix', d.keyPrefix);
  // Same rule as SPOOL_KEY_PREFIX in shared/config/schema.ts (checked again by the functions at start).
  if (!/^[A-Za-z0-9:_-]{1,64}$/.test(keyPrefix))
    throw new ConfigError('keyPrefix', `invalid prefix ${JSON.stringify(keyPrefix)}`);
  const metricNamespace = stringOr(get, 'metricNamespace', d.metricNamespace);
  if (!/^[A-Za-z0-9._/#:-]{1,255}$/.test(metricNamespace) || metricNamespace.startsWith('AWS/')) {
    throw new ConfigError('metricNamespace', `invalid namespace ${JSON.stringify(metricNamespace)}`);
  }

  const logLevel = stringOr(get, 'logLevel', d.logLevel).toUpperCase();
  if (!['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT', 'CRITICAL'].includes(logLevel)) {
    throw new ConfigError('logLevel', `unknown level ${logLevel}`);
  }
  const logRetentionDays = numberOr(get, 'logRetentionDays', d.logRetentionDays, { min: 1, max: 3653 });
  if (!VALID_RETENTION_DAYS.includes(logRetentionDays)) {
    throw new ConfigError('logRetentionDays', `CloudWatch accepts ${VALID_RETENTION_DAYS.join(', ')}`);
  }

  // ---- The functions' own settings, checked now rather than at their first start ----
  const functionEnv = functionEnvFrom(get('functionEnv'));
  const healthEnv = healthThresholdEnv(get('healthThresholds'));
  const env = envConfig('functionEnv', functionEnv);
  envConfig('healthThresholds', { ...functionEnv, ...healthEnv });

  const workerTimeoutSeconds = numberOr(get, 'workerTimeoutSeconds', d.workerTimeoutSeconds, { min: 10, max: 900 });
  const need = workerNeedsMs(env);
  if (workerTimeoutSeconds * 1000 <= need.marginMs + need.windowMs)
    throw new ConfigError(
      'workerTimeoutSeconds',
      `${workerTimeoutSeconds} s leaves a worker no time to lease: it stops SPOOL_WORKER_TIME_MARGIN_MS (${need.marginMs} ms) ` +
        `before its timeout and needs the minimum lease window (${need.windowMs} ms = min(SPOOL_JOB_TIMEOUT_MS, 30 s)) ` +
        `before that, so the timeout must be above ${(need.marginMs + need.windowMs) / 1000} s (or lower them in functionEnv)`,
    );

  // ---- Schedules against the alarm periods ----
  const healthSpec = parseSchedule('healthSchedule', get('healthSchedule'), d.healthSchedule);
  const healthEvery = healthSpec.intervalMinutes ?? cronIntervalMinutes(healthSpec.expression);
  if (healthEvery === undefined)
    throw new ConfigError(
      'healthSchedule',
      `${healthSpec.expression} does not run at a fixed interval, and the alarm periods (heartbeat, queue gauges) ` +
        'must match one: use rate(N minutes) or a cron that runs every N minutes or hours (N dividing 60 or 24)',
    );
  if (healthEvery > MAX_HEALTH_INTERVAL_MINUTES)
    throw new ConfigError(
      'healthSchedule',
      `every ${healthEvery} minutes is too slow: the heartbeat alarm needs two periods at least that long and ` +
        `CloudWatch evaluates at most a day, so at most every ${MAX_HEALTH_INTERVAL_MINUTES} minutes`,
    );
  const newDeadJobsWindowMinutes = numberOr(get, 'newDeadJobsWindowMinutes', d.newDeadJobsWindowMinutes, {
    min: 5,
    max: 1440,
  });
  if (newDeadJobsWindowMinutes < healthEvery)
    throw new ConfigError(
      'newDeadJobsWindowMinutes',
      `${newDeadJobsWindowMinutes} min is shorter than the health interval (${healthEvery} min, healthSchedule): a window must hold a health run`,
    );

  if (get('deadJobsCritical') !== undefined && get('deadJobsCritical') !== null) {
    numberOr(get, 'deadJobsCritical', 1, { min: 1, max: 1e9 });
    warnings.push(
      'deadJobsCritical: no longer used. Dead stock is a ticket at any count; new dead letters page ' +
        '(newDeadJobsThreshold within newDeadJobsWindowMinutes)',
    );
  }

  return {
    secretName: optionalString(get, 'secretName'),
    keyPrefix,
    metricNamespace,
    queues,
    alarmEmail,
    pagerUrl,
    alarmTopicArn,
    ticketEmail,
    ticketTopicArn,
    pagesOff,
    runbookBaseUrl,
    workerTimeoutSeconds,
    workerReservedConcurrency: optionalNumber(get, 'workerReservedConcurrency', { min: 1, max: 1000 }),
    workerMemoryMb: numberOr(get, 'workerMemoryMb', d.workerMemoryMb, { min: 128, max: 10240 }),
    functionMemoryMb: numberOr(get, 'functionMemoryMb', d.functionMemoryMb, { min: 128, max: 10240 }),
    targetAllowedHosts,
    functionEnv,
    healthEnv,
    logLevel,
    logRetentionDays,
    apiThrottleRate: numberOr(get, 'apiThrottleRate', d.apiThrottleRate, { min: 1, max: 10000, integer: false }),
    apiThrottleBurst: numberOr(get, 'apiThrottleBurst', d.apiThrottleBurst, { min: 1, max: 5000 }),
    workerSchedule: parseSchedule('workerSchedule', get('workerSchedule'), d.workerSchedule),
    healthSchedule: { expression: healthSpec.expression, intervalMinutes: healthEvery },
    purgeSchedule: parseSchedule('purgeSchedule', get('purgeSchedule'), d.purgeSchedule),
    dlqReplaySchedule: parseSchedule('dlqReplaySchedule', get('dlqReplaySchedule'), d.dlqReplaySchedule),
    newDeadJobsThreshold: numberOr(get, 'newDeadJobsThreshold', d.newDeadJobsThreshold, { min: 0, max: 1e9 }),
    newDeadJobsWindowMinutes,
    oldestWaitingAgeSeconds: numberOr(get, 'oldestWaitingAgeSeconds', d.oldestWaitingAgeSeconds, { min: 1, max: 1e9 }),
    api5xxRatePercent: numberOr(get, 'api5xxRatePercent', d.api5xxRatePercent, { min: 0.01, max: 100, integer: false }),
    api5xxMinRequests: numberOr(get, 'api5xxMinRequests', d.api5xxMinRequests, { min: 1, max: 1e9 }),
    workerErrorRatePercent: numberOr(get, 'workerErrorRatePercent', d.workerErrorRatePercent, {
      min: 0.01,
      max: 100,
      integer: false,
    }),
    durationAlarmPercent: numberOr(get, 'durationAlarmPercent', d.durationAlarmPercent, { min: 1, max: 100 }),
    warnings,
  };
}
