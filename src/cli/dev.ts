import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import { createServer } from 'node:net';
import { createAuthService } from '../auth/service.ts';
import { keystoneDirectory } from '../auth/directory.ts';
import { startCloudsim, type Cloudsim } from '../cloudsim/index.ts';
import { snapshotFile } from '../cloudsim/persist.ts';
import { ConflictError, InputError, KaasError } from '../errors.ts';
import { createLogger, type LogFormat, type Logger } from '../log.ts';
import { createCloud } from '../openstack/index.ts';
import { resolveCloudConfig } from '../openstack/config.ts';
import type { Provisioner, ProvisionerDeps } from '../provisioner/provisioner.ts';
import { buildApp } from '../server/app.ts';
import { startExternalGrpc } from '../server/externalgrpc/server.ts';
import { createCa, issueServerCert, type KeyPair } from '../auth/pki.ts';
import { openStore, type Store } from '../store/db.ts';
import { listCloudReferences } from '../store/listCloudReferences.ts';
import { migrateToLatest } from '../store/migrate.ts';
import { checkKubeBinaries, startDevKube, type DevKube } from '../dev/kube/clusters.ts';
import { writeDevEnv } from './devEnv.ts';
import { operatorCheck } from './operator.ts';
import { autoscalerPortFromEnv, openProvisionerFromEnv } from './provisioner.ts';
import { releaseDepsFromEnv } from './releaseEnv.ts';
import { DEFAULT_RESYNC_SECONDS } from '../provisioner/reconcile.ts';
import { healPollSecondsFromEnv, resyncSecondsFromEnv } from './serve.ts';
import { reconcilerOf, startWorkerLoop } from './worker.ts';

/** Why kaas dev's clusters have no Kubernetes API, as `kaas cluster show` and the panel say. */
export const DEV_NO_KUBERNETES =
  "the embedded cloud's servers do not boot Kubernetes: its clusters exercise kaas, not kubectl";

/** Where `kaas dev` runs and keeps its state; everything has a default for `kaas dev` itself. */
export interface DevOptions {
  /** Database, secret key and the embedded cloud's state live here (created 0700); default `.kaas`. */
  dataDir?: string;
  /** 0 = any free port; default 8080. */
  port?: number;
  logger?: Logger;
  /** `--reset`: first (once the port is known free) remove the dev state, saying what on this stream. */
  reset?: NodeJS.WritableStream;
  /** The job worker's wait between two claims when idle; default one second. */
  workerPollMs?: number;
  /** Time between two reconcile passes on a cluster (KAAS_RESYNC_SECONDS); 0 = off; default 5 minutes. */
  resyncSeconds?: number;
  /** Time between two looks of the healer at a cluster (KAAS_HEAL_POLL_SECONDS); default 10 s. */
  healPollSeconds?: number;
  /** Replaces provisioner dependencies (tests: short polls, the release catalogue and mirror). */
  provisioner?: Partial<ProvisionerDeps>;
  /**
   * KAAS_AUTOSCALER_PORT: serve cluster-autoscaler's externalgrpc provider on 127.0.0.1 at this port
   * (0 = any free one), with a certificate kaas dev keeps in `dataDir/autoscaler/`; unset = not served.
   */
  autoscalerPort?: number;
  /**
   * `--kube`: each cluster gets a real control plane on 127.0.0.1 (src/dev/kube/clusters.ts), kept
   * in `dataDir/kube/`; restarted here, saying on this stream which could not be.
   */
  kube?: NodeJS.WritableStream;
}

