import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { createAuthService } from '../auth/service.ts';
import { keystoneDirectory } from '../auth/directory.ts';
import { startCloudsim, type Cloudsim } from '../cloudsim/index.ts';
import { createLogger, type Logger } from '../log.ts';
import { createCloud } from '../openstack/index.ts';
import { resolveCloudConfig } from '../openstack/config.ts';
import type { Provisioner, ProvisionerDeps } from '../provisioner/provisioner.ts';
import { buildApp } from '../server/app.ts';
import { openStore } from '../store/db.ts';
import { findCluster } from '../store/findCluster.ts';
import { insertCluster } from '../store/insertCluster.ts';
import { migrateToLatest } from '../store/migrate.ts';
import { operatorCheck } from './operator.ts';
import { openProvisionerFromEnv } from './provisioner.ts';
import { releaseDepsFromEnv } from './releaseEnv.ts';
import { startWorkerLoop } from './worker.ts';

/** Where `kaas dev` runs and keeps its state; everything has a default for `kaas dev` itself. */
export interface DevOptions {
  /** Database and secret key live here (created 0700); default `.kaas`. */
  dataDir?: string;
  /** 0 = any free port; default 8080. */
  port?: number;
  logger?: Logger;
  /** The job worker's wait between two claims when idle; default one second. */
  workerPollMs?: number;
  /** Replaces provisioner dependencies (tests: short polls, the release catalogue and mirror). */
  provisioner?: Partial<ProvisionerDeps>;
}

/** A running `kaas dev`. */
export interface RunningDev {
  url: string;
  cloud: Cloudsim;
  provisioner: Provisioner;
  /** Stops the job worker (the job in hand gets a short grace), the server and cloudsim. */
  close(): Promise<void>;
}

/**
 * The key sealing cluster secrets in the dev database: read from `file`, or created there on first
 * run (32 random bytes, base64, mode 0600), so clusters created before a restart stay readable.
 */
