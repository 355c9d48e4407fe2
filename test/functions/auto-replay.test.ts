/**
 * Issue 12: automatic DLQ replay on the dlq-replay function's schedule, off by default; an injected
 * clock on real Redis. Counted jobs, never time.
 */
import { describe, expect, it, vi } from 'vitest';
import { createDlqReplayHandler } from '../../functions/dlq-replay/handler.js';
import { queueKey } from '../../shared/queue/keys.js';
import { lambdaContext, scheduledEvent } from '../helpers/fixtures.js';
import { testRuntime } from '../helpers/runtime.js';

describe('automatic DLQ replay', async () => {
  let now = 1_800_000_000_000;
  const { rt, prefix, kicks } = await testRuntime('autoreplay', {}, { clock: () => now });
  const spool = rt.spool;
  const handler = createDlqReplayHandler(rt);
  const tick = async () =>
    (await handler(scheduledEvent('dlq-replay'), lambdaContext(60_000, 'dlq-replay'))) as {
      queues: Record<string, { matched: number; moved: number }>;
      moved: number;
    };
  const job = (n: number) => ({ handler: 'echo', payload: { n }, maxAttempts: 1 });

  /** Enqueue n jobs and fail each once (maxAttempts 1: dead), retryable or not; their ids. */
  const kill = async (q: string, n: number, retryable: boolean, from = 0) => {
    const { jobs } = await spool.enqueue(
      q,
      Array.from({ length: n }, (_, i) => job(from + i)),
      { kick: false },
    );
    await redie(q, retryable);
    return jobs.map((j) => j.id);
  };
  /** Lease every waiting job and fail it (they all die: maxAttempts 1). */
  const redie = async (q: string, retryable = true) => {
    const l = await spool.lease(q, { count: 100 });
    await spool.fail(
      q,
      l.jobs.map((j) => ({
        id: j.id,
        token: j.token,
        error: { message: retryable ? 'HTTP 503' : 'HTTP 400', retryable },
      })),
    );
    return l.jobs.length;
  };
  const audit = async (q: string) =>
    (await spool.redis.lrange(queueKey(prefix, q, 'auditDlqReplay'), 0, -1)) as unknown as Array<
      Record<string, unknown>
    >;

  it('reads the settings of the queues that have autoReplay only (an index the settings script keeps)', async () => {
    for (let i = 0; i < 5; i++) await spool.enqueue(`plain-${i}`, job(i), { kick: false });
    await spool.putSettings('indexed', { autoReplay: { maxJobs: 1, minAgeMs: 0, maxReplaysPerJob: 1 } });
    const spy = vi.spyOn(spool, 'run');
    await tick();
    const read = spy.mock.calls.filter(([def]) => def.name === 'settingsRead').map(([, q]) => q);
    expect(read).toEqual(['indexed']);
    await spool.putSettings('indexed', { autoReplay: null });
    spy.mockClear();
    await tick();
    expect(spy.mock.calls.filter(([def]) => def.name === 'settingsRead')).toEqual([]);
    spy.mockRestore();
  });

  it('is off by default: a queue without the setting keeps its dead jobs', async () => {
    await kill('off', 3, true);
    now += 3_600_000;
    const r = await tick();
    expect(r.queues.off).toBeUndefined();
    expect((await spool.snapshot(['off']))[0]!.dead).toBe(3);
    expect(await audit('off')).toEqual([]);
    expect((await spool.settings('off')).autoReplay).toBeNull();
  });

  it('replays at most maxJobs a run, only retryable failures older than minAgeMs, audited as auto-replay', async () => {
    const q = 'auto';
    await spool.putSettings(q, { autoReplay: { maxJobs: 2, minAgeMs: 600_000, maxReplaysPerJob: 3 } });
    // three retryable deaths a second apart (the oldest are replayed first)
    const old: string[] = [];
    for (let i = 0; i < 3; i++) {
      old.push(...(await kill(q, 1, true, i)));
      now += 1_000;
    }
    const permanent = await kill(q, 2, false, 10);
    now += 600_000;
    const young = await kill(q, 1, true, 20);
    const first = await tick();
    expect(first.queues[q]).toMatchObject({ matched: 2, moved: 2 });
    // the two oldest retryable ones; the permanent ones and the young one stay dead
    const moved = (await spool.list(q, 'waiting')).jobs.map((j) => j.id);
    expect(moved.sort()).toEqual(old.slice(0, 2).sort());
    for (const id of [...permanent, ...young, old[2]!]) expect((await spool.get(q, id))!.state).toBe('dead');
    expect((await spool.get(q, old[0]!))!.replays).toBe(1);
    const [rec] = await audit(q);
    expect(rec).toMatchObject({
      actor: 'auto-replay',
      queue: q,
      dryRun: false,
      moved: 2,
      selection: { retryableOnly: true, maxReplaysPerJob: 3, limit: 2 },
    });
    expect(kicks.at(-1)).toEqual({ queue: q, reason: 'replay' });

    // the next run takes the third old one and the young one (now old enough), never the permanent ones
    now += 600_000;
    const second = await tick();
    expect(second.queues[q]).toMatchObject({ matched: 2, moved: 2 });
    expect((await spool.get(q, old[2]!))!.state).toBe('waiting');
    expect((await spool.get(q, young[0]!))!.state).toBe('waiting');
    now += 600_000;
    expect((await tick()).queues[q]).toMatchObject({ matched: 0, moved: 0 });
    for (const id of permanent) expect((await spool.get(q, id))!.state).toBe('dead');
  });

  it('replays a job at most maxReplaysPerJob times (counted in the job: replays)', async () => {
    const q = 'capped';
    await spool.putSettings(q, { autoReplay: { maxJobs: 10, minAgeMs: 0, maxReplaysPerJob: 2 } });
    const [id] = await kill(q, 1, true);
    for (let round = 1; round <= 2; round++) {
      now += 1_000;
      expect((await tick()).queues[q]).toMatchObject({ moved: 1 });
      expect((await spool.get(q, id!))!.replays).toBe(round);
      expect(await redie(q)).toBe(1);
    }
    now += 1_000;
    expect((await tick()).queues[q]).toMatchObject({ matched: 0, moved: 0 });
    expect((await spool.get(q, id!))!).toMatchObject({ state: 'dead', replays: 2 });
  });

  it('a PUT of autoReplay is validated, naming the field; null turns it off', async () => {
    const bad = await spool
      .putSettings('v', { autoReplay: { maxJobs: 0, minAgeMs: 0, maxReplaysPerJob: 1 } })
      .catch((e: Error & { details?: { field: string } }) => e);
    expect((bad as { details?: { field: string } }).details?.field).toBe('autoReplay.maxJobs');
    await spool.putSettings('v', { autoReplay: { maxJobs: 5, minAgeMs: 0, maxReplaysPerJob: 1 } });
    expect((await spool.settings('v')).autoReplay).toEqual({ maxJobs: 5, minAgeMs: 0, maxReplaysPerJob: 1 });
    await spool.putSettings('v', { autoReplay: null });
    expect((await spool.settings('v')).autoReplay).toBeNull();
  });
});
