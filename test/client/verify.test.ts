/** `spool/verify`: the target's side of signed deliveries, imported as a target would (package self-reference). */

import { signDelivery, verifySignature } from 'spool/verify';
import { describe, expect, it } from 'vitest';
import { parseSigningSecrets } from '../../shared/jobs/signature.js';

const NOW = 1_700_000_000_000;
const body = '{"hello":"world"}';
const jobId = '01HZX3JOB';

const delivered = (secrets: string[], at = NOW, id = jobId, b: string = body) => ({
  'spool-job-id': id,
  ...signDelivery(secrets, id, b, at),
  'content-type': 'application/json',
});

describe('verifySignature', () => {
  it('matches the documented recipe: hex HMAC-SHA256 over "<timestamp>.<job id>.<body>" (vector from openssl)', () => {
    // printf '%s' '1700000000.01HZX3JOB.{"hello":"world"}' | openssl dgst -sha256 -hmac 'whsec-test-secret'
    const h = delivered(['whsec-test-secret']);
    expect(h['spool-timestamp']).toBe('1700000000');
    expect(h['spool-signature']).toBe('v1=105707530adfce160d35d2ef616fea7314310db2f6e6832fb3ff63e482cd70e0');
  });

  it('accepts a genuine delivery, from Node headers (any case, arrays) and from Fetch Headers', () => {
    const h = delivered(['s3cret']);
    expect(verifySignature({ secret: 's3cret', headers: h, body, now: NOW })).toEqual({
      ok: true,
      jobId,
      timestamp: NOW / 1000,
    });
    const upper = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toUpperCase(), [v]]));
    expect(verifySignature({ secret: 's3cret', headers: upper, body, now: NOW }).ok).toBe(true);
    expect(verifySignature({ secret: 's3cret', headers: new Headers(h), body: Buffer.from(body), now: NOW }).ok).toBe(
      true,
    );
  });

  it('refuses a changed body, job id or timestamp, and a wrong secret', () => {
    const h = delivered(['s3cret']);
    const check = (headers: Record<string, string>, b = body, secret = 's3cret') =>
      verifySignature({ secret, headers, body: b, now: NOW });
    expect(check(h, '{"hello":"world" }')).toMatchObject({ ok: false, reason: 'mismatch' });
    expect(check({ ...h, 'spool-job-id': 'other' })).toMatchObject({ ok: false, reason: 'mismatch' });
    expect(check({ ...h, 'spool-timestamp': String(NOW / 1000 + 1) })).toMatchObject({ ok: false, reason: 'mismatch' });
    expect(check(h, body, 'not-the-secret')).toMatchObject({ ok: false, reason: 'mismatch' });
    expect(check({ ...h, 'spool-signature': 'v1=zz,v2=abc,v1=00' })).toMatchObject({ ok: false, reason: 'mismatch' });
  });

  it('refuses timestamps outside the tolerance, either way', () => {
    const h = delivered(['s3cret']);
    const at = (now: number, toleranceMs?: number) =>
      verifySignature({ secret: 's3cret', headers: h, body, now, ...(toleranceMs ? { toleranceMs } : {}) });
    expect(at(NOW + 5 * 60_000).ok).toBe(true);
    expect(at(NOW + 5 * 60_000 + 1000)).toMatchObject({ ok: false, reason: 'stale_timestamp' });
    expect(at(NOW - 5 * 60_000 - 1000)).toMatchObject({ ok: false, reason: 'stale_timestamp' });
    expect(at(NOW + 30_000, 10_000)).toMatchObject({ ok: false, reason: 'stale_timestamp' });
    expect(
      verifySignature({ secret: 's3cret', headers: { ...h, 'spool-timestamp': '17e8' }, body, now: NOW }),
    ).toMatchObject({ ok: false, reason: 'bad_timestamp' });
  });

  it('names what is missing', () => {
    const h = delivered(['s3cret']);
    const without = (k: string) => {
      const copy: Record<string, string> = { ...h };
      delete copy[k];
      return verifySignature({ secret: 's3cret', headers: copy, body, now: NOW });
    };
    expect(without('spool-signature')).toMatchObject({ ok: false, reason: 'missing_signature' });
    expect(without('spool-timestamp')).toMatchObject({ ok: false, reason: 'missing_timestamp' });
    expect(without('spool-job-id')).toMatchObject({ ok: false, reason: 'missing_job_id' });
    expect(verifySignature({ secret: [], headers: h, body, now: NOW })).toMatchObject({
      ok: false,
      reason: 'no_secret',
    });
  });

  it('rotation: Spool signs with new and old, so a target that knows either verifies; a target may accept two', () => {
    const both = delivered(parseSigningSecrets('new-secret, old-secret'));
    expect(both['spool-signature'].split(',')).toHaveLength(2);
    for (const secret of ['new-secret', 'old-secret', ['unrelated', 'old-secret']])
      expect(verifySignature({ secret, headers: both, body, now: NOW }).ok).toBe(true);
    expect(verifySignature({ secret: 'unrelated', headers: both, body, now: NOW }).ok).toBe(false);
    // After the rotation Spool signs with the new secret only; a target still accepting both verifies.
    const after = delivered(['new-secret']);
    expect(verifySignature({ secret: ['old-secret', 'new-secret'], headers: after, body, now: NOW }).ok).toBe(true);
    expect(verifySignature({ secret: 'old-secret', headers: after, body, now: NOW }).ok).toBe(false);
  });

  it('a signing setting holds one or two secrets', () => {
    expect(parseSigningSecrets('a')).toEqual(['a']);
    expect(() => parseSigningSecrets(' , ')).toThrow(/empty/);
    expect(() => parseSigningSecrets('a,b,c')).toThrow(/at most 2/);
  });
});
