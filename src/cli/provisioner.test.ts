import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCa } from '../auth/pki.ts';
import { webhookFromEnv } from './provisioner.ts';

describe('the webhook target from the environment', () => {
  it('is KAAS_URL, the kaas server, unless KAAS_WEBHOOK_URL names another address', async () => {
    const ca = await createCa({ commonName: 'kaas-webhook-test' });
    const caFile = join(mkdtempSync(join(tmpdir(), 'kaas-webhook-')), 'ca.pem');
    writeFileSync(caFile, ca.certPem);
    expect(webhookFromEnv({})).toBeUndefined();
    expect(webhookFromEnv({ KAAS_URL: 'https://kaas.example', KAAS_CA_FILE: caFile })).toEqual({
      kaasUrl: 'https://kaas.example',
      caPem: ca.certPem,
    });
    expect(
      webhookFromEnv({
        KAAS_URL: 'https://kaas.example',
        KAAS_WEBHOOK_URL: 'https://kaas.internal:8443',
        KAAS_CA_FILE: caFile,
      }),
    ).toEqual({ kaasUrl: 'https://kaas.internal:8443', caPem: ca.certPem });
    // kaas dev: plain http to this machine, no CA.
    expect(webhookFromEnv({ KAAS_URL: 'http://127.0.0.1:8080' })).toEqual({
      kaasUrl: 'http://127.0.0.1:8080',
    });
  });

  it('refuses plain http elsewhere, https without its CA and a non-URL, naming the variable', () => {
    expect(() => webhookFromEnv({ KAAS_URL: 'http://kaas.example' })).toThrow(
      /^KAAS_URL must be https:\/\/ \(http:\/\/ only on 127.0.0.1 or localhost\)/,
    );
    expect(() => webhookFromEnv({ KAAS_WEBHOOK_URL: 'http://10.0.0.5' })).toThrow(
      /^KAAS_WEBHOOK_URL must be https/,
    );
    expect(() => webhookFromEnv({ KAAS_URL: 'https://kaas.example' })).toThrow(/set KAAS_CA_FILE/);
    expect(() => webhookFromEnv({ KAAS_URL: 'kaas.example' })).toThrow(/^KAAS_URL must be a URL/);
  });
});