/** A running `kaas dev`. */
export interface RunningDev {
  url: string;
  /** `.kaas/env`: source it and every kaas command talks to this kaas dev. */
  envFile: string;
  cloud: Cloudsim;
  provisioner: Provisioner;
  /** The port of cluster-autoscaler's externalgrpc provider on 127.0.0.1, when served. */
  autoscalerPort?: number;
  /** Stops the job worker (the job in hand gets a short grace), the clusters' control planes, the server and cloudsim. */
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

/** Where `kaas dev` keeps its database, its embedded cloud and its secret key in its data directory. */
function devFiles(dataDir: string) {
  return {
    database: join(dataDir, 'kaas.db'),
    cloud: join(dataDir, 'cloudsim'),
    secretKey: join(dataDir, 'secret.key'),
    kube: join(dataDir, 'kube'),
    autoscaler: join(dataDir, 'autoscaler'),
  };
}

/** What `kaas dev --reset` removes from the data directory, each with what it is. */
const RESET: readonly [string, string][] = [
  ['kaas.db', 'the database: clusters, jobs, tokens, sessions'],
  ['kaas.db-wal', "the database's write-ahead log"],
  ['kaas.db-shm', "the database's shared memory"],
  ['cloudsim', "the embedded cloud's state: users, projects, servers, networks, Swift objects…"],
  ['secret.key', "the key sealing the clusters' secrets"],
  ['cli', 'the kaas CLI login for this kaas dev'],
  ['env', 'the environment file for the CLI'],
  ['clouds.yaml', 'the embedded cloud for the openstack CLI'],
  ['bin', 'the `kaas` command the environment file puts on PATH'],
  ['kube', "kaas dev --kube's control planes of the clusters (certificates, etcd data)"],
  ['autoscaler', "the certificate and CA of cluster-autoscaler's provider (KAAS_AUTOSCALER_PORT)"],
];

/**
 * `kaas dev --reset`: removes the state a `kaas dev` kept in `dataDir`, saying what each entry was
 * on `out`; returns the paths removed. The next start begins with an empty cloud and database.
 */
export function resetDev(dataDir: string, out: NodeJS.WritableStream): string[] {
  const removed: string[] = [];
  for (const [name, what] of RESET) {
    const path = join(dataDir, name);
    if (!existsSync(path)) continue;
    out.write(`kaas dev --reset: removing ${path} (${what})\n`);
    rmSync(path, { recursive: true, force: true });
    removed.push(path);
  }
  if (removed.length === 0) out.write(`kaas dev --reset: nothing to remove in ${dataDir}\n`);
  return removed;
}

/** The database and the cloud do not agree: say why and how to start afresh. */
function devMismatch(dataDir: string, reason: string): ConflictError {
  return new ConflictError(
    `the database and the embedded cloud in ${dataDir} do not agree: ${reason}. ` +
      '`kaas dev --reset` removes both (saying what it removes) and starts afresh',
    { code: 'dev_state_mismatch' },
  );
}

/** Why the database names projects or users the cloud does not have, or undefined when it names none. */
async function unknownToCloud(store: Store, cloud: Cloudsim, stateDir: string): Promise<string | undefined> {
  const names = await listCloudReferences({ db: store.db });
  const projects = names.projectIds.filter((id) => !cloud.state.projects.has(id));
  const users = names.userIds.filter((id) => !cloud.state.users.has(id));
  if (projects.length === 0 && users.length === 0) return undefined;
  const how = cloud.restored ? 'was replaced' : 'is missing';
  return (
    `the database names ${projects.length} project(s) and ${users.length} user(s) the cloud does not have ` +
    `(its state ${snapshotFile(stateDir)} ${how})`
  );
}

/** `port`, or a free port on 127.0.0.1 for 0; a port in use is refused naming `variable`. */
async function devPort(port: number, variable = 'PORT'): Promise<number> {
  const probe = createServer();
  return new Promise((resolve, reject) => {
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new InputError(`port ${port} on 127.0.0.1 is in use: stop what runs there or set ${variable}`, {
              code: 'port_in_use',
              field: variable,
            })
          : error,
      ),
    );
    probe.listen(port, '127.0.0.1', () => {
      const address = probe.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      probe.close(() => resolve(bound));
    });
  });
}

/**
 * The certificate kaas dev's externalgrpc server presents (for 127.0.0.1 and localhost) and its CA,
 * which clusters' cluster-autoscaler trusts: made in `dir` on first use (keys 0600), then kept, so the
 * Secrets of clusters made before a restart stay valid.
 */
export async function devAutoscalerTls(dir: string): Promise<{ caPem: string; identity: KeyPair }> {
  const files = { ca: join(dir, 'ca.crt'), cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') };
  if (!Object.values(files).every((f) => existsSync(f))) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const ca = await createCa({ commonName: 'kaas dev cluster-autoscaler provider' });
    const identity = await issueServerCert({ ca, hosts: ['127.0.0.1', 'localhost'] });
    writeFileSync(files.key, identity.keyPem, { mode: 0o600 });
    writeFileSync(files.cert, identity.certPem);
    writeFileSync(files.ca, ca.certPem);
  }
  return {
    caPem: readFileSync(files.ca, 'utf8'),
    identity: { certPem: readFileSync(files.cert, 'utf8'), keyPem: readFileSync(files.key, 'utf8') },
  };
}

