/**
 * Authenticated encryption of cluster secrets at rest (AES-256-GCM, node:crypto). The database
 * only ever holds the sealed text, so a leaked backup or replica reveals no CA key, join token or
 * admin credential without the key kaas is started with (KAAS_SECRET_KEY or KAAS_SECRET_KEY_FILE).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InputError } from '../errors.ts';

const VERSION = 'v1';

function checkKey(key: Buffer): void {
  if (key.length !== 32) {
    throw new InputError(`the secret key must be 32 bytes (AES-256), got ${key.length}`, {
      code: 'secret_key_invalid',
      field: 'KAAS_SECRET_KEY',
    });
  }
}

/**
 * Seals `plaintext` as `v1.<iv>.<tag>.<ciphertext>` (base64url). `context` (e.g. the cluster id) is
 * bound as associated data, so a sealed value copied to another cluster's row does not open.
 */
export function seal(key: Buffer, plaintext: string, context: string): string {
  checkKey(key);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, iv, cipher.getAuthTag(), body]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

/** Opens a value made by {@link seal}; a wrong key, context or tampered text is an InputError. */
export function open(key: Buffer, sealed: string, context: string): string {
  checkKey(key);
  const [version, iv, tag, body] = sealed.split('.');
  if (version !== VERSION || !iv || !tag || body === undefined) {
    throw new InputError('stored cluster secrets are not in a format this kaas understands', {
      code: 'secret_format',
    });
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
      'utf8',
    );
  } catch (error) {
    throw new InputError(
      'cannot decrypt the cluster secrets: KAAS_SECRET_KEY is not the key they were encrypted with',
      { code: 'secret_key_mismatch', cause: error },
    );
  }
}

/**
 * The secret key from the environment: KAAS_SECRET_KEY (base64 of 32 bytes) or KAAS_SECRET_KEY_FILE
 * (a file holding the same base64 text, e.g. a mounted Kubernetes Secret). Generate one with
 * `openssl rand -base64 32`.
 */
export function secretKeyFromEnv(env: Record<string, string | undefined>): Buffer {
  let text = env.KAAS_SECRET_KEY;
  let source = 'KAAS_SECRET_KEY';
  if (text === undefined && env.KAAS_SECRET_KEY_FILE) {
    source = 'KAAS_SECRET_KEY_FILE';
    try {
      text = readFileSync(env.KAAS_SECRET_KEY_FILE, 'utf8');
    } catch (error) {
      throw new InputError(`cannot read KAAS_SECRET_KEY_FILE ${env.KAAS_SECRET_KEY_FILE}`, {
        code: 'secret_key_invalid',
        field: source,
        cause: error,
      });
    }
  }
  if (text === undefined || text.trim() === '') {
    throw new InputError(
      'set KAAS_SECRET_KEY (base64 of 32 random bytes, e.g. `openssl rand -base64 32`) or KAAS_SECRET_KEY_FILE: cluster secrets are encrypted with it',
      { code: 'secret_key_missing', field: 'KAAS_SECRET_KEY' },
    );
  }
  const trimmed = text.trim();
  const key = /^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed) ? Buffer.from(trimmed, 'base64') : Buffer.alloc(0);
  if (key.length !== 32) {
    throw new InputError(
      `${source} must be the base64 of exactly 32 bytes (e.g. \`openssl rand -base64 32\`)`,
      {
        code: 'secret_key_invalid',
        field: source,
      },
    );
  }
  return key;
}
