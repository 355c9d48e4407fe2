/**
 * Trace context: one trace from the enqueue request through the worker to the target.
 * The enqueue request's trace (a W3C `traceparent`, else an `X-Amzn-Trace-Id`, else the enqueue
 * function's own X-Ray trace) is kept with the job as a traceparent; every delivery sends it on
 * as both `traceparent` and `X-Amzn-Trace-Id`, with a new span id for the call. The two formats
 * name the same 128-bit trace id: X-Ray `1-5759e988-bd862e3fe1be46a994272793` is W3C
 * `5759e988bd862e3fe1be46a994272793`. Logs show the X-Ray form as `traceId`.
 */
import { randomBytes } from 'node:crypto';

export interface TraceContext {
  /** 32 lower-case hex digits. */
  traceId: string;
  /** 16 hex digits: the span (X-Ray: segment) the next hop is a child of. */
  parentId: string;
  sampled: boolean;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;
const XRAY_ROOT = /^1-([0-9a-f]{8})-([0-9a-f]{24})$/;
const ZEROS = /^0+$/;

export const newSpanId = (): string => randomBytes(8).toString('hex');

/** A W3C traceparent (version 00, or a later version read as 00), or undefined when it is not one. */
export function parseTraceparent(value: string | undefined): TraceContext | undefined {
  const m = value ? TRACEPARENT.exec(value.trim().toLowerCase()) : null;
  if (!m) return undefined;
  const [, version, traceId, parentId, flags] = m as unknown as [string, string, string, string, string];
  if (version === 'ff' || (version === '00' && value!.trim().length !== 55)) return undefined;
  if (ZEROS.test(traceId) || ZEROS.test(parentId)) return undefined;
  return { traceId, parentId, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
}

/** An X-Ray trace header (`Root=1-...;Parent=...;Sampled=1`); a missing Parent gets a new id. */
export function parseXRayHeader(value: string | undefined): TraceContext | undefined {
  if (!value) return undefined;
  const fields = new Map<string, string>();
  for (const part of value.split(';')) {
    const i = part.indexOf('=');
    if (i > 0) fields.set(part.slice(0, i).trim().toLowerCase(), part.slice(i + 1).trim());
  }
  const root = XRAY_ROOT.exec((fields.get('root') ?? '').toLowerCase());
  if (!root) return undefined;
  const parent = (fields.get('parent') ?? '').toLowerCase();
  return {
    traceId: `${root[1]}${root[2]}`,
    parentId: /^[0-9a-f]{16}$/.test(parent) && !ZEROS.test(parent) ? parent : newSpanId(),
    sampled: fields.get('sampled') === '1',
  };
}

export const xrayTraceId = (c: Pick<TraceContext, 'traceId'>): string =>
  `1-${c.traceId.slice(0, 8)}-${c.traceId.slice(8)}`;

export const toTraceparent = (c: TraceContext, spanId = c.parentId): string =>
  `00-${c.traceId}-${spanId}-${c.sampled ? '01' : '00'}`;

export const toXRayHeader = (c: TraceContext, spanId = c.parentId): string =>
  `Root=${xrayTraceId(c)};Parent=${spanId};Sampled=${c.sampled ? 1 : 0}`;

/**
 * The trace an enqueue request belongs to: the producer's `traceparent`, else its
 * `X-Amzn-Trace-Id`; `invocation` (the function's own X-Ray trace) when the request has neither,
 * or when it is the same trace (its Parent, the function's segment, is then the closer one).
 */
export function requestTrace(
  headers: Record<string, string | undefined>,
  invocation?: TraceContext,
): TraceContext | undefined {
  const fromW3c = parseTraceparent(headers.traceparent);
  if (fromW3c) return fromW3c;
  const fromHeader = parseXRayHeader(headers['x-amzn-trace-id']);
  if (fromHeader && (!invocation || invocation.traceId !== fromHeader.traceId)) return fromHeader;
  return invocation;
}

/** The headers that carry a trace to the next hop, `spanId` being the caller's span. */
export const traceHeaders = (c: TraceContext, spanId: string): Record<string, string> => ({
  traceparent: toTraceparent(c, spanId),
  'x-amzn-trace-id': toXRayHeader(c, spanId),
});