/**
 * `kaas dev` without the command: cloudsim seeded with the demo users, the kaas server with SQLite
 * in `dataDir`, and the job worker running cluster jobs on cloudsim. kaas dev serves plain HTTP on
 * 127.0.0.1, which is also the TokenReview webhook its clusters are given (plain http is allowed
 * to this machine only). It writes `dataDir/env` and `dataDir/clouds.yaml` for the CLI.
 */
export async function startDev(options: DevOptions = {}): Promise<RunningDev> {
  // First, so that a busy port is refused before anything is written or started.
  const port = await devPort(options.port ?? 8080);
  const autoscalerPort =
    options.autoscalerPort === undefined
      ? undefined
      : await devPort(options.autoscalerPort, 'KAAS_AUTOSCALER_PORT');
  if (options.kube) checkKubeBinaries();
  const url = `http://127.0.0.1:${port}`;
  const dataDir = options.dataDir ?? '.kaas';
  const logger = options.logger ?? createLogger();
  const now = () => new Date();
  if (options.reset) resetDev(dataDir, options.reset);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const files = devFiles(dataDir);
  // Both are made at the first start: a cloud without its database has lost what it was for.
  if (!existsSync(files.database) && existsSync(snapshotFile(files.cloud)))
    throw devMismatch(dataDir, `the database ${files.database} is missing while the cloud's state remains`);
  ensureSecretKeyFile(files.secretKey);
  const databaseUrl = `sqlite:${files.database}`;

  const store = openStore(databaseUrl);
  let cloud: Cloudsim;
  try {
    await migrateToLatest(store.db);
    cloud = await startCloudsim({ logger, stateDir: files.cloud });
  } catch (error) {
    await store.close();
    if (error instanceof KaasError && error.code === 'cloud_state_unreadable')
      throw devMismatch(dataDir, error.message);
    throw error;
  }
  const demo = cloud.seedProject({ name: 'demo' });
  const adminRole = cloud.seedRole('kubernetes-admins');
  const memberRole = cloud.seedRole('member');
  const readerRole = cloud.seedRole('reader');
  // demo is their default project: clusters they create in the panel go there unless they choose.
  const admin = cloud.seedUser({ name: 'admin', password: 'admin', defaultProjectId: demo.id });
  const demoUser = cloud.seedUser({ name: 'demo', password: 'demo', defaultProjectId: demo.id });
  cloud.assignRole({ projectId: demo.id, roleId: adminRole.id, userId: admin.id });
  cloud.assignRole({ projectId: demo.id, roleId: memberRole.id, userId: demoUser.id });
  // kaas' own least-privilege service user: a reader that may read role assignments.
  const service = cloud.seedUser({ name: 'kaas-service', password: 'kaas-service-dev' });
  cloud.assignRole({ projectId: demo.id, roleId: readerRole.id, userId: service.id });
  // The job workers build clusters in the demo project as their own member user.
  const builder = cloud.seedUser({ name: 'kaas-provisioner', password: 'kaas-provisioner-dev' });
  cloud.assignRole({ projectId: demo.id, roleId: memberRole.id, userId: builder.id });
  // Octavia's default policy lets only load-balancer_member holders list and delete load balancers:
  // without it a cluster's delete stops at its load-balancer sweep.
  const lbMember = cloud.seedRole('load-balancer_member');
  cloud.assignRole({ projectId: demo.id, roleId: lbMember.id, userId: builder.id });
  // .kaas/clouds.yaml is admin's on demo: the openstack CLI needs member (Swift) and
  // load-balancer_member (Octavia) there, as any user of a project's cloud would hold.
  for (const role of [memberRole, lbMember])
    cloud.assignRole({ projectId: demo.id, roleId: role.id, userId: admin.id });
  const unknown = await unknownToCloud(store, cloud, files.cloud);
  if (unknown) {
    await store.close();
    await cloud.close();
    throw devMismatch(dataDir, unknown);
  }
  cloud.save();

  // Set once the provisioner's cloud client exists; the renderer and address hooks run in jobs only.
  let kube: DevKube | undefined;
  const kubeHooks: Partial<ProvisionerDeps> = options.kube
    ? {
        renderer: (material, save) => kube!.renderer(material, save),
        apiAddress: (clusterId) => kube?.apiAddress(clusterId),
      }
    : { noKubernetes: DEV_NO_KUBERNETES };
  const autoscalerTls = autoscalerPort === undefined ? undefined : await devAutoscalerTls(files.autoscaler);
  const jobs = await openProvisionerFromEnv(
    {
      KAAS_DATABASE_URL: databaseUrl,
      KAAS_SECRET_KEY_FILE: files.secretKey,
      KAAS_URL: url,
      ...cloudsimEnv(cloud.authUrl, 'kaas-provisioner', 'kaas-provisioner-dev'),
    },
    // No clouds.yaml from the developer's machine: the dev cloud is cloudsim only.
    {
      logger,
      cwd: dataDir,
      home: dataDir,
      ...kubeHooks,
      // Clusters' cluster-autoscaler reaches this kaas dev where its control planes do: on loopback.
      ...(autoscalerTls
        ? { autoscaler: { address: `127.0.0.1:${autoscalerPort}`, caPem: autoscalerTls.caPem } }
        : {}),
      ...options.provisioner,
    },
  );
  if (options.kube) {
    const state = cloud.state;
    kube = startDevKube({
      dir: files.kube,
      cloud: jobs.cloud,
      // cloudsim is the hypervisor here: it hands a booting server its user data (base64 in Nova).
      userData: async (id) => {
        const encoded = state.servers.get(id)?.userData;
        return encoded ? Buffer.from(encoded, 'base64').toString('utf8') : undefined;
      },
      db: store.db,
      logger,
    });
    const { failed } = await kube.restore();
    for (const f of failed)
      options.kube.write(
        `kaas dev --kube: the control plane of cluster ${f.clusterId} did not restart: ${f.reason}\n`,
      );
  }
  const kaasCloud = createCloud({
    config: resolveCloudConfig({ env: cloudsimEnv(cloud.authUrl, 'kaas-service', 'kaas-service-dev') }),
    logger,
  });
  const directory = keystoneDirectory(kaasCloud);
  const auth = createAuthService({ store, directory, logger, now });
  auth.start();
  // The Keystone sync copies the role assignments of cluster projects only: the first cluster of
  // the demo project would be out of its admins' reach until the next round, a minute later.
  const provisioner: Provisioner = {
    ...jobs.provisioner,
    async createCluster(spec, createOptions, choice) {
      const created = await jobs.provisioner.createCluster(spec, createOptions, choice);
      await auth.sync();
      return created;
    },
  };
  const specDefaults = {
    // cloudsim's images carry short names; clusters' admins are the demo's kubernetes-admins.
    KUBE_IMAGE: 'debian-12',
    KUBE_ADMIN_ROLE_ID: adminRole.id,
    // Without --kube cloudsim's servers never boot a Kubernetes API: do not wait for one.
    KAAS_WAIT_FOR_API: options.kube ? 'true' : 'false',
  };
  const webRoot = fileURLToPath(new URL('../../web/dist', import.meta.url));
  if (!existsSync(webRoot)) logger.warn('web/dist is missing: run `npm run build:web` for the control panel');
  const app = await buildApp({
    publicUrl: () => url,
    store,
    logger,
    now,
    auth,
    provisioner,
    // The demo's cluster admins are its operators.
    isOperator: operatorCheck(kaasCloud, directory, 'kubernetes-admins'),
    // The panel's create form offers what the CLI's `source .kaas/env` sets.
    cloud: jobs.cloud,
    createEnv: specDefaults,
    ...(existsSync(webRoot) ? { webRoot } : {}),
  });
  await app.listen({ host: '127.0.0.1', port });
  const autoscaler = autoscalerTls
    ? await startExternalGrpc(
        {
          autoscale: jobs.provisioner.autoscale,
          clusterCas: jobs.provisioner.clusterCas,
          identity: autoscalerTls.identity,
          logger,
        },
        { host: '127.0.0.1', port: autoscalerPort! },
      )
    : undefined;
  const envFile = writeDevEnv({
    dataDir,
    kaasUrl: url,
    authUrl: cloud.authUrl,
    user: { name: 'admin', password: 'admin', project: 'demo' },
    specDefaults,
    cli: { node: process.execPath, script: fileURLToPath(new URL('../../bin/kaas.mjs', import.meta.url)) },
  });
  const worker = startWorkerLoop({
    engine: jobs.provisioner.engine,
    logger,
    idleMs: options.workerPollMs ?? 1_000,
    ...reconcilerOf(
      jobs.provisioner,
      options.resyncSeconds ?? DEFAULT_RESYNC_SECONDS,
      options.healPollSeconds,
    ),
  });
  return {
    url,
    envFile,
    cloud,
    provisioner: jobs.provisioner,
    ...(autoscaler ? { autoscalerPort: autoscaler.port } : {}),
    async close() {
      if ((await worker.stop(5_000)) === 'abandoned')
        logger.warn('kaas dev stopped with a job in hand; the next `kaas dev` resumes it');
      await kube?.close();
      await autoscaler?.close();
      await app.close();
      await auth.close();
      await store.close();
      await jobs.close();
      await cloud.close();
    },
  };
}

