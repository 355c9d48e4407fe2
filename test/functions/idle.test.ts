import { describe, expect, it } from 'vitest';
import { DEPLOYED_RUNS_PER_MINUTE, measureIdle } from '../../bench/idle.js';

/**
 * Issue 14, item 4: an idle Spool's cost does not grow with its queues. bench/idle.ts runs the
 * scheduled worker, health, purge, dlq-replay and scheduler functions on a private redis-server (INFO commandstats counts
 * every command, those inside Lua too) for 1, 10 and 100 used-and-empty queues, a minute apart, and
 * the purge an hour later.
 */
describe('idle cost at the deployed schedules', () => {
  it('at most 5 commands a minute for 1, 10 or 100 empty queues, and 100 cost at most 2x one', async () => {
    expect(DEPLOYED_RUNS_PER_MINUTE).toEqual({ worker: 1, health: 1, purge: 1 / 60, dlqReplay: 1 / 60, scheduler: 1 });
    const r = await measureIdle([1, 10, 100], 3);
    for (const n of ['1', '10', '100']) {
      expect(r.idleCommandsPerMinute[n], `${n} queues`).toBeLessThanOrEqual(5);
      // a scheduled purge with nothing to purge
      expect(r.ticks[n]!.purge, `purge of ${n} queues`).toBeLessThanOrEqual(10);
    }
    expect(r.idleCommandsPerMinute['100']!).toBeLessThanOrEqual(2 * r.idleCommandsPerMinute['1']!);
    // each run is a few reads: the due index, the last health run and the touched index, the purge plan
    expect(r.ticks['100']).toMatchObject({ worker: 1, health: 2, dlqReplay: 1 });
    // the scheduler's minute tick: one read of what is due, with or without a schedule pending (issue 12)
    expect(r.ticks['100']).toMatchObject({ scheduler: 1, schedulerPending: 1 });
  }, 120_000);
});
