import { describe, expect, it } from 'vitest';
import { harness, job } from './harness.js';

describe('smoke', () => {
  const { spool } = harness('smoke');
  it('runs the lifecycle', async () => {
    const e = await spool.enqueue('q1', [job({ a: 1 }), job({ a: 2 }, { priority: 5 })]);
    expect(e.jobs).toHaveLength(2);
    const l = await spool.lease('q1', { count: 10 });
    expect(l.jobs.map((j) => j.payload)).toEqual([{ a: 2 }, { a: 1 }]);
    const c = await spool.complete('q1', l.jobs.map((j) => ({ id: j.id, token: j.token })));
    expect(c.map((x) => x.status)).toEqual(['ok', 'ok']);
    const s = await spool.snapshot(['q1']);
    expect(s[0]!.completed).toBe(2);
  });
});
