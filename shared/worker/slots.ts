/**
 * The continuous worker's engine: keeps `concurrency` slots busy on one queue until the queue runs
 * empty (and stays empty for `lingerMs`) or the time runs out. It knows nothing of Lambda: the
 * caller gives it a deadline, a job runner and a clock.
 *
 * - **Slots**: a freed slot takes the next leased job at once; leases are small (the free slots plus
 *   a prefetch of at most `prefetch` jobs, at most `maxLease`) and go out as slots free, one at a time.
 *   When a lease comes back short (the queue ran dry) the next one waits `pollMs`.
 * - **Flusher**: a finished job's ack waits `flushMs` for others; complete, fail and release go out
 *   together (one request, auto-pipelined), so a burst of finishing jobs costs one round of scripts.
 * - **Heartbeat**: every `heartbeatMs`, one extend call for every job held and not yet acked —
 *   queued, running or finished — whose lease would end before two more heartbeats.
 * - **Time**: a job whose timeout + grace does not fit before `stopAt` is never leased (the lease
 *   script leaves it waiting); a leased job that no longer fits when a slot is free, and a running
 *   job still going at `stopAt` (aborted), go back to waiting with their attempt refunded (release).
 * - **Active workers**: with a `requestId`, every lease and heartbeat call also writes the worker's
 *   entry (ops/workers.ts: held, done), valid WORKER_TTL_BEATS beats; a beat with no lease to extend
 *   sends an empty extend only when no call wrote the entry for two beats. The last lease removes the
 *   entry with the mark; a loop stopped by time removes it with one extend of no items.
 * - **Worker mark**: every lease keeps the queue's mark (enqueues do not kick another worker) while
 *   the loop holds jobs or lingers; the last lease, after `lingerMs` with nothing held and nothing
 *   leased, clears it atomically with the kick debounce, so the next enqueue kicks a new worker.
 */
import type { JobOutcome } from '../jobs/outcome.js';
import type { Logger } from '../log/logger.js';
import type { SpoolCore } from '../queue/core.js';
import { complete, extend, failReport, release } from '../queue/ops/ack.js';
import { lease } from '../queue/ops/lease.js';
import type {
  AttemptRun,
  CompleteItem,
  FailItem,
  LeasedJob,
  LeaseOutcome,
  ReleaseItem,
  WorkerBeat,
} from '../queue/types.js';

export interface SlotOptions {
  concurrency: number;
  /** Jobs leased beyond the free slots, at most. */
  prefetch: number;
  /** Jobs per lease call, at most. */
  maxLease: number;
  heartbeatMs: number;
  /** How long a finished job's ack waits for others. */
  flushMs: number;
  /** Keep polling this long once the queue is empty and nothing is held. */
  lingerMs: number;
  /** After a short lease (the queue ran dry), wait this long before the next. */
  pollMs: number;
  /** Epoch ms (the loop's clock): no lease outlives it; jobs still running are abandoned. */
  stopAt: number;
  /** Epoch ms: the end of the invocation (how long the worker mark lasts). */
  deadline: number;
  /** Do not lease when less than this is left before stopAt. */
  minWindowMs: number;
  /**
   * The longest a job may need (timeout + grace) and still fit some invocation: default this loop's
   * own window (stopAt - start; every Lambda invocation starts with the whole timeout).
   */
  fitCapMs?: number;
  /** Written into each attempt's history and each lease (leasedBy). */
  requestId?: string;
}

export interface SlotDeps {
  core: SpoolCore;
  queue: string;
  clock: () => number;
  log: Logger;
  /** Runs one job; `signal` aborts at stopAt (answer `abandoned` then). */
  run: (job: LeasedJob, signal: AbortSignal) => Promise<JobOutcome>;
  /** Told every lease (scale-out, logging). */
  onLease?: (lease: LeaseOutcome, first: boolean) => void | Promise<void>;
  /** Told each job's outcome as it ends (logging). */
  onOutcome?: (job: LeasedJob, outcome: JobOutcome, ms: number) => void;
}

