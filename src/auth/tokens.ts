import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { InputError } from '../errors.ts';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** Recognisable prefix: secret scanners and humans can tell a kaas token at a glance. */
export const TOKEN_PREFIX = 'kaas_';
/** 256 random bits need 43 base62 digits (62^43 > 2^256). */
const SECRET_LENGTH = 43;
/** CRC32 fits in 6 base62 digits (62^6 > 2^32). */
const CHECK_LENGTH = 6;
/** Total length of every kaas token. */
export const TOKEN_LENGTH = TOKEN_PREFIX.length + SECRET_LENGTH + CHECK_LENGTH;
/** Length of a token without its check digits: what the checksum covers. */
const BODY_LENGTH = TOKEN_LENGTH - CHECK_LENGTH;
/** Each base62 digit's value by character code (ASCII), -1 for the other characters. */
const DIGIT_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DIGIT_VALUE[ALPHABET.charCodeAt(i)] = i;
const digitValue = (code: number): number => (code < 128 ? (DIGIT_VALUE[code] as number) : -1);
/** The CRC-32 table of zlib's polynomial (IEEE 802.3, reflected). */
const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});

/** Fixed-width base62 so every token has the same length. */
export function base62(value: bigint, width: number): string {
  let out = '';
  let v = value;
  for (let i = 0; i < width; i++) {
    out = ALPHABET[Number(v % 62n)] + out;
    v /= 62n;
  }
  if (v !== 0n) throw new RangeError(`value does not fit in ${width} base62 digits`);
  return out;
}

/**
 * zlib's crc32 of the first `end` characters of `text`, whose characters must be ASCII (a token's
 * are, once its shape is checked). Computed here rather than by node:zlib, which would copy the
 * string into a buffer and cross into C++ on every TokenReview: together more than the CRC itself.
 */
function crc32Ascii(text: string, end: number): number {
  let crc = -1;
  for (let i = 0; i < end; i++) crc = (CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}
/** The CRC32's running value after a token's prefix, which every token begins with. */
const PREFIX_CRC = crc32Ascii(TOKEN_PREFIX, TOKEN_PREFIX.length) ^ -1;

/**
 * The CRC32 of a token's body (ASCII) in CHECK_LENGTH base62 digits, as base62() writes it: a CRC32
 * is below 2^32, so plain numbers divide it exactly and every TokenReview is spared BigInt arithmetic.
 */
export function checksum(body: string): string {
  let v = crc32Ascii(body, body.length);
  let out = '';
  for (let i = 0; i < CHECK_LENGTH; i++) {
    out = ALPHABET[v % 62] + out;
    v = Math.floor(v / 62);
  }
  return out;
}

/** A new token: prefix + 256 random bits + CRC32 of both; shown to the user once, never stored. */
export function generateToken(random: (n: number) => Buffer = randomBytes): string {
  const secret = base62(BigInt(`0x${random(32).toString('hex')}`), SECRET_LENGTH);
  const body = TOKEN_PREFIX + secret;
  return body + checksum(body);
}

/**
 * True when the string has the kaas token shape and a matching checksum. Checked before any lookup,
 * so typos and foreign tokens (Keystone tokens, other vendors') cost no database or Keystone call.
 */
export function isWellFormedToken(token: string): boolean {
  if (token.length !== TOKEN_LENGTH || !token.startsWith(TOKEN_PREFIX)) return false;
  // One pass over the body: its digits checked, its CRC32 computed (as crc32Ascii does).
  let crc = PREFIX_CRC;
  for (let i = TOKEN_PREFIX.length; i < BODY_LENGTH; i++) {
    const code = token.charCodeAt(i);
    if (digitValue(code) < 0) return false;
    crc = (CRC_TABLE[(crc ^ code) & 0xff] as number) ^ (crc >>> 8);
  }
  // The check digits, last first: all of them (constant time), on numbers, without building the
  // expected digits as a string.
  crc = (crc ^ -1) >>> 0;
  let differ = 0;
  for (let i = TOKEN_LENGTH - 1; i >= BODY_LENGTH; i--) {
    const value = digitValue(token.charCodeAt(i));
    if (value < 0) return false;
    differ |= value ^ (crc % 62);
    crc = Math.floor(crc / 62);
  }
  return differ === 0;
}

/**
 * Hex SHA-256: the only form in which tokens (and session secrets) are stored and looked up. The
 * one-shot `crypto.hash` skips the Hash object createHash allocates on every TokenReview.
 */
export function hashSecret(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/** Constant-time equality of two strings (false on different lengths). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Token lifetime limits, in days. */
export interface ExpiryPolicy {
  defaultDays: number;
  maxDays: number;
}

/** Default: one year, at most two. */
export const defaultExpiryPolicy: ExpiryPolicy = { defaultDays: 365, maxDays: 730 };

/** Validates `expiresInDays` against the policy and returns the expiry time. */
export function tokenExpiry(
  now: Date,
  expiresInDays: unknown,
  policy: ExpiryPolicy = defaultExpiryPolicy,
): Date {
  const days = expiresInDays ?? policy.defaultDays;
  if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > policy.maxDays) {
    throw new InputError(`expiresInDays must be a whole number from 1 to ${policy.maxDays}`, {
      field: 'expiresInDays',
    });
  }
  return new Date(now.getTime() + days * 86_400_000);
}
