/**
 * DLQ replay, the same for the API route and a direct invocation: dry run by default, a selection
 * (ids, fingerprint, failure time window), a limit (default 100, at most 1000), replayed in chunks
 * at a bounded rate, and an audit record for every engine call (who, when, selection, chunk, counts),
 * written by the replay script itself, so no job moves without its record:
 *   <prefix>:{<queue>}:audit:dlq-replay  (keys.ts auditDlqReplay) LIST of JSON records, newest first,
 *   capped at AUDIT_CAP. A replay of several chunks writes one record per chunk (same requestId).
 */

import * as z from 'zod/mini';
import type { Logger } from '../../shared/log/logger.js';
import { redactUrls } from '../../shared/log/redact.js';
import { ValidationError } from '../../shared/queue/errors.js';
import { queueKey } from '../../shared/queue/keys.js';
import { replay } from '../../shared/queue/ops/dead.js';
import { autoReplayQueues, getSettings } from '../../shared/queue/ops/settings.js';
import { assertQueueName } from '../../shared/queue/schema.js';
import type { ReplayReport, ReplaySelection } from '../../shared/queue/types.js';
import { guard } from '../../shared/redis/client.js';
import { parseWith } from '../../shared/validation/zod.js';
import { auditRecord } from '../lib/audit.js';
import { type Invocation, isScheduledEvent } from '../lib/handler.js';
import { iso } from '../lib/present.js';
import type { Runtime } from '../lib/runtime.js';
import { type Body, type replayBody, replayFields, type replayResponse } from '../lib/schemas.js';

export { AUDIT_CAP } from '../lib/audit.js';
/** Jobs moved per engine call, and the rate the chunks go at. */
export const REPLAY_CHUNK = 50;
export const REPLAY_RATE_PER_SECOND = 200;

/** A direct invocation: the same fields plus the queue and who asked. */
export const replayInvocation = z.strictObject({
  ...replayFields,
  queue: z.string(),
  actor: z.optional(z.string().check(z.maxLength(256))),
});

export type ReplayInput = z.infer<typeof replayBody>;

const toMs = (field: string, t: number | string | undefined): number | undefined => {
  if (t === undefined) return undefined;
  const ms = typeof t === 'number' ? t : Date.parse(t);
  if (!Number.isFinite(ms)) throw new ValidationError(field, 'is not a valid time');
  return ms;
};

/** What a replay did, or would do: the body of POST /v1/queues/{queue}/dlq/replay (one schema for both). */
export type ReplayRunReport = Body<typeof replayResponse>;

