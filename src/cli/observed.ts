import type { ObservedState } from '../provisioner/observe.ts';

/** The lines `kaas cluster show` prints for the observed state: Ready/total per group and kubelets. */
export function describeObserved(observed: ObservedState): string[] {
  if (observed.noApi) return [`no Kubernetes API: ${observed.reason ?? 'no reason given'}`];
  if (observed.notYet) return [`no API yet: ${observed.reason ?? 'no reason given'}`];
  if (!observed.reachable)
    return [`API unreachable: ${observed.reason ?? 'no reason given'} (checked ${observed.checkedAt})`];
  const width = Math.max(...observed.groups.map((g) => g.name.length), 0);
  return [
    `nodes ${observed.nodes.ready}/${observed.nodes.total} Ready (observed ${observed.checkedAt})`,
    ...observed.groups.map(
      (g) =>
        `  ${g.name.padEnd(width)}  ${g.ready}/${g.total} Ready  kubelet ${g.kubeletVersions.join(', ') || '-'}`,
    ),
  ];
}
