import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import {
  CLUSTER_DEFAULTS,
  DEFAULT_GROUP_NAME,
  specFromEnv,
  type SpecOverrides,
} from '../cluster/defaults.ts';
import { describeAutoHeal } from '../cluster/autoheal.ts';
import { describeAutoscaling } from '../cluster/bounds.ts';
import { InputError, NotFoundError, UpstreamError } from '../errors.ts';
import type { ClusterView, CreateResult, JobView } from '../provisioner/provisioner.ts';
import type { JobRecord } from '../store/findJob.ts';
import { DEFAULT_RELEASE, supportedPatchList } from '../versions/index.ts';
import { describeCluster, describeClusters, operationOf, publicCluster, showData } from './clusterOutput.ts';
import { rotateCredentialsDirect } from './credentials.ts';
import { DetachedError } from './exit.ts';
import { prompter } from './login.ts';
import { operatorAudit } from './operator.ts';
import { formatOutput, withOutput, type OutputFormat } from './output.ts';
import { openProvisionerFromEnv } from './provisioner.ts';
import { inTermsOf, openSession, type KaasSession } from './session.ts';

type Env = Record<string, string | undefined>;

/** What the cluster commands need from the process (injected so tests can drive them). */
export interface ClusterCommandDeps {
  /** KAAS_URL, KAAS_CA_FILE, KAAS_CONFIG_DIR, spec defaults (NUM_NODES, KUBE_VERSION…); default process.env. */
  env?: Env;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Where `cluster delete` reads its confirmation; only a terminal (isTTY) is asked. Default process.stdin. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  /** How often a followed job is polled; default one second. */
  pollMs?: number;
}

interface Common {
  output: OutputFormat;
  wait?: boolean;
}

/** The spec fields `cluster create` flags set (the option keys are the field names), and their flags. */
const SPEC_FLAGS: Record<string, string> = {
  name: '--name',
  kubernetesVersion: '--kubernetes-version',
  masters: '--masters',
  masterFlavor: '--master-flavor',
  image: '--image',
  sshKeyName: '--ssh-key-name',
  externalNetwork: '--external-network',
  adminRoleId: '--admin-role-id',
  imageRepository: '--image-repository',
};

/** The request fields of resize and upgrade, as their flags. */
const OPERATION_FLAGS: Record<string, string> = { count: '--count', group: '--group', version: '--version' };

/** The request fields of `cluster set`, as their flags. */
const SET_FLAGS: Record<string, string> = {
  autoHeal: '--auto-heal',
  group: '--group',
  minSize: '--min-workers',
  maxSize: '--max-workers',
};

/** Parses an on/off flag value. */
function onOff(value: string): boolean {
  if (value === 'on' || value === 'off') return value === 'on';
  throw new InvalidArgumentError('use on or off');
}

/**
 * The flags of `opts` the user typed, by the spec field each set: errors about those fields name
 * the flag; fields from the spec file keep their own name (what the user wrote there), those from
 * the environment say which variable.
 */
function typedFlags(opts: CreateFlags): Record<string, string> {
  const typed = Object.entries(SPEC_FLAGS).filter(
    ([field]) => opts[field as keyof CreateFlags] !== undefined,
  );
  if (opts.workers !== undefined) typed.push(['nodeGroups[0].count', '--workers']);
  if (opts.nodeFlavor !== undefined) typed.push(['nodeGroups[0].flavor', '--node-flavor']);
  if (opts.minWorkers !== undefined) typed.push(['nodeGroups[0].minSize', '--min-workers']);
  if (opts.maxWorkers !== undefined) typed.push(['nodeGroups[0].maxSize', '--max-workers']);
  return Object.fromEntries(typed);
}

interface CreateFlags extends Common {
  file?: string;
  waitForApi: boolean;
  name?: string;
  kubernetesVersion?: string;
  masters?: string;
  workers?: string;
  minWorkers?: string;
  maxWorkers?: string;
  masterFlavor?: string;
  nodeFlavor?: string;
  image?: string;
  sshKeyName?: string;
  externalNetwork?: string;
  adminRoleId?: string;
  imageRepository?: string;
  /** Name or id of the OpenStack project the cluster belongs to (the API checks the caller holds a role there). */
  project?: string;
}

