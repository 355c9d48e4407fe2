/**
 * Signed deliveries: every request Spool sends to an HTTP target carries
 *   spool-timestamp: <unix seconds>
 *   spool-signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<job id>.<exact body>")>[,v1=<hex>]
 * One `v1=` entry per signing secret: during a rotation Spool signs with both the new and the old
 * secret, so a target that knows either one verifies. `verifySignatures` is the target's side
 * (re-exported for producers and targets as `spool/verify`): constant-time, refuses stale timestamps.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'spool-signature';
export const TIMESTAMP_HEADER = 'spool-timestamp';
export const JOB_ID_HEADER = 'spool-job-id';
/** Default window a timestamp may be off by, either way (5 minutes, as Stripe and Standard Webhooks). */
export const DEFAULT_TOLERANCE_MS = 5 * 60 * 1000;
/** At most this many secrets sign (the current one and, during a rotation, the previous one). */
export const MAX_SIGNING_SECRETS = 2;
/** Signature entries a verifier looks at, at most (a header cannot make it compute more). */
const MAX_ENTRIES = 8;

const bodyBytes = (body: string | Uint8Array): Buffer =>
  typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);

/** HMAC-SHA256 over `<timestamp>.<job id>.<body>`, as 32 raw bytes. */
export function signatureOf(secret: string, timestamp: string, jobId: string, body: string | Uint8Array): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.${jobId}.`).update(bodyBytes(body)).digest();
}

/**
 * The secrets a setting names: a comma-separated list, current first (`new,old` during a rotation).
 * The same format for SPOOL_SIGNING_SECRET and the Secrets Manager secret's value.
 */
export function parseSigningSecrets(value: string): string[] {
  const secrets = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (secrets.length === 0) throw new Error('the signing secret is empty');
  if (secrets.length > MAX_SIGNING_SECRETS)
    throw new Error(`the signing secret names ${secrets.length} secrets; at most ${MAX_SIGNING_SECRETS}`);
  return secrets;
}

/** The two headers of one delivery. `nowMs` is the send time. */
export function signDelivery(
  secrets: readonly string[],
  jobId: string,
  body: string | Uint8Array,
  nowMs: number,
): Record<typeof TIMESTAMP_HEADER | typeof SIGNATURE_HEADER, string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  return {
    [TIMESTAMP_HEADER]: timestamp,
    [SIGNATURE_HEADER]: secrets.map((s) => `v1=${signatureOf(s, timestamp, jobId, body).toString('hex')}`).join(','),
  };
}

/** Request headers as a target framework has them: a Fetch `Headers`, or Node's `IncomingHttpHeaders`. */
export type HeaderSource =
  | { get(name: string): string | null }
  | Record<string, string | readonly string[] | undefined>;

function headerOf(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(n: string): string | null }).get(name) ?? undefined;
  }
  const rec = headers as Record<string, string | readonly string[] | undefined>;
  let v = rec[name];
  if (v === undefined) {
    const key = Object.keys(rec).find((k) => k.toLowerCase() === name);
    v = key === undefined ? undefined : rec[key];
  }
  return Array.isArray(v) ? v.join(',') : (v as string | undefined);
}

export interface VerifyInput {
  /** The target's signing secret, or both during a rotation. */
  secret: string | readonly string[];
  headers: HeaderSource;
  /** The exact body received (the raw bytes or text, not a re-serialised parse). Empty for GET. */
  body: string | Uint8Array;
  /** How far the timestamp may be from now, either way (default 5 minutes). */
  toleranceMs?: number;
  /** Epoch ms (default Date.now()). */
  now?: number;
}

export type VerifyReason =
  | 'missing_signature'
  | 'missing_timestamp'
  | 'missing_job_id'
  | 'bad_timestamp'
  | 'stale_timestamp'
  | 'no_secret'
  | 'mismatch';

export type VerifyResult =
  | { ok: true; jobId: string; timestamp: number }
  | { ok: false; reason: VerifyReason; message: string };

const refuse = (reason: VerifyReason, message: string): VerifyResult => ({ ok: false, reason, message });

/** Checks a delivery's signature. Never throws on bad input: `{ ok: false, reason }` says why. */
export function verifySignatures(input: VerifyInput): VerifyResult {
  const secrets = (typeof input.secret === 'string' ? [input.secret] : [...input.secret]).filter(
    (s) => typeof s === 'string' && s !== '',
  );
  if (secrets.length === 0) return refuse('no_secret', 'no signing secret given');
  const signature = headerOf(input.headers, SIGNATURE_HEADER);
  if (!signature) return refuse('missing_signature', `no ${SIGNATURE_HEADER} header`);
  const timestamp = headerOf(input.headers, TIMESTAMP_HEADER);
  if (!timestamp) return refuse('missing_timestamp', `no ${TIMESTAMP_HEADER} header`);
  const jobId = headerOf(input.headers, JOB_ID_HEADER);
  if (!jobId) return refuse('missing_job_id', `no ${JOB_ID_HEADER} header`);
  if (!/^\d{1,12}$/.test(timestamp))
    return refuse('bad_timestamp', `${TIMESTAMP_HEADER} must be a number of seconds since the epoch`);
  const seconds = Number(timestamp);
  const tolerance = input.toleranceMs ?? DEFAULT_TOLERANCE_MS;
  const skew = Math.abs((input.now ?? Date.now()) - seconds * 1000);
  if (skew > tolerance)
    return refuse('stale_timestamp', `${TIMESTAMP_HEADER} is ${Math.round(skew / 1000)} s away from now`);

  const given = signature
    .split(',')
    .slice(0, MAX_ENTRIES)
    .map((e) => e.trim())
    .filter((e) => e.startsWith('v1='))
    .map((e) => Buffer.from(e.slice(3), 'hex'))
    .filter((b) => b.length === 32);
  // Every expected signature is compared with every given one, so the time taken does not tell
  // which secret or which entry matched.
  let matched = false;
  for (const secret of secrets) {
    const expected = signatureOf(secret, timestamp, jobId, input.body);
    for (const g of given) matched = timingSafeEqual(expected, g) || matched;
  }
  if (!matched) return refuse('mismatch', 'no signature matches the body, job id and timestamp');
  return { ok: true, jobId, timestamp: seconds };
}
