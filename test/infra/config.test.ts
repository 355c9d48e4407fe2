/**
 * Context parsing of the CDK app (infra/config.ts): defaults, the string forms `cdk -c key=value`
 * produces, and refusals of values the stack could not use.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CONTEXT_DEFAULTS,
  ConfigError,
  cronIntervalMinutes,
  functionEnvFrom,
  healthThresholdEnv,
  MAX_HEALTH_INTERVAL_MINUTES,
  parseSchedule,
  readConfig,
} from '../../infra/config.js';
import { REPO_ROOT } from '../../infra/stack.js';
import { DEFAULT_METRIC_NAMESPACE } from '../../shared/metrics/names.js';

/** Context with a page destination (synth refuses one without), then `ctx`. */
const fromObject = (ctx: Record<string, unknown>) =>
  readConfig((k) => ({ alarmEmail: 'oncall@example.com', ...ctx })[k]);
/** Exactly `ctx`. */
const exactly = (ctx: Record<string, unknown>) => readConfig((k) => ctx[k]);
/** The refusal of `ctx`: a ConfigError naming `key`. */
function refusal(ctx: Record<string, unknown>, read = fromObject): ConfigError {
  try {
    read(ctx);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error(`not refused: ${JSON.stringify(ctx)}`);
}

describe('readConfig', () => {
  it('has the documented defaults with no context', () => {
    const c = fromObject({});
    expect(c).toMatchObject({
      secretName: undefined,
      keyPrefix: 'spool',
      metricNamespace: DEFAULT_METRIC_NAMESPACE,
      queues: [],
      alarmEmail: 'oncall@example.com',
      pagerUrl: undefined,
      alarmTopicArn: undefined,
      ticketEmail: undefined,
      ticketTopicArn: undefined,
      pagesOff: false,
      runbookBaseUrl: undefined,
      workerTimeoutSeconds: 900,
      workerReservedConcurrency: undefined,
      targetAllowedHosts: [],
      healthEnv: {},
      functionEnv: {},
      logLevel: 'INFO',
      logRetentionDays: 30,
      apiThrottleRate: 50,
      apiThrottleBurst: 100,
      workerSchedule: { expression: 'rate(1 minute)', intervalMinutes: 1 },
      healthSchedule: { expression: 'rate(1 minute)', intervalMinutes: 1 },
      purgeSchedule: { expression: 'rate(1 hour)', intervalMinutes: 60 },
      dlqReplaySchedule: { expression: 'rate(1 hour)', intervalMinutes: 60 },
      newDeadJobsThreshold: 10,
      newDeadJobsWindowMinutes: 15,
      oldestWaitingAgeSeconds: 900,
      api5xxRatePercent: 5,
      api5xxMinRequests: 20,
      workerErrorRatePercent: 10,
    });
  });

  it('matches the defaults written in cdk.json', () => {
    const ctx = (
      JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }
    ).context;
    expect(fromObject(ctx)).toEqual(fromObject({}));
    for (const [k, v] of Object.entries(CONTEXT_DEFAULTS)) expect(ctx[k], `cdk.json context ${k}`).toEqual(v);
  });

  it('accepts the string forms of `cdk -c key=value`', () => {
    const c = fromObject({
      queues: 'emails, reports,emails',
      targetAllowedHosts: '["API.example.com", "*.hooks.example.org"]',
      workerTimeoutSeconds: '300',
      workerReservedConcurrency: '5',
      healthThresholds: '{"deadUnhealthy": 50, "oldestWaitingUnhealthyMs": 600000}',
      functionEnv: '{"SPOOL_MAX_ATTEMPTS": 8}',
      apiThrottleRate: '12.5',
      logLevel: 'warn',
    });
    expect(c.queues).toEqual(['emails', 'reports']);
    expect(c.targetAllowedHosts).toEqual(['api.example.com', '*.hooks.example.org']);
    expect(c.workerTimeoutSeconds).toBe(300);
    expect(c.workerReservedConcurrency).toBe(5);
    expect(c.healthEnv).toEqual({
      SPOOL_HEALTH_DEAD_UNHEALTHY: '50',
      SPOOL_HEALTH_OLDEST_WAITING_UNHEALTHY_MS: '600000',
    });
    expect(c.functionEnv).toEqual({ SPOOL_MAX_ATTEMPTS: '8' });
    expect(c.apiThrottleRate).toBe(12.5);
    expect(c.logLevel).toBe('WARN');
  });

  it.each([
    ['workerTimeoutSeconds', 901],
    ['workerTimeoutSeconds', 'soon'],
    ['workerReservedConcurrency', 0],
    ['logRetentionDays', 31],
    ['queues', 'ok,bad queue'],
    ['queues', [1, 2]],
    ['targetAllowedHosts', 'https://example.com/path'],
    ['alarmEmail', 'not-an-email'],
    ['pagerUrl', 'http://insecure.example.com/hook'],
    ['pagerUrl', 'nota url'],
    ['keyPrefix', 'has space'],
    ['metricNamespace', 'AWS/Lambda'],
    ['logLevel', 'LOUD'],
    ['healthThresholds', '[1]'],
    ['healthThresholds', { nested: { a: 1 } }],
    ['functionEnv', { UPSTASH_REDIS_REST_TOKEN: 'x' }],
    ['functionEnv', { SPOOL_REDIS_SECRET_ARN: 'arn' }],
    ['functionEnv', { SPOOL_HEALTH_DEAD_DEGRADED: 1 }],
    ['workerSchedule', 'every minute'],
    ['purgeSchedule', 'rate(1 hours)'],
    ['healthSchedule', 0],
    ['alarmTopicArn', 'arn:aws:sqs:eu-west-1:123456789012:q'],
    ['alarmTopicArn', 'arn:aws:sns:eu-west-1:123456789012:t.fifo'],
    ['ticketEmail', 'tickets'],
    ['ticketTopicArn', 'topic'],
    ['pages', 'some'],
    ['runbookBaseUrl', 'wiki/runbook'],
    ['runbookBaseUrl', 'ftp://example.com/runbook'],
    ['runbookBaseUrl', 'https://wiki.example.com/runbook#top'],
    ['newDeadJobsThreshold', -1],
    ['newDeadJobsWindowMinutes', 2],
    ['api5xxMinRequests', 0],
    ['workerErrorRatePercent', 0],
    ['deadJobsCritical', 0],
    ['functionEnv', { SPOOL_MAX_ATTEMPTS: 0 }],
    ['healthThresholds', { deadUnhealthy: 'many' }],
  ])('refuses %s = %j, naming the key', (key, value) => {
    expect(refusal({ [key]: value }).message).toMatch(new RegExp(`^context "${key}": `));
  });
});