/** A job is over once it reaches one of these; anything else is still the server's to run. */
const FINAL_STATES = new Set<JobRecord['state']>(['succeeded', 'failed', 'cancelled']);

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

/** Whether the boolean variable `name` is set to false (unset or true: no); anything else is refused. */
function falseInEnv(env: Env, name: string): boolean {
  const value = env[name]?.trim();
  if (value === undefined || value === '' || value === 'true') return false;
  if (value === 'false') return true;
  throw new InputError(`${name} must be true or false, got "${value}"`, { field: name });
}

/** Spec file, then flags, over the environment (NUM_NODES, KUBE_VERSION…) and the defaults. */
function specFrom(opts: CreateFlags, env: Env) {
  const file = opts.file ? readSpecFile(opts.file) : {};
  const workers = integer('workers', opts.workers);
  const minSize = integer('min-workers', opts.minWorkers);
  const maxSize = integer('max-workers', opts.maxWorkers);
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
    ...(opts.imageRepository ? { imageRepository: opts.imageRepository } : {}),
  };
  if (workers !== undefined || opts.nodeFlavor || minSize !== undefined || maxSize !== undefined) {
    if (file.nodeGroups)
      throw new InputError(
        '--workers/--node-flavor/--min-workers/--max-workers cannot change a spec file with nodeGroups',
        {
          field: 'nodeGroups',
        },
      );
    flags.nodeGroups = [
      {
        name: DEFAULT_GROUP_NAME,
        count: workers ?? integer('NUM_NODES', env.NUM_NODES) ?? CLUSTER_DEFAULTS.numNodes,
        flavor: opts.nodeFlavor ?? env.KUBE_NODE_FLAVOR ?? CLUSTER_DEFAULTS.nodeFlavor,
        ...(minSize === undefined ? {} : { minSize }),
        ...(maxSize === undefined ? {} : { maxSize }),
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

const path = (...parts: string[]) => `/api/v1/clusters/${parts.map(encodeURIComponent).join('/')}`;

/**
 * `kaas cluster create|list|show|resize|upgrade|delete|retry|rotate-credentials|set`: clients of
 * the kaas server's API at the URL `kaas login` saved (KAAS_URL). The server's job workers run every operation; a mutation
 * submits it and follows its progress by polling, echoing events on stderr. `--no-wait` returns at
 * once with the queued job, and Ctrl-C stops following without stopping the job. Data (the cluster
 * or job) goes to stdout, as JSON with `--output json`; a failed job exits 7 (upstream).
 * `kaas cluster kubeconfig --admin` is the operator's break-glass path: it reads the database with
 * KAAS_SECRET_KEY locally and never goes through the API; so does `rotate-credentials --direct`.
 */
export function registerClusterCommands(program: Command, deps: ClusterCommandDeps = {}): void {
  const out = deps.stdout ?? process.stdout;
  const err = deps.stderr ?? process.stderr;
  const env = deps.env ?? process.env;
  const pollMs = deps.pollMs ?? 1_000;
  const print = (opts: Common, data: unknown, human: (wide: boolean) => string) =>
    out.write(formatOutput(opts.output, data, human));

  async function withSession<T>(
    work: (s: KaasSession) => Promise<T>,
    flags: Record<string, string> = OPERATION_FLAGS,
  ): Promise<T> {
    const session = openSession(env);
    try {
      return await inTermsOf(flags, () => work(session));
    } finally {
      await session.close();
    }
  }

  /** The clusters the caller holds a role on (the control panel's list). */
  const visible = async (s: KaasSession) =>
    (await s.call<{ items: { id: string; name: string; isAdmin: boolean }[] }>('GET', '/api/v1/clusters'))
      .body.items;
  const listed = async (s: KaasSession, id: string) => (await visible(s)).some((c) => c.id === id);

  /** The id of the cluster named `ref` (id or name) among those the caller can see. */
  async function clusterId(s: KaasSession, ref: string): Promise<string> {
    const items = await visible(s);
    const found = items.find((c) => c.id === ref) ?? items.find((c) => c.name === ref);
    if (!found)
      throw new NotFoundError(`no cluster "${ref}" that you have access to`, { code: 'cluster_not_found' });
    return found.id;
  }

  /**
   * Polls the job until it is over, echoing its new events to stderr. SIGINT detaches: the job is
   * the server's, so following stops and the job keeps running (DetachedError says how to look).
   */
  async function follow(s: KaasSession, ref: string, job: JobRecord): Promise<JobRecord> {
    let after: string | undefined;
    let seen = new Set<string>();
    let interrupted = false;
    let last = job;
    let wake = () => undefined as void;
    const onInterrupt = () => {
      interrupted = true;
      wake();
    };
    process.on('SIGINT', onInterrupt);
    try {
      for (;;) {
        const query = after === undefined ? '' : `?after=${encodeURIComponent(after)}`;
        let view: JobView;
        try {
          view = (await s.call<JobView>('GET', `${path(job.clusterId, 'jobs', job.id)}${query}`)).body;
        } catch (error) {
          // Only a delete job's success removes the cluster (its jobs are then out of reach): a
          // cluster the server no longer lists at all was deleted by this job.
          if (job.kind === 'delete' && error instanceof NotFoundError && !(await listed(s, job.clusterId))) {
            err.write(
              `${new Date().toISOString()} ${'info'.padEnd(5)} -: the server no longer lists cluster ${job.clusterId}: deleted\n`,
            );
            return { ...last, state: 'succeeded' };
          }
          throw error;
        }
        last = view.job;
        for (const e of view.events) {
          const key = `${e.at}|${e.stepId ?? ''}|${e.message}`;
          if (seen.has(key)) continue;
          err.write(`${e.at} ${e.level.padEnd(5)} ${e.stepId ?? '-'}: ${e.message}\n`);
          if (e.at !== after) seen = new Set();
          seen.add(key);
          after = e.at;
        }
        if (FINAL_STATES.has(view.job.state)) return view.job;
        if (interrupted) {
          throw new DetachedError(
            `stopped following; job ${view.job.id} (${view.job.kind}) keeps running on the server: follow it with \`kaas cluster show ${ref}\``,
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      process.off('SIGINT', onInterrupt);
    }
  }

  /** A cluster's view; `observed` is what its Kubernetes API reported when kaas last looked. */
  const getCluster = async (s: KaasSession, id: string) => (await s.call<ClusterView>('GET', path(id))).body;

  function failIfFailed(ref: string, final: JobRecord): void {
    if (final.state === 'succeeded' || !FINAL_STATES.has(final.state)) return;
    throw new UpstreamError(
      `job ${final.id} (${final.kind}) ${final.state} at ${final.error?.stepId ?? 'start'}: ${final.error?.message ?? ''}; run \`kaas cluster retry ${ref}\` once the cause is fixed`,
      { code: 'job_failed' },
    );
  }

  /**
   * Submits a mutation of cluster `ref` and, unless --no-wait, follows the job it queued. Without a
   * job, `message` says why; `view` (a change made at once) is then the output.
   */
  const mutate = (
    ref: string,
    opts: Common,
    submit: (
      s: KaasSession,
      id: string,
    ) => Promise<{ job: JobRecord | null; message?: string; view?: ClusterView }>,
    flags?: Record<string, string>,
  ) =>
    withSession(async (s) => {
      const { job, message, view } = await submit(s, await clusterId(s, ref));
      if (!job) {
        const noop = message ?? 'nothing to do';
        if (view) print(opts, publicCluster(view), () => noop);
        else {
          err.write(`${noop}\n`);
          print(opts, { job: null }, () => noop);
        }
        return;
      }
      const final = opts.wait === false ? job : await follow(s, ref, job);
      print(opts, operationOf(final), () => `${final.id} ${final.kind} ${final.state}`);
      failIfFailed(ref, final);
    }, flags);

  /** Asks the terminal to type the cluster's name; refuses without a terminal (use --yes). */
  async function confirmDelete(ref: string): Promise<void> {
    const stdin = deps.stdin ?? process.stdin;
    if (!stdin.isTTY) {
      throw new InputError(
        `refusing to delete cluster ${ref} without confirmation: stdin is not a terminal; add --yes to delete it`,
        { code: 'confirmation_required', field: '--yes' },
      );
    }
    const prompt = prompter({ env, stdin, stdout: out, stderr: err });
    let answer: string;
    try {
      answer = await prompt.ask(
        `Delete cluster ${ref}, its servers, networks and load balancers? Type "${ref}" to confirm: `,
      );
    } finally {
      prompt.close();
    }
    if (answer !== ref)
      throw new InputError(`not deleted: "${answer}" is not "${ref}"`, { code: 'not_confirmed' });
  }

  const cluster = program.command('cluster').description('create and operate Kubernetes clusters');
  const noWait = (c: Command) =>
    c.option('--no-wait', 'return once the job is queued; the server runs it (see `kaas cluster show`)');

  withOutput(
    noWait(
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
        .option(
          '--min-workers <n>',
          'fewest workers cluster-autoscaler may leave (default --workers); with --max-workers above it, kaas installs cluster-autoscaler',
        )
        .option('--max-workers <n>', 'most workers cluster-autoscaler may add up to (default --workers)')
        .option('--image <image>', 'env KUBE_IMAGE')
        .option('--ssh-key-name <name>', 'existing Nova keypair (env SSH_KEY_NAME); default: generate one')
        .option('--external-network <name>', 'env EXTERNAL_NETWORK')
        .option(
          '--admin-role-id <id>',
          'Keystone role whose holders are cluster-admin (env KUBE_ADMIN_ROLE_ID)',
        )
        .option(
          '--image-repository <host[:port][/path]>',
          "registry every image of the cluster is pulled from (kubeadm's and the managed services'); default the server's KAAS_IMAGE_REPOSITORY, else the upstream registries",
        )
        .option(
          '--project <name|id>',
          "OpenStack project the cluster belongs to and is built in (one you hold a role on); default kaas's own",
        )
        .option(
          '--no-wait-for-api',
          'do not wait for the Kubernetes API (clouds whose servers do not boot; env KAAS_WAIT_FOR_API=false)',
        ),
    ),
  ).action(async (opts: CreateFlags) => {
    const flags = typedFlags(opts);
    const spec = await inTermsOf(flags, async () => specFrom(opts, env));
    const waitForApi = opts.waitForApi && !falseInEnv(env, 'KAAS_WAIT_FOR_API');
    await withSession(async (s) => {
      const created = (
        await s.call<CreateResult>('POST', '/api/v1/clusters', {
          json: {
            spec,
            options: { waitForApi },
            // Without --project: kaas's own project, the operators' (the API would take the caller's).
            ...(opts.project === undefined ? { defaultProject: 'kaas' } : { project: opts.project }),
          },
        })
      ).body;
      if (created.privateKey) {
        err.write(
          `generated SSH key for the nodes (shown once, not stored by kaas; save it with mode 0600):\n${created.privateKey}`,
        );
      }
      const ref = created.cluster.name;
      const final = opts.wait === false ? created.job : await follow(s, ref, created.job);
      const view =
        final.state === 'succeeded' && final.kind === 'create'
          ? await getCluster(s, final.clusterId)
          : created.cluster;
      print(
        opts,
        { cluster: publicCluster(view), job: operationOf(final) },
        () => `${ref} ${created.cluster.id} ${final.state}`,
      );
      failIfFailed(ref, final);
    }, flags);
  });

  withOutput(cluster.command('list').description('list the clusters you hold a role on')).action(
    async (opts: Common) =>
      withSession(async (s) => {
        // Only a cluster's admins may read its details; the others are listed by name, as is a
        // cluster gone (or not provisioned) between the two reads.
        const items = await Promise.all(
          (await visible(s)).map(async (c) => {
            const named = { id: c.id, name: c.name };
            if (!c.isAdmin) return named;
            try {
              return publicCluster(await getCluster(s, c.id));
            } catch (error) {
              if (error instanceof NotFoundError) return named;
              throw error;
            }
          }),
        );
        print(opts, { items }, (wide) => describeClusters(items, wide));
      }),
  );

  withOutput(
    cluster
      .command('show <cluster>')
      .description('show a cluster, what its Kubernetes API reports, its jobs and per-step progress')
      .option('--debug', "with -o json|yaml: add the last job's plan, step outputs, lease and events"),
  ).action(async (ref: string, opts: Common & { debug?: boolean }) =>
    withSession(async (s) => {
      const id = await clusterId(s, ref);
      let c = await getCluster(s, id);
      const latest = c.lastJob
        ? (await s.call<JobView>('GET', path(c.id, 'jobs', c.lastJob.id))).body
        : undefined;
      // The job may have ended between the two reads, committing the new spec: read the cluster
      // again rather than print a finished job beside the spec from before it.
      if (latest && latest.job.state !== c.lastJob?.state) c = await getCluster(s, c.id);
      const jobs = (await s.call<{ items: JobRecord[] }>('GET', path(id, 'jobs'))).body.items;
      const data = showData(c, jobs, latest, opts.debug === true);
      print(opts, data, (wide) => describeCluster(data, wide));
    }),
  );

  withOutput(
    noWait(
      cluster
        .command('resize <cluster>')
        .description('set the number of workers of a node group (removed nodes are drained first)')
        .requiredOption('--count <n>', 'new worker count')
        .option('--group <name>', 'node group', DEFAULT_GROUP_NAME),
    ),
  ).action(async (ref: string, opts: Common & { count: string; group: string }) => {
    const count = integer('count', opts.count) as number;
    await mutate(
      ref,
      opts,
      async (s, id) =>
        (await s.call<{ job: JobRecord }>('POST', path(id, 'resize'), { json: { group: opts.group, count } }))
          .body,
    );
  });

  withOutput(
    noWait(
      cluster
        .command('upgrade <cluster>')
        .description('upgrade Kubernetes by at most one minor version')
        .requiredOption(
          '--version <version>',
          `target version, one of ${supportedPatchList()}, at most one minor above the cluster's`,
        ),
    ),
  ).action(async (ref: string, opts: Common & { version: string }) =>
    mutate(
      ref,
      opts,
      async (s, id) =>
        (
          await s.call<{ job: JobRecord | null; message?: string }>('POST', path(id, 'upgrade'), {
            json: { version: opts.version },
          })
        ).body,
    ),
  );

  withOutput(
    noWait(
      cluster
        .command('delete <cluster>')
        .description('delete a cluster and every resource tagged with it (asks to type its name)')
        .option('--delete-volumes', "also delete the cluster's PersistentVolumeClaims through its API first")
        .option('--keep-volumes', 'keep the Cinder volumes Cinder CSI made for the cluster')
        .option('--keep-backups', "keep the cluster's etcd-backup, Velero and registry Swift containers")
        .option('-y, --yes', 'do not ask for confirmation (needed when stdin is not a terminal)'),
    ),
  ).action(
    async (
      ref: string,
      opts: Common & { deleteVolumes?: boolean; keepVolumes?: boolean; keepBackups?: boolean; yes?: boolean },
    ) => {
      const query = new URLSearchParams();
      if (opts.deleteVolumes) query.set('deleteVolumes', 'true');
      if (opts.keepVolumes) query.set('keepVolumes', 'true');
      if (opts.keepBackups) query.set('keepBackups', 'true');
      const q = query.size > 0 ? `?${query.toString()}` : '';
      // Asked once the cluster is known to exist and be the caller's to see.
      await mutate(ref, opts, async (s, id) => {
        if (!opts.yes) await confirmDelete(ref);
        return (await s.call<{ job: JobRecord }>('DELETE', `${path(id)}${q}`)).body;
      });
    },
  );

  withOutput(
    noWait(
      cluster
        .command('retry <cluster>')
        .description("retry the cluster's last failed job from the step that failed"),
    ),
  ).action(async (ref: string, opts: Common) =>
    mutate(
      ref,
      opts,
      async (s, id) => (await s.call<{ job: JobRecord }>('POST', path(id, 'retry'), { json: {} })).body,
    ),
  );

  withOutput(
    noWait(
      cluster
        .command('set <cluster>')
        .description(
          "change a cluster's settings, one kind at a time: --auto-heal on|off (the healer follows at its next pass), or a node group's autoscaling bounds --min-workers/--max-workers (a bound not given keeps its value); a group outside its new bounds is resized into them, and turning autoscaling on or off installs or removes cluster-autoscaler, by a job followed unless --no-wait",
        )
        .option('--auto-heal <on|off>', 'turn auto-healing on or off', onOff)
        .option('--min-workers <n>', 'fewest workers cluster-autoscaler may shrink the group to')
        .option('--max-workers <n>', 'most workers cluster-autoscaler may grow the group to')
        .option(
          '--group <name>',
          "only this node group (default: the whole cluster for --auto-heal, the cluster's only group for the bounds)",
        ),
    ),
  ).action(
    async (
      ref: string,
      opts: Common & { autoHeal?: boolean; minWorkers?: string; maxWorkers?: string; group?: string },
    ) => {
      const minSize = integer('min-workers', opts.minWorkers);
      const maxSize = integer('max-workers', opts.maxWorkers);
      const bounds = minSize !== undefined || maxSize !== undefined;
      if ((opts.autoHeal === undefined) === !bounds) {
        throw new InputError('give --auto-heal, or --min-workers and/or --max-workers (not both at once)', {
          field: '--auto-heal',
        });
      }
      const group = opts.group === undefined ? {} : { group: opts.group };
      if (!bounds) {
        await withSession(async (s) => {
          const id = await clusterId(s, ref);
          const body = { autoHeal: opts.autoHeal, ...group };
          const view = (await s.call<ClusterView>('PATCH', path(id), { json: body })).body;
          print(opts, publicCluster(view), () => `${view.name} auto-heal ${describeAutoHeal(view.spec)}`);
        }, SET_FLAGS);
        return;
      }
      const body = {
        ...group,
        ...(minSize === undefined ? {} : { minSize }),
        ...(maxSize === undefined ? {} : { maxSize }),
      };
      await mutate(
        ref,
        opts,
        async (s, id) => {
          const answer = (await s.call<ClusterView | { job: JobRecord }>('PATCH', path(id), { json: body }))
            .body;
          if ('job' in answer) return answer;
          return {
            job: null,
            message: `${answer.name} autoscaling ${describeAutoscaling(answer.spec)}`,
            view: answer,
          };
        },
        SET_FLAGS,
      );
    },
  );

  withOutput(
    noWait(
      cluster
        .command('rotate-credentials <cluster>')
        .description(
          "replace the cluster's OpenStack application credential without downtime (a new one in, services restarted on it, the old one deleted)",
        )
        .option(
          '--direct',
          "operators: queue it through the database with KAAS_SECRET_KEY instead of the kaas server's API",
        ),
    ),
  ).action(async (ref: string, opts: Common & { direct?: boolean }) => {
    if (!opts.direct) {
      await mutate(
        ref,
        opts,
        async (s, id) => (await s.call<{ job: JobRecord }>('POST', path(id, 'rotate-credentials'))).body,
      );
      return;
    }
    const final = await rotateCredentialsDirect(ref, opts.wait !== false, { env, stderr: err, pollMs });
    print(opts, operationOf(final), () => `${final.id} ${final.kind} ${final.state}`);
    failIfFailed(ref, final);
  });

  cluster
    .command('kubeconfig <cluster>')
    .description(
      'print (or write, 0600) the break-glass admin kubeconfig; operators only, from the database with KAAS_SECRET_KEY',
    )
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
      if (opts.file && existsSync(opts.file))
        throw new InputError(`${opts.file} already exists; kaas does not overwrite credentials`, {
          field: 'file',
          code: 'file_exists',
        });
      // Reading a kubeconfig needs no webhook target: the server's URL and CA are not checked here.
      const { provisioner, store, close } = await openProvisionerFromEnv({
        ...env,
        KAAS_URL: undefined,
        KAAS_WEBHOOK_URL: undefined,
        KAAS_CA_FILE: undefined,
      });
      // Every break-glass read is in the audit log, as the operator's OS account on this machine.
      const audit = operatorAudit(store.db, {
        action: 'cluster.kubeconfig.admin',
        target: ref,
        via: 'kaas cluster kubeconfig --admin',
      });
      try {
        let clusterId: string | null = null;
        try {
          clusterId = (await provisioner.getCluster(ref)).id;
          const text = await provisioner.adminKubeconfig(ref);
          if (opts.file) writeSecretFile(opts.file, text);
          else out.write(text);
        } catch (error) {
          await audit(clusterId, 'failure', { code: (error as { code?: string }).code ?? 'error' });
          throw error;
        }
        await audit(clusterId, 'success', opts.file ? { file: opts.file } : {});
        if (opts.file) err.write(`written to ${opts.file}\n`);
      } finally {
        await close();
      }
    });
}
