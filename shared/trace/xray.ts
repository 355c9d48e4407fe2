/**
 * X-Ray subsegments, sent to the X-Ray daemon over UDP as the X-Ray SDKs do: a header line
 * `{"format":"json","version":1}` and the subsegment as JSON, one datagram each. Lambda runs the
 * daemon when tracing is active and sets AWS_XRAY_DAEMON_ADDRESS; without it (locally, in tests
 * that do not set it) nothing is sent.
 *
 * Why not Powertools Tracer (with aws-xray-sdk-core): measured with esbuild as the functions are
 * bundled, it adds 127,128 bytes (aws-xray-sdk-core 69,755, semver 28,774, cls-hooked 8,085, the
 * tracer 8,935, ...) to a worker bundle of about 150,000, past the 250,000 budget. What Spool needs
 * of it is this file: independent subsegments under a known parent, for Upstash requests (seen
 * through undici's diagnostics channels, so every HTTP request of @upstash/redis is one) and for
 * target calls (timed by the worker, where the trace headers are made).
 */
import { createSocket, type Socket } from 'node:dgram';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { newSpanId, type TraceContext, xrayTraceId } from './context.js';

export interface Subsegment {
  name: string;
  /** 16 hex digits; the span id sent downstream, when there is one. */
  id: string;
  /** Epoch ms. */
  start: number;
  end: number;
  http?: { method: string; url: string; status?: number };
  /** Set when the call failed without an HTTP answer (network error, timeout). */
  error?: string;
}

/** Where subsegments go. */
export type XRaySink = (datagram: string) => void;

const HEADER = '{"format":"json","version":1}\n';

/** The JSON document of one subsegment of `ctx` (its parent: `ctx.parentId`). */
export function subsegmentDocument(ctx: TraceContext, s: Subsegment): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    type: 'subsegment',
    id: s.id,
    trace_id: xrayTraceId(ctx),
    parent_id: ctx.parentId,
    name: s.name,
    start_time: s.start / 1000,
    end_time: s.end / 1000,
    namespace: 'remote',
  };
  const status = s.http?.status;
  if (s.http) {
    doc.http = {
      request: { method: s.http.method, url: s.http.url },
      ...(status !== undefined ? { response: { status } } : {}),
    };
  }
  if (status === 429) doc.throttle = true;
  if (status !== undefined && status >= 400 && status < 500) doc.error = true;
  if ((status !== undefined && status >= 500) || s.error) doc.fault = true;
  if (s.error) doc.cause = { exceptions: [{ id: newSpanId(), message: s.error.slice(0, 256) }] };
  return doc;
}

/** `127.0.0.1:2000`, or the SDK form `tcp:127.0.0.1:2000 udp:127.0.0.1:2001` (UDP is used). */
export function daemonAddress(value: string | undefined): { host: string; port: number } | undefined {
  if (!value) return undefined;
  const udp = value.split(/\s+/).find((p) => p.startsWith('udp:')) ?? value.split(/\s+/)[0]!;
  const m = /^(?:udp:|tcp:)?([^:\s]+):(\d{1,5})$/.exec(udp);
  return m ? { host: m[1]!, port: Number(m[2]) } : undefined;
}

/** A sink that sends to the daemon; undefined when there is no daemon address. */
export function daemonSink(address = process.env.AWS_XRAY_DAEMON_ADDRESS): XRaySink | undefined {
  const to = daemonAddress(address);
  if (!to) return undefined;
  let socket: Socket | undefined;
  return (datagram) => {
    if (!socket) {
      socket = createSocket('udp4');
      socket.unref();
      // A lost subsegment must never fail a job.
      socket.on('error', () => {});
    }
    socket.send(datagram, to.port, to.host);
  };
}

export class XRayTracer {
  constructor(
    private readonly sink: XRaySink | undefined,
    private readonly clock: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.sink !== undefined;
  }

  now(): number {
    return this.clock();
  }

  /** Sends one subsegment of `ctx`, if tracing is on and the trace is sampled. */
  record(ctx: TraceContext | undefined, s: Subsegment): void {
    if (!this.sink || !ctx?.sampled) return;
    this.sink(HEADER + JSON.stringify(subsegmentDocument(ctx, s)));
  }
}

interface UndiciRequest {
  origin: string;
  path: string;
  method: string;
}

/**
 * Records one subsegment per HTTP request of global fetch to `origin` (the Upstash REST URL), under
 * the trace `current()` gives when the request starts (the invocation's). Returns unsubscribe.
 */
export function traceFetches(tracer: XRayTracer, origin: string, current: () => TraceContext | undefined): () => void {
  if (!tracer.enabled) return () => {};
  const want = new URL(origin).origin;
  const open = new WeakMap<object, { ctx: TraceContext; start: number; url: string; method: string }>();
  const onCreate = (m: unknown) => {
    const req = (m as { request: UndiciRequest }).request;
    if (req.origin !== want) return;
    const ctx = current();
    if (!ctx?.sampled) return;
    // The path without its query (Upstash paths carry none; a query could carry a secret).
    open.set(req, { ctx, start: tracer.now(), url: `${req.origin}${req.path.split('?')[0]}`, method: req.method });
  };
  const finish = (req: object, status: number | undefined, error?: string) => {
    const o = open.get(req);
    if (!o) return;
    open.delete(req);
    const http = { method: o.method, url: o.url, ...(status !== undefined ? { status } : {}) };
    tracer.record(o.ctx, {
      name: new URL(o.url).host,
      id: newSpanId(),
      start: o.start,
      end: tracer.now(),
      http,
      ...(error ? { error } : {}),
    });
  };
  const onHeaders = (m: unknown) => {
    const { request, response } = m as { request: object; response: { statusCode: number } };
    finish(request, response.statusCode);
  };
  const onError = (m: unknown) => {
    const { request, error } = m as { request: object; error: Error };
    finish(request, undefined, error.message);
  };
  subscribe('undici:request:create', onCreate);
  subscribe('undici:request:headers', onHeaders);
  subscribe('undici:request:error', onError);
  return () => {
    unsubscribe('undici:request:create', onCreate);
    unsubscribe('undici:request:headers', onHeaders);
    unsubscribe('undici:request:error', onError);
  };
}
