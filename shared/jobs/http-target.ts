import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP } from 'node:net';
import { maskValues, secretValues } from '../log/redact.js';
import { type HttpTarget, type KeptResponse, MAX_KEPT_RESPONSE_BYTES } from '../queue/types.js';
import { cutCodePoints, cutUtf8Bytes } from '../text/index.js';
import { classifyAddress } from './address.js';
import { failed, type JobOutcome } from './outcome.js';
import { parseRetryAfter } from './retry-after.js';

/** Where HTTP targets may go. Hosts: exact names, or `*.example.com` / `.example.com` for subdomains. */
export interface TargetPolicy {
  /** Empty: any host (subject to the address checks). Lower-case. */
  allowedHosts: readonly string[];
  /** Loopback and private ranges (RFC 1918, CGNAT, ULA). Link-local and metadata are refused regardless. */
  allowPrivate: boolean;
}

/** A target refused by the policy: permanent (the job goes to dead). */
export class TargetRefusedError extends Error {
  override name = 'TargetRefused';
}

export function hostAllowed(host: string, allowed: readonly string[]): boolean {
  if (allowed.length === 0) return true;
  const h = host.toLowerCase().replace(/\.$/, '');
  return allowed.some((a) => {
    if (a.startsWith('*.')) return h.endsWith(a.slice(1));
    if (a.startsWith('.')) return h.endsWith(a);
    return h === a;
  });
}

function checkAddress(address: string, policy: TargetPolicy): void {
  const cls = classifyAddress(address);
  if (cls === 'forbidden') throw new TargetRefusedError(`address ${address} is link-local, metadata or reserved`);
  if (cls === 'private' && !policy.allowPrivate) {
    throw new TargetRefusedError(`address ${address} is private or loopback (SPOOL_TARGET_ALLOW_PRIVATE is off)`);
  }
}

/** Checks the URL against the policy before any connection (IP literals included). */
export function checkTarget(url: URL, policy: TargetPolicy): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TargetRefusedError(`protocol ${url.protocol} is not allowed`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!hostAllowed(host, policy.allowedHosts))
    throw new TargetRefusedError(`host ${host} is not in SPOOL_TARGET_ALLOWED_HOSTS`);
  if (isIP(host)) checkAddress(host, policy);
}

/**
 * A DNS lookup that refuses forbidden addresses: the address checked is the address connected to
 * (no window for DNS rebinding between a check and the connection).
 */
