import { describeAutoHeal } from '../cluster/autoheal.ts';
import { describeAutoscaling } from '../cluster/bounds.ts';
import type { ClusterView, JobView } from '../provisioner/provisioner.ts';
import type { JobRecord } from '../store/findJob.ts';
import { describeObserved } from './observed.ts';
import { table } from './output.ts';

/** A cluster operation as users see it: what, its state and why it failed; never its plan. */
export interface Operation {
  id: string;
  kind: JobRecord['kind'];
  state: JobRecord['state'];
  createdAt: string;
  updatedAt: string;
  error: JobRecord['error'];
  /** Per-step progress; only on the latest operation of `cluster show`. */
  steps?: { stepId: string; state: string; startedAt: string | null; finishedAt: string | null }[];
}

/** A cluster as users see it: the server's view without its last job's plan (see {@link showData}). */
export type PublicCluster = Omit<ClusterView, 'lastJob'>;

/** A job without its internals (the plan in `input`, the lease and the attempt count). */
export function operationOf(job: JobRecord): Operation {
  return {
    id: job.id,
    kind: job.kind,
    state: job.state,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    error: job.error,
  };
}

/** The cluster without its last job (its operations are listed beside it). */
export function publicCluster(view: ClusterView): PublicCluster {
  const { lastJob: _lastJob, ...rest } = view;
  return rest;
}

/**
 * What `kaas cluster show -o json|yaml` prints: the cluster and its operations (newest first, the
 * latest with its steps). `debug` adds the latest job as the server keeps it: plan, step outputs,
 * lease and events.
 */
export function showData(
  view: ClusterView,
  jobs: readonly JobRecord[],
  latest: JobView | undefined,
  debug: boolean,
) {
  const operations: Operation[] = jobs.map(operationOf);
  const first = operations[0];
  if (first && latest && first.id === latest.job.id) {
    // As read beside the cluster: the list, read after both, may show the job further on (finished
    // beside a cluster that still has the spec from before it).
    operations[0] = {
      ...operationOf(latest.job),
      steps: latest.steps.map((s) => ({
        stepId: s.stepId,
        state: s.state,
        startedAt: s.startedAt,
        finishedAt: s.finishedAt,
      })),
    };
  }
  return {
    cluster: publicCluster(view),
    operations,
    ...(debug ? { debug: { lastJob: latest ?? null } } : {}),
  };
}

/** `kaas cluster show` for a human; `wide` adds step times and the earlier operations. */
export function describeCluster(data: ReturnType<typeof showData>, wide: boolean): string {
  const c = data.cluster;
  const [latest, ...earlier] = data.operations;
  const steps = latest?.steps ?? [];
  return [
    `${c.name} (${c.id}) ${c.status}, Kubernetes ${c.spec.kubernetesVersion}`,
    `auto-heal ${describeAutoHeal(c.spec)}`,
    `autoscaling ${describeAutoscaling(c.spec)}`,
    ...(c.spec.imageRepository ? [`images from ${c.spec.imageRepository}`] : []),
    ...(c.observed ? describeObserved(c.observed) : []),
    ...(latest
      ? [
          `last job ${latest.id} ${latest.kind} ${latest.state} (${steps.filter((st) => st.state === 'done').length}/${steps.length} steps done)`,
          ...(wide
            ? table(
                ['  STATE', 'STEP', 'STARTED', 'FINISHED'],
                steps.map((st) => [`  ${st.state}`, st.stepId, st.startedAt ?? '-', st.finishedAt ?? '-']),
              ).split('\n')
            : steps.map((st) => `  ${st.state.padEnd(8)} ${st.stepId}`)),
          ...(latest.error ? [`error at ${latest.error.stepId ?? 'start'}: ${latest.error.message}`] : []),
        ]
      : []),
    ...(wide && earlier.length > 0
      ? [
          'earlier jobs:',
          ...table(
            ['  ID', 'KIND', 'STATE', 'CREATED'],
            earlier.map((j) => [`  ${j.id}`, j.kind, j.state, j.createdAt]),
          ).split('\n'),
        ]
      : []),
  ].join('\n');
}

/** A row of `kaas cluster list`: a cluster's admins see its details, the others only its name. */
export type ListedCluster = PublicCluster | { id: string; name: string };

/** `kaas cluster list` for a human; `wide` adds masters, node groups and creation time. */
export function describeClusters(items: readonly ListedCluster[], wide: boolean): string {
  const header = [
    'NAME',
    'ID',
    'STATUS',
    'VERSION',
    'WORKERS',
    ...(wide ? ['MASTERS', 'GROUPS', 'CREATED'] : []),
  ];
  return table(
    header,
    items.map((c) => {
      if (!('spec' in c)) return [c.name, c.id, ...header.slice(2).map(() => '-')];
      const groups = c.spec.nodeGroups;
      return [
        c.name,
        c.id,
        c.status,
        c.spec.kubernetesVersion,
        String(groups.reduce((n, g) => n + g.count, 0)),
        ...(wide
          ? [
              String(c.spec.masters),
              groups.map((g) => `${g.name}:${g.count}x${g.flavor}`).join(','),
              c.createdAt,
            ]
          : []),
      ];
    }),
  );
}
