/**
 * The SSRF guard: every address judged by the IPv4 it embeds, site-local refused, and every form
 * already refused (IPv4 spelled in decimal, octal or hex; redirects; DNS answers) kept refused,
 * through callTarget against a real server on loopback.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyAddress, embeddedIPv4 } from '../../../shared/jobs/address.js';
import { callTarget } from '../../../shared/jobs/http-target.js';

describe('addresses that embed an IPv4 are judged by it', () => {
  // 169.254.169.254 (instance metadata) = a9fe:a9fe; 10.0.0.1 = a00:1; 8.8.8.8 = 808:808.
  const forms: Array<[form: string, metadata: string, privateAddr: string, publicAddr: string]> = [
    ['IPv4-compatible ::/96', '::169.254.169.254', '::a00:1', '::808:808'],
    ['IPv4-mapped ::ffff:0:0/96', '::ffff:169.254.169.254', '::ffff:a00:1', '::ffff:808:808'],
    ['IPv4-translated ::ffff:0:0:0/96', '::ffff:0:169.254.169.254', '::ffff:0:a00:1', '::ffff:0:808:808'],
    ['NAT64 64:ff9b::/96', '64:ff9b::a9fe:a9fe', '64:ff9b::10.0.0.1', '64:ff9b::8.8.8.8'],
    ['local NAT64 64:ff9b:1::/48', '64:ff9b:1::a9fe:a9fe', '64:ff9b:1::a00:1', '64:ff9b:1::808:808'],
    ['6to4 2002::/16', '2002:a9fe:a9fe::', '2002:a00:1::1', '2002:808:808::1'],
    // Teredo: server IPv4 in bits 32-63, client IPv4 in the last 32 bits XOR 0xffffffff.
    [
      'Teredo 2001::/32 (client)',
      '2001:0:808:808:0:0:5601:5601',
      '2001:0:808:808::f5ff:fffe',
      '2001:0:808:808::f7f7:f7f7',
    ],
    [
      'Teredo 2001::/32 (server)',
      '2001:0:a9fe:a9fe::f7f7:f7f7',
      '2001:0:a00:1::f7f7:f7f7',
      '2001:0:808:808::f7f7:f7f7',
    ],
  ];
  for (const [form, metadata, privateAddr, publicAddr] of forms) {
    it(form, () => {
      expect(classifyAddress(metadata), metadata).toBe('forbidden');
      expect(classifyAddress(`[${metadata}]`), metadata).toBe('forbidden');
      expect(classifyAddress(privateAddr), privateAddr).toBe('private');
      expect(classifyAddress(publicAddr), publicAddr).toBe(form.startsWith('local NAT64') ? 'private' : 'public');
    });
  }

  it('names the IPv4 an address reaches', () => {
    expect(embeddedIPv4('::169.254.169.254')).toEqual(['169.254.169.254']);
    expect(embeddedIPv4('2002:a9fe:a9fe::')).toEqual(['169.254.169.254']);
    expect(embeddedIPv4('2001:0:4136:e378:8000:63bf:3fff:fdd2')).toEqual(['65.54.227.120', '192.0.2.45']);
    expect(embeddedIPv4('2001:db8::1')).toEqual([]);
  });

  it('site-local fec0::/10 is refused; the other IPv6 classes stay as they were', () => {
    expect(classifyAddress('fec0::1')).toBe('forbidden');
    expect(classifyAddress('feff:ffff::1')).toBe('forbidden');
    expect(classifyAddress('fe80::1')).toBe('forbidden');
    expect(classifyAddress('fd00:ec2::254')).toBe('forbidden');
    expect(classifyAddress('::')).toBe('forbidden');
    expect(classifyAddress('ff02::1')).toBe('forbidden');
    expect(classifyAddress('::1')).toBe('private');
    expect(classifyAddress('fd12:3456::1')).toBe('private');
    expect(classifyAddress('2606:4700::1111')).toBe('public');
    expect(classifyAddress('fe80::1%eth0')).toBe('forbidden');
    expect(classifyAddress('not an address')).toBe('forbidden');
  });
});

let server: Server;
let port = 0;
beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    if (req.url === '/redirect') return res.writeHead(302, { location: 'http://169.254.169.254/latest/' }).end();
    res.writeHead(200).end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise((r) => server.close(r)));

const signal = new AbortController().signal;
const call = (url: string, allowPrivate = true, lookup?: (host: string) => string[]) =>
  callTarget({ url, method: 'GET' }, null, {
    policy: { allowedHosts: [], allowPrivate },
    timeoutMs: 2000,
    signal,
    ...(lookup ? { resolve: lookup } : {}),
  });
const refused = { kind: 'failed', error: { class: 'TargetRefused', retryable: false } };

describe('targets refused before any connection', () => {
  it('every embedded-IPv4 literal of the metadata address, and site-local', async () => {
    for (const host of [
      '[::169.254.169.254]',
      '[::ffff:169.254.169.254]',
      '[::ffff:0:169.254.169.254]',
      '[64:ff9b::169.254.169.254]',
      '[64:ff9b:1::a9fe:a9fe]',
      '[2002:a9fe:a9fe::]',
      '[2001:0:a9fe:a9fe::1]',
      '[2001:0:808:808::5601:5601]',
      '[fec0::1]',
    ])
      expect(await call(`http://${host}/latest/meta-data/`), host).toMatchObject(refused);
  });

  it('IPv4 spelled in decimal, octal or hex (the URL parser makes it 169.254.169.254)', async () => {
    for (const host of ['2852039166', '0251.0376.0251.0376', '0xa9fea9fe', '0xa9.0xfe.0xa9.0xfe', '169.254.43518'])
      expect(await call(`http://${host}/`), host).toMatchObject(refused);
    expect(await call(`http://2130706433:${port}/`, false), 'decimal 127.0.0.1').toMatchObject(refused);
  });

  it('a redirect is not followed: a permanent failure, the metadata address never called', async () => {
    expect(await call(`http://127.0.0.1:${port}/redirect`)).toMatchObject({
      kind: 'failed',
      error: { class: 'HttpError', retryable: false, message: expect.stringContaining('HTTP 302') },
    });
  });

  it('a DNS answer is checked: a name resolving to an embedded metadata or private address is refused', async () => {
    for (const answer of ['169.254.169.254', '::ffff:169.254.169.254', '64:ff9b::a9fe:a9fe', '2002:a9fe:a9fe::1'])
      expect(await call(`http://metadata.test:${port}/`, true, () => [answer]), answer).toMatchObject(refused);
    // One bad answer among good ones is enough to refuse.
    expect(await call(`http://mixed.test:${port}/`, true, () => ['127.0.0.1', '::169.254.169.254'])).toMatchObject(
      refused,
    );
    expect(await call(`http://private.test:${port}/`, false, () => ['::ffff:127.0.0.1'])).toMatchObject(refused);
    // The real resolver: localhost is loopback, refused unless private addresses are allowed.
    expect(await call(`http://localhost:${port}/`, false)).toMatchObject(refused);
    expect(await call(`http://localhost:${port}/`, true)).toEqual({ kind: 'ok', status: 200 });
    // A stand-in answer that is allowed is connected to.
    expect(await call(`http://loop.test:${port}/`, true, () => ['127.0.0.1'])).toEqual({ kind: 'ok', status: 200 });
  });
});
