/** Workloads the drain suites put on kwok nodes (their images never need to exist). */
import type { Kubelab } from '../../src/dev/kube/kubelab.ts';

/** A pod of `web` as the drain suites read it. */
export interface WebPod {
  metadata: { name: string; deletionTimestamp?: string };
  spec?: { nodeName?: string };
  status?: { phase?: string };
}

/** The Running, not terminating pods of `app=web` (what a PodDisruptionBudget counts). */
export async function runningWeb(lab: Kubelab): Promise<WebPod[]> {
  const { status, body } = await lab.request(
    'GET',
    '/api/v1/namespaces/default/pods?labelSelector=app%3Dweb',
  );
  if (status !== 200) throw new Error(`listing pods answered ${status}`);
  return (body as { items: WebPod[] }).items.filter(
    (p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp,
  );
}

/**
 * A Deployment `web` of `replicas` pods in `default` and a PodDisruptionBudget keeping `minAvailable`
 * of them: what a drain must honour.
 */
export function webBehindBudget(replicas: number, minAvailable: number): string {
  const web = { metadata: { name: 'web', namespace: 'default' }, selector: { matchLabels: { app: 'web' } } };
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: web.metadata,
    spec: {
      replicas,
      selector: web.selector,
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'web', image: 'registry.invalid/web:1' }] },
      },
    },
  };
  const budget = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: web.metadata,
    spec: { minAvailable, selector: web.selector },
  };
  // JSON is YAML: kubectl apply -f - reads the two documents.
  return `${JSON.stringify(deployment)}\n---\n${JSON.stringify(budget)}\n`;
}
