/**
 * Redaction, once, for every answer and every log line: the API's job views, the CLI, the dashboard
 * (through the API), the DLQ views and the logger all go through these functions.
 * - URLs: userinfo (`user:[redacted]@`, or `[redacted]@` when there is no password: a token as user
 *   name) and every query and fragment VALUE (`?token=[redacted]&page=[redacted]`; names are kept).
 *   Redis URLs (`redis://:password@host`) are URLs like any other.
 * - Header values: shown as `[redacted]`, names kept.
 * - Free text that may echo a job's own header values (a target answering with the Authorization it
 *   got): masked by value (`maskValues` with `secretValues(headers)`).
 */

export const REDACTED = '[redacted]';

/** A URL in free text: a scheme, `://`, then anything up to whitespace, a quote, `<`, `>` or `\`. */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>\\`]*/gi;

function redactPairs(part: string): string {
  return part
    .split('&')
    .map((p) => {
      const eq = p.indexOf('=');
      return eq < 0 ? p : `${p.slice(0, eq)}=${eq === p.length - 1 ? '' : REDACTED}`;
    })
    .join('&');
}

function redactOne(match: string): string {
  // Trailing punctuation belongs to the sentence around the URL ("... at https://h/x?q=1: HTTP 500").
  const trail = /[.,;:!)\]}]+$/.exec(match)?.[0] ?? '';
  const url = trail ? match.slice(0, -trail.length) : match;
  const scheme = url.indexOf('://') + 3;
  let rest = url.slice(scheme);
  // Userinfo: everything before the last `@` of the authority.
  const authEnd = rest.search(/[/?#]/);
  const authority = authEnd < 0 ? rest : rest.slice(0, authEnd);
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const info = authority.slice(0, at);
    const colon = info.indexOf(':');
    const shown = colon >= 0 ? `${info.slice(0, colon)}:${REDACTED}` : REDACTED;
    rest = `${shown}@${rest.slice(at + 1)}`;
  }
  const hash = rest.indexOf('#');
  const fragment = hash < 0 ? '' : `#${redactPairs(rest.slice(hash + 1))}`;
  if (hash >= 0) rest = rest.slice(0, hash);
  const q = rest.indexOf('?');
  if (q >= 0) rest = `${rest.slice(0, q)}?${redactPairs(rest.slice(q + 1))}`;
  return url.slice(0, scheme) + rest + fragment + trail;
}

/** Every URL inside `text` with its userinfo and its query and fragment values redacted. */
export function redactUrls(text: string): string {
  return text.includes('://') ? text.replace(URL_IN_TEXT, redactOne) : text;
}

/** One URL, redacted (a string that is not a URL is returned with any URL inside it redacted). */
export const redactUrl = (url: string): string => redactUrls(url);

/** Header names kept, values `[redacted]`. */
export function redactHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(headers).map((k) => [k, REDACTED]));
}

/** Values shorter than this are not masked in free text (masking "1" would destroy every message). */
export const MIN_MASKED_LENGTH = 4;

/**
 * The strings a target could echo back of these header values: each value, its credentials after an
 * auth scheme (`Bearer <token>`), a Basic credential decoded (and its password), and their JSON- and
 * URL-encoded forms. Longest first, so a longer secret is masked before a part of it.
 */
export function secretValues(headers: Record<string, string> | undefined): string[] {
  const out = new Set<string>();
  const add = (v: string) => {
    const s = v.trim();
    if (s.length < MIN_MASKED_LENGTH) return;
    out.add(s);
    const json = JSON.stringify(s).slice(1, -1);
    if (json !== s) out.add(json);
    const pct = encodeURIComponent(s);
    if (pct !== s) out.add(pct);
  };
  for (const value of Object.values(headers ?? {})) {
    add(value);
    const m = /^([A-Za-z][\w.+-]*)\s+(.+)$/.exec(value.trim());
    if (!m) continue;
    add(m[2]!);
    if (m[1]!.toLowerCase() === 'basic') {
      const decoded = Buffer.from(m[2]!, 'base64').toString('utf8');
      if (/^[^\p{Cc}]+$/u.test(decoded)) {
        add(decoded);
        const colon = decoded.indexOf(':');
        if (colon >= 0) add(decoded.slice(colon + 1));
      }
    }
  }
  return [...out].sort((a, b) => b.length - a.length);
}

/** `text` with every occurrence of each secret replaced by `[redacted]`. */
export function maskValues(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= MIN_MASKED_LENGTH && out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

/** The parts of a job that hold secrets: target URL and headers, and the failure message. */
interface Redactable {
  target?: { url: string; headers?: Record<string, string> };
  lastError?: { message: string };
}

/**
 * A copy of a job (or anything shaped like one) fit to show: target URL redacted, header values
 * `[redacted]`, URLs in the last error's message redacted. The input is not changed.
 */
export function redactJob<T extends Redactable>(job: T): T {
  const out = { ...job };
  if (job.target) {
    const t = { ...job.target, url: redactUrl(job.target.url) };
    if (job.target.headers) t.headers = redactHeaders(job.target.headers);
    out.target = t;
  }
  if (job.lastError) out.lastError = { ...job.lastError, message: redactUrls(job.lastError.message) };
  return out;
}
