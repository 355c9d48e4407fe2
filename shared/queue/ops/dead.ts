import { list, type Meta, type SpoolCore, toJob } from '../core.js';
import { ValidationError } from '../errors.js';
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
  const [counts, samples, total] = await core.run<[Array<string | number>, Array<[string, string, string]>, number]>(
    DEAD_GROUPS,
    queue,
    [opts.scan ?? 500, opts.samples ?? 3],
  );
  const flat = list<string | number>(counts);
  const groups = new Map<string, DeadGroup>();
  for (let i = 0; i < flat.length; i += 2) {
    groups.set(String(flat[i]), { fingerprint: String(flat[i]), count: Number(flat[i + 1]), samples: [] });
  }
  for (const [id, spec, meta] of list<[string, string, string]>(samples)) {
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
/** Replay dead jobs to waiting with attempts reset. `dryRun` reports exactly what would move. */
export async function replay(core: SpoolCore, queue: string, sel: ReplaySelection = {}): Promise<ReplayReport> {
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
  const [rows, scanned, truncated] = await core.run<[Array<[string, string]>, number, boolean]>(REPLAY, queue, [
    core.clock(),
    dryRun ? '1' : '0',
    sel.ids ? JSON.stringify(sel.ids) : '',
    sel.fingerprint ?? '',
    sel.failedAfter !== undefined ? Math.floor(sel.failedAfter) : '-inf',
    sel.failedBefore !== undefined ? Math.floor(sel.failedBefore) : '+inf',
    limit,
    Math.max(core.config.deadCap, 1000),
  ]);
  const jobs = list<[string, string]>(rows).map(([id, raw]) => {
    const m = JSON.parse(raw) as Meta;
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
/** Delete dead jobs for good; returns the ids that were dead and are now gone. */
export async function deleteDead(core: SpoolCore, queue: string, ids: string[]): Promise<string[]> {
  assertQueueName(queue);
  if (ids.length === 0) return [];
  const [found] = await core.run<[string[]]>(DELETE_DEAD, queue, [JSON.stringify(ids)]);
  return list<string>(found);
}