export interface SlotReport {
  leased: number;
  completed: number;
  retried: number;
  dead: number;
  /** Acks refused because the lease was no longer ours (expired and re-leased). */
  stale: number;
  /** Given back to waiting, attempt refunded: leased but never started, or abandoned at stopAt. */
  released: number;
  /** Of those, running when time ran out. */
  abandoned: number;
  /** Lease calls. */
  leases: number;
  /** Ack rounds (each one request). */
  flushes: number;
  /** Heartbeat calls. */
  extends: number;
  /** Most jobs running at once. */
  maxRunning: number;
  /** Sum of the jobs' run times, ms: slot utilization = busyMs / (concurrency * elapsedMs). */
  busyMs: number;
  elapsedMs: number;
  stop: 'empty' | 'time';
  /** Waiting jobs after the last lease. */
  waiting: number;
  /** Earliest run-at of a delayed job after the last lease (the server's clock). */
  nextRunAt?: number;
  /** How long from the loop's end until that job is due (ms, counted on the server's clock). */
  nextDueInMs?: number;
  /** Delayed jobs the leases promoted to waiting (they were due). */
  promoted: number;
  /** The earliest `wakeAt` of the run's fails: a retry moved the queue's first delayed job earlier. */
  wakeAt?: number;
}

interface Held {
  job: LeasedJob;
  /** When the lease ends, by the loop's clock (an underestimate: counted from before the call). */
  until: number;
  leaseMs: number;
}

const failure = (err: unknown): JobOutcome => ({
  kind: 'failed',
  error: { message: err instanceof Error ? err.message : String(err), class: 'WorkerError', retryable: true },
});

const ACK_TRIES = 3;

/**
 * A worker whose lease the rate limit held back stays for the next start when it is this near (ms),
 * leasing exactly then; a later one is left to the queue's due time (the worker schedule).
 */
export const RATE_STAY_MS = 5_000;

/** A worker's entry of the active workers lapses this many heartbeats after its last lease or extend. */
export const WORKER_TTL_BEATS = 4;

