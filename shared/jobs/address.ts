import { BlockList, isIP } from 'node:net';

/**
 * Classifies IP addresses for the SSRF guard of HTTP targets.
 * - `forbidden`: never reachable from a job (link-local incl. instance metadata 169.254.169.254 and
 *   fd00:ec2::254, unspecified, multicast, reserved, IPv4-mapped hex forms).
 * - `private`: loopback, RFC 1918, CGNAT, unique-local IPv6; reachable only with SPOOL_TARGET_ALLOW_PRIVATE.
 * - `public`: everything else.
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

/**
 * IPv4 embedded in IPv6 (`::ffff:1.2.3.4`, `::ffff:102:304`, NAT64 `64:ff9b::1.2.3.4`) → the IPv4,
 * so a mapped metadata address is judged as the address it reaches.
 */
function unmap(ip: string): string {
  const m = /^(?:::ffff:|64:ff9b::)(?:(\d{1,3}(?:\.\d{1,3}){3})|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/i.exec(ip);
  if (!m) return ip;
  if (m[1]) return m[1];
  const hi = parseInt(m[2]!, 16);
  const lo = parseInt(m[3]!, 16);
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

export function classifyAddress(address: string): AddressClass {
  const ip = unmap(address.replace(/^\[|\]$/g, ''));
  const family = isIP(ip);
  if (family === 0) return 'forbidden';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (forbidden.check(ip, type)) return 'forbidden';
  if (priv.check(ip, type)) return 'private';
  return 'public';
}
