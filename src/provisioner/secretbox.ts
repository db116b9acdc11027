/**
 * Authenticated encryption of cluster secrets at rest (AES-256-GCM, node:crypto). The database
 * only ever holds the sealed text, so a leaked backup or replica reveals no CA key, join token or
 * admin credential without the key kaas is started with (KAAS_SECRET_KEY or KAAS_SECRET_KEY_FILE).
 * Each sealed value names the id of the key that sealed it, so the key can be rotated: during a
 * rotation KAAS_SECRET_KEY_PREVIOUS still opens what the old key sealed until `kaas secrets
 * rotate-key` has re-sealed it.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InputError } from '../errors.ts';

/** Sealed before key ids: `v1.<iv>.<tag>.<ciphertext>`; still opened, never written. */
const V1 = 'v1';
/** `v2.<key id>.<iv>.<tag>.<ciphertext>`. */
const V2 = 'v2';
/** GCM tag length, pinned on both sides: a shorter tag (which GCM would accept) is refused. */
const TAG_BYTES = 16;

/** The keys a kaas holds: the current one seals and opens, the previous one (during a rotation) only opens. */
export interface SecretKeys {
  current: Buffer;
  previous?: Buffer;
}

function checkKey(key: Buffer): void {
  if (key.length !== 32) {
    throw new InputError(`the secret key must be 32 bytes (AES-256), got ${key.length}`, {
      code: 'secret_key_invalid',
      field: 'KAAS_SECRET_KEY',
    });
  }
}

/** A key's public id: a short hash, so a sealed value says which key opens it without revealing it. */
export function secretKeyId(key: Buffer): string {
  checkKey(key);
  return createHash('sha256').update('kaas secret key id\u0000').update(key).digest('base64url').slice(0, 11);
}

/** The key id a sealed value names, or undefined for a value sealed before key ids (v1). */
export function sealedKeyId(sealed: string): string | undefined {
  const [version, keyId] = sealed.split('.');
  return version === V2 ? keyId : undefined;
}

function ring(keys: Buffer | SecretKeys): SecretKeys {
  return Buffer.isBuffer(keys) ? { current: keys } : keys;
}

/**
 * Seals `plaintext` under the current key as `v2.<key id>.<iv>.<tag>.<ciphertext>` (base64url).
 * `context` (e.g. the cluster id) is bound as associated data, so a sealed value copied to another
 * cluster's row does not open.
 */
export function seal(keys: Buffer | SecretKeys, plaintext: string, context: string): string {
  const key = ring(keys).current;
  const keyId = secretKeyId(key);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(context));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [V2, keyId, ...[iv, cipher.getAuthTag(), body].map((p) => p.toString('base64url'))].join('.');
}

function decrypt(key: Buffer, parts: { iv: string; tag: string; body: string }, context: string) {
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(parts.iv, 'base64url'), {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(Buffer.from(context));
  decipher.setAuthTag(Buffer.from(parts.tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(parts.body, 'base64url')), decipher.final()]).toString(
    'utf8',
  );
}

function formatError(): InputError {
  return new InputError('stored cluster secrets are not in a format this kaas understands', {
    code: 'secret_format',
  });
}

/**
 * Opens a value made by {@link seal} with the key its id names (a v1 value: with whichever key
 * opens it). An unknown key id, a wrong key, context, tampered text or a short tag is an InputError.
 */
export function open(keys: Buffer | SecretKeys, sealed: string, context: string): string {
  const { current, previous } = ring(keys);
  const held = [current, ...(previous ? [previous] : [])];
  const fields = sealed.split('.');
  const version = fields[0];
  const [keyId, iv, tag, body] = version === V2 ? fields.slice(1) : [undefined, ...fields.slice(1)];
  if (
    (version !== V1 && version !== V2) ||
    fields.length !== (version === V2 ? 5 : 4) ||
    !iv ||
    !tag ||
    body === undefined
  ) {
    throw formatError();
  }
  if (Buffer.from(tag, 'base64url').length !== TAG_BYTES) {
    throw new InputError(
      `stored cluster secrets carry a ${TAG_BYTES}-byte tag; this one is shorter or longer`,
      {
        code: 'secret_format',
      },
    );
  }
  const candidates = keyId === undefined ? held : held.filter((k) => secretKeyId(k) === keyId);
  if (candidates.length === 0) {
    throw new InputError(
      `cluster secrets were sealed with key id ${keyId}, but KAAS_SECRET_KEY is ${secretKeyId(current)}${
        previous
          ? ` and KAAS_SECRET_KEY_PREVIOUS is ${secretKeyId(previous)}`
          : ' (no KAAS_SECRET_KEY_PREVIOUS)'
      }: start kaas with the key that sealed them`,
      { code: 'secret_key_mismatch' },
    );
  }
  let failure: unknown;
  for (const key of candidates) {
    try {
      return decrypt(key, { iv, tag, body }, context);
    } catch (error) {
      failure = error;
    }
  }
  throw new InputError(
    'cannot decrypt the cluster secrets: KAAS_SECRET_KEY is not the key they were encrypted with',
    { code: 'secret_key_mismatch', cause: failure },
  );
}

/** Reads one key: `name` (base64 of 32 bytes) or `<name>_FILE` (a file holding the same text). */
function keyFromEnv(env: Record<string, string | undefined>, name: string): Buffer | undefined {
  let text = env[name];
  let source = name;
  const file = env[`${name}_FILE`];
  if (text === undefined && file) {
    source = `${name}_FILE`;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new InputError(`cannot read ${source} ${file}`, {
        code: 'secret_key_invalid',
        field: source,
        cause: error,
      });
    }
  }
  if (text === undefined || text.trim() === '') return undefined;
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

/**
 * The secret key from the environment: KAAS_SECRET_KEY (base64 of 32 bytes) or KAAS_SECRET_KEY_FILE
 * (a file holding the same base64 text, e.g. a mounted Kubernetes Secret). Generate one with
 * `openssl rand -base64 32`.
 */
export function secretKeyFromEnv(env: Record<string, string | undefined>): Buffer {
  const key = keyFromEnv(env, 'KAAS_SECRET_KEY');
  if (!key) {
    throw new InputError(
      'set KAAS_SECRET_KEY (base64 of 32 random bytes, e.g. `openssl rand -base64 32`) or KAAS_SECRET_KEY_FILE: cluster secrets are encrypted with it',
      { code: 'secret_key_missing', field: 'KAAS_SECRET_KEY' },
    );
  }
  return key;
}

/**
 * The current key and, during a rotation, the previous one: KAAS_SECRET_KEY_PREVIOUS or
 * KAAS_SECRET_KEY_PREVIOUS_FILE, in the same format as the current key.
 */
export function secretKeysFromEnv(env: Record<string, string | undefined>): SecretKeys {
  const current = secretKeyFromEnv(env);
  const previous = keyFromEnv(env, 'KAAS_SECRET_KEY_PREVIOUS');
  return previous ? { current, previous } : { current };
}
