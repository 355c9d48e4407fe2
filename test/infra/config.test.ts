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
  functionEnvFrom,
  healthThresholdEnv,
  parseSchedule,
  readConfig,
} from '../../infra/config.js';
import { REPO_ROOT } from '../../infra/stack.js';
import { DEFAULT_METRIC_NAMESPACE } from '../../shared/metrics/names.js';

const fromObject = (ctx: Record<string, unknown>) => readConfig((k) => ctx[k]);

describe('readConfig', () => {
  it('has the documented defaults with no context', () => {
    const c = fromObject({});
    expect(c).toMatchObject({
      secretName: undefined,
      keyPrefix: 'spool',
      metricNamespace: DEFAULT_METRIC_NAMESPACE,
      queues: [],
      alarmEmail: undefined,
      pagerUrl: undefined,
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
  ])('refuses %s = %j', (key, value) => {
    expect(() => fromObject({ [key]: value })).toThrow(ConfigError);
    expect(() => fromObject({ [key]: value })).toThrow(new RegExp(`context "${key}"`));
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
  });
});
