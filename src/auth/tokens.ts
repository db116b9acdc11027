import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';
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
const SHAPE = new RegExp(`^${TOKEN_PREFIX}[0-9A-Za-z]{${SECRET_LENGTH + CHECK_LENGTH}}$`);

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
 * The CRC32 of a token's body in CHECK_LENGTH base62 digits, as base62() writes it: a CRC32 is below
 * 2^32, so plain numbers divide it exactly and every TokenReview is spared BigInt arithmetic.
 */
export function checksum(body: string): string {
  let v = crc32(body);
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
  if (token.length !== TOKEN_LENGTH || !SHAPE.test(token)) return false;
  const expected = checksum(token.slice(0, TOKEN_LENGTH - CHECK_LENGTH));
  // Constant time over the check digits, without the two buffers timingSafeEqual needs.
  let differ = 0;
  for (let i = 0; i < CHECK_LENGTH; i++) {
    differ |= token.charCodeAt(TOKEN_LENGTH - CHECK_LENGTH + i) ^ expected.charCodeAt(i);
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
