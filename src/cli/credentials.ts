import type { Command } from 'commander';
import { InputError, UpstreamError } from '../errors.ts';
import type { Provisioner } from '../provisioner/provisioner.ts';
import type { JobRecord } from '../store/findJob.ts';
import { operatorAudit } from './operator.ts';
import { openProvisionerFromEnv } from './provisioner.ts';

/** Where the command reads its settings and writes; the process' own by default. */
export interface CredentialsCommandDeps {
  env: Record<string, string | undefined>;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** How often a followed job is polled; default one second. */
  pollMs?: number;
}

const FINAL: ReadonlySet<string> = new Set(['succeeded', 'failed', 'cancelled']);

/** Polls the job in the database, echoing its events on `err`, until it is over. */
async function follow(p: Provisioner, job: JobRecord, err: NodeJS.WritableStream, pollMs: number) {
  let after: string | undefined;
  for (;;) {
    const view = await p.getJob(job.id, after);
    for (const e of view.events) err.write(`${e.level === 'info' ? '' : `${e.level}: `}${e.message}\n`);
    after = view.events.at(-1)?.at ?? after;
    if (FINAL.has(view.job.state)) return view.job;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/**
 * `kaas cluster rotate-credentials <cluster>`, an operator command like `kubeconfig --admin`: it
 * reaches the database with KAAS_SECRET_KEY and the cloud as kaas, and queues the rotation there,
 * where the kaas server's job workers run it (a new application credential, the services
 * restarted on it, the old one deleted). It follows the job unless `--no-wait`; the job is printed
 * to stdout, and the request is in the audit log as the operator's OS account.
 */
export function registerCredentialsCommands(
  program: Command,
  deps: CredentialsCommandDeps = { env: process.env, stdout: process.stdout, stderr: process.stderr },
): void {
  const cluster = program.commands.find((c) => c.name() === 'cluster') ?? program.command('cluster');
  cluster
    .command('rotate-credentials <cluster>')
    .description(
      "replace the cluster's OpenStack application credential without downtime; operators only, through the database with KAAS_SECRET_KEY",
    )
    .option('--no-wait', 'return once the job is queued')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (ref: string, opts: { wait: boolean; output: string }) => {
      if (opts.output !== 'text' && opts.output !== 'json')
        throw new InputError(`unknown output format "${opts.output}": use text or json`, { field: 'output' });
      const { provisioner, store, close } = await openProvisionerFromEnv({
        ...deps.env,
        KAAS_URL: undefined,
        KAAS_WEBHOOK_URL: undefined,
        KAAS_CA_FILE: undefined,
      });
      try {
        const audit = operatorAudit(store.db, {
          action: 'cluster.credentials.rotate',
          target: ref,
          via: 'kaas cluster rotate-credentials',
        });
        let job: JobRecord;
        try {
          job = await provisioner.rotateCredentials(ref);
        } catch (error) {
          await audit(null, 'failure', { code: (error as { code?: string }).code ?? 'error' });
          throw error;
        }
        await audit(job.clusterId, 'success', { jobId: job.id });
        deps.stderr.write(`job ${job.id} queued: the kaas server's workers run it\n`);
        const final = opts.wait ? await follow(provisioner, job, deps.stderr, deps.pollMs ?? 1_000) : job;
        deps.stdout.write(
          opts.output === 'json'
            ? `${JSON.stringify(final, null, 2)}\n`
            : `${final.id} ${final.kind} ${final.state}\n`,
        );
        if (FINAL.has(final.state) && final.state !== 'succeeded') {
          throw new UpstreamError(
            `job ${final.id} ${final.state} at ${final.error?.stepId ?? 'start'}: ${final.error?.message ?? ''}`,
            { code: 'job_failed' },
          );
        }
      } finally {
        await close();
      }
    });
}
