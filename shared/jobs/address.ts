import { BlockList, isIP } from 'node:net';

/**
 * Classifies IP addresses for the SSRF guard of HTTP targets.
 * - `forbidden`: never reachable from a job (link-local incl. instance metadata 169.254.169.254 and
 *   fd00:ec2::254, unspecified, multicast, reserved, site-local fec0::/10, zone ids).
 * - `private`: loopback, RFC 1918, CGNAT, unique-local IPv6, the local-use NAT64 prefix
 *   64:ff9b:1::/48 (RFC 8215: never global); reachable only with SPOOL_TARGET_ALLOW_PRIVATE.
 * - `public`: everything else.
 * An IPv6 address that embeds an IPv4 (IPv4-compatible, -mapped, -translated, NAT64, 6to4, Teredo)
 * is at least as bad as every IPv4 it embeds: `[::169.254.169.254]` is the metadata address.
 */
export type AddressClass = 'forbidden' | 'private' | 'public';

const forbidden = new BlockList();
const priv = new BlockList();

for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['169.254.0.0', 16],
  ['192.0.0.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  forbidden.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
  ['fd00:ec2::254', 128],
] as const) {
  forbidden.addSubnet(net, bits, 'ipv6');
}
for (const [net, bits] of [
  ['10.0.0.0', 8],
  ['127.0.0.0', 8],
  ['100.64.0.0', 10],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
] as const) {
  priv.addSubnet(net, bits, 'ipv4');
}
priv.addAddress('::1', 'ipv6');
priv.addSubnet('fc00::', 7, 'ipv6');
priv.addSubnet('64:ff9b:1::', 48, 'ipv6');

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted IPv4 tail as two groups). */
function groups(ip: string): number[] {
  const parse = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((g) => {
          if (!g.includes('.')) return [parseInt(g, 16)];
          const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
          return [(a << 8) | b, (c << 8) | d];
        });
  const gap = ip.indexOf('::');
  if (gap < 0) return parse(ip);
  const head = parse(ip.slice(0, gap));
  const tail = parse(ip.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

const v4 = (hi: number, lo: number): string => [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');

/** Bits [from, from + n) of the address (n ≤ 16), as a number. */
function bitsOf(g: number[], from: number, n: number): number {
  let out = 0;
  for (let i = 0; i < n; i++) {
    const bit = from + i;
    out = (out << 1) | ((g[bit >> 4]! >> (15 - (bit & 15))) & 1);
  }
  return out;
}

/** RFC 6052 positions of an IPv4 inside a translation prefix of length 48, 56 or 64 (u octet: bits 64-71). */
function rfc6052(g: number[], prefix: 48 | 56 | 64): string | undefined {
  const octets: number[] = [];
  let bit: number = prefix;
  while (octets.length < 4) {
    if (bit === 64) bit = 72;
    octets.push(bitsOf(g, bit, 8));
    bit += 8;
  }
  // A valid form has a zero u octet and a zero suffix after the IPv4.
  if (bitsOf(g, 64, 8) !== 0) return undefined;
  for (let b = bit; b < 128; b += 8) if (bitsOf(g, b, 8) !== 0) return undefined;
  return octets.join('.');
}

/** Every IPv4 an IPv6 address embeds (the ones a packet to it could reach); none for a plain IPv6. */
export function embeddedIPv4(address: string): string[] {
  const ip = address.replace(/^\[|\]$/g, '');
  if (isIP(ip) !== 6) return [];
  const g = groups(ip.toLowerCase());
  const [a, b, c, d, e, f, h, i] = g as [number, number, number, number, number, number, number, number];
  const zero4 = a === 0 && b === 0 && c === 0 && d === 0;
  // IPv4-compatible ::/96 (not :: and ::1), IPv4-mapped ::ffff:0:0/96, IPv4-translated ::ffff:0:0:0/96.
  if (zero4 && e === 0 && f === 0 && !(h === 0 && i <= 1)) return [v4(h, i)];
  if (zero4 && e === 0 && f === 0xffff) return [v4(h, i)];
  if (zero4 && e === 0xffff && f === 0) return [v4(h, i)];
  // NAT64 well-known prefix 64:ff9b::/96.
  if (a === 0x64 && b === 0xff9b && c === 0 && d === 0 && e === 0 && f === 0) return [v4(h, i)];
  // Local-use NAT64 64:ff9b:1::/48: the /96 form, and the RFC 6052 forms that are well-formed.
  if (a === 0x64 && b === 0xff9b && c === 1) {
    const out = new Set([v4(h, i)]);
    for (const p of [48, 56, 64] as const) {
      const x = rfc6052(g, p);
      if (x) out.add(x);
    }
    return [...out];
  }
  // 6to4 2002::/16: the IPv4 in bits 16-47.
  if (a === 0x2002) return [v4(b, c)];
  // Teredo 2001::/32: the server in bits 32-63, the client in the last 32 bits XOR 0xffffffff.
  if (a === 0x2001 && b === 0) return [v4(c, d), v4(h ^ 0xffff, i ^ 0xffff)];
  return [];
}

const RANK: Record<AddressClass, number> = { public: 0, private: 1, forbidden: 2 };
const worst = (x: AddressClass, y: AddressClass): AddressClass => (RANK[y] > RANK[x] ? y : x);

function classifyPlain(ip: string, family: 4 | 6): AddressClass {
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (forbidden.check(ip, type)) return 'forbidden';
  if (priv.check(ip, type)) return 'private';
  return 'public';
}

export function classifyAddress(address: string): AddressClass {
  const ip = address.replace(/^\[|\]$/g, '');
  // A zone id (fe80::1%eth0) names an interface: link-local by nature.
  if (ip.includes('%')) return 'forbidden';
  const family = isIP(ip);
  if (family === 0) return 'forbidden';
  let cls = classifyPlain(ip, family as 4 | 6);
  if (family === 6) for (const x of embeddedIPv4(ip)) cls = worst(cls, classifyPlain(x, 4));
  return cls;
}