export async function runSlots(deps: SlotDeps, o: SlotOptions): Promise<SlotReport> {
  const { core, queue, clock, log } = deps;
  const grace = core.config.leaseGraceMs;
  const started = clock();
  const r: SlotReport = {
    leased: 0,
    completed: 0,
    retried: 0,
    dead: 0,
    stale: 0,
    released: 0,
    abandoned: 0,
    leases: 0,
    flushes: 0,
    extends: 0,
    maxRunning: 0,
    busyMs: 0,
    elapsedMs: 0,
    stop: 'empty',
    waiting: 0,
    promoted: 0,
  };
  const ctl = new AbortController();
  const queued: LeasedJob[] = [];
  const held = new Map<string, Held>();
  let running = 0;
  let fatal: unknown;

  // The main loop sleeps until something happens: a job ends, a flush lands, a timer fires.
  let dirty = false;
  let wake: (() => void) | undefined;
  const poke = () => {
    dirty = true;
    wake?.();
  };
  const waitFor = (ms: number) =>
    new Promise<void>((resolve) => {
      if (dirty) return resolve();
      const t = setTimeout(done, Math.max(0, ms));
      function done() {
        clearTimeout(t);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  // --- acks: complete, fail and release, together, a few ms after the first of them ---
  let pending = { complete: [] as CompleteItem[], fail: [] as FailItem[], release: [] as ReleaseItem[] };
  let flushTimer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> | undefined;
  let tries = 0;
  const pendingCount = () => pending.complete.length + pending.fail.length + pending.release.length;

  const flush = async (): Promise<void> => {
    flushTimer = undefined;
    if (pendingCount() === 0) return;
    const batch = pending;
    pending = { complete: [], fail: [], release: [] };
    r.flushes++;
    try {
      const [c, failed, x] = await Promise.all([
        complete(core, queue, batch.complete),
        failReport(core, queue, batch.fail),
        release(core, queue, batch.release),
      ]);
      tries = 0;
      const f = failed.results;
      if (failed.wakeAt !== undefined) r.wakeAt = Math.min(r.wakeAt ?? Infinity, failed.wakeAt);
      for (const a of c) if (a.status === 'ok') r.completed++;
      for (const a of f) {
        if (a.status !== 'ok') continue;
        if (a.state === 'dead') r.dead++;
        else r.retried++;
      }
      for (const a of x) if (a.status === 'ok') r.released++;
      for (const a of [...c, ...f, ...x]) {
        if (a.status !== 'ok') r.stale++;
        held.delete(a.id);
      }
    } catch (err) {
      // Each call is safe to run twice: send the same items again, a little later.
      pending.complete.unshift(...batch.complete);
      pending.fail.unshift(...batch.fail);
      pending.release.unshift(...batch.release);
      tries++;
      log.warn('ack failed', { queue, tries, error: err instanceof Error ? err.message : String(err) });
      if (tries >= ACK_TRIES) fatal ??= err;
      else await new Promise((res) => setTimeout(res, 100 * 2 ** tries));
    }
  };
  const scheduleFlush = (now = false) => {
    if (flushing || (flushTimer && !now)) return;
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = setTimeout(
      () => {
        flushing = flush().finally(() => {
          flushing = undefined;
          if (pendingCount() > 0 && !fatal) scheduleFlush();
          poke();
        });
      },
      now ? 0 : o.flushMs,
    );
  };

  const giveBack = (job: LeasedJob) => pending.release.push({ id: job.id, token: job.token });

  const finish = (job: LeasedJob, outcome: JobOutcome, startedAt: number, endedAt: number) => {
    const ms = endedAt - startedAt;
    r.busyMs += ms;
    deps.onOutcome?.(job, outcome, ms);
    const run: AttemptRun = {
      startedAt,
      endedAt,
      ...(outcome.kind !== 'abandoned' && outcome.status !== undefined ? { status: outcome.status } : {}),
      ...(o.requestId ? { requestId: o.requestId } : {}),
    };
    if (outcome.kind === 'ok') {
      pending.complete.push({
        id: job.id,
        token: job.token,
        run,
        ...(outcome.response ? { response: outcome.response } : {}),
      });
    } else if (outcome.kind === 'failed') {
      const error =
        o.requestId && !outcome.error.requestId ? { ...outcome.error, requestId: o.requestId } : outcome.error;
      pending.fail.push({ id: job.id, token: job.token, error, run });
    } else {
      r.abandoned++;
      if (neverFits(job)) held.delete(job.id);
      else giveBack(job);
    }
    scheduleFlush();
  };

  const start = (job: LeasedJob) => {
    running++;
    if (running > r.maxRunning) r.maxRunning = running;
    const t0 = clock();
    Promise.resolve()
      .then(() => deps.run(job, ctl.signal))
      .catch(failure)
      .then((outcome) => {
        running--;
        finish(job, outcome, t0, clock());
        poke();
      });
  };

  /** The job's own timeout plus grace still fits before stopAt. */
  const need = (job: LeasedJob) => (job.target?.timeoutMs ?? job.timeoutMs) + grace;
  // The window of this loop from its start: a job needing more fits no invocation (a fresh one has
  // about as long). Such a job is run capped, as it always was, and left leased when time runs out
  // (its attempt spent by the expired lease), never given back: it would come back forever.
  const fitCap = o.fitCapMs ?? Math.max(1, o.stopAt - started);
  const neverFits = (job: LeasedJob) => need(job) > fitCap;
  const fits = (job: LeasedJob, now: number) => neverFits(job) || need(job) <= o.stopAt - now;

  // --- the worker's entry of the active workers: carried by its lease and extend calls ---
  // Each call writes it, valid WORKER_TTL_BEATS heartbeats; a beat with nothing to extend sends an
  // extend of no items only when no call has written it for two beats.
  let entryAt = -Infinity;
  let entryGone = false;
  const workerBeat = (gone = false): WorkerBeat | undefined => {
    if (!o.requestId) return undefined;
    entryAt = clock();
    return {
      ttlMs: WORKER_TTL_BEATS * o.heartbeatMs,
      held: held.size,
      done: r.completed + r.retried + r.dead,
      ...(gone ? { gone } : {}),
    };
  };

  // --- heartbeat: every held job whose lease would end before two more beats ---
  const beat = () => {
    const now = clock();
    const due = [...held.values()].filter((h) => h.until - now < 2 * o.heartbeatMs);
    const entryDue = o.requestId !== undefined && now - entryAt >= 2 * o.heartbeatMs;
    if (due.length === 0 && !entryDue) return;
    r.extends++;
    const w = workerBeat();
    extend(
      core,
      queue,
      due.map((h) => ({ id: h.job.id, token: h.job.token, leaseMs: h.leaseMs })),
      o.stopAt,
      w && o.requestId ? { id: o.requestId, ...w } : undefined,
    ).then(
      (res) => {
        for (const [i, x] of res.entries()) {
          const h = held.get(x.id);
          if (h && x.status === 'ok') h.until = Math.max(h.until, now + Math.min(due[i]!.leaseMs, o.stopAt - now));
        }
      },
      (err) => log.warn('lease extension failed', { queue, error: err instanceof Error ? err.message : String(err) }),
    );
  };
  const heartbeat = setInterval(beat, o.heartbeatMs);
  const stopTimer = setTimeout(
    () => {
      ctl.abort();
      poke();
    },
    Math.max(0, o.stopAt - clock()),
  );

  // The last lease's view of the first delayed job: its due time, the server's now, and our clock then.
  let lastSeen: { nextRunAt: number; serverNow: number; at: number } | undefined;
  let leasing = true;
  // Dry leases in a row that found jobs (a stream).
  let dryHits = 0;
  let dryAt: number | undefined;
  // Nothing held since: the loop leaves once this is lingerMs old and a lease finds nothing.
  let idleSince: number | undefined = started;

  try {
    for (;;) {
      dirty = false;
      if (fatal) throw fatal;
      let now = clock();
      // Fill the free slots; a job that no longer fits before stopAt goes back.
      while (running < o.concurrency && queued.length > 0 && !ctl.signal.aborted) {
        const job = queued.shift()!;
        if (fits(job, now)) start(job);
        else {
          giveBack(job);
          scheduleFlush();
        }
      }
      if (held.size > 0) idleSince = undefined;
      else idleSince ??= now;

      if (leasing && (ctl.signal.aborted || o.stopAt - now < o.minWindowMs)) {
        leasing = false;
        r.stop = 'time';
        if (r.leases === 0)
          log.warn('too little time left to lease: remaining time must exceed the margin plus the minimum window', {
            queue,
            remainingMs: o.deadline - now,
            minWindowMs: o.minWindowMs,
          });
      }
      if (!leasing) {
        for (const job of queued.splice(0)) giveBack(job);
        if (pendingCount() > 0) scheduleFlush(true);
        if (running === 0 && held.size === 0 && !flushing && pendingCount() === 0) break;
        await waitFor(o.stopAt - now > 0 ? o.stopAt - now : 1_000);
        continue;
      }

      const free = o.concurrency - running;
      // After a dry lease (a stream), with a slot free, what came meanwhile is taken at once, up to
      // maxLease: one lease script per poll, however many jobs the stream brought. With every slot
      // busy, only the prefetch (long jobs are not hoarded).
      const room = dryAt !== undefined && free > 0 ? o.maxLease - queued.length : free + o.prefetch - queued.length;
      const want = Math.min(o.maxLease, room);
      const lingered = idleSince !== undefined && now - idleSince >= o.lingerMs;
      // A slot would idle, or half the room is free; after a dry lease, not before pollMs (or the linger's end).
      const needed = free > queued.length || want >= Math.ceil((o.concurrency + o.prefetch) / 2);
      // A stream (dry leases that keep finding jobs) is polled every pollMs, however short the linger;
      // otherwise the linger's end comes first.
      const notBefore =
        dryAt === undefined
          ? now
          : Math.min(dryAt + o.pollMs, idleSince === undefined || dryHits >= 2 ? Infinity : idleSince + o.lingerMs);
      if (want > 0 && needed && now >= notBefore) {
        const sentAt = now;
        const last = lingered && queued.length === 0 && running === 0 && held.size === 0;
        const l = await lease(core, queue, {
          count: want,
          leaseUntilMax: o.stopAt,
          fitCapMs: fitCap,
          workerMarkMs: Math.max(1, o.deadline - sentAt),
          keepMark: !last,
          ...(o.requestId ? { requestId: o.requestId, worker: workerBeat()! } : {}),
        });
        r.leases++;
        r.leased += l.jobs.length;
        r.promoted += l.promoted;
        r.waiting = l.waiting;
        if (l.nextRunAt !== undefined) {
          r.nextRunAt = l.nextRunAt;
          lastSeen = { nextRunAt: l.nextRunAt, serverNow: l.now, at: clock() };
        } else {
          delete r.nextRunAt;
          lastSeen = undefined;
        }
        await deps.onLease?.(l, r.leases === 1);
        for (const job of l.jobs) {
          const leaseMs = Math.max(core.config.leaseMs, job.timeoutMs + grace);
          held.set(job.id, { job, until: sentAt + ((job.leaseUntil ?? l.now) - l.now), leaseMs });
          queued.push(job);
        }
        if (l.unfit > 0) {
          // What is left does not fit in this invocation: a fresh one runs it.
          leasing = false;
          r.stop = 'time';
          continue;
        }
        // Jobs the rate limit holds back for a moment are work to come: stay for them.
        const rateNear = l.held === 'rate' && l.heldUntil !== undefined && l.heldUntil - l.now <= RATE_STAY_MS;
        if (last && l.jobs.length === 0 && !rateNear) {
          // This lease cleared the worker mark, and with it the worker's entry.
          entryGone = true;
          r.stop = 'empty';
          break;
        }
        now = clock();
        // Short and nothing left, or what is left held back by flow control (paused, cap, rate): dry.
        if (l.jobs.length < want && (l.waiting === 0 || l.held !== undefined)) {
          dryAt = now;
          dryHits = l.jobs.length > 0 ? dryHits + 1 : 0;
          // A delayed job due, or the rate limit's next start, before the next poll: poll then (for
          // the rate limit: then, not every poll, and linger from then).
          const next = Math.min(l.nextRunAt ?? Infinity, l.heldUntil ?? Infinity);
          if (next !== Infinity) {
            const dueIn = Math.max(0, next - l.now);
            if (dueIn < o.pollMs || rateNear) dryAt = now - o.pollMs + dueIn + 5;
            if ((dueIn <= o.lingerMs || rateNear) && idleSince !== undefined) idleSince = now + dueIn;
          }
        } else {
          dryAt = undefined;
          dryHits = 0;
        }
        continue;
      }
      const until = want > 0 && needed ? notBefore : o.stopAt;
      await waitFor(Math.min(until, o.stopAt) - now);
    }
  } finally {
    clearInterval(heartbeat);
    clearTimeout(stopTimer);
    if (flushTimer) clearTimeout(flushTimer);
    await flushing;
    if (!fatal && pendingCount() > 0) await flush();
    // Stopped by time (or a failure): no last lease removed the entry; one call does.
    if (o.requestId && !entryGone) {
      const gone = { id: o.requestId, ...workerBeat(true)! };
      await extend(core, queue, [], 0, gone).catch((err: unknown) =>
        log.warn('worker entry not removed; it lapses', {
          queue,
          error: err instanceof Error ? err.message : String(err),
        }),
      );
    }
    const end = clock();
    r.elapsedMs = end - started;
    if (lastSeen) r.nextDueInMs = lastSeen.nextRunAt - lastSeen.serverNow - (end - lastSeen.at);
  }
  if (fatal) throw fatal;
  return r;
}
