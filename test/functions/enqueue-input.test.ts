/**
 * What the enqueue route accepts, as an attacker would try it: bare arrays, deep payloads, framing
 * and hop-by-hop target headers, CR/LF/NUL in header values, lone surrogates, and batches with many
 * bad jobs. Every refusal is a 400 naming the field and writes nothing (real Redis).
 */
import { describe, expect, it } from 'vitest';
import { createEnqueueHandler } from '../../functions/enqueue/handler.js';
import { apiEvent, json, lambdaContext } from '../helpers/fixtures.js';
import { testRuntime } from '../helpers/runtime.js';

const { rt } = await testRuntime('enqueue-input');
const enqueue = createEnqueueHandler(rt);
const post = async (queue: string, o: Parameters<typeof apiEvent>[2]) =>
  json(await enqueue(apiEvent('POST', `/v1/queues/${queue}/jobs`, o), lambdaContext()));
const job = (extra: Record<string, unknown> = {}) => ({ handler: 'echo', payload: { n: 1 }, ...extra });
const target = (headers: Record<string, string>) => ({ target: { url: 'https://example.com/hook', headers } });
const nested = (depth: number) => JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`);
/** Every job of the queue, whatever its state. */
const stored = async (queue: string) => {
  const [s] = await rt.spool.snapshot([queue]);
  return s ? s.waiting + s.delayed + s.active + s.completed + s.dead : 0;
};

describe('bodies', () => {
  it('a bare JSON array is a 400 (a batch is {"jobs": [...]}), even of 150 jobs or with an Idempotency-Key', async () => {
    const r = await post('arr', { body: Array.from({ length: 150 }, () => job()) });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'invalid_request', details: { field: '(body)' } });
    expect(r.body.error.message).toContain('{"jobs": [...]}');
    const k = await post('arr', { body: [job()], headers: { 'idempotency-key': 'k-arr' } });
    expect(k.status).toBe(400);
    expect(await stored('arr')).toBe(0);
  });

  it('a payload nested deeper than 64 levels is a 400 naming payload; 64 is fine; 4,000 and 100,000 too', async () => {
    expect((await post('deep', { body: job({ payload: nested(64) }) })).status).toBe(201);
    for (const depth of [65, 4_000, 100_000]) {
      const r = await post('deep', {
        raw: JSON.stringify(job({ payload: 0 })).replace('0', '['.repeat(depth) + ']'.repeat(depth)),
        headers: { 'content-type': 'application/json' },
      });
      expect(r.status, `depth ${depth}`).toBe(400);
      expect(r.body.error.details, `depth ${depth}`).toMatchObject({
        field: 'payload',
        reason: 'nests deeper than 64 levels',
      });
    }
    const b = await post('deep', { body: { jobs: [job(), job({ payload: { a: nested(70) } })] } });
    expect(b.status).toBe(400);
    expect(b.body.error.details.field).toBe('jobs[1].payload');
    expect(await stored('deep')).toBe(1);
  });

  it('a batch error lists every invalid job, not only the first; nothing of the batch is written', async () => {
    const r = await post('many', {
      body: {
        jobs: [job(), job({ priority: 'high' }), job(), job({ payload: nested(100) }), job({ handler: undefined })],
      },
    });
    expect(r.status).toBe(400);
    expect(r.body.error.details.errors).toEqual([
      { index: 1, field: 'jobs[1].priority', reason: expect.any(String) },
      { index: 3, field: 'jobs[3].payload', reason: 'nests deeper than 64 levels' },
      { index: 4, field: 'jobs[4].target', reason: expect.stringContaining('exactly one of') },
    ]);
    expect(r.body.error.details).toMatchObject({ field: 'jobs[1].priority' });
    for (const f of ['jobs[1]', 'jobs[3]', 'jobs[4]']) expect(r.body.error.message).toContain(f);
    expect(await stored('many')).toBe(0);
  });
});

describe('target headers', () => {
  it('hop-by-hop and framing headers are refused, whatever their case', async () => {
    for (const name of [
      'Host',
      'content-length',
      'Transfer-Encoding',
      'connection',
      'Keep-Alive',
      'TE',
      'trailer',
      'Upgrade',
      'expect',
      'Proxy-Authorization',
      'proxy-connection',
    ]) {
      const r = await post('hdr', { body: target({ [name]: 'x' }) });
      expect(r.status, name).toBe(400);
      expect(r.body.error.details, name).toMatchObject({
        field: `target.headers.${name}`,
        reason: expect.stringContaining('hop-by-hop or framing'),
      });
    }
    expect(await stored('hdr')).toBe(0);
  });

  it('names must be HTTP tokens; values may hold no CR, LF, NUL or other control characters', async () => {
    for (const [name, value, field] of [
      ['X-Bad Name', 'v', 'target.headers.X-Bad Name'],
      ['X-Colon:', 'v', 'target.headers.X-Colon:'],
      ['', 'v', 'target.headers.'],
      ['X-A', 'one\r\nX-Injected: yes', 'target.headers.X-A'],
      ['X-B', 'lf\nonly', 'target.headers.X-B'],
      ['X-C', 'nul\u0000', 'target.headers.X-C'],
      ['X-D', 'bell\u0007', 'target.headers.X-D'],
      ['X-E', 'emoji 😀', 'target.headers.X-E'],
    ] as const) {
      const r = await post('hdr2', { body: target({ [name]: value }) });
      expect(r.status, JSON.stringify([name, value])).toBe(400);
      expect(r.body.error.details.field, JSON.stringify([name, value])).toBe(field);
    }
    const dup = await post('hdr2', { body: target({ 'X-Same': 'a', 'x-same': 'b' }) });
    expect(dup.status).toBe(400);
    expect(dup.body.error.details.field).toBe('target.headers.x-same');
    expect(await stored('hdr2')).toBe(0);
    const ok = await post('hdr2', { body: target({ Authorization: 'Bearer x', 'X-Tab': 'a\tb', 'X-Latin': 'café' }) });
    expect(ok.status).toBe(201);
  });
});

describe('strings from the outside', () => {
  it('an idempotency key holding a lone surrogate is a 400 naming idempotencyKey (body or batch)', async () => {
    const one = await post('uni', {
      raw: '{"handler":"echo","idempotencyKey":"k-\\ud83d"}',
      headers: { 'content-type': 'application/json' },
    });
    expect(one.status).toBe(400);
    expect(one.body.error.details).toMatchObject({
      field: 'idempotencyKey',
      reason: expect.stringContaining('surrogate'),
    });
    const batch = await post('uni', {
      raw: '{"jobs":[{"handler":"echo"},{"handler":"echo","idempotencyKey":"\\udc00x"}]}',
      headers: { 'content-type': 'application/json' },
    });
    expect(batch.status).toBe(400);
    expect(batch.body.error.details.field).toBe('jobs[1].idempotencyKey');
    expect(await stored('uni')).toBe(0);
  });

  it('lone surrogates elsewhere (payload values and keys, handler-free strings) are made well-formed and stored', async () => {
    const r = await post('uni2', {
      raw: '{"handler":"echo","payload":{"k\\ud800":"v\\udfff","list":["\\ud83d"]},"idempotencyKey":"ok-😀"}',
      headers: { 'content-type': 'application/json' },
    });
    expect(r.status).toBe(201);
    const g = json(await enqueue(apiEvent('GET', `/v1/queues/uni2/jobs/${r.body.id}`), lambdaContext()));
    expect(g.body.payload).toEqual({ 'k\ufffd': 'v\ufffd', list: ['\ufffd'] });
    expect(g.body.idempotencyKey).toBe('ok-😀');
  });
});
