import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { InputError } from '../errors.ts';
import type { Provisioner } from '../provisioner/provisioner.ts';
import type { JobRecord } from '../store/findJob.ts';

/** What the cluster commands need; `open` builds the provisioner from the environment (db, cloud). */
export interface ClusterCommandDeps {
  open(): Promise<{ provisioner: Provisioner; close(): Promise<void> }>;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

interface Common {
  output?: string;
  wait?: boolean;
}

/**
 * `kaas cluster create|list|show|resize|upgrade|delete|retry`. Mutations queue a job and, unless
 * `--no-wait`, run it in this process printing progress events on stderr; data (the cluster or job)
 * goes to stdout, as JSON with `--output json`.
 */
export function registerClusterCommands(program: Command, deps: ClusterCommandDeps): void {
  const out = deps.stdout ?? process.stdout;
  const err = deps.stderr ?? process.stderr;
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
    const flush = async () => {
      const view = await p.getJob(job.id, after);
      for (const e of view.events) {
        err.write(`${e.at} ${e.level.padEnd(5)} ${e.stepId ?? '-'}: ${e.message}\n`);
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
    const final = await flush();
    if (final.state === 'failed') {
      err.write(
        `job ${final.id} failed at ${final.error?.stepId ?? 'start'}: ${final.error?.message ?? ''}\nrun \`kaas cluster retry ${final.clusterId}\` once the cause is fixed\n`,
      );
      process.exitCode = 1;
    }
    return final;
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
    });

  const cluster = program.command('cluster').description('create and operate Kubernetes clusters');
  const withOutput = (c: Command) => c.option('-o, --output <format>', 'text or json', 'text');

  withOutput(
    cluster
      .command('create')
      .description('create a cluster from a spec file (YAML or JSON)')
      .requiredOption('-f, --file <path>', 'cluster spec')
      .requiredOption('--release <pathOrUrl>', 'kubernetes-server-linux-amd64.tar.gz to stage in Swift')
      .option('--no-wait-for-api', 'do not wait for the Kubernetes API (clouds whose servers do not boot)')
      .option('--no-wait', 'queue the job and return'),
  ).action(async (opts: Common & { file: string; release: string; waitForApi: boolean }) => {
    let spec: unknown;
    try {
      spec = parseYaml(readFileSync(opts.file, 'utf8'));
    } catch (error) {
      throw new InputError(`cannot read cluster spec ${opts.file}: ${(error as Error).message}`, {
        field: 'file',
        cause: error,
      });
    }
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
      print(
        opts,
        { cluster: created.cluster, job: final },
        () => `${created.cluster.name} ${created.cluster.id} ${final.state}`,
      );
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

  withOutput(cluster.command('show <cluster>').description('show a cluster and its last job')).action(
    async (ref: string, opts: Common) =>
      withProvisioner(async (p) => {
        const c = await p.getCluster(ref);
        const job = c.lastJob ? await p.getJob(c.lastJob.id) : undefined;
        print(opts, { cluster: c, job }, () =>
          [
            `${c.name} (${c.id}) ${c.status}, Kubernetes ${c.spec.kubernetesVersion}`,
            ...(job
              ? [
                  `last job ${job.job.id} ${job.job.kind} ${job.job.state}`,
                  ...job.steps.map((s) => `  ${s.state.padEnd(8)} ${s.stepId}`),
                ]
              : []),
          ].join('\n'),
        );
      }),
  );

  withOutput(
    cluster
      .command('resize <cluster>')
      .description('set the number of workers of a node group')
      .requiredOption('--count <n>', 'new worker count')
      .option('--group <name>', 'node group', 'default')
      .option('--no-wait', 'queue the job and return'),
  ).action(async (ref: string, opts: Common & { count: string; group: string }) => {
    const count = Number(opts.count);
    if (!Number.isInteger(count)) throw new InputError('--count must be an integer', { field: 'count' });
    await mutate(opts, (p) => p.resizeCluster(ref, opts.group, count));
  });

  withOutput(
    cluster
      .command('upgrade <cluster>')
      .description('upgrade Kubernetes by at most one minor version')
      .requiredOption('--version <version>', 'target version, e.g. 1.32.1')
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
      return p.retryJob(last.id);
    }),
  );
}
