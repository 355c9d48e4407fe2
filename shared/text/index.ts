/**
 * Strings from the outside (request bodies, targets' answers) before they reach the engine: Lua's
 * cjson refuses a lone UTF-16 surrogate, and a cut in UTF-16 units can make one. Cut on code points
 * and make strings well-formed.
 */

/** The first `max` code points of `s` (never half of a surrogate pair), well-formed. */
export function cutCodePoints(s: string, max: number): string {
  if (s.length <= max) return s.toWellFormed();
  let units = 0;
  let points = 0;
  for (const ch of s) {
    if (points === max) break;
    units += ch.length;
    points++;
  }
  return s.slice(0, units).toWellFormed();
}

/** `v` with every string in it (object keys included) well-formed; the input is not changed. Iterative. */
export function wellFormedDeep(v: unknown): unknown {
  if (typeof v === 'string') return v.toWellFormed();
  if (v === null || typeof v !== 'object') return v;
  const root: { v: unknown } = { v: undefined };
  const stack: Array<[from: unknown, into: Record<string, unknown> | unknown[], key: string | number]> = [
    [v, root as unknown as Record<string, unknown>, 'v'],
  ];
  while (stack.length > 0) {
    const [from, into, key] = stack.pop()!;
    let out: unknown;
    if (typeof from === 'string') out = from.toWellFormed();
    else if (Array.isArray(from)) {
      const arr: unknown[] = new Array(from.length);
      for (let i = 0; i < from.length; i++) stack.push([from[i], arr, i]);
      out = arr;
    } else if (from !== null && typeof from === 'object') {
      const obj: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(from)) {
        const key = k.toWellFormed();
        // Placed now, filled when popped: the keys keep their order.
        Object.defineProperty(obj, key, { value: undefined, enumerable: true, writable: true, configurable: true });
        stack.push([x, obj, key]);
      }
      out = obj;
    } else out = from;
    // defineProperty, not assignment: a "__proto__" key from JSON.parse stays an own property.
    Object.defineProperty(into, key, { value: out, enumerable: true, writable: true, configurable: true });
  }
  return root.v;
}

/**
 * How deeply `v` nests arrays and objects (a scalar is 0, `[]` and `{}` are 1), counted with an
 * explicit stack: safe on any depth, unlike anything recursive (JSON.stringify, validators). Stops
 * counting once past `limit`, returning limit + 1.
 */
export function nestingDepth(v: unknown, limit = Number.POSITIVE_INFINITY): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[v, 0]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    const depth = d + 1;
    if (depth > max) {
      max = depth;
      if (max > limit) return limit + 1;
    }
    for (const y of Array.isArray(x) ? x : Object.values(x))
      if (y !== null && typeof y === 'object') stack.push([y, depth]);
  }
  return max;
}

/** The longest start of `s` whose UTF-8 encoding fits in `maxBytes` (never half a character), well-formed. */
export function cutUtf8Bytes(s: string, maxBytes: number): string {
  const w = s.toWellFormed();
  if (Buffer.byteLength(w) <= maxBytes) return w;
  let bytes = 0;
  let units = 0;
  for (const ch of w) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > maxBytes) break;
    bytes += n;
    units += ch.length;
  }
  return w.slice(0, units);
}
