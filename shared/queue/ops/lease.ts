import { randomUUID } from 'node:crypto';
import { list, type Meta, optNum, type SpoolCore, toJob } from '../core.js';
import { ValidationError } from '../errors.js';
import { REQUEST_TTL_MS, requestKey } from '../keys.js';
import { assertQueueName, MAX_BATCH } from '../schema.js';
import { LEASE } from '../scripts/lease.js';
import type { LeasedJob, LeaseOptions, LeaseOutcome } from '../types.js';

/** Lease up to `count` jobs (after promoting due delayed jobs and reclaiming expired leases). One call. */
export async function lease(core: SpoolCore, queue: string, opts: LeaseOptions): Promise<LeaseOutcome> {
  assertQueueName(queue);
  if (!Number.isInteger(opts.count) || opts.count < 0 || opts.count > MAX_BATCH) {
    throw new ValidationError('count', `must be an integer from 0 to ${MAX_BATCH}`);
  }
  // Every call gets a nonce: run twice (a retried request), it answers what it leased, promoted and
  // reclaimed once (the script keeps the answer only when the call did something).
  const nonce = opts.nonce ?? randomUUID();
  const res = await core.run(
    LEASE,
    queue,
    {
      clock: core.scriptClock(),
      count: opts.count,
      leaseMs: opts.leaseMs ?? core.config.leaseMs,
      leaseForMax: core.msUntil(opts.leaseUntilMax ?? 0),
      graceMs: core.config.leaseGraceMs,
      workerMarkMs: opts.workerMarkMs ?? 0,
      keepMark: opts.keepMark === true,
      fitCapMs: opts.fitCapMs ?? 0,
      deadCap: core.config.deadCap,
      scanLimit: 1000,
      requestTtlMs: REQUEST_TTL_MS,
      requestId: opts.requestId ?? '',
      worker: opts.worker && opts.requestId ? { id: opts.requestId, ...opts.worker } : {},
    },
    { request: requestKey(core.config.prefix, queue, nonce) },
  );
  const jobs = list(res.jobs).map(({ id, spec, meta }) => {
    const job = toJob(queue, id, spec, meta) as LeasedJob;
    job.token = (JSON.parse(meta) as Meta).leaseToken!;
    return job;
  });
  const out: LeaseOutcome = {
    now: Number(res.now),
    jobs,
    waiting: res.waiting,
    promoted: res.promoted,
    leaseExpired: res.leaseExpired,
    leaseExpiredDead: res.leaseExpiredDead,
    workerRunning: res.workerRunning,
    unfit: res.unfit ?? 0,
    deferred: res.deferred ?? 0,
    expired: res.expired ?? 0,
  };
  const next = optNum(res.nextRunAt);
  if (next !== undefined) out.nextRunAt = next;
  if (res.held) out.held = res.held;
  const until = optNum(res.heldUntil);
  if (until !== undefined) out.heldUntil = until;
  return out;
}

/**
 * Promote due delayed jobs and reclaim expired leases, leasing nothing; says how many jobs wait and
 * whether a worker is running, and whether flow control holds them (what a scheduler needs to decide on
 * a kick), in the same call.
 */
export async function reclaim(
  core: SpoolCore,
  queue: string,
): Promise<
  Pick<LeaseOutcome, 'promoted' | 'leaseExpired' | 'leaseExpiredDead' | 'waiting' | 'workerRunning' | 'held'>
> {
  const { promoted, leaseExpired, leaseExpiredDead, waiting, workerRunning, held } = await lease(core, queue, {
    count: 0,
  });
  return { promoted, leaseExpired, leaseExpiredDead, waiting, workerRunning, ...(held ? { held } : {}) };
}