export function ensureSecretKeyFile(file: string): void {
  try {
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  chmodSync(file, 0o600);
}

const cloudsimEnv = (authUrl: string, user: string, password: string) => ({
  OS_AUTH_URL: authUrl,
  OS_USERNAME: user,
  OS_PASSWORD: password,
  OS_PROJECT_NAME: 'demo',
  OS_USER_DOMAIN_NAME: 'Default',
  OS_PROJECT_DOMAIN_NAME: 'Default',
  OS_REGION_NAME: 'RegionOne',
});

/**
 * `kaas dev` without the command: cloudsim seeded with the demo users, the kaas server with SQLite
 * in `dataDir`, and the job worker running cluster jobs on cloudsim. kaas dev serves plain HTTP on
 * 127.0.0.1, which a cluster's API server cannot use as its TokenReview webhook: creating a
 * cluster is refused (`webhook_not_configured`) rather than building one nobody could log in to.
 */
export async function startDev(options: DevOptions = {}): Promise<RunningDev> {
  const dataDir = options.dataDir ?? '.kaas';
  const logger = options.logger ?? createLogger();
  const now = () => new Date();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secretKeyFile = join(dataDir, 'secret.key');
  ensureSecretKeyFile(secretKeyFile);
  const databaseUrl = `sqlite:${join(dataDir, 'kaas.db')}`;

  const cloud = await startCloudsim({ logger });
  const demo = cloud.seedProject({ name: 'demo' });
  const adminRole = cloud.seedRole('kubernetes-admins');
  const memberRole = cloud.seedRole('member');
  const readerRole = cloud.seedRole('reader');
  const admin = cloud.seedUser({ name: 'admin', password: 'admin' });
  const demoUser = cloud.seedUser({ name: 'demo', password: 'demo' });
  cloud.assignRole({ projectId: demo.id, roleId: adminRole.id, userId: admin.id });
  cloud.assignRole({ projectId: demo.id, roleId: memberRole.id, userId: demoUser.id });
  // kaas' own least-privilege service user: a reader that may read role assignments.
  const service = cloud.seedUser({ name: 'kaas-service', password: 'kaas-service-dev' });
  cloud.assignRole({ projectId: demo.id, roleId: readerRole.id, userId: service.id });
  // The job workers build clusters in the demo project as their own member user.
  const builder = cloud.seedUser({ name: 'kaas-provisioner', password: 'kaas-provisioner-dev' });
  cloud.assignRole({ projectId: demo.id, roleId: memberRole.id, userId: builder.id });

  const jobs = await openProvisionerFromEnv(
    {
      KAAS_DATABASE_URL: databaseUrl,
      KAAS_SECRET_KEY_FILE: secretKeyFile,
      ...cloudsimEnv(cloud.authUrl, 'kaas-provisioner', 'kaas-provisioner-dev'),
    },
    // No clouds.yaml from the developer's machine: the dev cloud is cloudsim only.
    { logger, cwd: dataDir, home: dataDir, ...options.provisioner },
  );
  const store = openStore(databaseUrl);
  await migrateToLatest(store.db);
  if (!(await findCluster({ db: store.db, id: 'dev' }))) {
    await insertCluster({
      db: store.db,
      cluster: {
        id: 'dev',
        name: 'dev',
        projectId: demo.id,
        projectName: 'demo',
        adminRoleIds: [adminRole.id],
        createdAt: now().toISOString(),
      },
    });
  }
  const kaasCloud = createCloud({
    config: resolveCloudConfig({ env: cloudsimEnv(cloud.authUrl, 'kaas-service', 'kaas-service-dev') }),
    logger,
  });
  const directory = keystoneDirectory(kaasCloud);
  const auth = createAuthService({ store, directory, logger, now });
  auth.start();
  const webRoot = fileURLToPath(new URL('../../web/dist', import.meta.url));
  if (!existsSync(webRoot)) logger.warn('web/dist is missing: run `npm run build:web` for the control panel');
  let url = '';
  const app = await buildApp({
    publicUrl: () => url,
    store,
    logger,
    now,
    auth,
    provisioner: jobs.provisioner,
    // The demo's cluster admins are its operators.
    isOperator: operatorCheck(kaasCloud, directory, 'kubernetes-admins'),
    ...(existsSync(webRoot) ? { webRoot } : {}),
  });
  await app.listen({ host: '127.0.0.1', port: options.port ?? 8080 });
  const address = app.server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : options.port}`;
  const worker = startWorkerLoop({
    engine: jobs.provisioner.engine,
    logger,
    idleMs: options.workerPollMs ?? 1_000,
  });
  return {
    url,
    cloud,
    provisioner: jobs.provisioner,
    async close() {
      if ((await worker.stop(5_000)) === 'abandoned')
        logger.warn('kaas dev stopped with a job in hand; the next `kaas dev` resumes it');
      await app.close();
      await auth.close();
      await store.close();
      await jobs.close();
      await cloud.close();
    },
  };
}

/** `kaas dev`: kaas with its embedded cloud (cloudsim) on 127.0.0.1 until Ctrl-C. */
export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description('run kaas with its embedded cloud (cloudsim) and job worker on 127.0.0.1')
    .action(async () => {
      const dev = await startDev({
        port: Number(process.env.PORT ?? 8080),
        provisioner: releaseDepsFromEnv(process.env),
      });
      process.stderr.write(
        `\nkaas control panel: ${dev.url}/\ncloudsim auth URL:  ${dev.cloud.authUrl}\n` +
          'users (domain Default): admin/admin (kubernetes-admins on demo), demo/demo (member)\n' +
          'cluster create is refused here: kaas dev has no https TokenReview webhook for clusters yet\n\n',
      );
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
      });
      process.stderr.write(`kaas dev: ${signal}, stopping the job worker and the server\n`);
      await dev.close();
      process.exit(0);
    });
}
