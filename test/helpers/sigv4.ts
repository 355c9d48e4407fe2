/**
 * An independent SigV4 check for tests, written from AWS's "Create a signed AWS API request" steps
 * with node:crypto only (no @smithy code), so that a test can tell whether what a client sent
 * would pass API Gateway's IAM authorization: the canonical request is rebuilt from the request
 * as the server received it, and the signature recomputed with the secret key.
 */
import { createHash, createHmac } from 'node:crypto';

export interface ReceivedRequest {
  method: string;
  /** Path and query as received (`/v1/queues/q/jobs?state=dead`). */
  url: string;
  /** Lower-case names, as Node's IncomingHttpHeaders. */
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const hmac = (key: Buffer | string, s: string) => createHmac('sha256', key).update(s, 'utf8').digest();
/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
const enc = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export type SigV4Check =
  | { ok: true; accessKeyId: string; region: string; service: string; signedHeaders: string[] }
  | { ok: false; why: string };

export function checkSigV4(req: ReceivedRequest, secretAccessKey: string): SigV4Check {
  const header = (n: string) => {
    const v = req.headers[n];
    return Array.isArray(v) ? v.join(',') : v;
  };
  const auth = header('authorization');
  const m =
    auth &&
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (!m) return { ok: false, why: `no SigV4 Authorization header: ${auth}` };
  const [, accessKeyId, date, region, service, signedList, signature] = m as unknown as string[];
  const amzDate = header('x-amz-date');
  if (!amzDate?.startsWith(date!)) return { ok: false, why: 'x-amz-date missing or not the credential date' };
  const signed = signedList!.split(';');
  if (!signed.includes('host')) return { ok: false, why: 'host is not signed' };

  const [rawPath, rawQuery = ''] = req.url.split('?') as [string, string?];
  // Non-S3 services encode the path twice: once in the URL as sent, once more here ('/' kept).
  const canonicalUri = enc(rawPath).replace(/%2F/g, '/');
  const canonicalQuery = [...new URLSearchParams(rawQuery)]
    .map(([k, v]) => [enc(k), enc(v)] as const)
    .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalHeaders = signed.map((n) => `${n}:${(header(n) ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonical = [req.method, canonicalUri, canonicalQuery, canonicalHeaders, signedList, sha256(req.body)].join(
    '\n',
  );
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date!), region!), service!), 'aws4_request');
  const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  if (expected !== signature) return { ok: false, why: 'signature does not match' };
  return { ok: true, accessKeyId: accessKeyId!, region: region!, service: service!, signedHeaders: signed };
}
