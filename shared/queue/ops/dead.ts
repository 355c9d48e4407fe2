import { randomUUID } from 'node:crypto';
import { list, type Meta, type SpoolCore, toJob } from '../core.js';
import { ValidationError } from '../errors.js';
import { REQUEST_TTL_MS, requestKey } from '../keys.js';
import { assertQueueName } from '../schema.js';
import { DEAD_GROUPS, DELETE_DEAD, REPLAY } from '../scripts/dead.js';
import type { DeadGroup, ReplayReport, ReplaySelection } from '../types.js';

/** The DLQ grouped by fingerprint: exact counts, samples from the newest `scan` dead jobs. */
export async function deadGroups(
  core: SpoolCore,
  queue: string,
  opts: { samples?: number; scan?: number } = {},
): Promise<{ total: number; groups: DeadGroup[] }> {
  assertQueueName(queue);
  const { counts, samples, total } = await core.run(DEAD_GROUPS, queue, {
    scan: opts.scan ?? 500,
    samples: opts.samples ?? 3,
  });
  const groups = new Map<string, DeadGroup>();
  for (const [fingerprint, count] of Object.entries(counts)) {
    groups.set(fingerprint, { fingerprint, count: Number(count), samples: [] });
  }
  for (const { id, spec, meta } of list(samples)) {
    const job = toJob(queue, id, spec, meta);
    const fp = job.lastError?.fingerprint ?? 'unknown';
    const g = groups.get(fp) ?? { fingerprint: fp, count: 0, samples: [] };
    groups.set(fp, g);
    if (g.samples.length === 0) {
      if (job.lastError) {
        g.errorClass = job.lastError.class;
        g.message = job.lastError.message;
      }
      if (job.diedAt !== undefined) g.lastDiedAt = job.diedAt;
    }
    g.samples.push(job);
  }
  return { total, groups: [...groups.values()].sort((a, b) => b.count - a.count) };
}
/**
 * Replay dead jobs to waiting with attempts reset. `dryRun` reports exactly what would move. With
 * `audit`, the script that moves the jobs also writes the call's audit record (the record given, plus
 * matched, moved and byFingerprint) to the queue's audit list, capped at `cap`: no move without its
 * record. A call retried after its reply was lost answers the first run's report and moves nothing more.
 */
export async function replay(
  core: SpoolCore,
  queue: string,
  sel: ReplaySelection = {},
  opts: { audit?: { record: Record<string, unknown>; cap: number } } = {},
): Promise<ReplayReport> {
  assertQueueName(queue);
  const dryRun = sel.dryRun ?? true;
  const limit = sel.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new ValidationError('limit', 'must be an integer from 1 to 1000');
  if (sel.ids && (sel.ids.length === 0 || sel.ids.length > 1000))
    throw new ValidationError('ids', 'must hold 1 to 1000 ids');
  if (sel.failedAfter !== undefined && sel.failedBefore !== undefined && sel.failedAfter > sel.failedBefore) {
    throw new ValidationError('failedAfter', 'must not be later than failedBefore');
  }
  const {
    jobs: rows,
    scanned,
    truncated,
  } = await core.run(
    REPLAY,
    queue,
    {
      clock: core.scriptClock(),
      dryRun,
      ids: sel.ids ?? [],
      fingerprint: sel.fingerprint ?? '',
      failedAfter: sel.failedAfter !== undefined ? String(Math.floor(sel.failedAfter)) : '-inf',
      failedBefore: sel.failedBefore !== undefined ? String(Math.floor(sel.failedBefore)) : '+inf',
      limit,
      scanMax: Math.max(core.config.deadCap, 1000),
      retryableOnly: sel.retryableOnly === true,
      maxReplays: sel.maxReplaysPerJob ?? 0,
      audit: opts.audit ?? {},
      requestTtlMs: REQUEST_TTL_MS,
    },
    { request: requestKey(core.config.prefix, queue, randomUUID()) },
  );
  const jobs = list(rows).map(({ id, meta }) => {
    const m = JSON.parse(meta) as Meta;
    const j: ReplayReport['jobs'][number] = { id, attempts: m.attempts };
    if (m.error) {
      j.fingerprint = m.error.fingerprint;
      j.error = m.error.message;
      j.retryable = m.error.retryable;
    }
    if (m.diedAt !== undefined) j.diedAt = m.diedAt;
    return j;
  });
  return { dryRun, matched: jobs.length, moved: dryRun ? 0 : jobs.length, jobs, scanned, truncated };
}
/**
 * Delete dead jobs for good; returns the ids that were dead and are now gone. A call retried after
 * its reply was lost answers the same ids, and deletes nothing more.
 */
export async function deleteDead(core: SpoolCore, queue: string, ids: string[]): Promise<string[]> {
  assertQueueName(queue);
  if (ids.length === 0) return [];
  const { deleted } = await core.run(
    DELETE_DEAD,
    queue,
    { ids, requestTtlMs: REQUEST_TTL_MS },
    { request: requestKey(core.config.prefix, queue, randomUUID()) },
  );
  return list(deleted);
}
