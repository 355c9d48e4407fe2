/** Trace headers: W3C traceparent and X-Ray, read strictly, written in both forms for the same trace. */

import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  parseTraceparent,
  parseXRayHeader,
  requestTrace,
  toTraceparent,
  traceHeaders,
  xrayTraceId,
} from '../../../shared/trace/context.js';
import { daemonAddress, daemonSink, subsegmentDocument } from '../../../shared/trace/xray.js';

const W3C = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('trace context', () => {
  it('reads a W3C traceparent, refusing malformed, all-zero and version ff ones', () => {
    expect(parseTraceparent(W3C)).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      parentId: '00f067aa0ba902b7',
      sampled: true,
    });
    expect(parseTraceparent(W3C.replace(/01$/, '00'))?.sampled).toBe(false);
    for (const bad of [
      '',
      'garbage',
      W3C.replace('4bf92f3577b34da6a3ce929d0e0e4736', '0'.repeat(32)),
      W3C.replace('00f067aa0ba902b7', '0'.repeat(16)),
      W3C.replace(/^00/, 'ff'),
      `${W3C}-extra`,
      W3C.slice(0, -1),
    ])
      expect(parseTraceparent(bad), bad).toBeUndefined();
    // A later version may carry more fields: read as version 00.
    expect(parseTraceparent(`01${W3C.slice(2)}-more`)?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('reads an X-Ray header in any field order; the same trace id in both forms', () => {
    const c = parseXRayHeader('Sampled=1;Parent=53995c3f42cd8ad8;Root=1-5759e988-bd862e3fe1be46a994272793;Lineage=a:1');
    expect(c).toEqual({ traceId: '5759e988bd862e3fe1be46a994272793', parentId: '53995c3f42cd8ad8', sampled: true });
    expect(xrayTraceId(c!)).toBe('1-5759e988-bd862e3fe1be46a994272793');
    expect(toTraceparent(c!)).toBe('00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01');
    expect(parseXRayHeader('Root=1-5759e988-bd862e3fe1be46a994272793')?.parentId).toMatch(/^[0-9a-f]{16}$/);
    expect(parseXRayHeader('Root=2-5759e988-bd862e3fe1be46a994272793')).toBeUndefined();
    expect(traceHeaders(c!, 'aaaaaaaaaaaaaaaa')).toEqual({
      traceparent: '00-5759e988bd862e3fe1be46a994272793-aaaaaaaaaaaaaaaa-01',
      'x-amzn-trace-id': 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=aaaaaaaaaaaaaaaa;Sampled=1',
    });
  });

  it("an enqueue request's trace: traceparent, else X-Amzn-Trace-Id, else the function's own", () => {
    const fn = parseXRayHeader('Root=1-5759e988-bd862e3fe1be46a994272793;Parent=1111111111111111;Sampled=1');
    expect(
      requestTrace({ traceparent: W3C, 'x-amzn-trace-id': 'Root=1-5759e988-bd862e3fe1be46a994272793' }, fn)?.traceId,
    ).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(requestTrace({ 'x-amzn-trace-id': 'Root=1-aaaaaaaa-bbbbbbbbbbbbbbbbbbbbbbbb;Sampled=1' }, fn)?.traceId).toBe(
      'aaaaaaaabbbbbbbbbbbbbbbbbbbbbbbb',
    );
    // The same trace as the function's: the function's segment is the closer parent.
    expect(
      requestTrace({ 'x-amzn-trace-id': 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=2222222222222222' }, fn)
        ?.parentId,
    ).toBe('1111111111111111');
    expect(requestTrace({}, fn)).toBe(fn);
    expect(requestTrace({ traceparent: 'bad' })).toBeUndefined();
  });
});

describe('X-Ray documents', () => {
  it('a subsegment: ids, seconds, http, and error/throttle/fault flags by status', () => {
    const ctx = { traceId: '5759e988bd862e3fe1be46a994272793', parentId: '53995c3f42cd8ad8', sampled: true };
    const doc = (status?: number, error?: string) =>
      subsegmentDocument(ctx, {
        name: 'example.com',
        id: 'aaaaaaaaaaaaaaaa',
        start: 1_700_000_000_000,
        end: 1_700_000_000_250,
        http: { method: 'POST', url: 'https://example.com/x', ...(status ? { status } : {}) },
        ...(error ? { error } : {}),
      });
    expect(doc(200)).toEqual({
      type: 'subsegment',
      id: 'aaaaaaaaaaaaaaaa',
      trace_id: '1-5759e988-bd862e3fe1be46a994272793',
      parent_id: '53995c3f42cd8ad8',
      name: 'example.com',
      start_time: 1_700_000_000,
      end_time: 1_700_000_000.25,
      namespace: 'remote',
      http: { request: { method: 'POST', url: 'https://example.com/x' }, response: { status: 200 } },
    });
    expect(doc(429)).toMatchObject({ throttle: true, error: true });
    expect(doc(404)).toMatchObject({ error: true });
    expect(doc(502)).toMatchObject({ fault: true });
    expect(doc(undefined, 'ECONNREFUSED')).toMatchObject({
      fault: true,
      cause: { exceptions: [{ message: 'ECONNREFUSED' }] },
    });
  });

  it('reads the daemon address as Lambda sets it, and the SDK form with tcp and udp', () => {
    expect(daemonAddress('169.254.79.129:2000')).toEqual({ host: '169.254.79.129', port: 2000 });
    expect(daemonAddress('tcp:127.0.0.1:2000 udp:127.0.0.2:2001')).toEqual({ host: '127.0.0.2', port: 2001 });
    expect(daemonAddress(undefined)).toBeUndefined();
    expect(daemonAddress('nonsense')).toBeUndefined();
  });

  it('the daemon sink sends one UDP datagram per subsegment (a loopback "daemon" here)', async () => {
    const daemon = createSocket('udp4');
    daemon.bind(0, '127.0.0.1');
    await once(daemon, 'listening');
    const got = once(daemon, 'message');
    daemonSink(`127.0.0.1:${daemon.address().port}`)!('{"format":"json","version":1}\n{"id":"x"}');
    const [msg] = (await got) as [Buffer];
    expect(msg.toString()).toBe('{"format":"json","version":1}\n{"id":"x"}');
    daemon.close();
    expect(daemonSink(undefined)).toBeUndefined();
  });
});
