import { redactHeaders, redactUrl, redactUrls } from '../../shared/log/redact.js';
import type { Job, JobError } from '../../shared/queue/types.js';

const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());

export type ApiJob = Record<string, unknown>;

/**
 * A job as the API shows it: engine times (epoch ms) as ISO-8601 strings; target header values
 * redacted (they often carry credentials), names kept; the target URL's userinfo and query values
 * redacted, and URLs in the last error's message (shared/log/redact.ts).
 */
export function presentJob(j: Job): ApiJob {
  const out: ApiJob = {
    id: j.id,
    queue: j.queue,
    state: j.state,
    attempts: j.attempts,
    maxAttempts: j.maxAttempts,
    priority: j.priority,
    timeoutMs: j.timeoutMs,
    backoff: j.backoff,
    createdAt: iso(j.createdAt),
    updatedAt: iso(j.updatedAt),
  };
  if (j.handler !== undefined) out.handler = j.handler;
  if (j.target) {
    const t: Record<string, unknown> = { url: redactUrl(j.target.url), method: j.target.method };
    if (j.target.headers) t.headers = redactHeaders(j.target.headers);
    if (j.target.timeoutMs !== undefined) t.timeoutMs = j.target.timeoutMs;
    out.target = t;
  }
  out.payload = j.payload;
  if (j.runAt !== undefined) out.runAt = iso(j.runAt);
  if (j.leaseUntil !== undefined) out.leaseUntil = iso(j.leaseUntil);
  if (j.idempotencyKey !== undefined) out.idempotencyKey = j.idempotencyKey;
  if (j.lastError) out.lastError = presentError(j.lastError);
  if (j.firstFailedAt !== undefined) out.firstFailedAt = iso(j.firstFailedAt);
  if (j.lastFailedAt !== undefined) out.lastFailedAt = iso(j.lastFailedAt);
  if (j.completedAt !== undefined) out.completedAt = iso(j.completedAt);
  if (j.diedAt !== undefined) out.diedAt = iso(j.diedAt);
  if (j.replays !== undefined) out.replays = j.replays;
  return out;
}

export function presentError(e: JobError): Record<string, unknown> {
  return { ...e, message: redactUrls(e.message), at: iso(e.at) };
}

export { iso };
