import { KubeConfig } from '@kubernetes/client-node';
import type { KubernetesObject, RenderedAddon } from '../../src/addons/index.ts';
import { clusterApiFromConfig, type ClusterApi } from '../../src/provisioner/addons/client.ts';
import { createLogger } from '../../src/log.ts';
import type { KubeApi } from './kubeapi.ts';

/** A ClusterApi (the production client code) pointed at the test double. */
export function clientFor(api: { url: string; token: string }): ClusterApi {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server: api.url, skipTLSVerify: true }],
    users: [{ name: 'test', token: api.token }],
    contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
    currentContext: 'test',
  });
  return clusterApiFromConfig(kc);
}

/** Fast polling with real time, so waits are short but still exercise the loop. */
export const fastWait = { readinessMs: 400, crdMs: 400, pollMs: 5 };

export const silentLogger = createLogger({ level: 'silent' });

/** Every Secret the rendered addons require, with placeholder values (what the provisioner generates). */
export function secretsFor(addons: readonly RenderedAddon[]): KubernetesObject[] {
  const byName = new Map<string, KubernetesObject>();
  for (const s of addons.flatMap((a) => a.requiredSecrets)) {
    const key = `${s.namespace}/${s.name}`;
    const previous = (byName.get(key)?.['stringData'] ?? {}) as Record<string, string>;
    byName.set(key, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: s.name, namespace: s.namespace },
      stringData: { ...previous, ...Object.fromEntries(s.keys.map((k) => [k, `test-${k}`])) },
    });
  }
  return [...byName.values()];
}

/** A tenant namespace the default context's RoleBindings live in. */
export function seedNamespace(api: KubeApi, name: string): void {
  api.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

/** A small namespaced custom resource definition (kind Widget) for CRD-ordering tests. */
export const widgetCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.example.org' },
  spec: {
    group: 'example.org',
    names: { kind: 'Widget', plural: 'widgets' },
    scope: 'Namespaced',
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object' } } }],
  },
};
