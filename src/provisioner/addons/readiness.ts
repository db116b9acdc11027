import type { LiveObject } from './client.ts';

/** Whether a live workload has rolled out, and if not, what it is waiting for (for error messages). */
export interface Readiness {
  ready: boolean;
  detail: string;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

/**
 * Rollout readiness as `kubectl rollout status` judges it: the controller has observed the
 * current generation and every wanted replica is updated and available (StatefulSet: ready;
 * DaemonSet: one available pod per scheduled node).
 */
export function workloadReadiness(kind: string, live: LiveObject): Readiness {
  const status = (live.status ?? {}) as Record<string, unknown>;
  const spec = (live['spec'] ?? {}) as Record<string, unknown>;
  const generation = num(live.metadata?.generation);
  if (num(status['observedGeneration']) < generation) {
    return { ready: false, detail: `controller has not observed generation ${generation} yet` };
  }
  if (kind === 'DaemonSet') {
    const desired = num(status['desiredNumberScheduled']);
    const updated = num(status['updatedNumberScheduled']);
    const available = num(status['numberAvailable']);
    const ready = updated >= desired && available >= desired;
    return { ready, detail: `${available}/${desired} pods available, ${updated} updated` };
  }
  const wanted = spec['replicas'] === undefined ? 1 : num(spec['replicas']);
  const updated = num(status['updatedReplicas']);
  const have = kind === 'StatefulSet' ? num(status['readyReplicas']) : num(status['availableReplicas']);
  const word = kind === 'StatefulSet' ? 'ready' : 'available';
  return {
    ready: updated >= wanted && have >= wanted,
    detail: `${have}/${wanted} replicas ${word}, ${updated} updated`,
  };
}

/** Whether a live CustomResourceDefinition has the Established=True condition. */
export function crdEstablished(live: LiveObject): boolean {
  const conditions = ((live.status ?? {}) as { conditions?: { type?: string; status?: string }[] })
    .conditions;
  return (conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True');
}
