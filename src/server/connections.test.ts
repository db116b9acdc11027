import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { createCa, issueServerCert } from '../auth/pki.ts';
import { createLogger } from '../log.ts';
import { openStore } from '../store/db.ts';
import { buildApp } from './app.ts';

const logger = createLogger({ level: 'silent' });

describe('closing the server', () => {
  it.each([false, true])(
    'does not wait for a connection that never sent a request (tls: %s)',
    async (tls) => {
      const store = openStore('sqlite::memory:');
      const ca = await createCa({ commonName: 'close-test' });
      const cert = await issueServerCert({ ca, hosts: ['127.0.0.1'] });
      const app = await buildApp(
        { store, logger, now: () => new Date() },
        tls ? { https: { key: cert.keyPem, cert: cert.certPem } } : {},
      );
      await app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = app.server.address() as { port: number };
      // What Go's HTTP transport leaves behind: a connection, handshake done, no request.
      const socket = tls
        ? tlsConnect({ host: '127.0.0.1', port, ca: ca.certPem })
        : connect(port, '127.0.0.1');
      await new Promise((resolve) => socket.once(tls ? 'secureConnect' : 'connect', resolve));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const closed = new Promise((resolve) => socket.once('close', resolve));
      const started = Date.now();
      await app.close();
      expect(Date.now() - started).toBeLessThan(2_000);
      await closed;
      await store.close();
    },
  );
});
