import { mkdtempSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { open, seal, secretKeyFromEnv } from './secretbox.ts';

const key = randomBytes(32);

describe('seal/open', () => {
  it('round-trips and never shows the plaintext', () => {
    const sealed = seal(key, '-----BEGIN PRIVATE KEY----- secret', 'c1');
    expect(sealed).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(sealed).not.toContain('PRIVATE');
    expect(open(key, sealed, 'c1')).toBe('-----BEGIN PRIVATE KEY----- secret');
    expect(seal(key, 'same', 'c1')).not.toBe(seal(key, 'same', 'c1'));
  });

  it('refuses a wrong key, another context or tampered text with a clear error', () => {
    const sealed = seal(key, 'x', 'c1');
    expect(() => open(randomBytes(32), sealed, 'c1')).toThrow(/KAAS_SECRET_KEY is not the key/);
    expect(() => open(key, sealed, 'c2')).toThrow(expect.objectContaining({ code: 'secret_key_mismatch' }));
    const parts = sealed.split('.');
    parts[3] = Buffer.from('y').toString('base64url');
    expect(() => open(key, parts.join('.'), 'c1')).toThrow(
      expect.objectContaining({ code: 'secret_key_mismatch' }),
    );
    expect(() => open(key, 'plain text', 'c1')).toThrow(expect.objectContaining({ code: 'secret_format' }));
    expect(() => seal(Buffer.alloc(16), 'x', 'c1')).toThrow(
      expect.objectContaining({ code: 'secret_key_invalid' }),
    );
  });
});

describe('secretKeyFromEnv', () => {
  it('reads KAAS_SECRET_KEY or KAAS_SECRET_KEY_FILE (base64 of 32 bytes)', () => {
    expect(secretKeyFromEnv({ KAAS_SECRET_KEY: key.toString('base64') })).toEqual(key);
    const file = join(mkdtempSync(join(tmpdir(), 'kaas-key-')), 'key');
    writeFileSync(file, `${key.toString('base64')}\n`);
    expect(secretKeyFromEnv({ KAAS_SECRET_KEY_FILE: file })).toEqual(key);
  });

  it('explains a missing, unreadable or short key', () => {
    expect(() => secretKeyFromEnv({})).toThrow(expect.objectContaining({ code: 'secret_key_missing' }));
    expect(() => secretKeyFromEnv({ KAAS_SECRET_KEY_FILE: '/nonexistent/key' })).toThrow(/cannot read/);
    expect(() => secretKeyFromEnv({ KAAS_SECRET_KEY: randomBytes(16).toString('base64') })).toThrow(
      /exactly 32 bytes/,
    );
    expect(() => secretKeyFromEnv({ KAAS_SECRET_KEY: 'not base64!' })).toThrow(/exactly 32 bytes/);
  });
});