function guardedLookup(policy: TargetPolicy, resolve: CallOptions['resolve']) {
  return (
    hostname: string,
    options: { all?: boolean; family?: number | string },
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    const lookup = (cb: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void): void => {
      if (!resolve) {
        dnsLookup(hostname, { ...options, all: true } as { all: true }, cb);
        return;
      }
      Promise.resolve()
        .then(() => resolve(hostname))
        .then(
          (list) =>
            cb(
              null,
              list.map((address) => ({ address, family: isIP(address) })),
            ),
          (e: unknown) => cb(e as NodeJS.ErrnoException, []),
        );
    };
    lookup((err, addresses) => {
      if (err) return callback(err, '');
      try {
        if (addresses.length === 0) throw new TargetRefusedError(`${hostname} resolved to no address`);
        for (const a of addresses) checkAddress(a.address, policy);
      } catch (e) {
        return callback(e as NodeJS.ErrnoException, '');
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
}

export interface CallOptions {
  policy: TargetPolicy;
  /** The job's own timeout: a request still running then fails (retryable). */
  timeoutMs: number;
  /** Aborted when the invocation runs out of time: the outcome is `abandoned`. */
  signal: AbortSignal;
  /** Extra request headers (Spool's own); the target's headers win. */
  headers?: Record<string, string>;
  /**
   * Headers made from the exact body sent ('' for GET): the delivery signature. They win over the
   * target's headers, so a job cannot carry a signature of its own making.
   */
  sign?: (body: string) => Record<string, string>;
  now?: () => number;
  /** Keep the first MAX_KEPT_RESPONSE_BYTES of a 2xx answer in the outcome (the job's keepResponse). */
  keepResponse?: boolean;
  /** Resolves a host name to its addresses (default: the system's resolver, `dns.lookup`); each is checked. */
  resolve?: (hostname: string) => string[] | Promise<string[]>;
}

/** Keep-alive agents shared by every call of the container (sockets are vetted when they connect). */
const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

/** 408 Request Timeout, 425 Too Early, 429 Too Many Requests and every 5xx are worth another try. */
const RETRYABLE_STATUS = (s: number) => s === 408 || s === 425 || s === 429 || s >= 500;
/** Code points of a target's error body kept in the failure message. */
export const MAX_ERROR_TEXT = 512;
/**
 * Bytes of an error body read: the kept text plus the longest header value (8,192 characters, up to
 * 2 bytes each in UTF-8), so an echoed secret is whole when it is masked, before the cut.
 */
const MAX_ERROR_BODY = MAX_ERROR_TEXT * 4 + 2 * 8192;

/**
 * Calls an HTTP target with the job's payload as JSON (no body for GET). 2xx: ok. 408, 425, 429, 5xx,
 * network errors and timeouts: retryable, honouring Retry-After. Other statuses (3xx: redirects are
 * not followed, 4xx): permanent. Never throws; never logs headers. A failure message never holds the
 * job's own header values (masked by value: a target may echo its Authorization) and is cut on code
 * points.
 */
export function callTarget(target: HttpTarget, payload: unknown, opts: CallOptions): Promise<JobOutcome> {
  const now = opts.now ?? Date.now;
  const secrets = secretValues(target.headers);
  const mask = (message: string) => maskValues(message, secrets);
  let url: URL;
  try {
    url = new URL(target.url);
    checkTarget(url, opts.policy);
  } catch (e) {
    return Promise.resolve(failed(e instanceof Error ? e.message : String(e), 'TargetRefused', false));
  }
  const where = `${target.method} ${url.origin}${url.pathname}`;
  const body = target.method === 'GET' ? undefined : JSON.stringify(payload ?? null);
  const headers: Record<string, string> = {
    'user-agent': 'spool',
    ...(body !== undefined
      ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }
      : {}),
    ...opts.headers,
  };
  for (const [k, v] of Object.entries(target.headers ?? {})) headers[k.toLowerCase()] = v;
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  if (opts.sign) Object.assign(headers, opts.sign(body ?? ''));

  return new Promise<JobOutcome>((resolve) => {
    let settled = false;
    const done = (o: JobOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal.removeEventListener('abort', onAbort);
      resolve(o);
    };
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(url, {
      method: target.method,
      headers,
      lookup: guardedLookup(opts.policy, opts.resolve) as never,
      agent: url.protocol === 'https:' ? agents.https : agents.http,
    });
    const timer = setTimeout(() => {
      done(failed(`${where}: no response within ${opts.timeoutMs} ms`, 'TimeoutError', true));
      req.destroy();
    }, opts.timeoutMs);
    const onAbort = () => {
      done({ kind: 'abandoned' });
      req.destroy();
    };
    if (opts.signal.aborted) return onAbort();
    opts.signal.addEventListener('abort', onAbort, { once: true });

    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof TargetRefusedError) return done(failed(`${where}: ${err.message}`, 'TargetRefused', false));
      done(failed(mask(`${where}: ${err.code ?? err.name}: ${err.message}`), 'NetworkError', true));
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) {
        if (!opts.keepResponse) {
          res.resume();
          res.on('end', () => done({ kind: 'ok', status }));
          res.on('error', () => done({ kind: 'ok', status }));
          return;
        }
        const kept = readKept(res, status, mask);
        res.on('end', () => done({ kind: 'ok', status, response: kept() }));
        res.on('error', () => done({ kind: 'ok', status, response: kept() }));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < MAX_ERROR_BODY) chunks.push(c);
        size += c.length;
      });
      const finish = () => {
        const whole = mask(Buffer.concat(chunks).toString('utf8')).replace(/\s+/g, ' ').trim();
        const text = cutCodePoints(mask(whole), MAX_ERROR_TEXT);
        const message = `${where}: HTTP ${status}${text ? `: ${text}` : ''}`;
        const retryable = RETRYABLE_STATUS(status);
        const ra = header(res.headers['retry-after']);
        done({
          ...failed(message, 'HttpError', retryable, retryable ? parseRetryAfter(ra, now()) : undefined),
          status,
        });
      };
      res.on('end', finish);
      res.on('error', finish);
    });
    req.end(body);
  });
}

const header = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/** Bytes of a 2xx answer read for keepResponse: the kept part plus the longest header value, so an echoed secret is masked whole. */
const MAX_KEPT_READ = MAX_KEPT_RESPONSE_BYTES + 2 * 8192;

/** Reads (and drains) a 2xx answer; the returned function gives what is kept of it, the job's header values masked. */
function readKept(res: http.IncomingMessage, status: number, mask: (s: string) => string): () => KeptResponse {
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (c: Buffer) => {
    if (size < MAX_KEPT_READ) chunks.push(c);
    size += c.length;
  });
  return () => {
    const text = mask(Buffer.concat(chunks).toString('utf8'));
    const body = cutUtf8Bytes(text, MAX_KEPT_RESPONSE_BYTES);
    const out: KeptResponse = { status, body, truncated: size > MAX_KEPT_READ || body.length < text.length };
    const type = header(res.headers['content-type']);
    if (type) out.contentType = type.slice(0, 200);
    return out;
  };
}
