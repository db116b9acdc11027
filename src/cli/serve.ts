import { fileURLToPath } from 'node:url';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { keystoneDirectory } from '../auth/directory.ts';
import { createAuthService } from '../auth/service.ts';
import { InputError } from '../errors.ts';
import { createLogger, type Logger } from '../log.ts';
import { createCloud, loadCloudConfig } from '../openstack/index.ts';
import type { Provisioner, ProvisionerDeps } from '../provisioner/provisioner.ts';
import { buildApp } from '../server/app.ts';
import { openStore } from '../store/db.ts';
import { operatorCheck } from './operator.ts';
import { startExternalGrpc } from '../server/externalgrpc/server.ts';
import { autoscalerPortFromEnv, openProvisionerFromEnv } from './provisioner.ts';
import { releaseDepsFromEnv, type ReleaseDeps } from './releaseEnv.ts';
import { DEFAULT_HEAL_POLL_SECONDS } from '../provisioner/heal.ts';
import { DEFAULT_RESYNC_SECONDS } from '../provisioner/reconcile.ts';
import { DEFAULT_JOB_CONCURRENCY, reconcilerOf, startWorkerLoop, type StopResult } from './worker.ts';

type Env = Record<string, string | undefined>;

/** The settings `kaas serve` reads from its environment (see docs/operations.md). */
export interface ServeConfig {
  databaseUrl: string;
  host: string;
  port: number;
  tls: { certFile: string; keyFile: string } | undefined;
  /** Whether this replica runs the job worker loop. */
  workers: boolean;
  /** How long a job claim lasts without a heartbeat; undefined = the engine's default (30 s). */
  leaseMs: number | undefined;
  /** Wait between two claims when no job is runnable. */
  idlePollMs: number;
  /** Most jobs this replica runs at once (always on different clusters). */
  jobConcurrency: number;
  /** KAAS_RESYNC_SECONDS: time between two reconcile passes on a cluster; 0 = reconciliation off. */
  resyncSeconds: number;
  /** KAAS_HEAL_POLL_SECONDS: time between two looks of the healer at a cluster's Nodes. */
  healPollSeconds: number;
  /** How long SIGTERM waits for the jobs in hand before exiting (their leases then move on). */
  shutdownGraceMs: number;
  logLevel: string;
  /** KAAS_METRICS_TOKEN: when set, /metrics answers only `Authorization: Bearer <it>`. */
  metricsToken: string | undefined;
  /** KAAS_KEYSTONE_SYNC_INTERVAL_MS and KAAS_KEYSTONE_SYNC_MAX_AGE_MS, as auth service options. */
  keystoneSync: { syncIntervalMs: number; syncMaxAgeMs: number };
  /** KAAS_RELEASE_MIRROR, KAAS_RELEASE_CACHE and KAAS_IMAGE_REPOSITORY, as provisioner deps. */
  release: ReleaseDeps;
  /** KAAS_TRUSTED_PROXIES: addresses/CIDRs whose X-Forwarded-* headers are believed; empty = none. */
  trustedProxies: string[];
  /** KAAS_PUBLIC_URL: the URL users reach kaas at; undefined = the URL this replica listens on. */
  publicUrl: string | undefined;
  /**
   * KAAS_AUTOSCALER_PORT: where cluster-autoscaler's externalgrpc cloud provider is served (on HOST,
   * with kaas's TLS certificate); undefined = not served. 0 picks a free port (tests).
   */
  autoscalerPort: number | undefined;
}

/** KAAS_RESYNC_SECONDS (0 = off, default 5 minutes), read by `kaas serve` and `kaas dev`. */
export function resyncSecondsFromEnv(env: Env): number {
  return integer(env, 'KAAS_RESYNC_SECONDS', DEFAULT_RESYNC_SECONDS, 0, 86_400);
}