describe('synth refusals (each names its key)', () => {
  it('refuses a deployment that would page nobody, naming the page destination keys', () => {
    const e = refusal({}, exactly);
    expect(e.message).toMatch(/^context "pagerUrl" \/ "alarmEmail" \/ "alarmTopicArn": no page destination/);
    expect(e.message).toContain('-c pages=none');
    // A ticket destination is not a page destination.
    expect(refusal({ ticketEmail: 'tickets@example.com' }, exactly).key).toBe(
      'pagerUrl" / "alarmEmail" / "alarmTopicArn',
    );
    // Any one of the three will do, or pages=none on purpose.
    for (const ctx of [
      { pagerUrl: 'https://events.example.com/x' },
      { alarmEmail: 'oncall@example.com' },
      { alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:pager' },
      { pages: 'none' },
    ])
      expect(exactly(ctx).pagesOff, JSON.stringify(ctx)).toBe('pages' in ctx);
    expect(refusal({ pages: 'none', pagerUrl: 'https://events.example.com/x' }, exactly).message).toMatch(
      /^context "pages": "none" contradicts pagerUrl/,
    );
    expect(refusal({ ticketEmail: 't@example.com', ticketTopicArn: 'arn:aws:sns:eu-west-1:123456789012:t' }).key).toBe(
      'ticketEmail',
    );
  });

  it('refuses a worker timeout that leaves no time to lease past the margin and the minimum window', () => {
    // Defaults: margin 10 s, window min(SPOOL_JOB_TIMEOUT_MS 30 s, 30 s) = 30 s, so above 40 s.
    const e = refusal({ workerTimeoutSeconds: 40 });
    expect(e.key).toBe('workerTimeoutSeconds');
    expect(e.message).toContain('SPOOL_WORKER_TIME_MARGIN_MS (10000 ms)');
    expect(e.message).toContain('minimum lease window (30000 ms');
    expect(e.message).toContain('above 40 s');
    expect(fromObject({ workerTimeoutSeconds: 41 }).workerTimeoutSeconds).toBe(41);
    // The margin and the job timeout come from functionEnv.
    expect(refusal({ workerTimeoutSeconds: 300, functionEnv: { SPOOL_WORKER_TIME_MARGIN_MS: 290000 } }).key).toBe(
      'workerTimeoutSeconds',
    );
    expect(
      fromObject({ workerTimeoutSeconds: 20, functionEnv: { SPOOL_JOB_TIMEOUT_MS: 5000 } }).workerTimeoutSeconds,
    ).toBe(20);
  });

  it('refuses a health schedule the alarm periods cannot follow', () => {
    const cron = refusal({ healthSchedule: 'cron(0 9 ? * MON-FRI *)' });
    expect(cron.key).toBe('healthSchedule');
    expect(cron.message).toContain('does not run at a fixed interval');
    expect(refusal({ healthSchedule: 'cron(0/7 * * * ? *)' }).key).toBe('healthSchedule'); // 7 does not divide 60
    const slow = refusal({ healthSchedule: 'rate(2 days)' });
    expect(slow.key).toBe('healthSchedule');
    expect(slow.message).toContain(`at most every ${MAX_HEALTH_INTERVAL_MINUTES} minutes`);
    expect(fromObject({ healthSchedule: 'rate(12 hours)', newDeadJobsWindowMinutes: 720 }).healthSchedule).toEqual({
      expression: 'rate(12 hours)',
      intervalMinutes: 720,
    });
    // A cron with a fixed interval gets periods of that interval.
    expect(fromObject({ healthSchedule: 'cron(0/5 * * * ? *)' }).healthSchedule.intervalMinutes).toBe(5);
    // The dead-letter window must hold a health run.
    const w = refusal({ healthSchedule: 30, newDeadJobsWindowMinutes: 15 });
    expect(w.key).toBe('newDeadJobsWindowMinutes');
    expect(w.message).toContain('shorter than the health interval (30 min, healthSchedule)');
  });

  it('accepts deadJobsCritical (a stable key) but warns that it no longer alarms', () => {
    const c = fromObject({ deadJobsCritical: 7 });
    expect(c.warnings.some((w) => w.startsWith('deadJobsCritical: no longer used'))).toBe(true);
    expect(fromObject({}).warnings.some((w) => w.startsWith('deadJobsCritical'))).toBe(false);
  });
});

describe('cronIntervalMinutes', () => {
  it.each([
    ['cron(* * * * ? *)', 1],
    ['cron(0/5 * * * ? *)', 5],
    ['cron(*/15 * * * ? *)', 15],
    ['cron(30 * * * ? *)', 60],
    ['cron(0 0/6 * * ? *)', 360],
    ['cron(0 */2 * * ? *)', 120],
    ['cron(0/7 * * * ? *)', undefined],
    ['cron(0 3 * * ? *)', undefined],
    ['cron(0/5 * ? * MON-FRI *)', undefined],
    ['cron(0/5 8-17 * * ? *)', undefined],
    ['cron(0,30 * * * ? *)', undefined],
    ['rate(5 minutes)', undefined],
  ])('%s → %s', (expr, minutes) => {
    expect(cronIntervalMinutes(expr)).toBe(minutes);
  });
});

describe('parseSchedule', () => {
  it('turns minutes into rate expressions and keeps rate/cron', () => {
    expect(parseSchedule('k', 1, 'x')).toEqual({ expression: 'rate(1 minute)', intervalMinutes: 1 });
    expect(parseSchedule('k', '15', 'x')).toEqual({ expression: 'rate(15 minutes)', intervalMinutes: 15 });
    expect(parseSchedule('k', 'rate(2 hours)', 'x')).toEqual({ expression: 'rate(2 hours)', intervalMinutes: 120 });
    expect(parseSchedule('k', 'rate(1 day)', 'x')).toEqual({ expression: 'rate(1 day)', intervalMinutes: 1440 });
    expect(parseSchedule('k', 'cron(0/5 * * * ? *)', 'x')).toEqual({
      expression: 'cron(0/5 * * * ? *)',
      intervalMinutes: undefined,
    });
    expect(parseSchedule('k', undefined, 'rate(1 hour)')).toEqual({ expression: 'rate(1 hour)', intervalMinutes: 60 });
    expect(() => parseSchedule('k', 'rate(5 minute)', 'x')).toThrow(ConfigError);
    expect(() => parseSchedule('k', 'cron(0 3 * * *)', 'x')).toThrow(ConfigError);
  });
});

describe('environment pass-through', () => {
  it('maps healthThresholds keys to SPOOL_HEALTH_* names', () => {
    expect(
      healthThresholdEnv({ waitingDegraded: 10, STUCK_UNHEALTHY: 3, SPOOL_HEALTH_HISTORY: 30, deadDegraded: true }),
    ).toEqual({
      SPOOL_HEALTH_WAITING_DEGRADED: '10',
      SPOOL_HEALTH_STUCK_UNHEALTHY: '3',
      SPOOL_HEALTH_HISTORY: '30',
      SPOOL_HEALTH_DEAD_DEGRADED: 'true',
    });
    expect(healthThresholdEnv(undefined)).toEqual({});
  });

  it('passes only unmanaged SPOOL_* settings through functionEnv', () => {
    expect(functionEnvFrom({ SPOOL_DEAD_CAP: 50000, SPOOL_TARGET_ALLOW_PRIVATE: false })).toEqual({
      SPOOL_DEAD_CAP: '50000',
      SPOOL_TARGET_ALLOW_PRIVATE: 'false',
    });
    expect(() => functionEnvFrom({ spool_dead_cap: 1 })).toThrow(ConfigError);
    expect(() => functionEnvFrom({ SPOOL_KEY_PREFIX: 'x' })).toThrow(/set by the stack/);
    expect(() => functionEnvFrom({ SPOOL_SCHEDULE_TIMER_QUEUE_URL: 'https://sqs.example/q' })).toThrow(
      /SPOOL_SCHEDULE_TIMER_QUEUE_URL is set by the stack/,
    );
  });
});
