import { randomUUID } from 'node:crypto';
import { list, type SpoolCore, toJob } from '../core.js';
import { ValidationError } from '../errors.js';
import { queueKey, REQUEST_TTL_MS, requestKey, STATE_KEY } from '../keys.js';
import { assertQueueName } from '../schema.js';
import { CANCEL, GET, LIST, RUN_NOW } from '../scripts/jobs.js';
import { JOB_STATES, type Job, type JobState, type ListPage } from '../types.js';

export async function getJob(core: SpoolCore, queue: string, id: string): Promise<Job | null> {
  return (await getJobs(core, queue, [id]))[0] ?? null;
}
export async function getJobs(core: SpoolCore, queue: string, ids: string[]): Promise<Array<Job | null>> {
  assertQueueName(queue);
  if (ids.length === 0) return [];
  const { jobs } = await core.run(GET, queue, { ids });
  return list(jobs).map(({ id, spec, meta }) => (spec && meta ? toJob(queue, id, spec, meta) : null));
}
/** A page of one state, in that state's order (waiting: run order; others: by time), from a cursor. */
export async function listJobs(
  core: SpoolCore,
  queue: string,
  state: JobState,
  opts: { limit?: number; cursor?: string } = {},
): Promise<ListPage & { total: number }> {
  assertQueueName(queue);
  if (!JOB_STATES.includes(state)) throw new ValidationError('state', `must be one of ${JOB_STATES.join(', ')}`);
  const limit = opts.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new ValidationError('limit', 'must be an integer from 1 to 1000');
  let score = '';
  let after = '';
  if (opts.cursor) {
    const decoded = Buffer.from(opts.cursor, 'base64url').toString('utf8');
    const sep = decoded.indexOf(':');
    if (sep < 1 || !/^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(decoded.slice(0, sep)))
      throw new ValidationError('cursor', 'is not a cursor this API returned');
    score = decoded.slice(0, sep);
    after = decoded.slice(sep + 1);
  }
  const { jobs: rows, total } = await core.run(
    LIST,
    queue,
    { limit, cursorScore: score, cursorId: after },
    { state: queueKey(core.config.prefix, queue, STATE_KEY[state]) },
  );
  const items = list(rows);
  const jobs = items.flatMap(({ id, spec, meta }) => (spec && meta ? [toJob(queue, id, spec, meta)] : []));
  const page: ListPage & { total: number } = { jobs, total };
  const last = items[items.length - 1];
  if (items.length === limit && last) page.cursor = Buffer.from(`${last.score}:${last.id}`).toString('base64url');
  return page;
}
/**
 * Cancel a waiting or delayed job (removed for good). Active, completed or dead: 'conflict'. A call
 * retried after its reply was lost answers what its first run did (ok, with the state it was in).
 */
export async function cancel(
  core: SpoolCore,
  queue: string,
  id: string,
): Promise<{ status: 'ok' | 'conflict' | 'not_found'; state?: JobState }> {
  assertQueueName(queue);
  const { status, state } = await core.run(
    CANCEL,
    queue,
    { id, requestTtlMs: REQUEST_TTL_MS },
    { request: requestKey(core.config.prefix, queue, randomUUID()) },
  );
  return state ? { status, state } : { status };
}
/**
 * Run a delayed job now: it moves to waiting. Any other state: 'conflict' (with the state). A call
 * retried after its reply was lost answers what its first run did.
 */
export async function runNow(
  core: SpoolCore,
  queue: string,
  id: string,
): Promise<{ status: 'ok' | 'conflict' | 'not_found'; state?: JobState }> {
  assertQueueName(queue);
  const { status, state } = await core.run(
    RUN_NOW,
    queue,
    { clock: core.scriptClock(), id, requestTtlMs: REQUEST_TTL_MS },
    { request: requestKey(core.config.prefix, queue, randomUUID()) },
  );
  return state ? { status, state } : { status };
}