/** KAAS_HEAL_POLL_SECONDS (1 s to 1 h, default 10 s), read by `kaas serve` and `kaas dev`. */
export function healPollSecondsFromEnv(env: Env): number {
  return integer(env, 'KAAS_HEAL_POLL_SECONDS', DEFAULT_HEAL_POLL_SECONDS, 1, 3_600);
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
    throw new InputError(`${name} must be an integer from ${min} to ${max}, got "${text}"`, {
      code: 'invalid_config',
      field: name,
    });
  }
  return value;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const text = env[name]?.trim().toLowerCase();
  if (text === undefined || text === '') return fallback;
  if (['1', 'true', 'on', 'yes'].includes(text)) return true;
  if (['0', 'false', 'off', 'no'].includes(text)) return false;
  throw new InputError(`${name} must be true or false, got "${env[name]}"`, {
    code: 'invalid_config',
    field: name,
  });
}

/** KAAS_TRUSTED_PROXIES: a comma-separated list of IP addresses and CIDR ranges (IPv4 or IPv6). */
export function trustedProxiesFromEnv(env: Env): string[] {
  const text = env.KAAS_TRUSTED_PROXIES?.trim() ?? '';
  if (text === '') return [];
  return text.split(',').map((item) => {
    const entry = item.trim();
    const [address = '', prefix, ...extra] = entry.split('/');
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
    if (family === 0 || !prefixOk || extra.length > 0) {
      throw new InputError(
        `KAAS_TRUSTED_PROXIES must list IP addresses or CIDR ranges separated by commas (e.g. 10.0.0.0/8,fd00::/8), got "${entry}"`,
        { code: 'invalid_config', field: 'KAAS_TRUSTED_PROXIES' },
      );
    }
    return entry;
  });
}

