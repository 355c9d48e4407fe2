import { randomUUID } from 'node:crypto';
import { list, optNum, type SpoolCore } from '../core.js';
import { IdempotencyConflictError, ValidationError } from '../errors.js';
import { assertQueueName, MAX_BATCH, normalizeJobs } from '../schema.js';
import { ENQUEUE } from '../scripts/enqueue.js';
import type { EnqueueOutcome } from '../types.js';

/**
 * Enqueue one or many jobs in one call. Every job is validated before anything is written; bad ones
 * throw ValidationError naming the field (`priority`), or for a batch BatchValidationError naming
 * every bad job (`jobs[3].priority`, ...), and nothing is enqueued.
 */
export async function enqueue(
  core: SpoolCore,
  queue: string,
  input: unknown | unknown[],
  /** `trace`: the request's traceparent, kept with every job (sent on with its deliveries). */
  opts: { kick?: boolean; trace?: string } = {},
): Promise<EnqueueOutcome> {
  assertQueueName(queue);
  const many = Array.isArray(input);
  const items = many ? (input as unknown[]) : [input];
  if (items.length === 0) throw new ValidationError('jobs', 'must hold at least one job');
  if (items.length > MAX_BATCH) throw new ValidationError('jobs', `must hold at most ${MAX_BATCH} jobs`);
  const jobs = normalizeJobs(items, core.config, core.now(), many, opts.trace);
  // A delay counts from the server's clock (the script's now); a runAt is the producer's own time.
  const rows = jobs.map((j) =>
    j.delayMs ? [randomUUID(), j.spec, j.meta, j.delayMs] : [randomUUID(), j.spec, j.meta],
  );
  const debounce = opts.kick === false ? 0 : core.config.kickDebounceMs;
  // The script registers the queue itself (the touched index) and keeps the due index.
  const res = await core.run(ENQUEUE, queue, {
    clock: core.scriptClock(),
    window: core.config.idempotencyWindowMs,
    debounce,
    input: rows,
  });
  const [conflict] = list(res.conflicts ?? []);
  if (conflict) {
    const field = many ? `jobs[${conflict.index}].idempotencyKey` : 'idempotencyKey';
    throw new IdempotencyConflictError(field, conflict.id ?? undefined);
  }
  const out: EnqueueOutcome = {
    jobs: list(res.jobs).map(({ id, deduplicated, state }) => ({ id, deduplicated, state })),
    kick: res.kick === true,
  };
  const wakeAt = optNum(res.wakeAt);
  if (wakeAt !== undefined) out.wakeAt = wakeAt;
  return out;
}
