import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseExpires, verifyTempUrl } from './tempurl.ts';

const path = '/v1/AUTH_abc/kaas/release.tar.gz';
const now = 1_800_000_000_000;
const expires = now / 1000 + 300;

function sign(alg: string, key: string, method = 'GET', p = path, exp: number | string = expires): string {
  return createHmac(alg, key).update(`${method}\n${exp}\n${p}`).digest('hex');
}

function check(q: Record<string, string>, opts: Partial<Parameters<typeof verifyTempUrl>[0]> = {}): boolean {
  return verifyTempUrl({
    method: 'GET',
    path,
    query: new URLSearchParams(q),
    accountKeys: ['k1'],
    containerKeys: [],
    now,
    ...opts,
  });
}

describe('verifyTempUrl', () => {
  it('accepts sha1, sha256 and sha512 hex signatures made with node:crypto', () => {
    for (const alg of ['sha1', 'sha256', 'sha512']) {
      expect(check({ temp_url_sig: sign(alg, 'k1'), temp_url_expires: String(expires) })).toBe(true);
    }
  });

  it('accepts the `alg:base64` form, standard and URL-safe', () => {
    const mac = createHmac('sha512', 'k1').update(`GET\n${expires}\n${path}`).digest();
    expect(
      check({ temp_url_sig: `sha512:${mac.toString('base64')}`, temp_url_expires: String(expires) }),
    ).toBe(true);
    expect(
      check({ temp_url_sig: `sha512:${mac.toString('base64url')}`, temp_url_expires: String(expires) }),
    ).toBe(true);
    expect(check({ temp_url_sig: `md5:${mac.toString('base64')}`, temp_url_expires: String(expires) })).toBe(
      false,
    );
  });

  it('rejects a modified signature, another key, another method and another path', () => {
    const good = sign('sha256', 'k1');
    expect(check({ temp_url_sig: good.slice(0, -4) + '0000', temp_url_expires: String(expires) })).toBe(
      false,
    );
    expect(check({ temp_url_sig: sign('sha256', 'other'), temp_url_expires: String(expires) })).toBe(false);
    expect(check({ temp_url_sig: good, temp_url_expires: String(expires) }, { method: 'PUT' })).toBe(false);
    expect(
      check({ temp_url_sig: good, temp_url_expires: String(expires) }, { path: '/v1/AUTH_abc/kaas/other' }),
    ).toBe(false);
  });

  it('rejects expired URLs, missing parameters and malformed signatures', () => {
    const past = now / 1000 - 1;
    expect(
      check({ temp_url_sig: sign('sha256', 'k1', 'GET', path, past), temp_url_expires: String(past) }),
    ).toBe(false);
    expect(check({ temp_url_expires: String(expires) })).toBe(false);
    expect(check({ temp_url_sig: sign('sha256', 'k1') })).toBe(false);
    expect(check({ temp_url_sig: 'zz', temp_url_expires: String(expires) })).toBe(false);
    expect(check({ temp_url_sig: 'sha256:***', temp_url_expires: String(expires) })).toBe(false);
  });

  it('lets HEAD use a GET or PUT signature but not GET use a PUT one', () => {
    expect(
      check(
        { temp_url_sig: sign('sha256', 'k1', 'GET'), temp_url_expires: String(expires) },
        { method: 'HEAD' },
      ),
    ).toBe(true);
    expect(
      check(
        { temp_url_sig: sign('sha256', 'k1', 'PUT'), temp_url_expires: String(expires) },
        { method: 'HEAD' },
      ),
    ).toBe(true);
    expect(check({ temp_url_sig: sign('sha256', 'k1', 'PUT'), temp_url_expires: String(expires) })).toBe(
      false,
    );
  });

  it('accepts the second account key and container keys', () => {
    const q = { temp_url_sig: sign('sha256', 'k2'), temp_url_expires: String(expires) };
    expect(check(q, { accountKeys: ['k1', 'k2'] })).toBe(true);
    expect(check(q, { accountKeys: [], containerKeys: ['k2'] })).toBe(true);
    expect(check(q, { accountKeys: [], containerKeys: [] })).toBe(false);
  });

  it('accepts ISO 8601 expiry, signed with the integer seconds', () => {
    const iso = new Date(expires * 1000).toISOString().replace('.000Z', 'Z');
    expect(parseExpires(iso)).toBe(expires);
    expect(parseExpires('tomorrow')).toBeUndefined();
    expect(check({ temp_url_sig: sign('sha256', 'k1'), temp_url_expires: iso })).toBe(true);
  });

  it('validates prefix-based URLs', () => {
    const sig = sign('sha256', 'k1', 'GET', 'prefix:/v1/AUTH_abc/kaas/rel');
    expect(check({ temp_url_sig: sig, temp_url_expires: String(expires), temp_url_prefix: 'rel' })).toBe(
      true,
    );
    expect(check({ temp_url_sig: sig, temp_url_expires: String(expires), temp_url_prefix: 'other' })).toBe(
      false,
    );
  });

  it('includes the IP range in the HMAC and checks the client address', () => {
    const sig = createHmac('sha256', 'k1').update(`ip=127.0.0.0/8\nGET\n${expires}\n${path}`).digest('hex');
    const q = { temp_url_sig: sig, temp_url_expires: String(expires), temp_url_ip_range: '127.0.0.0/8' };
    expect(check(q, { clientIp: '::ffff:127.0.0.1' })).toBe(true);
    expect(check(q, { clientIp: '10.1.1.1' })).toBe(false);
  });
});
