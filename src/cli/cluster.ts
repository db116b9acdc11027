import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { Agent, fetch } from 'undici';
import { parse as parseYaml } from 'yaml';
import {
  CLUSTER_DEFAULTS,
  DEFAULT_GROUP_NAME,
  specFromEnv,
  type SpecOverrides,
} from '../cluster/defaults.ts';
import { InputError, UpstreamError } from '../errors.ts';
import { createLogger, type Logger } from '../log.ts';
import { createCloud, loadCloudConfig } from '../openstack/index.ts';
import type { WebhookTarget } from '../provisioner/material.ts';
import { createProvisioner, type Provisioner, type ProvisionerDeps } from '../provisioner/provisioner.ts';
import { secretKeyFromEnv } from '../provisioner/secretbox.ts';
import type { ApiProbe } from '../provisioner/steps/context.ts';
import { openStore } from '../store/db.ts';
import type { JobRecord } from '../store/findJob.ts';
import { migrateToLatest } from '../store/migrate.ts';
import { DEFAULT_RELEASE, supportedPatchList } from '../versions/index.ts';

type Env = Record<string, string | undefined>;

/** What the cluster commands need; `open` builds the provisioner (see {@link openProvisionerFromEnv}). */
export interface ClusterCommandDeps {
  open(): Promise<{ provisioner: Provisioner; close(): Promise<void> }>;
  /** Spec defaults overrides (NUM_NODES, KUBE_VERSION…); default process.env. */
  env?: Env;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

/** Default database of the operator CLI: an SQLite file in the working directory. */
export const DEFAULT_DATABASE_URL = 'sqlite:.kaas/kaas.db';

/** The webhook target from KAAS_URL + KAAS_CA_FILE; undefined when unset (only create needs it). */
function webhookFromEnv(env: Env): WebhookTarget | undefined {
  if (!env.KAAS_URL && !env.KAAS_CA_FILE) return undefined;
  if (!env.KAAS_URL || !env.KAAS_CA_FILE) {
    throw new InputError(
      'set both KAAS_URL (https URL clusters reach kaas at) and KAAS_CA_FILE (its CA, PEM)',
      {
        field: env.KAAS_URL ? 'KAAS_CA_FILE' : 'KAAS_URL',
      },
    );
  }
  let caPem: string;
  try {
    caPem = readFileSync(env.KAAS_CA_FILE, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read KAAS_CA_FILE ${env.KAAS_CA_FILE}`, {
      field: 'KAAS_CA_FILE',
      cause: error,
    });
  }
  if (!caPem.includes('-----BEGIN CERTIFICATE-----'))
    throw new InputError('KAAS_CA_FILE must hold a PEM certificate', { field: 'KAAS_CA_FILE' });
  return { kaasUrl: env.KAAS_URL, caPem };
}

/** Probes a cluster API's /healthz, trusting only the cluster CA when it is known. */
export const probeApi: ApiProbe = async (url, signal, caPem) => {
  const dispatcher = new Agent({ connect: caPem ? { ca: caPem } : {}, headersTimeout: 5_000 });
  try {
    const res = await fetch(url, {
      dispatcher,
      signal: AbortSignal.any([signal, AbortSignal.timeout(5_000)]),
    });
    await res.text();
    return res.status;
  } finally {
    await dispatcher.close();
  }
};

/**
 * Builds the provisioner the operator CLI runs jobs with, from the environment: KAAS_DATABASE_URL
 * (default sqlite:.kaas/kaas.db, migrated to the latest schema), the cloud from clouds.yaml / OS_*,
 * KAAS_SECRET_KEY or KAAS_SECRET_KEY_FILE, and KAAS_URL + KAAS_CA_FILE for the webhook.
 */
export async function openProvisionerFromEnv(
  env: Env,
  over: { logger?: Logger; cwd?: string; home?: string } & Partial<ProvisionerDeps> = {},
): Promise<{ provisioner: Provisioner; close(): Promise<void> }> {
  const secretKey = secretKeyFromEnv(env);
  const webhook = webhookFromEnv(env);
  const config = loadCloudConfig({
    env,
    ...(over.cwd ? { cwd: over.cwd } : {}),
    ...(over.home ? { home: over.home } : {}),
  });
  const logger = over.logger ?? createLogger({ level: env.KAAS_LOG_LEVEL ?? 'warn' });
  const store = openStore(env.KAAS_DATABASE_URL ?? DEFAULT_DATABASE_URL);
  try {
    await migrateToLatest(store.db as never);
  } catch (error) {
    await store.close();
    throw error;
  }
  const provisioner = createProvisioner({
    store,
    logger,
    now: () => new Date(),
    cloud: createCloud({ config, logger }),
    secretKey,
    ...(webhook ? { webhook } : {}),
    fetchApi: probeApi,
    ...over,
  });
  return {
    provisioner,
    close: () => store.close(),
  };
}

interface Common {
  output?: string;
  wait?: boolean;
}

interface CreateFlags extends Common {
  file?: string;
  release: string;
  waitForApi: boolean;
  name?: string;
  kubernetesVersion?: string;
  masters?: string;
  workers?: string;
  masterFlavor?: string;
  nodeFlavor?: string;
  image?: string;
  sshKeyName?: string;
  externalNetwork?: string;
  adminRoleId?: string;
  adminKubeconfig?: string;
}

function readSpecFile(path: string): SpecOverrides {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new InputError(`cannot read cluster spec ${path}: ${(error as Error).message}`, {
      field: 'file',
      cause: error,
    });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new InputError(`cluster spec ${path} must be a YAML or JSON object`, { field: 'file' });
  return doc as SpecOverrides;
}

function integer(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value))
    throw new InputError(`--${flag} must be a whole number, got ${value}`, { field: flag });
  return Number(value);
}

/** Spec file, then flags, over the environment (NUM_NODES, KUBE_VERSION…) and the defaults. */
function specFrom(opts: CreateFlags, env: Env) {
  const file = opts.file ? readSpecFile(opts.file) : {};
  const workers = integer('workers', opts.workers);
  const masters = integer('masters', opts.masters);
  const flags: SpecOverrides = {
    ...(opts.name ? { name: opts.name } : {}),
    ...(opts.kubernetesVersion ? { kubernetesVersion: opts.kubernetesVersion } : {}),
    ...(masters !== undefined ? { masters } : {}),
    ...(opts.masterFlavor ? { masterFlavor: opts.masterFlavor } : {}),
    ...(opts.image ? { image: opts.image } : {}),
    ...(opts.sshKeyName ? { sshKeyName: opts.sshKeyName } : {}),
    ...(opts.externalNetwork ? { externalNetwork: opts.externalNetwork } : {}),
    ...(opts.adminRoleId ? { adminRoleId: opts.adminRoleId } : {}),
  };
  if (workers !== undefined || opts.nodeFlavor) {
    if (file.nodeGroups)
      throw new InputError('--workers/--node-flavor cannot change a spec file with nodeGroups', {
        field: 'nodeGroups',
      });
    flags.nodeGroups = [
      {
        name: DEFAULT_GROUP_NAME,
        count: workers ?? integer('NUM_NODES', env.NUM_NODES) ?? CLUSTER_DEFAULTS.numNodes,
        flavor: opts.nodeFlavor ?? env.KUBE_NODE_FLAVOR ?? CLUSTER_DEFAULTS.nodeFlavor,
      },
    ];
  }
  return specFromEnv(env, { ...file, ...flags });
}

/** Writes a secret file for the operator: mode 0600, never over an existing file. */
function writeSecretFile(path: string, content: string): void {
  try {
    writeFileSync(path, content, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    throw new InputError(
      (error as NodeJS.ErrnoException).code === 'EEXIST'
        ? `${path} already exists; kaas does not overwrite credentials, choose another path`
        : `cannot write ${path}: ${(error as Error).message}`,
      { field: 'path', code: 'file_exists', cause: error },
    );
  }
}

/**
 * `kaas cluster create|list|show|resize|upgrade|delete|retry|kubeconfig`. Mutations queue a job
 * and, unless `--no-wait`, run it in this process printing progress events on stderr; data (the
 * cluster or job) goes to stdout, as JSON with `--output json`. A failed job exits 7 (upstream).
 */
export function registerClusterCommands(program: Command, deps: ClusterCommandDeps): void {
  const out = deps.stdout ?? process.stdout;
  const err = deps.stderr ?? process.stderr;
  const env = deps.env ?? process.env;
  const print = (opts: Common, data: unknown, human: () => string) =>
    out.write(opts.output === 'json' ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);

  async function withProvisioner<T>(work: (p: Provisioner) => Promise<T>): Promise<T> {
    const { provisioner, close } = await deps.open();
    try {
      return await work(provisioner);
    } finally {
      await close();
    }
  }

  /** Runs queued jobs here, echoing the job's new events to stderr as they appear. */
  async function follow(p: Provisioner, job: JobRecord): Promise<JobRecord> {
    let after: string | undefined;
    let seen = new Set<string>();
    const flush = async () => {
      const view = await p.getJob(job.id, after);
      for (const e of view.events) {
        const key = `${e.at}|${e.stepId ?? ''}|${e.message}`;
        if (seen.has(key)) continue;
        err.write(`${e.at} ${e.level.padEnd(5)} ${e.stepId ?? '-'}: ${e.message}\n`);
        if (e.at !== after) seen = new Set();
        seen.add(key);
        after = e.at;
      }
      return view.job;
    };
    const timer = setInterval(() => void flush().catch(() => undefined), 500);
    try {
      await p.runUntilIdle();
    } finally {
      clearInterval(timer);
    }
    return flush();
  }

  function failIfFailed(final: JobRecord): void {
    if (final.state !== 'failed') return;
    throw new UpstreamError(
      `job ${final.id} (${final.kind}) failed at ${final.error?.stepId ?? 'start'}: ${final.error?.message ?? ''}; run \`kaas cluster retry ${final.clusterId}\` once the cause is fixed`,
      { code: 'job_failed' },
    );
  }

  const mutate = async (
    opts: Common,
    run: (p: Provisioner) => Promise<JobRecord | undefined>,
    noop = 'nothing to do',
  ) =>
    withProvisioner(async (p) => {
      const job = await run(p);
      if (!job) {
        err.write(`${noop}\n`);
        print(opts, { job: null }, () => noop);
        return;
      }
      const final = opts.wait === false ? job : await follow(p, job);
      print(opts, final, () => `${final.id} ${final.kind} ${final.state}`);
      failIfFailed(final);
    });

  const cluster = program.command('cluster').description('create and operate Kubernetes clusters');
  const withOutput = (c: Command) => c.option('-o, --output <format>', 'text or json', 'text');

  withOutput(
    cluster
      .command('create')
      .description(
        'create a cluster from a spec file (YAML/JSON) and/or flags over NUM_NODES, KUBE_* defaults',
      )
      .option('-f, --file <path>', 'cluster spec (YAML or JSON)')
      .option('--name <name>', 'cluster name (DNS label)')
      .option(
        '--kubernetes-version <version>',
        `one of ${supportedPatchList()}; default ${DEFAULT_RELEASE.patch} (env KUBE_VERSION)`,
      )
      .option('--masters <n>', '1 or 3 (env NUM_MASTERS)')
      .option('--workers <n>', 'workers of the default node group (env NUM_NODES)')
      .option('--master-flavor <flavor>', 'env KUBE_MASTER_FLAVOR')
      .option('--node-flavor <flavor>', 'env KUBE_NODE_FLAVOR')
      .option('--image <image>', 'env KUBE_IMAGE')
      .option('--ssh-key-name <name>', 'existing Nova keypair (env SSH_KEY_NAME); default: generate one')
      .option('--external-network <name>', 'env EXTERNAL_NETWORK')
      .option(
        '--admin-role-id <id>',
        'Keystone role whose holders are cluster-admin (env KUBE_ADMIN_ROLE_ID)',
      )
      .requiredOption('--release <pathOrUrl>', 'kubernetes-server-linux-amd64.tar.gz to stage in Swift')
      .option(
        '--admin-kubeconfig <path>',
        'write the break-glass admin kubeconfig here (0600, never overwritten)',
      )
      .option('--no-wait-for-api', 'do not wait for the Kubernetes API (clouds whose servers do not boot)')
      .option('--no-wait', 'queue the job and return'),
  ).action(async (opts: CreateFlags) => {
    if (opts.adminKubeconfig && opts.wait === false)
      throw new InputError('--admin-kubeconfig needs the create to finish here; drop --no-wait', {
        field: 'admin-kubeconfig',
      });
    if (opts.adminKubeconfig && existsSync(opts.adminKubeconfig))
      throw new InputError(`${opts.adminKubeconfig} already exists; kaas does not overwrite credentials`, {
        field: 'admin-kubeconfig',
        code: 'file_exists',
      });
    const spec = specFrom(opts, env);
    await withProvisioner(async (p) => {
      const created = await p.createCluster(spec, {
        releaseSource: opts.release,
        waitForApi: opts.waitForApi,
      });
      if (created.privateKey) {
        err.write(
          `generated SSH key for the nodes (shown once, not stored by kaas; save it with mode 0600):\n${created.privateKey}`,
        );
      }
      const final = opts.wait === false ? created.job : await follow(p, created.job);
      if (final.state === 'succeeded' && opts.adminKubeconfig) {
        writeSecretFile(opts.adminKubeconfig, await p.adminKubeconfig(created.cluster.id));
        err.write(`break-glass admin kubeconfig written to ${opts.adminKubeconfig} (keep it offline)\n`);
      }
      print(
        opts,
        { cluster: await p.getCluster(created.cluster.id), job: final },
        () => `${created.cluster.name} ${created.cluster.id} ${final.state}`,
      );
      failIfFailed(final);
    });
  });

  withOutput(cluster.command('list').description('list clusters')).action(async (opts: Common) =>
    withProvisioner(async (p) => {
      const items = await p.listClusters();
      print(opts, { items }, () =>
        [
          'NAME\tID\tSTATUS\tVERSION\tWORKERS',
          ...items.map(
            (c) =>
              `${c.name}\t${c.id}\t${c.status}\t${c.spec.kubernetesVersion}\t${c.spec.nodeGroups.reduce((n, g) => n + g.count, 0)}`,
          ),
        ].join('\n'),
      );
    }),
  );

  withOutput(
    cluster.command('show <cluster>').description('show a cluster, its last job and per-step progress'),
  ).action(async (ref: string, opts: Common) =>
    withProvisioner(async (p) => {
      const c = await p.getCluster(ref);
      const job = c.lastJob ? await p.getJob(c.lastJob.id) : undefined;
      print(opts, { cluster: c, job }, () =>
        [
          `${c.name} (${c.id}) ${c.status}, Kubernetes ${c.spec.kubernetesVersion}`,
          ...(job
            ? [
                `last job ${job.job.id} ${job.job.kind} ${job.job.state} (${job.steps.filter((s) => s.state === 'done').length}/${job.steps.length} steps done)`,
                ...job.steps.map((s) => `  ${s.state.padEnd(8)} ${s.stepId}`),
                ...(job.job.error
                  ? [`error at ${job.job.error.stepId ?? 'start'}: ${job.job.error.message}`]
                  : []),
              ]
            : []),
        ].join('\n'),
      );
    }),
  );

  withOutput(
    cluster
      .command('resize <cluster>')
      .description('set the number of workers of a node group (removed nodes are drained first)')
      .requiredOption('--count <n>', 'new worker count')
      .option('--group <name>', 'node group', DEFAULT_GROUP_NAME)
      .option('--no-wait', 'queue the job and return'),
  ).action(async (ref: string, opts: Common & { count: string; group: string }) => {
    const count = integer('count', opts.count) as number;
    await mutate(opts, (p) => p.resizeCluster(ref, opts.group, count));
  });

  withOutput(
    cluster
      .command('upgrade <cluster>')
      .description('upgrade Kubernetes by at most one minor version')
      .requiredOption(
        '--version <version>',
        `target version, one of ${supportedPatchList()}, at most one minor above the cluster's`,
      )
      .option('--no-wait', 'queue the job and return'),
  ).action(async (ref: string, opts: Common & { version: string }) =>
    mutate(
      opts,
      (p) => p.upgradeCluster(ref, opts.version),
      `cluster already runs Kubernetes ${opts.version}`,
    ),
  );

  withOutput(
    cluster
      .command('delete <cluster>')
      .description('delete a cluster and every resource tagged with it')
      .option('--no-wait', 'queue the job and return'),
  ).action(async (ref: string, opts: Common) => mutate(opts, (p) => p.deleteCluster(ref)));

  withOutput(
    cluster
      .command('retry <cluster>')
      .description("retry the cluster's failed job from the step that failed")
      .option('--no-wait', 'queue the job and return'),
  ).action(async (ref: string, opts: Common) =>
    mutate(opts, async (p) => {
      const [last] = await p.listJobs(ref);
      if (!last) throw new InputError(`cluster ${ref} has no job to retry`, { code: 'no_job' });
      return p.retryJob(ref, last.id);
    }),
  );

  cluster
    .command('kubeconfig <cluster>')
    .description('print (or write, 0600) the break-glass admin kubeconfig; operators only')
    .option('--admin', 'the break-glass client-certificate kubeconfig')
    .option('--file <path>', 'write it to this new file instead of stdout')
    .action(async (ref: string, opts: { admin?: boolean; file?: string }) => {
      if (!opts.admin) {
        throw new InputError(
          'only --admin is available here; users download their kubeconfig from the control panel',
          {
            field: 'admin',
          },
        );
      }
      await withProvisioner(async (p) => {
        const text = await p.adminKubeconfig(ref);
        if (opts.file) {
          writeSecretFile(opts.file, text);
          err.write(`written to ${opts.file}\n`);
        } else out.write(text);
      });
    });
}
