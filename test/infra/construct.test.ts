/**
 * The `Spool` construct in a CDK app of one's own (infra/spool.ts): typed props that mirror the
 * context keys, and the same deployment as the `Spool` stack built from the same settings.
 */
import { Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { FUNCTION_NAMES } from '../../functions/routes.js';
import { CONTEXT_KEYS, readConfig, type SpoolProps } from '../../infra/config.js';
import { Spool } from '../../infra/spool.js';
import { projectRootForTests, synthSpool, synthWith } from '../helpers/synth.js';

type Json = Record<string, any>;

const settings = {
  alarmEmail: 'oncall@example.com',
  queues: ['emails', 'reports'],
  workerTimeoutSeconds: 600,
  healthThresholds: { deadUnhealthy: 50 },
  functionEnv: { SPOOL_MAX_ATTEMPTS: 8 },
} satisfies SpoolProps;

/** Resource types and counts, and the function settings that do not depend on the construct path. */
const summary = (t: Json) => {
  const types: Record<string, number> = {};
  for (const r of Object.values(t.Resources as Json)) types[r.Type] = (types[r.Type] ?? 0) + 1;
  const fns = Object.values(t.Resources as Json)
    .filter((r) => r.Type === 'AWS::Lambda::Function')
    .map((r) => ({
      timeout: r.Properties.Timeout,
      memory: r.Properties.MemorySize,
      env: Object.keys(r.Properties.Environment.Variables).sort(),
    }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  return { types, fns };
};

describe('Spool construct', () => {
  it('goes into a stack of your own, with typed props, and builds what the Spool stack builds', () => {
    const own = synthWith({}, {}, (app) => {
      const stack = new Stack(app, 'MyApp');
      new Spool(stack, 'Jobs', { ...settings, projectRoot: projectRootForTests() });
      return stack;
    });
    const wrapped = synthSpool(settings);
    try {
      const t = own.template.toJSON();
      expect(Object.values(t.Resources as Json).filter((r) => r.Type === 'AWS::Lambda::Function')).toHaveLength(
        FUNCTION_NAMES.length,
      );
      expect(summary(t)).toEqual(summary(wrapped.template.toJSON()));
      // The construct adds no outputs of its own: the stack decides what it exports.
      expect(t.Outputs ?? {}).toEqual({});
    } finally {
      own.cleanup();
      wrapped.cleanup();
    }
  });

  it('refuses a bad prop naming it, as the context key of the same name', () => {
    expect(() =>
      synthWith({}, {}, (app) => {
        const stack = new Stack(app, 'MyApp');
        new Spool(stack, 'Jobs', { alarmEmail: 'nope', projectRoot: projectRootForTests() });
        return stack;
      }),
    ).toThrow(/"alarmEmail": not an email address/);
  });

  it('reads exactly the keys the stack takes from context (a new key cannot be ignored by the stack)', () => {
    const read = new Set<string>();
    readConfig((k) => {
      read.add(k);
      return (settings as Record<string, unknown>)[k];
    });
    expect([...read].sort()).toEqual([...CONTEXT_KEYS].sort());
  });
});
