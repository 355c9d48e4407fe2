import { describe, expect, it } from 'vitest';
import { harness, job } from '../../helpers/harness.js';

/** Issue 9, item 1: every string the engine passes to Lua is well-formed, and messages are cut on code points. */
describe('well-formed strings at the engine', () => {
  const { spool } = harness('wellformed');

  const leaseAll = async (q: string, n: number) => {
    await spool.enqueue(
      q,
      Array.from({ length: n }, (_, i) => job(i)),
    );
    const { jobs } = await spool.lease(q, { count: n });
    expect(jobs).toHaveLength(n);
    return jobs;
  };

  it('a failure message with an emoji at the cut fails its job, and the rest of the batch, normally', async () => {
    const q = 'emoji-cut';
    const [a, b, c] = await leaseAll(q, 3);
    // 3,999 units, then a surrogate pair across the 4,000-unit mark: a cut in UTF-16 units halves it.
    const atCut = `${'a'.repeat(3_999)}😀 and more`;
    const lone = 'half a pair: \ud83d, then more';
    const res = await spool.fail(q, [
      { id: a!.id, token: a!.token, error: { message: atCut, class: 'HttpError', retryable: true } },
      { id: b!.id, token: b!.token, error: { message: lone, class: 'Http\udc00Error', retryable: false } },
      { id: c!.id, token: c!.token, error: { message: 'plain', retryable: true, requestId: 'r\ud800' } },
    ]);
    expect(res.map((r) => [r.status, r.state])).toEqual([
      ['ok', 'delayed'],
      ['ok', 'dead'],
      ['ok', 'delayed'],
    ]);
    const [ja, jb, jc] = await spool.getMany(q, [a!.id, b!.id, c!.id]);
    // Cut on code points: 4,000 of them, the emoji whole.
    expect([...ja!.lastError!.message]).toHaveLength(4_000);
    expect(ja!.lastError!.message).toBe(`${'a'.repeat(3_999)}😀`);
    expect(jb!.lastError!.message).toBe('half a pair: \ufffd, then more');
    expect(jb!.lastError!.class).toBe('Http\ufffdError');
    expect(jc!.lastError!.requestId).toBe('r\ufffd');
  });

  it('a message longer than 4,000 code points keeps 4,000 of them, however many UTF-16 units that is', async () => {
    const q = 'long';
    const [a] = await leaseAll(q, 1);
    const [r] = await spool.fail(q, [
      { id: a!.id, token: a!.token, error: { message: '😀'.repeat(5_000), retryable: false } },
    ]);
    expect(r!.state).toBe('dead');
    const got = await spool.get(q, a!.id);
    expect([...got!.lastError!.message]).toHaveLength(4_000);
    expect(got!.lastError!.message.isWellFormed()).toBe(true);
  });

  it('ids and selections with lone surrogates reach Lua well-formed (a miss, not a script error)', async () => {
    const q = 'ids';
    expect(await spool.get(q, 'x\ud800')).toBeNull();
    expect(await spool.cancel(q, 'x\udfff')).toEqual({ status: 'not_found' });
    expect(await spool.deleteDead(q, ['\ud83d'])).toEqual([]);
    const r = await spool.replay(q, { fingerprint: 'f\ud800', dryRun: true });
    expect(r.matched).toBe(0);
  });
});
