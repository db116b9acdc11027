import type { FastifyInstance } from 'fastify';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../server/app.ts';
import { createLogger } from '../log.ts';
import { openStore, type Store } from '../store/db.ts';
import { createCa, issueServerCert, type KeyPair } from './pki.ts';

describe('PKI and HTTPS serving', () => {
  let ca: KeyPair;
  let app: FastifyInstance;
  let store: Store;
  let url: string;
  beforeAll(async () => {
    ca = await createCa({ commonName: 'kaas test CA', days: 2 });
    const server = await issueServerCert({ ca, hosts: ['127.0.0.1', 'localhost'], days: 1 });
    store = openStore('sqlite::memory:');
    app = await buildApp(
      { store, logger: createLogger({ level: 'silent' }), now: () => new Date() },
      { https: { key: server.keyPem, cert: server.certPem } },
    );
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app.close();
    await store.close();
  });

  it('serves HTTPS that a client trusting only the generated CA accepts', async () => {
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const dispatcher = new Agent({ connect: { ca: ca.certPem } });
    const res = await request(`${url}/healthz`, { dispatcher });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ status: 'ok' });
    await dispatcher.close();
  });

  it('is refused by a client that trusts another CA', async () => {
    const other = await createCa({ commonName: 'someone else', days: 1 });
    const dispatcher = new Agent({ connect: { ca: other.certPem } });
    await expect(request(`${url}/healthz`, { dispatcher })).rejects.toThrow(/certificate/i);
    await dispatcher.close();
  });

  it('validates its inputs', async () => {
    await expect(createCa({ commonName: 'x', days: 0 })).rejects.toThrow(/days/);
    await expect(issueServerCert({ ca, hosts: [] })).rejects.toThrow(/at least one host/);
    await expect(issueServerCert({ ca, hosts: ['bad host!'] })).rejects.toThrow(/not a host name/);
    await expect(issueServerCert({ ca: { certPem: 'x', keyPem: 'y' }, hosts: ['a'] })).rejects.toThrow(
      /openssl x509 failed/,
    );
  });
});
