import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  base62,
  checksum,
  generateToken,
  hashSecret,
  isWellFormedToken,
  safeEqual,
  TOKEN_LENGTH,
  tokenExpiry,
} from './tokens.ts';

describe('api token format', () => {
  it('has the prefix, a fixed length and a valid checksum', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const t = generateToken();
      expect(t).toMatch(/^kaas_[0-9A-Za-z]{49}$/);
      expect(t).toHaveLength(TOKEN_LENGTH);
      expect(isWellFormedToken(t)).toBe(true);
      seen.add(t);
    }
    expect(seen.size).toBe(50);
  });

  it('keeps the fixed length for all-zero and all-one random bits', () => {
    expect(generateToken((n) => Buffer.alloc(n, 0))).toHaveLength(TOKEN_LENGTH);
    expect(isWellFormedToken(generateToken((n) => Buffer.alloc(n, 0xff)))).toBe(true);
  });

  it('rejects a one-character typo, a wrong prefix and foreign strings', () => {
    const t = generateToken();
    const i = 20;
    const typo = t.slice(0, i) + (t[i] === 'a' ? 'b' : 'a') + t.slice(i + 1);
    expect(isWellFormedToken(typo)).toBe(false);
    expect(isWellFormedToken(`kaaz_${t.slice(5)}`)).toBe(false);
    expect(isWellFormedToken(t.slice(0, -1))).toBe(false);
    expect(isWellFormedToken('gAAAAABlZ-keystone-fernet-token')).toBe(false);
    expect(isWellFormedToken('')).toBe(false);
    expect(isWellFormedToken(`${t.slice(0, -1)}!`)).toBe(false);
    // Outside ASCII, also a character whose low seven bits are a digit ('\u00b0' & 0x7f is '0').
    expect(isWellFormedToken(`${t.slice(0, i)}é${t.slice(i + 1)}`)).toBe(false);
    expect(isWellFormedToken(`${t.slice(0, i)}\u00b0${t.slice(i + 1)}`)).toBe(false);
    expect(isWellFormedToken(`${t.slice(0, -1)}\u00b0`)).toBe(false);
  });

  it('writes the checksum exactly as base62 of the BigInt CRC32 did, for many tokens', () => {
    const bodies = [
      ...Array.from({ length: 20_000 }, () => generateToken().slice(0, -6)),
      generateToken((n) => Buffer.alloc(n, 0)).slice(0, -6),
      generateToken((n) => Buffer.alloc(n, 0xff)).slice(0, -6),
      '',
    ];
    expect(bodies.filter((body) => checksum(body) !== base62(BigInt(crc32(body)), 6))).toEqual([]);
  });

  it('refuses a value too large for the width', () => {
    expect(() => base62(62n ** 2n, 2)).toThrow(RangeError);
    expect(base62(61n, 2)).toBe('0z');
  });

  it('hashes with SHA-256 and compares in constant time', () => {
    expect(hashSecret('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(safeEqual('a', 'a')).toBe(true);
    expect(safeEqual('a', 'b')).toBe(false);
    expect(safeEqual('a', 'ab')).toBe(false);
  });
});

describe('tokenExpiry', () => {
  const now = new Date('2030-01-01T00:00:00Z');
  it('defaults to one year', () => {
    expect(tokenExpiry(now, undefined).toISOString()).toBe('2031-01-01T00:00:00.000Z');
  });
  it('accepts 1..730 days', () => {
    expect(tokenExpiry(now, 1).toISOString()).toBe('2030-01-02T00:00:00.000Z');
    expect(tokenExpiry(now, 730).getTime()).toBe(now.getTime() + 730 * 86_400_000);
  });
  it.each([0, 731, 1.5, -1, '30', true])('rejects %j', (v) => {
    expect(() => tokenExpiry(now, v)).toThrow(/expiresInDays must be a whole number from 1 to 730/);
  });
});
