import { mkdtempSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sealV1 } from '../../test/support/sealV1.ts';
import { open, seal, sealedKeyId, secretKeyFromEnv, secretKeyId, secretKeysFromEnv } from './secretbox.ts';

const key = randomBytes(32);

describe('seal/open', () => {
  it('round-trips and never shows the plaintext', () => {
    const sealed = seal(key, '-----BEGIN PRIVATE KEY----- secret', 'c1');
    expect(sealed).toMatch(/^v2\.[\w-]{11}\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(sealedKeyId(sealed)).toBe(secretKeyId(key));
    expect(sealed).not.toContain('PRIVATE');
    expect(open(key, sealed, 'c1')).toBe('-----BEGIN PRIVATE KEY----- secret');
    expect(seal(key, 'same', 'c1')).not.toBe(seal(key, 'same', 'c1'));
  });

  it('refuses a wrong key, another context or tampered text with a clear error', () => {
    const sealed = seal(key, 'x', 'c1');
    expect(() => open(randomBytes(32), sealed, 'c1')).toThrow(/start kaas with the key that sealed them/);
    expect(() => open(key, sealed, 'c2')).toThrow(expect.objectContaining({ code: 'secret_key_mismatch' }));
    const parts = sealed.split('.');
    parts[4] = Buffer.from('y').toString('base64url');
    expect(() => open(key, parts.join('.'), 'c1')).toThrow(
      expect.objectContaining({ code: 'secret_key_mismatch' }),
    );
    expect(() => open(key, 'plain text', 'c1')).toThrow(expect.objectContaining({ code: 'secret_format' }));
    expect(() => seal(Buffer.alloc(16), 'x', 'c1')).toThrow(
      expect.objectContaining({ code: 'secret_key_invalid' }),
    );
  });
});

describe('key ids and rotation', () => {
  const previous = randomBytes(32);
  const both = { current: key, previous };

  it('names the key by a stable id that is not the key', () => {
    expect(secretKeyId(key)).toBe(secretKeyId(Buffer.from(key)));
    expect(secretKeyId(key)).not.toBe(secretKeyId(previous));
    expect(secretKeyId(key)).not.toContain(key.toString('base64url').slice(0, 8));
    expect(sealedKeyId(sealV1(key, 'x', 'c1'))).toBeUndefined();
  });

  it('opens values of the current and the previous key, and old values without a key id', () => {
    expect(open(both, seal(previous, 'old', 'c1'), 'c1')).toBe('old');
    expect(open(both, seal(both, 'new', 'c1'), 'c1')).toBe('new');
    expect(sealedKeyId(seal(both, 'new', 'c1'))).toBe(secretKeyId(key));
    expect(open(both, sealV1(previous, 'v1 old', 'c1'), 'c1')).toBe('v1 old');
    expect(open(key, sealV1(key, 'v1 current', 'c1'), 'c1')).toBe('v1 current');
    expect(() => open(key, sealV1(previous, 'v1 old', 'c1'), 'c1')).toThrow(
      expect.objectContaining({ code: 'secret_key_mismatch' }),
    );
  });

  it('refuses a value under an unknown key id, naming the ids it holds', () => {
    const stranger = seal(randomBytes(32), 'x', 'c1');
    expect(() => open(both, stranger, 'c1')).toThrow(
      expect.objectContaining({
        code: 'secret_key_mismatch',
        message: expect.stringContaining(
          `sealed with key id ${sealedKeyId(stranger)}, but KAAS_SECRET_KEY is ${secretKeyId(key)} and KAAS_SECRET_KEY_PREVIOUS is ${secretKeyId(previous)}`,
        ),
      }),
    );
    expect(() => open(key, seal(previous, 'x', 'c1'), 'c1')).toThrow(/no KAAS_SECRET_KEY_PREVIOUS/);
  });

  it('refuses a truncated or padded tag, and malformed values', () => {
    const parts = seal(key, 'x', 'c1').split('.');
    const tag = Buffer.from(parts[3]!, 'base64url');
    for (const bad of [tag.subarray(0, 12), tag.subarray(0, 4), Buffer.concat([tag, Buffer.from([0])])]) {
      const forged = [...parts.slice(0, 3), bad.toString('base64url'), parts[4]].join('.');
      expect(() => open(key, forged, 'c1')).toThrow(
        expect.objectContaining({ code: 'secret_format', message: expect.stringContaining('16-byte tag') }),
      );
    }
    const v1 = sealV1(key, 'x', 'c1').split('.');
    v1[2] = Buffer.from(v1[2]!, 'base64url').subarray(0, 8).toString('base64url');
    expect(() => open(key, v1.join('.'), 'c1')).toThrow(expect.objectContaining({ code: 'secret_format' }));
    for (const bad of ['v2.a.b.c', 'v2.a.b.c.d.e', 'v3.a.b.c.d', '']) {
      expect(() => open(key, bad, 'c1')).toThrow(expect.objectContaining({ code: 'secret_format' }));
    }
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

  it('reads the previous key of a rotation from KAAS_SECRET_KEY_PREVIOUS or its _FILE', () => {
    const old = randomBytes(32);
    const current = { KAAS_SECRET_KEY: key.toString('base64') };
    expect(secretKeysFromEnv(current)).toEqual({ current: key });
    expect(secretKeysFromEnv({ ...current, KAAS_SECRET_KEY_PREVIOUS: old.toString('base64') })).toEqual({
      current: key,
      previous: old,
    });
    const file = join(mkdtempSync(join(tmpdir(), 'kaas-key-')), 'old');
    writeFileSync(file, old.toString('base64'));
    expect(secretKeysFromEnv({ ...current, KAAS_SECRET_KEY_PREVIOUS_FILE: file }).previous).toEqual(old);
    expect(() => secretKeysFromEnv({ ...current, KAAS_SECRET_KEY_PREVIOUS: 'short' })).toThrow(
      expect.objectContaining({ field: 'KAAS_SECRET_KEY_PREVIOUS' }),
    );
    expect(() => secretKeysFromEnv({ KAAS_SECRET_KEY_PREVIOUS: old.toString('base64') })).toThrow(
      expect.objectContaining({ code: 'secret_key_missing' }),
    );
  });
});
