/**
 * When and where the health function announces a status (shared/health/notify.ts): the table of
 * docs/runbook.md "Health function messages", row by row.
 */
import { describe, expect, it } from 'vitest';
import type { HealthStatus, QueueHealth, Symptom } from '../../../shared/health/evaluate.js';
import { decide, type QueueMemory, remember } from '../../../shared/health/notify.js';
import type { Check } from '../../../shared/health/runbook.js';

const symptom = (check: Check, status: Symptom['status']): Symptom => ({
  check,
  status,
  value: 1,
  threshold: 0,
  unit: 'jobs',
  runbook: '',
  step: '',
});
const health = (status: HealthStatus, symptoms: Symptom[]): QueueHealth =>
  ({ queue: 'q', status, symptoms, snapshot: {} as never, deltas: {} as never }) as QueueHealth;
const held = (
  status: HealthStatus,
  runs: number,
  notified: HealthStatus = 'healthy',
  announced = false,
): QueueMemory => ({
  status,
  since: 0,
  runs,
  notified,
  announced,
});

describe('decide', () => {
  it('says nothing before the status has held for the configured runs, or when it was already announced', () => {
    const h = health('unhealthy', [symptom('waiting', 'unhealthy')]);
    expect(decide(h, held('unhealthy', 2), 3)).toBeUndefined();
    expect(decide(h, held('unhealthy', 3), 3)).toEqual({ route: 'page', why: 'no alarm watches this symptom' });
    expect(decide(h, held('unhealthy', 9, 'unhealthy', true), 3)).toBeUndefined();
    expect(decide(h, held('unhealthy', 1), 1)?.route).toBe('page');
  });

  it('drops an unhealthy status an alarm already pages for (oldest waiting age, DLQ trimmed)', () => {
    for (const check of ['oldestWaitingAge', 'deadTrimmed'] as const)
      expect(
        decide(
          health('unhealthy', [symptom('waiting', 'unhealthy'), symptom(check, 'unhealthy')]),
          held('unhealthy', 3),
          3,
        )?.route,
      ).toBe('dropped');
    // A degraded page-covered figure does not: its alarm is not firing yet.
    expect(
      decide(
        health('unhealthy', [symptom('waiting', 'unhealthy'), symptom('oldestWaitingAge', 'degraded')]),
        held('unhealthy', 3),
        3,
      )?.route,
    ).toBe('page');
  });

  it('tickets an unhealthy status made only of what alarms ticket (dead stock, expired leases), and any degraded one', () => {
    expect(
      decide(
        health('unhealthy', [symptom('dead', 'unhealthy'), symptom('leaseExpired', 'unhealthy')]),
        held('unhealthy', 3),
        3,
      ),
    ).toEqual({
      route: 'ticket',
      why: 'alarms ticket dead, leaseExpired',
    });
    expect(decide(health('degraded', [symptom('waiting', 'degraded')]), held('degraded', 3), 3)?.route).toBe('ticket');
  });

  it('tickets a recovery after a message, and says nothing of one after a dropped status', () => {
    expect(decide(health('healthy', []), held('healthy', 3, 'unhealthy', true), 3)?.route).toBe('ticket');
    expect(decide(health('healthy', []), held('healthy', 3, 'unhealthy', false), 3)?.route).toBe('dropped');
  });
});

describe('remember', () => {
  it('counts consecutive runs of one status and restarts on a change, keeping what was announced', () => {
    const a = remember(undefined, 'degraded', 1000);
    expect(a).toEqual({ status: 'degraded', since: 1000, runs: 1, notified: 'healthy', announced: false });
    const b = remember(a, 'degraded', 2000);
    expect(b).toMatchObject({ since: 1000, runs: 2 });
    const c = remember({ ...b, notified: 'degraded', announced: true }, 'healthy', 3000);
    expect(c).toEqual({ status: 'healthy', since: 3000, runs: 1, notified: 'degraded', announced: true });
  });
});
