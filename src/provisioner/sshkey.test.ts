import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSshKey } from './sshkey.ts';

describe('generateSshKey', () => {
  it('makes an OpenSSH private key from which ssh-keygen derives the same public key', () => {
    const key = generateSshKey('kaas-test');
    expect(key.publicKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/=]+ kaas-test$/);
    const path = join(mkdtempSync(join(tmpdir(), 'kaas-key-')), 'id');
    writeFileSync(path, key.privateKey, { mode: 0o600 });
    const derived = execFileSync('ssh-keygen', ['-y', '-f', path]).toString().trim();
    expect(derived.split(' ').slice(0, 2)).toEqual(key.publicKey.split(' ').slice(0, 2));
  });
});
