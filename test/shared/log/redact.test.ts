import { describe, expect, it } from 'vitest';
import { Logger } from '../../../shared/log/logger.js';
import {
  maskValues,
  REDACTED,
  redactHeaders,
  redactJob,
  redactUrl,
  redactUrls,
  secretValues,
} from '../../../shared/log/redact.js';

describe('redactUrl', () => {
  it('redacts userinfo (the password, or a token given as user name) and every query and fragment value', () => {
    expect(redactUrl('https://user:pw@example.com/hook?token=abc&page=2#access_token=xyz')).toBe(
      `https://user:${REDACTED}@example.com/hook?token=${REDACTED}&page=${REDACTED}#access_token=${REDACTED}`,
    );
    expect(redactUrl('https://ghp_abcdef@example.com/x')).toBe(`https://${REDACTED}@example.com/x`);
    expect(redactUrl('redis://:hunter22@127.0.0.1:6379/0')).toBe(`redis://:${REDACTED}@127.0.0.1:6379/0`);
    expect(redactUrl('redis://default:p@ss@host:6379')).toBe(`redis://default:${REDACTED}@host:6379`);
    // Names and valueless parameters are kept; an empty value stays empty.
    expect(redactUrl('https://example.com/a?flag&empty=&k=v')).toBe(`https://example.com/a?flag&empty=&k=${REDACTED}`);
    expect(redactUrl('https://example.com/a/b')).toBe('https://example.com/a/b');
  });

  it('finds URLs inside free text and JSON', () => {
    expect(redactUrls('GET https://u:p@h.io/x?q=1: HTTP 500')).toBe(
      `GET https://u:${REDACTED}@h.io/x?q=${REDACTED}: HTTP 500`,
    );
    expect(redactUrls(JSON.stringify({ url: 'http://a:b@c/?d=e', n: 1 }))).toBe(
      JSON.stringify({ url: `http://a:${REDACTED}@c/?d=${REDACTED}`, n: 1 }),
    );
    expect(redactUrls('no url here, a=b?c=d')).toBe('no url here, a=b?c=d');
  });
});

describe('masking by value', () => {
  it('masks a header value, the credentials after its scheme, a decoded Basic credential, and encoded forms', () => {
    const basic = Buffer.from('alice:wonder-land').toString('base64');
    const secrets = secretValues({
      Authorization: 'Bearer tok-123456',
      'X-Basic': `Basic ${basic}`,
      'X-Key': 'k"ey/with&chars',
      'X-Short': 'abc',
    });
    const echo = [
      'got Bearer tok-123456',
      'token tok-123456 alone',
      `basic ${basic}`,
      'user alice:wonder-land',
      'password wonder-land',
      `json ${JSON.stringify('k"ey/with&chars')}`,
      `query ?k=${encodeURIComponent('k"ey/with&chars')}`,
      'short abc kept',
    ].join('\n');
    const masked = maskValues(echo, secrets);
    for (const s of ['tok-123456', basic, 'wonder-land', 'k"ey', 'k\\"ey', encodeURIComponent('k"ey/with&chars')])
      expect(masked).not.toContain(s);
    expect(masked).toContain('short abc kept');
    expect(masked).toContain(REDACTED);
  });

  it('redactHeaders keeps names; redactJob redacts URL, headers and URLs in the last error, and copies', () => {
    expect(redactHeaders({ Authorization: 'x', 'X-A': 'y' })).toEqual({ Authorization: REDACTED, 'X-A': REDACTED });
    const job = {
      id: 'j',
      target: { url: 'https://u:p@h/x?s=1', method: 'POST', headers: { Authorization: 'Bearer z' } },
      lastError: { message: 'POST https://h/x?s=1: HTTP 500', class: 'HttpError' },
    };
    const shown = redactJob(job);
    expect(shown).toEqual({
      id: 'j',
      target: { url: `https://u:${REDACTED}@h/x?s=${REDACTED}`, method: 'POST', headers: { Authorization: REDACTED } },
      lastError: { message: `POST https://h/x?s=${REDACTED}: HTTP 500`, class: 'HttpError' },
    });
    expect(job.target.url).toBe('https://u:p@h/x?s=1');
  });
});

describe('logger', () => {
  it('redacts URLs in every line, whatever field holds them', () => {
    const lines: string[] = [];
    const log = new Logger({ sink: (l) => lines.push(l), logLevel: 'DEBUG' });
    log.info('connecting to redis://:hunter22@127.0.0.1:6379', { target: 'https://bob:pw@api.example.com/?key=k1' });
    log.error('failed', new Error('fetch https://x.io/?sig=abc failed'));
    const all = lines.join('\n');
    for (const s of ['hunter22', ':pw@', 'key=k1', 'sig=abc']) expect(all).not.toContain(s);
    expect(all).toContain(`redis://:${REDACTED}@127.0.0.1:6379`);
    expect(lines).toHaveLength(2);
  });
});
