/**
 * The local Spool server: the real function handlers behind an HTTP server that plays API Gateway
 * (payload 2.0 events from the route table), EventBridge (schedules on timers) and Lambda (a
 * context per invocation; the worker kick runs in-process), plus the demo targets and the dashboard.
 *
 * `startLocal()` does not start Redis or the Upstash endpoint: the caller gives it their URL/token
 * (local/main.ts does all of it for `npm start`; the tests give it theirs).
 */

import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FunctionName } from '../functions/routes.js';
import { fromLambdaResult, matchRoute, toApiGatewayEvent } from './apigw.js';
import { LOCAL_API_PORT, LOCAL_HOST, LOCAL_SIGNING_SECRET } from './defaults.js';
import { createDemo, DEMO_PREFIX } from './demo.js';
import { createFunctionHost, type FunctionHost } from './functions.js';
import { type ScheduleIntervals, startSchedules } from './schedules.js';

export interface StartLocalOptions {
  /** Default LOCAL_API_PORT (3000); 0 picks a free port. */
  port?: number;
  /** Default LOCAL_HOST (127.0.0.1). */
  host?: string;
  /** The Upstash-compatible endpoint the handlers use. */
  upstash: { url: string; token: string };
  /** SPOOL_* settings for the handlers (key prefix, thresholds...), on top of process.env. */
  env?: Record<string, string | undefined>;
  /** Schedule intervals in ms, or false for none (tests run them by hand with `runSchedule`). */
  schedules?: Partial<ScheduleIntervals> | false;
  /** One line per event (invocations, metrics, pages). Default: console.log. */
  log?: (line: string) => void;
  /** Randomness of /demo/flaky (tests). */
  random?: () => number;
}

export interface LocalServer {
  url: string;
  port: number;
  /** Env the handlers see (after the local defaults). */
  env: Record<string, string>;
  host: FunctionHost;
  /** Run a scheduled function once now, as its EventBridge rule would. */
  runSchedule(fn: 'worker' | 'health' | 'purge' | 'scheduler'): Promise<unknown>;
  close(): Promise<void>;
}

const MAX_BODY = 10 * 1024 * 1024; // API Gateway's payload limit
const API_TIMEOUT_MS = 30_000; // HTTP API integration timeout

const DASHBOARD_FILE = new URL('./dashboard/index.html', import.meta.url);

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(Object.assign(new Error('Request Entity Too Large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Local additions to the handlers' environment: the demo targets must pass the SSRF checks. */
export function localEnv(
  base: Record<string, string | undefined>,
  upstash: { url: string; token: string },
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  env.UPSTASH_REDIS_REST_URL = upstash.url;
  env.UPSTASH_REDIS_REST_TOKEN = upstash.token;
  env.SPOOL_KEY_PREFIX ||= 'spool';
  const hosts = (env.SPOOL_TARGET_ALLOWED_HOSTS ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  for (const h of ['127.0.0.1', 'localhost']) if (!hosts.includes(h)) hosts.push(h);
  env.SPOOL_TARGET_ALLOWED_HOSTS = hosts.join(',');
  // Loopback is a private address: the demo targets need it.
  env.SPOOL_TARGET_ALLOW_PRIVATE ||= 'true';
  // SNS pages and tickets go to the log (the local SNS client writes them there); they need a topic to be sent to.
  env.SPOOL_ALERT_TOPIC_ARN ||= 'arn:aws:sns:local:000000000000:spool-local-alerts';
  env.SPOOL_TICKET_TOPIC_ARN ||= 'arn:aws:sns:local:000000000000:spool-local-tickets';
  // Metrics only go to the log here: every queue gets its per-queue figures (deployed: the named queues).
  env.SPOOL_METRIC_QUEUES ||= '*';
  // Deliveries are signed as deployed ones are; the demo targets verify with the same secret.
  env.SPOOL_SIGNING_SECRET ||= LOCAL_SIGNING_SECRET;
  // No AWS here: the functions must not look for a secret; the worker kick runs in-process.
  delete env.SPOOL_REDIS_SECRET_ARN;
  delete env.SPOOL_SIGNING_SECRET_ARN;
  return env;
}

export async function startLocal(opts: StartLocalOptions): Promise<LocalServer> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const env = localEnv({ ...process.env, ...opts.env }, opts.upstash);
  const abort = new AbortController();
  const demo = createDemo({ random: opts.random, signal: abort.signal, signingSecret: env.SPOOL_SIGNING_SECRET });
  const host = await createFunctionHost({ env, log });

  const server = http.createServer(async (req, res) => {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    try {
      const body = await readBody(req);

      if (path.startsWith(DEMO_PREFIX)) {
        const out = await demo.handle({
          method,
          path,
          query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
          headers: req.headers,
          body,
        });
        if (out) {
          send(res, out.status, out.body);
          return;
        }
      }
      if ((path === '/dashboard' || path === '/dashboard/') && (method === 'GET' || method === 'HEAD')) {
        const html = await readFile(DASHBOARD_FILE);
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-length': html.length,
          'cache-control': 'no-store',
        });
        res.end(method === 'HEAD' ? undefined : html);
        return;
      }

      const match = matchRoute(method, path);
      const event = toApiGatewayEvent(
        {
          method,
          url,
          headers: req.headers,
          body,
          sourceIp: req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1',
        },
        match,
      );
      const started = Date.now();
      let result: unknown;
      try {
        result = await host.invoke(match.fn, event, { timeoutMs: API_TIMEOUT_MS });
      } catch (e) {
        // What API Gateway answers when the integration fails.
        const timedOut = (e as { timeout?: boolean }).timeout === true;
        log(
          `[api] ${method} ${url} -> ${match.fn} ${timedOut ? 'timed out' : `failed: ${(e as Error).stack ?? String(e)}`}`,
        );
        send(
          res,
          timedOut ? 503 : 500,
          { message: timedOut ? 'Service Unavailable' : 'Internal Server Error' },
          { 'apigw-requestid': event.requestContext.requestId },
        );
        return;
      }
      const out = fromLambdaResult(result);
      const headers: Record<string, string | string[]> = {
        ...out.headers,
        'content-length': String(out.body.length),
        'apigw-requestid': event.requestContext.requestId,
      };
      if (!headers['content-type']) headers['content-type'] = 'application/json';
      if (out.cookies.length) headers['set-cookie'] = out.cookies;
      res.writeHead(out.status, headers);
      res.end(method === 'HEAD' ? undefined : out.body);
      log(`[api] ${method} ${url} -> ${match.fn} ${out.status} ${Date.now() - started}ms`);
    } catch (e) {
      const status = (e as { status?: number }).status ?? 500;
      if (!res.headersSent)
        send(res, status, { message: status === 413 ? 'Request Entity Too Large' : 'Internal Server Error' });
      else res.destroy();
      if (status !== 413) log(`[local] ${method} ${url}: ${(e as Error).stack ?? String(e)}`);
    }
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? LOCAL_API_PORT, opts.host ?? LOCAL_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${opts.host && opts.host !== '0.0.0.0' ? opts.host : LOCAL_HOST}:${port}`;

  const schedules = startSchedules(host, opts.schedules === false ? false : (opts.schedules ?? {}), log);

  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    env,
    host,
    runSchedule: (fn) => host.runScheduled(fn as FunctionName),
    close() {
      closed ??= (async () => {
        schedules.stop();
        abort.abort();
        const done = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const t = setTimeout(() => server.closeAllConnections(), 2_000);
        await done;
        clearTimeout(t);
        await host.close();
      })();
      return closed;
    },
  };
}
