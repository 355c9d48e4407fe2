import { describe, expect, it } from 'vitest';
import { cutCodePoints, nestingDepth, wellFormedDeep } from '../../../shared/text/index.js';

describe('cutCodePoints', () => {
  it('keeps whole code points: never half of a surrogate pair', () => {
    const s = `${'a'.repeat(511)}😀tail`;
    expect(cutCodePoints(s, 512)).toBe(`${'a'.repeat(511)}😀`);
    expect(cutCodePoints(s, 511)).toBe('a'.repeat(511));
    const emoji = '😀'.repeat(600);
    expect([...cutCodePoints(emoji, 512)]).toHaveLength(512);
    expect(cutCodePoints(emoji, 512).isWellFormed()).toBe(true);
    expect(cutCodePoints('short', 512)).toBe('short');
  });

  it('makes what it keeps well-formed (a lone surrogate becomes U+FFFD)', () => {
    expect(cutCodePoints('a\ud83db', 10)).toBe('a\ufffdb');
  });
});

describe('wellFormedDeep', () => {
  it('repairs every string and key, keeps the rest, copies', () => {
    const input = JSON.parse('{"k\\ud800":["x\\udc00",1,null,true,{"__proto__":"p\\ud83d"}],"n":2}');
    const out = wellFormedDeep(input) as Record<string, unknown>;
    expect(JSON.stringify(out)).toBe('{"k\ufffd":["x\ufffd",1,null,true,{"__proto__":"p\ufffd"}],"n":2}');
    expect(Object.hasOwn((out['k\ufffd'] as unknown[])[4] as object, '__proto__')).toBe(true);
    expect(input.n).toBe(2);
    expect(Object.keys(input)[0]).toBe('k\ud800');
  });

  it('is iterative: 100,000 levels deep is fine', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}"\\ud800"${']'.repeat(100_000)}`);
    expect(nestingDepth(wellFormedDeep(deep))).toBe(100_000);
  });
});

describe('nestingDepth', () => {
  it('counts levels of arrays and objects without recursion, and stops past the limit', () => {
    expect(nestingDepth(1)).toBe(0);
    expect(nestingDepth({})).toBe(1);
    expect(nestingDepth({ a: [1, { b: [] }] })).toBe(4);
    const deep = JSON.parse(`${'[{"a":'.repeat(50_000)}0${'}]'.repeat(50_000)}`);
    expect(nestingDepth(deep)).toBe(100_000);
    expect(nestingDepth(deep, 64)).toBe(65);
  });
});