/** What a test replaces in `kaas dev` run as a command (test/support/devProcess.ts: the release catalogue). */
export interface DevCommandDeps {
  provisioner?: Partial<ProvisionerDeps>;
}

/**
 * `kaas dev`: kaas with its embedded cloud (cloudsim) on 127.0.0.1 until Ctrl-C or SIGTERM, its
 * state in `.kaas/`. Logs are text lines at a terminal, JSON otherwise or with `--log-format json`.
 */
export function registerDevCommand(program: Command, deps: DevCommandDeps = {}): void {
  program
    .command('dev')
    .description('run kaas with its embedded cloud (cloudsim) and job worker on 127.0.0.1')
    .option(
      '--reset',
      'first remove the database and the embedded cloud kept in .kaas/, saying what it removes',
    )
    .option(
      '--kube',
      'give each cluster a real control plane on 127.0.0.1 (kubelab binaries: bash test/kubelab/build.sh), so its kubeconfig works with kubectl',
    )
    .addOption(
      new Option('--log-format <format>', 'log lines: text (the default at a terminal) or json').choices([
        'text',
        'json',
      ]),
    )
    .action(async (flags: { reset?: boolean; kube?: boolean; logFormat?: LogFormat }) => {
      const dataDir = '.kaas';
      const dev = await startDev({
        dataDir,
        ...(flags.reset ? { reset: process.stderr } : {}),
        ...(flags.kube ? { kube: process.stderr } : {}),
        port: Number(process.env.PORT ?? 8080),
        logger: createLogger({ format: flags.logFormat ?? (process.stderr.isTTY ? 'text' : 'json') }),
        resyncSeconds: resyncSecondsFromEnv(process.env),
        healPollSeconds: healPollSecondsFromEnv(process.env),
        ...(autoscalerPortFromEnv(process.env) === undefined
          ? {}
          : { autoscalerPort: autoscalerPortFromEnv(process.env)! }),
        provisioner: { ...releaseDepsFromEnv(process.env), ...deps.provisioner },
      });
      process.stderr.write(
        `\nkaas control panel: ${dev.url}/\ncloudsim auth URL:  ${dev.cloud.authUrl}\n` +
          `embedded cloud:     ${dev.cloud.restored ? 'restored from' : 'new, kept in'} ${devFiles(dataDir).cloud}\n` +
          `clusters' Kubernetes API: ${flags.kube ? `a control plane each on 127.0.0.1, kept in ${devFiles(dataDir).kube}` : 'none (--kube gives each a control plane for kubectl)'}\n` +
          `cluster-autoscaler's provider: ${dev.autoscalerPort === undefined ? 'not served (set KAAS_AUTOSCALER_PORT)' : `externalgrpc on 127.0.0.1:${dev.autoscalerPort} (mutual TLS)`}\n` +
          'users (domain Default): admin/admin (kubernetes-admins and member on demo: operator; .kaas/clouds.yaml is theirs), demo/demo (member)\n' +
          `for the kaas CLI, in another shell (again after each restart):\n  source ${dev.envFile}\n\n`,
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
