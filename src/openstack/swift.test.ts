import { describe, expect, it } from 'vitest';
import { tempUrl } from './swift.ts';

// Expected signatures computed independently with:
//   printf 'GET\n1700000000\n/v1/AUTH_acct/cont/obj' | openssl dgst -sha256 -hmac mykey
// (sha512: `-binary | base64 | tr '+/' '-_' | tr -d =`)
describe('tempUrl', () => {
  const url = 'https://swift.example/v1/AUTH_acct/cont/obj';

  it('signs with HMAC-SHA256 hex by default', () => {
    expect(tempUrl({ method: 'GET', url, expires: 1700000000, key: 'mykey' })).toBe(
      `${url}?temp_url_sig=ef22a7d675bc90ce8957f1d2a82aafac0c6288400fb47f6b886d6c2985c0b344&temp_url_expires=1700000000`,
    );
  });

  it('signs with HMAC-SHA1 hex', () => {
    expect(
      tempUrl({ method: 'GET', url, expires: new Date(1700000000_500), key: 'mykey', digest: 'sha1' }),
    ).toBe(`${url}?temp_url_sig=baeda31b9a7d03cb49f79854237550dfd64d09f1&temp_url_expires=1700000000`);
  });

  it('signs with the sha512:<base64url> form', () => {
    const sig =
      'sha512:CtyCbUqK8YVVLAonOM-4n6Ph3lWxZ6RP0KeH9zzCnzRSJL_BY9rVPM5UITg-J7jVDgAELPv6yobT0qYGG_JKJw';
    expect(tempUrl({ method: 'GET', url, expires: 1700000000, key: 'mykey', digest: 'sha512' })).toBe(
      `${url}?temp_url_sig=${encodeURIComponent(sig)}&temp_url_expires=1700000000`,
    );
  });

  it('accepts a bare path, drops an existing query and signs the decoded path', () => {
    expect(
      tempUrl({ method: 'GET', url: '/v1/AUTH_acct/cont/obj?x=1', expires: 1700000000, key: 'mykey' }),
    ).toBe(
      '/v1/AUTH_acct/cont/obj?temp_url_sig=ef22a7d675bc90ce8957f1d2a82aafac0c6288400fb47f6b886d6c2985c0b344&temp_url_expires=1700000000',
    );
    const a = tempUrl({ method: 'PUT', url: '/v1/AUTH_a/c/with%20space', expires: 1, key: 'k' });
    const b = tempUrl({ method: 'GET', url: '/v1/AUTH_a/c/with%20space', expires: 1, key: 'k' });
    expect(a).not.toBe(b);
  });

  it('signs only the /v1/ part of a path-prefixed endpoint', () => {
    expect(
      tempUrl({
        method: 'GET',
        url: 'http://c/object-store/v1/AUTH_acct/cont/obj',
        expires: 1700000000,
        key: 'mykey',
      }),
    ).toBe(
      'http://c/object-store/v1/AUTH_acct/cont/obj?temp_url_sig=ef22a7d675bc90ce8957f1d2a82aafac0c6288400fb47f6b886d6c2985c0b344&temp_url_expires=1700000000',
    );
  });

  it('rejects bad input', () => {
    expect(() => tempUrl({ method: 'GET', url: '/cont/obj', expires: 1, key: 'k' })).toThrow(
      /\/v1\/<account>/,
    );
    expect(() => tempUrl({ method: 'GET', url, expires: 0, key: 'k' })).toThrow(/positive/);
    expect(() => tempUrl({ method: 'GET', url, expires: 1, key: '' })).toThrow(/key/);
  });
});
