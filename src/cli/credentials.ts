import type { Provisioner } from '../provisioner/provisioner.ts';
import type { JobRecord } from '../store/findJob.ts';
import { operatorAudit } from './operator.ts';
import { openProvisionerFromEnv } from './provisioner.ts';

/** Where the direct rotation reads its settings and reports progress. */
export interface DirectRotationDeps {
  env: Record<string, string | undefined>;
  stderr: NodeJS.WritableStream;
  /** How often a followed job is polled. */
  pollMs: number;
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
 * `kaas cluster rotate-credentials <cluster> --direct`, an operator path like `kubeconfig --admin`:
 * it reaches the database with KAAS_SECRET_KEY and the cloud as kaas, and queues the rotation
 * there, where the kaas server's job workers run it. The request is in the audit log as the
 * operator's OS account. Returns the job as queued (`wait` false) or as it ended.
 */
export async function rotateCredentialsDirect(
  ref: string,
  wait: boolean,
  deps: DirectRotationDeps,
): Promise<JobRecord> {
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
      via: 'kaas cluster rotate-credentials --direct',
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
    return wait ? await follow(provisioner, job, deps.stderr, deps.pollMs) : job;
  } finally {
    await close();
  }
}