/** KAAS_PUBLIC_URL: an absolute http(s) URL without credentials, query or fragment; trailing slashes dropped. */
export function publicUrlFromEnv(env: Env): string | undefined {
  const text = env.KAAS_PUBLIC_URL?.trim();
  if (!text) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (
    !url ||
    !['http:', 'https:'].includes(url.protocol) ||
    url.username ||
    url.password ||
    url.search ||
    url.hash
  ) {
    throw new InputError(
      `KAAS_PUBLIC_URL must be the http(s) URL users reach kaas at, e.g. https://kaas.example.com, got "${text}"`,
      { code: 'invalid_config', field: 'KAAS_PUBLIC_URL' },
    );
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * Reads and checks the serve settings before anything is opened, so a bad deployment fails at once
 * with a message naming the variable. The cloud, secret key and webhook settings are checked by
 * {@link openProvisionerFromEnv}, which `startServer` calls next.
 */
export function serveConfigFromEnv(env: Env): ServeConfig {
  const databaseUrl = env.KAAS_DATABASE_URL?.trim();
  if (!databaseUrl) {
    throw new InputError(
      'set KAAS_DATABASE_URL: postgres://user:password@host/db for several replicas (HA), or sqlite:<path> for one',
      { code: 'invalid_config', field: 'KAAS_DATABASE_URL' },
    );
  }
  const certFile = env.KAAS_TLS_CERT_FILE?.trim() || undefined;
  const keyFile = env.KAAS_TLS_KEY_FILE?.trim() || undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new InputError('set both KAAS_TLS_CERT_FILE and KAAS_TLS_KEY_FILE (PEM files), or neither', {
      code: 'invalid_config',
      field: certFile === undefined ? 'KAAS_TLS_CERT_FILE' : 'KAAS_TLS_KEY_FILE',
    });
  }
  const metricsToken = env.KAAS_METRICS_TOKEN?.trim() || undefined;
  if (metricsToken !== undefined && !/^[\x21-\x7e]{16,512}$/.test(metricsToken)) {
    throw new InputError('KAAS_METRICS_TOKEN must be 16 to 512 printable characters without spaces', {
      code: 'invalid_config',
      field: 'KAAS_METRICS_TOKEN',
    });
  }
  const leaseMs = env.KAAS_LEASE_MS ? integer(env, 'KAAS_LEASE_MS', 0, 500, 3_600_000) : undefined;
  const autoscalerPort = autoscalerPortFromEnv(env);
  if (autoscalerPort !== undefined && !certFile) {
    throw new InputError(
      'KAAS_AUTOSCALER_PORT needs KAAS_TLS_CERT_FILE and KAAS_TLS_KEY_FILE: cluster-autoscaler reaches kaas over mutual TLS only',
      { code: 'invalid_config', field: 'KAAS_AUTOSCALER_PORT' },
    );
  }
  return {
    databaseUrl,
    host: env.HOST?.trim() || '127.0.0.1',
    port: integer(env, 'PORT', 8080, 0, 65_535),
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    workers: flag(env, 'KAAS_WORKERS', true),
    leaseMs,
    idlePollMs: integer(env, 'KAAS_WORKER_POLL_MS', 1_000, 10, 600_000),
    jobConcurrency: integer(env, 'KAAS_JOB_CONCURRENCY', DEFAULT_JOB_CONCURRENCY, 1, 64),
    resyncSeconds: resyncSecondsFromEnv(env),
    healPollSeconds: healPollSecondsFromEnv(env),
    shutdownGraceMs: integer(env, 'KAAS_SHUTDOWN_GRACE_MS', 20_000, 0, 3_600_000),
    logLevel: env.KAAS_LOG_LEVEL?.trim() || 'info',
    metricsToken,
    keystoneSync: {
      syncIntervalMs: integer(env, 'KAAS_KEYSTONE_SYNC_INTERVAL_MS', 60_000, 1_000, 3_600_000),
      syncMaxAgeMs: integer(env, 'KAAS_KEYSTONE_SYNC_MAX_AGE_MS', 600_000, 10_000, 86_400_000),
    },
    release: releaseDepsFromEnv(env),
    trustedProxies: trustedProxiesFromEnv(env),
    publicUrl: publicUrlFromEnv(env),
    autoscalerPort,
  };
}

function readPem(path: string, field: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read ${field} ${path}`, { code: 'invalid_config', field, cause: error });
  }
}

/** Test seams and overrides of {@link startServer}; production passes none. */
export interface ServeDeps {
  logger?: Logger;
  now?: () => Date;
  /** Where clouds.yaml is searched (default the process' cwd and home). */
  cwd?: string;
  home?: string;
  /** Replaces any provisioner dependency (cloud client, owner name, polls). */
  provisioner?: Partial<ProvisionerDeps>;
}

/** A running kaas replica. */
export interface RunningServer {
  /** `http(s)://host:port` it listens on. */
  url: string;
  /** The port of its externalgrpc server (KAAS_AUTOSCALER_PORT), if it runs one. */
  autoscalerPort?: number;
  provisioner: Provisioner;
  /**
   * Graceful stop: no new claims, the job in hand gets `KAAS_SHUTDOWN_GRACE_MS` to finish, then the
   * HTTP server, the Keystone sync and the database close. Idempotent.
   */
  close(): Promise<StopResult | 'no-worker'>;
}

/**
 * Starts one kaas replica from its environment: migrations, the HTTP app (API, TokenReview webhook,
 * /healthz), the Keystone background sync and, unless KAAS_WORKERS=false, the provisioner's job
 * worker. Any number of replicas may share one PostgreSQL database.
 */
export async function startServer(env: Env, deps: ServeDeps = {}): Promise<RunningServer> {
  const config = serveConfigFromEnv(env);
  const tls = config.tls
    ? {
        cert: readPem(config.tls.certFile, 'KAAS_TLS_CERT_FILE'),
        key: readPem(config.tls.keyFile, 'KAAS_TLS_KEY_FILE'),
      }
    : undefined;
  const logger = deps.logger ?? createLogger({ level: config.logLevel });
  const now = deps.now ?? (() => new Date());
  const where = { ...(deps.cwd ? { cwd: deps.cwd } : {}), ...(deps.home ? { home: deps.home } : {}) };
  const cloudConfig = loadCloudConfig({ env, ...where });
  if (cloudConfig.insecure) {
    // Said once at start, where operators look: every Keystone password check then trusts any certificate.
    logger.warn(
      { cloud: cloudConfig.cloudName },
      'TLS certificates of OpenStack are NOT verified (verify: false in clouds.yaml): anyone on the path can read the Keystone passwords users log in with; set cacert instead',
    );
  }

  // The job engine gets its own connection pool (opened and migrated here), so long jobs never
  // starve API requests of connections.
  const jobs = await openProvisionerFromEnv(
    { ...env, KAAS_DATABASE_URL: config.databaseUrl },
    {
      logger,
      now,
      ...where,
      ...(config.leaseMs === undefined ? {} : { leaseMs: config.leaseMs }),
      ...config.release,
      ...deps.provisioner,
    },
  );
  const store = openStore(config.databaseUrl);
  const cloud = createCloud({ config: cloudConfig, logger });
  const directory = keystoneDirectory(cloud);
  const auth = createAuthService({ store, directory, logger, now, options: config.keystoneSync });
  // Operators (who may create clusters over the API) hold KAAS_OPERATOR_ROLE on kaas' own project.
  const operatorRole = env.KAAS_OPERATOR_ROLE;
  const isOperator = operatorRole ? operatorCheck(cloud, directory, operatorRole) : undefined;
  const webRoot = fileURLToPath(new URL('../../web/dist', import.meta.url));
  let url = '';
  const app = await buildApp(
    {
      store,
      logger,
      now,
      auth,
      provisioner: jobs.provisioner,
      ...(isOperator ? { isOperator } : {}),
      // The panel's create form: the provisioner's flavors and images, the CLI's defaults (KUBE_*).
      cloud: jobs.cloud,
      createEnv: env,
      ...(existsSync(webRoot) ? { webRoot } : {}),
      publicUrl: () => config.publicUrl ?? url,
    },
    {
      ...(tls ? { https: tls } : {}),
      ...(config.metricsToken ? { metricsToken: config.metricsToken } : {}),
      trustedProxies: config.trustedProxies,
    },
  );
  try {
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    url = `${tls ? 'https' : 'http'}://${host}:${port}`;
  } catch (error) {
    await app.close();
    await store.close();
    await jobs.close();
    throw new InputError(`cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`, {
      code: 'invalid_config',
      field: 'PORT',
      cause: error,
    });
  }
  const autoscaler =
    tls && config.autoscalerPort !== undefined
      ? await startExternalGrpc(
          {
            autoscale: jobs.provisioner.autoscale,
            clusterCas: jobs.provisioner.clusterCas,
            identity: { certPem: tls.cert, keyPem: tls.key },
            logger,
          },
          { host: config.host, port: config.autoscalerPort },
        ).catch(async (error: unknown) => {
          await app.close();
          await store.close();
          await jobs.close();
          throw error;
        })
      : undefined;
  auth.start();
  const worker = config.workers
    ? startWorkerLoop({
        engine: jobs.provisioner.engine,
        logger,
        idleMs: config.idlePollMs,
        concurrency: config.jobConcurrency,
        ...reconcilerOf(jobs.provisioner, config.resyncSeconds, config.healPollSeconds),
      })
    : undefined;
  logger.info(
    { url, workers: config.workers, leaseMs: config.leaseMs, autoscalerPort: autoscaler?.port },
    'kaas serving',
  );

  let closing: Promise<StopResult | 'no-worker'> | undefined;
  return {
    url,
    ...(autoscaler ? { autoscalerPort: autoscaler.port } : {}),
    provisioner: jobs.provisioner,
    close() {
      closing ??= (async () => {
        const result = worker ? await worker.stop(config.shutdownGraceMs) : 'no-worker';
        if (result === 'abandoned') {
          logger.warn('shutdown grace period over with a job in hand; another replica resumes it');
        }
        await autoscaler?.close();
        await app.close();
        await auth.close();
        await store.close();
        await jobs.close();
        return result;
      })();
      return closing;
    },
  };
}

/**
 * `kaas serve`: the production entry point (one replica). Runs until SIGTERM or SIGINT, then stops
 * gracefully; settings come from the environment only, as containers pass them.
 */
export function registerServeCommand(program: Command, deps: ServeDeps = {}): void {
  program
    .command('serve')
    .description('run a kaas replica: API, TokenReview webhook, control panel and job worker')
    .action(async () => {
      const server = await startServer(process.env, deps);
      process.stderr.write(`kaas serving on ${server.url}\n`);
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
      });
      process.stderr.write(`kaas: ${signal}, shutting down\n`);
      const started = Date.now();
      const result = await server.close();
      process.stderr.write(`kaas: stopped in ${Date.now() - started} ms (worker: ${result})\n`);
      // Everything kaas owns is closed; what may remain are keep-alive sockets to the cloud, or an
      // abandoned job's requests (its lease moves on to another replica once we are gone).
      process.exit(0);
    });
}
