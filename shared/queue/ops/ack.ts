import { cutCodePoints } from '../../text/index.js';
import { list, optNum, type SpoolCore } from '../core.js';
import { fingerprint } from '../fingerprint.js';
import { assertQueueName } from '../schema.js';
import { COMPLETE, EXTEND, FAIL, RELEASE } from '../scripts/ack.js';
import type {
  AckStatus,
  AttemptRun,
  CompleteItem,
  ExtendItem,
  FailItem,
  FailOutcome,
  FailResult,
  ReleaseItem,
  WorkerBeat,
} from '../types.js';

/** A failure message is kept to this many code points (never half a surrogate pair). */
export const MAX_MESSAGE_CODE_POINTS = 4000;
/** An attempt of a job's history keeps its failure message to this many code points. */
export const HISTORY_MESSAGE_CODE_POINTS = 300;

/**
 * What an ack tells the job's history of one attempt: how long it ran and how long ago it ended
 * (durations, so the caller's clock never mixes with the server's), the HTTP status, the request id.
 */
function attemptOf(core: SpoolCore, run: AttemptRun | undefined): Record<string, unknown> {
  if (!run) return {};
  const local = core.clock?.() ?? Date.now();
  const o: Record<string, unknown> = {
    ranMs: Math.max(0, Math.round(run.endedAt - run.startedAt)),
    agoMs: Math.max(0, Math.round(local - run.endedAt)),
  };
  if (run.status !== undefined) o.status = run.status;
  if (run.requestId) o.requestId = run.requestId;
  return o;
}

/** Complete many leased jobs; each is refused ('stale') unless its lease token is current. */
export async function complete(
  core: SpoolCore,
  queue: string,
  items: CompleteItem[],
): Promise<Array<{ id: string; status: AckStatus }>> {
  assertQueueName(queue);
  if (items.length === 0) return [];
  const { results } = await core.run(COMPLETE, queue, {
    clock: core.scriptClock(),
    retentionMs: core.config.completedRetentionMs,
    items: items.map((i) => {
      const attempt = attemptOf(core, i.run);
      if (i.response) attempt.response = i.response;
      return Object.keys(attempt).length > 0 ? [i.id, i.token, attempt] : [i.id, i.token];
    }),
  });
  return list(results).map(({ status }, i) => ({ id: items[i]!.id, status }));
}
/**
 * What a failure tells the circuit breaker of its job's target origin: `trip` (a 5xx, a 429, a
 * timeout, a connection error: the target is in trouble), `ok` (it answered, with a 4xx: the failure
 * is the job's; the breaker closes), or nothing (no target reached, e.g. a handler's failure).
 */
export function breakerOutcome(error: FailItem['error'], status: number | undefined): 'trip' | 'ok' | undefined {
  if (error.class === 'TimeoutError' || error.class === 'NetworkError') return 'trip';
  if (status === undefined || status === 408 || status === 425) return undefined;
  return status >= 500 || status === 429 ? 'trip' : 'ok';
}

/** Fail many leased jobs: retry with backoff, or dead with the failure story. Stale tokens are refused. */
export async function fail(core: SpoolCore, queue: string, items: FailItem[]): Promise<FailResult[]> {
  return (await failReport(core, queue, items)).results;
}
/** `fail`, with `wakeAt` (FailOutcome): when the retries moved the queue's timer earlier. */
export async function failReport(core: SpoolCore, queue: string, items: FailItem[]): Promise<FailOutcome> {
  assertQueueName(queue);
  if (items.length === 0) return { results: [] };
  const payload = items.map(({ id, token, error, run }) => {
    const cls = error.class || 'Error';
    const message = cutCodePoints(String(error.message ?? ''), MAX_MESSAGE_CODE_POINTS);
    const o: Record<string, unknown> = {
      id,
      token,
      message,
      class: cls,
      fingerprint: fingerprint(cls, message),
      retryable: error.retryable,
      jitter: core.random(),
      short: cutCodePoints(message, HISTORY_MESSAGE_CODE_POINTS),
      ...attemptOf(core, run),
    };
    if (error.retryAfterMs !== undefined && error.retryAfterMs > 0) o.retryAfterMs = Math.round(error.retryAfterMs);
    if (error.requestId) o.requestId = error.requestId;
    const breaker = breakerOutcome(error, run?.status);
    if (breaker) o.breaker = breaker;
    return o;
  });
  const res = await core.run(FAIL, queue, {
    clock: core.scriptClock(),
    deadCap: core.config.deadCap,
    items: payload,
  });
  const out: FailOutcome = {
    results: list(res.results).map(({ status, state, runAt }, i) => {
      const r: FailResult = { id: items[i]!.id, status };
      if (status === 'ok') r.state = state as 'delayed' | 'dead';
      if (runAt !== undefined) r.runAt = runAt;
      return r;
    }),
  };
  const wakeAt = optNum(res.wakeAt);
  if (wakeAt !== undefined) out.wakeAt = wakeAt;
  return out;
}
/**
 * Extend many leases (heartbeat). `leaseUntilMax` (epoch ms of this process's clock) caps them: the end
 * of the invocation. With `worker`, the same call is the worker's heartbeat in the active workers (its
 * entry written, or removed when `gone`), items or none.
 */
export async function extend(
  core: SpoolCore,
  queue: string,
  items: ExtendItem[],
  leaseUntilMax = 0,
  worker?: WorkerBeat & { id: string },
): Promise<Array<{ id: string; status: AckStatus; leaseUntil?: number }>> {
  assertQueueName(queue);
  if (items.length === 0 && !worker) return [];
  const { results } = await core.run(EXTEND, queue, {
    clock: core.scriptClock(),
    leaseForMax: core.msUntil(leaseUntilMax),
    items: items.map((i) => [i.id, i.token, i.leaseMs]),
    worker: worker ?? {},
  });
  return list(results).map(({ status, leaseUntil }, i) =>
    status === 'ok' ? { id: items[i]!.id, status, leaseUntil: Number(leaseUntil) } : { id: items[i]!.id, status },
  );
}

/**
 * Give leased jobs back to waiting, their attempt refunded (a worker leaving before it ran them, or
 * abandoning them at the end of its invocation). Stale tokens are refused; safe to run twice.
 */
export async function release(
  core: SpoolCore,
  queue: string,
  items: ReleaseItem[],
): Promise<Array<{ id: string; status: AckStatus }>> {
  assertQueueName(queue);
  if (items.length === 0) return [];
  const { results } = await core.run(RELEASE, queue, {
    clock: core.scriptClock(),
    items: items.map((i) => [i.id, i.token]),
  });
  return list(results).map(({ status }, i) => ({ id: items[i]!.id, status }));
}