export async function runReplay(
  rt: Runtime,
  log: Logger,
  queue: string,
  input: ReplayInput,
  who: { actor: string; requestId: string },
  rule: Pick<ReplaySelection, 'retryableOnly' | 'maxReplaysPerJob'> = {},
): Promise<ReplayRunReport> {
  const dryRun = input.dryRun ?? true;
  const limit = input.limit ?? 100;
  const sel: ReplaySelection = { dryRun, ...rule };
  if (input.ids) sel.ids = input.ids;
  if (input.fingerprint) sel.fingerprint = input.fingerprint;
  const after = toMs('failedAfter', input.failedAfter);
  const before = toMs('failedBefore', input.failedBefore);
  if (after !== undefined) sel.failedAfter = after;
  if (before !== undefined) sel.failedBefore = before;

  const record = (chunk: number) => ({
    audit: auditRecord(rt.clock(), who, queue, { dryRun, selection: { ...input, ...rule, dryRun, limit }, chunk }),
  });
  const reports: ReplayReport[] = [];
  if (dryRun) {
    reports.push(await replay(rt.spool, queue, { ...sel, limit }, record(0)));
  } else {
    // Chunks at a bounded rate, so a large replay does not land on the targets all at once.
    let left = limit;
    const idChunks = sel.ids
      ? Array.from({ length: Math.ceil(sel.ids.length / REPLAY_CHUNK) }, (_, i) =>
          sel.ids!.slice(i * REPLAY_CHUNK, (i + 1) * REPLAY_CHUNK),
        )
      : undefined;
    for (let i = 0; left > 0; i++) {
      if (i > 0) await rt.sleep((REPLAY_CHUNK / REPLAY_RATE_PER_SECOND) * 1000);
      const want = Math.min(REPLAY_CHUNK, left);
      const part: ReplaySelection = { ...sel, limit: want };
      if (idChunks) {
        if (i >= idChunks.length) break;
        part.ids = idChunks[i]!;
      }
      const r = await replay(rt.spool, queue, part, record(i));
      reports.push(r);
      left -= r.moved;
      if (!idChunks && r.matched < want) break;
    }
  }

  const out: ReplayRunReport = {
    queue,
    dryRun,
    matched: 0,
    moved: 0,
    byFingerprint: {},
    permanent: 0,
    jobs: [],
    scanned: 0,
    truncated: false,
    chunks: reports.length,
  };
  for (const r of reports) {
    out.matched += r.matched;
    out.moved += r.moved;
    out.scanned += r.scanned;
    out.truncated ||= r.truncated;
    for (const j of r.jobs) {
      const fp = j.fingerprint ?? 'unknown';
      out.byFingerprint[fp] = (out.byFingerprint[fp] ?? 0) + 1;
      const shown: ReplayRunReport['jobs'][number] = { id: j.id, attempts: j.attempts };
      if (j.fingerprint) shown.fingerprint = j.fingerprint;
      if (j.diedAt !== undefined) shown.diedAt = iso(j.diedAt)!;
      if (j.error) shown.error = redactUrls(j.error);
      if (j.retryable !== undefined) shown.retryable = j.retryable;
      if (j.retryable === false) out.permanent++;
      out.jobs.push(shown);
    }
  }

  if (out.moved > 0) {
    try {
      await rt.kickWorker(queue, { reason: 'replay' });
    } catch (err) {
      log.warn('replay kick failed; the schedule will run the queue', {
        queue,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  log.info('dlq replay', {
    actor: who.actor,
    requestId: who.requestId,
    queue,
    dryRun,
    matched: out.matched,
    moved: out.moved,
    byFingerprint: out.byFingerprint,
    chunks: out.chunks,
    ids: input.ids?.length,
  });
  return out;
}

/** The actor of the automatic replays' audit records. */
export const AUTO_REPLAY_ACTOR = 'auto-replay';

export interface AutoReplayReport {
  /** Queues whose settings ask for automatic replay. */
  queues: Record<string, { matched: number; moved: number; chunks: number }>;
  moved: number;
  /** Queues left for the next run: the invocation's time ran out. */
  skipped: string[];
}

/**
 * The scheduled run (hourly by default, CDK context dlqReplaySchedule): every queue whose settings
 * have `autoReplay` gets one replay of at most maxJobs of its dead jobs that died at least minAgeMs
 * ago of a retryable failure (not permanent, not Expired) and were replayed fewer than
 * maxReplaysPerJob times, audited with the actor `auto-replay`. Only the queues of the autoReplay
 * index (keys.ts) are read: queues without the setting cost nothing.
 */
export async function runAutoReplay(
  rt: Runtime,
  log: Logger,
  deadline: number,
  requestId: string,
): Promise<AutoReplayReport> {
  // Only the queues whose settings have autoReplay (the settings script keeps that set): an idle
  // Spool's scheduled run is one read, however many queues it has.
  const names = await autoReplayQueues(rt.spool);
  const settings = await Promise.all(names.map((q) => getSettings(rt.spool, q)));
  const out: AutoReplayReport = { queues: {}, moved: 0, skipped: [] };
  for (const [i, queue] of names.entries()) {
    const auto = settings[i]!.autoReplay;
    if (!auto) continue;
    if (rt.clock() >= deadline) {
      out.skipped.push(queue);
      continue;
    }
    const r = await runReplay(
      rt,
      log,
      queue,
      { dryRun: false, limit: auto.maxJobs, failedBefore: Math.max(0, Math.floor(rt.clock() - auto.minAgeMs)) },
      { actor: AUTO_REPLAY_ACTOR, requestId },
      { retryableOnly: true, maxReplaysPerJob: auto.maxReplaysPerJob },
    );
    out.queues[queue] = { matched: r.matched, moved: r.moved, chunks: r.chunks };
    out.moved += r.moved;
  }
  if (Object.keys(out.queues).length > 0 || out.skipped.length > 0) log.info('auto replay', { ...out });
  return out;
}

/** How long before the invocation's end the scheduled run stops starting queues. */
const RESERVE_MS = 10_000;

/**
 * A scheduled run (runAutoReplay); or a direct invocation: `{"queue": ..., "actor"?, ...the replay body}`.
 */
export async function runInvocation(event: unknown, inv: Invocation): Promise<ReplayRunReport | AutoReplayReport> {
  if (isScheduledEvent(event)) return runAutoReplay(inv.rt, inv.log, inv.deadline - RESERVE_MS, inv.requestId);
  const { queue, actor, ...input } = parseWith(replayInvocation, event);
  assertQueueName(queue);
  return runReplay(inv.rt, inv.log, queue, input, { actor: actor ?? 'direct-invoke', requestId: inv.requestId });
}

/** The newest `n` audit records of a queue's replays. */
export async function readAudit(rt: Runtime, queue: string, n = 50): Promise<unknown[]> {
  const rows = await guard(() =>
    rt.spool.redis.lrange<unknown>(queueKey(rt.spool.config.prefix, queue, 'auditDlqReplay'), 0, n - 1),
  );
  return rows.map((r) => (typeof r === 'string' ? JSON.parse(r) : r));
}
