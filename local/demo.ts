/**
 * Demo HTTP targets, served by the local server only (never part of the deployed API), so that
 * jobs can be seen to complete, retry and land in the DLQ:
 *   POST /demo/echo        200, echoes the request, and whether its Spool signature verified
 *   POST /demo/flaky       500 about half the time, else 200
 *   POST /demo/fail        400 always (a permanent failure: straight to the DLQ)
 *   POST /demo/slow?ms=N   200 after N ms (at most 10 minutes)
 */
import { verifySignatures as verifySignature } from '../shared/jobs/signature.js';

export const DEMO_PREFIX = '/demo/';
const MAX_SLOW_MS = 600_000;

export interface DemoRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface DemoResponse {
  status: number;
  body: unknown;
}

export interface DemoOptions {
  /** [0, 1); flaky fails when below 0.5. Injectable for tests. */
  random?: () => number;
  /** Aborts pending slow answers when the server closes. */
  signal?: AbortSignal;
  /** The worker's signing secret: echo says whether a request's signature verifies with it. */
  signingSecret?: string | undefined;
}

export interface DemoStats {
  echo: number;
  flaky: number;
  fail: number;
  slow: number;
}

function parsedBody(b: Buffer): unknown {
  if (b.length === 0) return null;
  const text = b.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function createDemo(opts: DemoOptions = {}) {
  const random = opts.random ?? Math.random;
  const stats: DemoStats = { echo: 0, flaky: 0, fail: 0, slow: 0 };

  async function handle(req: DemoRequest): Promise<DemoResponse | undefined> {
    if (!req.path.startsWith(DEMO_PREFIX)) return undefined;
    const name = req.path.slice(DEMO_PREFIX.length);
    const received = {
      method: req.method,
      path: req.path,
      jobId: req.headers['spool-job-id'],
      attempt: req.headers['spool-attempt'],
      body: parsedBody(req.body),
      ...(opts.signingSecret
        ? { signature: verifySignature({ secret: opts.signingSecret, headers: req.headers, body: req.body }) }
        : {}),
    };
    switch (name) {
      case 'echo':
        stats.echo++;
        return { status: 200, body: { ok: true, echo: received } };
      case 'flaky':
        stats.flaky++;
        return random() < 0.5
          ? { status: 500, body: { ok: false, error: 'flaky target failed this time; try again' } }
          : { status: 200, body: { ok: true, echo: received } };
      case 'fail':
        stats.fail++;
        return { status: 400, body: { ok: false, error: 'demo target always rejects this request' } };
      case 'slow': {
        stats.slow++;
        const raw = req.query.get('ms') ?? '1000';
        const ms = Number(raw);
        if (!Number.isFinite(ms) || ms < 0)
          return { status: 400, body: { ok: false, error: 'ms must be a number of milliseconds >= 0' } };
        const wait = Math.min(Math.round(ms), MAX_SLOW_MS);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, wait);
          opts.signal?.addEventListener('abort', () => {
            clearTimeout(t);
            resolve();
          });
        });
        return { status: 200, body: { ok: true, sleptMs: wait } };
      }
      default:
        return {
          status: 404,
          body: {
            ok: false,
            error: `no demo target ${req.path}; try /demo/echo, /demo/flaky, /demo/fail or /demo/slow?ms=N`,
          },
        };
    }
  }

  return { handle, stats };
}
