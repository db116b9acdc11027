import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { Writable } from 'node:stream';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueServerCert } from '../auth/pki.ts';
import { startCloudsim, type Cloudsim } from '../cloudsim/index.ts';
import { InputError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { openStore } from '../store/db.ts';
import { migrateToLatest } from '../store/migrate.ts';
import { up as panelTablesUp } from '../store/migrations/0005_panel.ts';
import { cloudEnv } from '../../test/ha/support.ts';
import { testReleaseDeps, testSpec, testWebhook } from '../../test/provisioner/support.ts';
import { exitCodeFor } from './exit.ts';
import { serveConfigFromEnv, startServer, type RunningServer } from './serve.ts';

const logger = createLogger({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'kaas-serve-'));
const secretKey = randomBytes(32).toString('base64');
let sim: Cloudsim;

beforeAll(async () => {
  sim = await startCloudsim({ port: 0, bootTimeMs: 20 });
});
afterAll(async () => {
  await sim.close();
});

/** A complete environment for one replica on a fresh SQLite file and cloudsim. */
function env(over: Record<string, string> = {}): Record<string, string> {
  return {
    KAAS_DATABASE_URL: `sqlite:${join(dir, `${randomBytes(4).toString('hex')}.db`)}`,
    KAAS_SECRET_KEY: secretKey,
    PORT: '0',
    KAAS_WORKER_POLL_MS: '20',
    ...cloudEnv(sim.authUrl),
    ...over,
  };
}

const where = { logger, cwd: dir, home: dir };

function configError(e: Record<string, string | undefined>): InputError {
  try {
    serveConfigFromEnv(e);
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    expect(exitCodeFor(error)).toBe(2);
    return error as InputError;
  }
  throw new Error('expected an InputError');
}

describe('serveConfigFromEnv', () => {
  it('has production defaults', () => {
    expect(serveConfigFromEnv({ KAAS_DATABASE_URL: 'postgres://kaas@db/kaas' })).toEqual({
      databaseUrl: 'postgres://kaas@db/kaas',
      host: '127.0.0.1',
      port: 8080,
      tls: undefined,
      workers: true,
      leaseMs: undefined,
      idlePollMs: 1_000,
      jobConcurrency: 4,
      resyncSeconds: 300,
      healPollSeconds: 10,
      shutdownGraceMs: 20_000,
      logLevel: 'info',
      metricsToken: undefined,
      keystoneSync: { syncIntervalMs: 60_000, syncMaxAgeMs: 600_000 },
      release: {},
      trustedProxies: [],
      publicUrl: undefined,
      autoscalerPort: undefined,
    });
  });

  it('reads every setting', () => {
    expect(
      serveConfigFromEnv({
        KAAS_DATABASE_URL: 'sqlite:/data/kaas.db',
        HOST: '0.0.0.0',
        PORT: '8443',
        KAAS_TLS_CERT_FILE: '/tls/tls.crt',
        KAAS_TLS_KEY_FILE: '/tls/tls.key',
        KAAS_WORKERS: 'false',
        KAAS_LEASE_MS: '2000',
        KAAS_WORKER_POLL_MS: '250',
        KAAS_JOB_CONCURRENCY: '16',
        KAAS_RESYNC_SECONDS: '0',
        KAAS_HEAL_POLL_SECONDS: '30',
        KAAS_SHUTDOWN_GRACE_MS: '0',
        KAAS_LOG_LEVEL: 'debug',
        KAAS_RELEASE_MIRROR: 'https://mirror.example/k8s/release/',
        KAAS_RELEASE_CACHE: '/var/cache/kaas',
        KAAS_IMAGE_REPOSITORY: ' registry.example:5000/mirror ',
        KAAS_METRICS_TOKEN: 'scrape-secret-0123456789',
        KAAS_KEYSTONE_SYNC_INTERVAL_MS: '30000',
        KAAS_KEYSTONE_SYNC_MAX_AGE_MS: '300000',
        KAAS_TRUSTED_PROXIES: ' 10.0.0.0/8, 192.0.2.7 ,fd00::/8,::1',
        KAAS_PUBLIC_URL: 'https://kaas.example.com/base/',
        KAAS_AUTOSCALER_PORT: '9443',
      }),
    ).toEqual({
      databaseUrl: 'sqlite:/data/kaas.db',
      host: '0.0.0.0',
      port: 8443,
      tls: { certFile: '/tls/tls.crt', keyFile: '/tls/tls.key' },
      workers: false,
      leaseMs: 2_000,
      idlePollMs: 250,
      jobConcurrency: 16,
      resyncSeconds: 0,
      healPollSeconds: 30,
      shutdownGraceMs: 0,
      logLevel: 'debug',
      metricsToken: 'scrape-secret-0123456789',
      keystoneSync: { syncIntervalMs: 30_000, syncMaxAgeMs: 300_000 },
      release: {
        releaseMirror: 'https://mirror.example/k8s/release',
        releaseCacheDir: '/var/cache/kaas',
        imageRepository: 'registry.example:5000/mirror',
      },
      trustedProxies: ['10.0.0.0/8', '192.0.2.7', 'fd00::/8', '::1'],
      publicUrl: 'https://kaas.example.com/base',
      autoscalerPort: 9443,
    });
    expect(serveConfigFromEnv({ KAAS_DATABASE_URL: 'x', KAAS_RELEASE_MIRROR: '/srv/k8s' }).release).toEqual({
      releaseMirror: '/srv/k8s',
    });
    expect(serveConfigFromEnv({ KAAS_DATABASE_URL: 'x', KAAS_WORKERS: 'on' }).workers).toBe(true);
  });

  it('names the variable that is missing or wrong', () => {
    expect(configError({}).field).toBe('KAAS_DATABASE_URL');
    expect(configError({ KAAS_DATABASE_URL: '  ' }).message).toMatch(/set KAAS_DATABASE_URL: postgres:/);
    const db = { KAAS_DATABASE_URL: 'sqlite:x.db' };
    expect(configError({ ...db, KAAS_TLS_CERT_FILE: '/c' }).field).toBe('KAAS_TLS_KEY_FILE');
    expect(configError({ ...db, KAAS_TLS_KEY_FILE: '/k' }).field).toBe('KAAS_TLS_CERT_FILE');
    expect(configError({ ...db, KAAS_AUTOSCALER_PORT: '9443' })).toMatchObject({
      field: 'KAAS_AUTOSCALER_PORT',
      message: expect.stringContaining('needs KAAS_TLS_CERT_FILE'),
    });
    const tlsFiles = { KAAS_TLS_CERT_FILE: '/c', KAAS_TLS_KEY_FILE: '/k' };
    expect(configError({ ...db, ...tlsFiles, KAAS_AUTOSCALER_PORT: '70000' }).field).toBe(
      'KAAS_AUTOSCALER_PORT',
    );
    expect(configError({ ...db, PORT: 'http' }).field).toBe('PORT');
    expect(configError({ ...db, PORT: '70000' }).message).toBe(
      'PORT must be an integer from 0 to 65535, got "70000"',
    );
    expect(configError({ ...db, KAAS_WORKERS: 'maybe' }).field).toBe('KAAS_WORKERS');
    expect(configError({ ...db, KAAS_LEASE_MS: '100' }).field).toBe('KAAS_LEASE_MS');
    expect(configError({ ...db, KAAS_LEASE_MS: '2.5' }).field).toBe('KAAS_LEASE_MS');
    expect(configError({ ...db, KAAS_WORKER_POLL_MS: '-1' }).field).toBe('KAAS_WORKER_POLL_MS');
    expect(configError({ ...db, KAAS_SHUTDOWN_GRACE_MS: 'soon' }).field).toBe('KAAS_SHUTDOWN_GRACE_MS');
    for (const mirror of [
      'http://mirror.example/release',
      'mirror/release',
      'https://m.example/r?sig=x',
      'file:///srv',
    ]) {
      expect(configError({ ...db, KAAS_RELEASE_MIRROR: mirror }).field).toBe('KAAS_RELEASE_MIRROR');
    }
    expect(configError({ ...db, KAAS_RELEASE_CACHE: 'cache' }).field).toBe('KAAS_RELEASE_CACHE');
    for (const repo of ['https://registry.example/m', 'registry.example/m:1.0', 'mirror']) {
      expect(configError({ ...db, KAAS_IMAGE_REPOSITORY: repo })).toMatchObject({
        field: 'KAAS_IMAGE_REPOSITORY',
        code: 'invalid_config',
        message: expect.stringMatching(/^KAAS_IMAGE_REPOSITORY must/),
      });
    }
    expect(configError({ ...db, KAAS_METRICS_TOKEN: 'short' }).field).toBe('KAAS_METRICS_TOKEN');
    expect(configError({ ...db, KAAS_METRICS_TOKEN: 'has a space in it ok' }).field).toBe(
      'KAAS_METRICS_TOKEN',
    );
    expect(configError({ ...db, KAAS_KEYSTONE_SYNC_MAX_AGE_MS: '10' }).field).toBe(
      'KAAS_KEYSTONE_SYNC_MAX_AGE_MS',
    );
    expect(configError({ ...db, KAAS_KEYSTONE_SYNC_INTERVAL_MS: 'often' }).field).toBe(
      'KAAS_KEYSTONE_SYNC_INTERVAL_MS',
    );
    expect(configError({ ...db, KAAS_JOB_CONCURRENCY: '0' }).message).toBe(
      'KAAS_JOB_CONCURRENCY must be an integer from 1 to 64, got "0"',
    );
    expect(configError({ ...db, KAAS_JOB_CONCURRENCY: 'many' }).field).toBe('KAAS_JOB_CONCURRENCY');
    // The healer looks at least every hour and at most every second: 0 would spin on every cluster.
    for (const seconds of ['0', '3601', '1.5', 'often']) {
      expect(configError({ ...db, KAAS_HEAL_POLL_SECONDS: seconds }).message).toBe(
        `KAAS_HEAL_POLL_SECONDS must be an integer from 1 to 3600, got "${seconds}"`,
      );
    }
    for (const proxies of [
      '10.0.0.0/33',
      'proxy.example',
      '10.0.0.1,',
      '::1/129',
      '10.0.0.0/8/8',
      '10.0.0.0/x',
    ]) {
      expect(configError({ ...db, KAAS_TRUSTED_PROXIES: proxies }).field).toBe('KAAS_TRUSTED_PROXIES');
    }
    for (const url of [
      'kaas.example.com',
      'ftp://kaas.example.com',
      'https://u:p@kaas.example',
      'https://k.example/?a=1',
      'https://k.example/#x',
    ]) {
      expect(configError({ ...db, KAAS_PUBLIC_URL: url }).field).toBe('KAAS_PUBLIC_URL');
    }
  });
});

describe('startServer', () => {
  it('serves /healthz over HTTP and closes cleanly without a worker', async () => {
    const server = await startServer(env({ KAAS_WORKERS: 'false' }), where);
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${server.url}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
    } finally {
      expect(await server.close()).toBe('no-worker');
      expect(await server.close()).toBe('no-worker');
    }
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });

  it('serves HTTPS with KAAS_TLS_CERT_FILE and KAAS_TLS_KEY_FILE', async () => {
    const ca = await createCa({ commonName: 'kaas-serve-test' });
    const cert = await issueServerCert({ ca, hosts: ['127.0.0.1'] });
    writeFileSync(join(dir, 'tls.crt'), cert.certPem);
    writeFileSync(join(dir, 'tls.key'), cert.keyPem);
    const server = await startServer(
      env({
        KAAS_TLS_CERT_FILE: join(dir, 'tls.crt'),
        KAAS_TLS_KEY_FILE: join(dir, 'tls.key'),
        KAAS_AUTOSCALER_PORT: '0',
      }),
      where,
    );
    const agent = new Agent({ connect: { ca: ca.certPem } });
    try {
      expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${server.url}/healthz`, { dispatcher: agent });
      expect(res.status).toBe(200);
      // The externalgrpc server listens with kaas's own certificate.
      const asked = await new Promise<boolean>((resolve, reject) => {
        const socket = tlsConnect({
          host: '127.0.0.1',
          port: server.autoscalerPort!,
          ca: ca.certPem,
          ALPNProtocols: ['h2'],
        });
        socket.once('secureConnect', () => {
          resolve(socket.authorized);
          socket.destroy();
        });
        socket.once('error', reject);
      });
      expect(asked).toBe(true);
    } finally {
      await agent.close();
      expect(await server.close()).toBe('stopped');
    }
  });

  it('runs queued jobs in its worker loop', async () => {
    const e = env();
    const store = openStore(e.KAAS_DATABASE_URL as string);
    await migrateToLatest(store.db as never);
    await panelTablesUp(store.db as never);
    await store.close();
    const server: RunningServer = await startServer(e, {
      ...where,
      provisioner: { webhook: await testWebhook(), pollIntervalMs: 20, ...testReleaseDeps() },
    });
    try {
      const created = await server.provisioner.createCluster(testSpec('served', 1), {
        waitForApi: false,
      });
      const deadline = Date.now() + 25_000;
      let state = created.job.state;
      while (Date.now() < deadline && (state === 'queued' || state === 'running')) {
        await new Promise((r) => setTimeout(r, 50));
        state = (await server.provisioner.getJob(created.job.id)).job.state;
      }
      expect(state).toBe('succeeded');
      expect((await server.provisioner.getCluster('served')).status).toBe('ready');
    } finally {
      expect(await server.close()).toBe('stopped');
    }
  });

  it('warns at start when OpenStack TLS is not verified, and guards /metrics with KAAS_METRICS_TOKEN', async () => {
    const cloudDir = mkdtempSync(join(tmpdir(), 'kaas-serve-cloud-'));
    const os = cloudEnv(sim.authUrl);
    writeFileSync(
      join(cloudDir, 'clouds.yaml'),
      [
        'clouds:',
        '  lab:',
        '    verify: false',
        '    region_name: RegionOne',
        '    auth:',
        `      auth_url: ${os.OS_AUTH_URL}`,
        `      username: ${os.OS_USERNAME}`,
        `      password: ${os.OS_PASSWORD}`,
        `      project_name: ${os.OS_PROJECT_NAME}`,
        '      user_domain_name: Default',
        '      project_domain_name: Default',
        '',
      ].join('\n'),
    );
    let logText = '';
    const sink = new Writable({
      write: (chunk, _e, cb) => {
        logText += chunk.toString();
        cb();
      },
    });
    const token = 'scrape-secret-0123456789';
    const base = env({ KAAS_WORKERS: 'false', OS_CLOUD: 'lab', KAAS_METRICS_TOKEN: token });
    for (const key of Object.keys(os)) delete base[key];
    const server = await startServer(base, {
      logger: createLogger({ level: 'info', destination: sink }),
      cwd: cloudDir,
      home: cloudDir,
    });
    try {
      expect(logText).toContain('TLS certificates of OpenStack are NOT verified');
      expect(logText).toContain('"cloud":"lab"');
      const anonymous = await fetch(`${server.url}/metrics`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="kaas metrics"');
      expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe(
        'metrics_token_required',
      );
      const wrong = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer nope' } });
      expect(wrong.status).toBe(401);
      await wrong.body?.cancel();
      const scrape = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(scrape.status).toBe(200);
      expect(await scrape.text()).toContain('kaas_tokenreview_total');
      expect(logText).not.toContain(token);
    } finally {
      await server.close();
    }
    const plain = await startServer(env({ KAAS_WORKERS: 'false' }), where);
    try {
      const open = await fetch(`${plain.url}/metrics`);
      expect(open.status).toBe(200);
      await open.body?.cancel();
    } finally {
      await plain.close();
    }
  });

  /** A wrong password for `username` sent with X-Forwarded-For `client`, from `from` (default 127.0.0.1); the status. */
  const wrongLogin = (url: string, client: string, options: { username?: string; from?: Agent } = {}) =>
    fetch(`${url}/api/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': client },
      body: JSON.stringify({ username: options.username ?? 'nobody', password: 'wrong' }),
      ...(options.from ? { dispatcher: options.from } : {}),
    }).then(async (res) => {
      await res.body?.cancel();
      return res.status;
    });

  it('believes X-Forwarded-For only from KAAS_TRUSTED_PROXIES when keying the login throttle', async () => {
    for (const [proxies, otherClient] of [
      ['127.0.0.1/32', 401],
      ['', 429],
    ] as const) {
      const server = await startServer(env({ KAAS_WORKERS: 'false', KAAS_TRUSTED_PROXIES: proxies }), where);
      try {
        for (let i = 0; i < 5; i++) expect(await wrongLogin(server.url, '198.51.100.1')).toBe(401);
        expect(await wrongLogin(server.url, '198.51.100.1')).toBe(429);
        expect(await wrongLogin(server.url, '198.51.100.2')).toBe(otherClient);
      } finally {
        await server.close();
      }
    }
  });

  it('ignores X-Forwarded-For from a peer KAAS_TRUSTED_PROXIES does not name: it can neither pick its key nor lock a victim out', async () => {
    const server = await startServer(
      env({ KAAS_WORKERS: 'false', KAAS_TRUSTED_PROXIES: '127.0.0.1/32' }),
      where,
    );
    // Another loopback source address: the attacker's connection comes from a peer outside the list.
    const attacker = new Agent({ localAddress: '127.0.0.2' });
    const victim = '198.51.100.1';
    try {
      // The attacker forges the victim's address on every guess at the victim's account…
      for (let i = 0; i < 5; i++) {
        expect(await wrongLogin(server.url, victim, { username: 'alice', from: attacker })).toBe(401);
      }
      // …and is throttled on its own address, whatever address it claims next.
      expect(await wrongLogin(server.url, '203.0.113.99', { username: 'alice', from: attacker })).toBe(429);
      // The victim, through the trusted proxy, is not locked out of their account.
      expect(await wrongLogin(server.url, victim, { username: 'alice' })).toBe(401);
    } finally {
      await attacker.close();
      await server.close();
    }
  });

  it('fails with a clear error on bad settings, before listening', async () => {
    await expect(startServer(env({ KAAS_SECRET_KEY: '' }), where)).rejects.toMatchObject({
      code: 'secret_key_missing',
    });
    await expect(startServer(env({ OS_AUTH_URL: '' }), where)).rejects.toBeInstanceOf(InputError);
    await expect(startServer(env({ KAAS_DATABASE_URL: 'mysql://db/kaas' }), where)).rejects.toMatchObject({
      field: 'database',
    });
    await expect(
      startServer(
        env({ KAAS_TLS_CERT_FILE: join(dir, 'missing.crt'), KAAS_TLS_KEY_FILE: join(dir, 'missing.key') }),
        where,
      ),
    ).rejects.toMatchObject({ field: 'KAAS_TLS_CERT_FILE', message: expect.stringMatching(/cannot read/) });
  });

  it('reports a port in use as a PORT error and releases what it opened', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(startServer(env({ PORT: String(port) }), where)).rejects.toMatchObject({
        field: 'PORT',
        message: expect.stringMatching(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}`)),
      });
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
