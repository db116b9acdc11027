import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADDON_NAMES, renderAddons, type RenderedAddon } from '../../src/addons/index.ts';
import { BOOTSTRAP_FLANNEL } from '../../src/addons/networking.ts';
import { BOOTSTRAP_ADMIN_BINDING } from '../../src/addons/rbac.ts';
import { ConflictError, UpstreamError } from '../../src/errors.ts';
import { applyAddons, type ApplyAddonsDeps } from '../../src/provisioner/addons/apply.ts';
import { realSleep } from '../../src/provisioner/addons/wait.ts';
import type { Store } from '../../src/store/db.ts';
import { listAddonStatus } from '../../src/store/listAddonStatus.ts';
import { freshStore } from '../support/databases.ts';
import { defaultContext } from './default-context.ts';
import { startKubeApi, type KubeApi } from './kubeapi.ts';
import { clientFor, fastWait, widgetCrd, secretsFor, seedNamespace, silentLogger } from './support.ts';

const clusterId = 'c-demo';
const all = renderAddons(defaultContext(), ADDON_NAMES);

describe('applyAddons against the Kubernetes API double', () => {
  let api: KubeApi;
  let store: Store;
  let deps: ApplyAddonsDeps;

  beforeEach(async () => {
    api = await startKubeApi();
    seedNamespace(api, 'team-a');
    store = await freshStore('sqlite');
    deps = {
      db: store.db,
      logger: silentLogger,
      now: () => new Date(),
      sleep: realSleep,
      kube: clientFor(api),
    };
  });
  afterEach(async () => {
    await api.close();
    await store.close();
  });

  const run = (addons: readonly RenderedAddon[] = all) =>
    applyAddons(deps, { clusterId, addons, secrets: secretsFor(all), wait: fastWait });

  it('applies a default cluster in dependency order and reports every service ready', async () => {
    const statuses = await run();
    expect(statuses.map((s) => [s.addon, s.state])).toEqual(
      [...ADDON_NAMES].sort().map((name) => [name, 'ready']),
    );
    for (const addon of all) {
      for (const o of addon.objects) {
        expect(
          api.get(o.apiVersion, o.kind, o.metadata.name, o.metadata.namespace),
          o.metadata.name,
        ).toBeDefined();
      }
      const status = statuses.find((s) => s.addon === addon.addon)!;
      expect(status.objects).toHaveLength(addon.objects.length);
      expect(status.message).toBe(
        `${addon.objects.length} objects applied, ${addon.readiness.length} workloads ready`,
      );
    }
    const patches = api.requests.filter((r) => r.startsWith('PATCH '));
    const first = (re: RegExp) => patches.findIndex((r) => re.test(r));
    // The namespace exists before anything is put in it; secrets before the workloads that read them.
    expect(first(/\/namespaces\/kaas-system$/)).toBe(0);
    expect(first(/\/secrets\//)).toBeLessThan(first(/\/daemonsets\//));
    // Within an addon: RBAC, then config, then workloads.
    expect(first(/\/clusterrolebindings\/csi-cinder/)).toBeLessThan(first(/\/storageclasses\//));
    expect(first(/\/storageclasses\//)).toBeLessThan(first(/\/deployments\/csi-cinder-controller/));
    // Addons in dependency order: flannel (networking) before ingress, ingress before grafana.
    expect(first(/\/daemonsets\/flannel/)).toBeLessThan(first(/ingress-nginx-controller/));
    expect(first(/ingress-nginx-controller/)).toBeLessThan(first(/deployments\/grafana/));
    const grafana = api.get('apps/v1', 'Deployment', 'grafana', 'kaas-system')!;
    expect(grafana.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'kaas' });
  });

  it('re-applies as a no-op: no writes, same resourceVersions', async () => {
    await run();
    const rv = (name: string) =>
      api.get('apps/v1', 'Deployment', name, 'kaas-system')!.metadata['resourceVersion'] as string;
    const before = { writes: api.writes, grafana: rv('grafana'), velero: rv('velero') };
    const statuses = await run();
    expect(statuses.every((s) => s.state === 'ready')).toBe(true);
    expect({ writes: api.writes, grafana: rv('grafana'), velero: rv('velero') }).toEqual(before);
  });

  it('converges a changed object: a new generation, waited for until rolled out', async () => {
    await run();
    const changed = renderAddons(defaultContext({ replicas: { grafana: 2 } }), ADDON_NAMES);
    const writes = api.writes;
    await applyAddons(deps, { clusterId, addons: changed, secrets: secretsFor(all), wait: fastWait });
    const grafana = api.get('apps/v1', 'Deployment', 'grafana', 'kaas-system')!;
    expect(grafana.metadata['generation']).toBe(2);
    expect(grafana['status']).toMatchObject({ observedGeneration: 2, availableReplicas: 2 });
    // The Deployment changed and a PodDisruptionBudget appeared (replicas > 1); nothing else.
    expect(api.writes - writes).toBe(2);
  });

  it('prunes the objects of a removed service and forgets its status', async () => {
    await run();
    const logging = all.find((a) => a.addon === 'logging')!;
    const statuses = await run(all.filter((a) => a.addon !== 'logging'));
    expect(statuses.map((s) => s.addon)).not.toContain('logging');
    for (const o of logging.objects) {
      expect(
        api.get(o.apiVersion, o.kind, o.metadata.name, o.metadata.namespace),
        o.metadata.name,
      ).toBeUndefined();
    }
    expect(api.get('apps/v1', 'Deployment', 'grafana', 'kaas-system')).toBeDefined();
    // Deleted in reverse apply order: workloads before the RBAC they ran as.
    const deletes = api.requests.filter((r) => r.startsWith('DELETE '));
    expect(deletes).toHaveLength(logging.objects.length);
    const at = (re: RegExp) => deletes.findIndex((r) => re.test(r));
    expect(at(/daemonsets\/fluent-bit/)).toBeLessThan(at(/clusterrolebindings\/fluent-bit/));
  });

  it('prunes an object a service no longer renders', async () => {
    await run(renderAddons(defaultContext({ replicas: { grafana: 2 } }), ADDON_NAMES));
    expect(api.get('policy/v1', 'PodDisruptionBudget', 'grafana', 'kaas-system')).toBeDefined();
    await run();
    expect(api.get('policy/v1', 'PodDisruptionBudget', 'grafana', 'kaas-system')).toBeUndefined();
    const monitoring = (await listAddonStatus({ db: store.db, clusterId })).find(
      (s) => s.addon === 'monitoring',
    )!;
    expect(monitoring.objects.some((r) => r.kind === 'PodDisruptionBudget')).toBe(false);
  });

  it('replaces what master-0 applied in earlier releases: one flannel, one admin binding', async () => {
    // As the bootstrap's `kubectl apply` left them, flannel's binding also force-applied by an
    // earlier networking addon (its label, the bootstrap's subjects back after a re-run).
    for (const ref of [...BOOTSTRAP_FLANNEL, ...BOOTSTRAP_ADMIN_BINDING].reverse()) {
      const both = ref.kind === 'ClusterRoleBinding' && ref.name === 'flannel';
      api.seed({
        apiVersion: ref.apiVersion,
        kind: ref.kind,
        metadata: {
          name: ref.name,
          ...(ref.namespace === undefined ? {} : { namespace: ref.namespace }),
          labels: { app: 'flannel', ...(both ? { 'kaas.io/addon': 'networking' } : {}) },
          annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
        },
        ...(ref.name === 'flannel' && ref.kind === 'ClusterRoleBinding'
          ? { subjects: [{ kind: 'ServiceAccount', name: 'flannel', namespace: 'kube-flannel' }] }
          : {}),
        ...(ref.kind === 'DaemonSet' ? { spec: { selector: { matchLabels: { app: 'flannel' } } } } : {}),
      });
    }
    await run();
    for (const ref of [...BOOTSTRAP_FLANNEL, ...BOOTSTRAP_ADMIN_BINDING]) {
      const live = api.get(ref.apiVersion, ref.kind, ref.name, ref.namespace);
      if (ref.name === 'flannel' && ref.namespace === undefined) {
        expect(live!.metadata.labels).toEqual(expect.objectContaining({ 'kaas.io/addon': 'networking' }));
        expect(live!.metadata.labels).not.toHaveProperty('app');
        expect(live!.metadata).not.toHaveProperty('annotations');
      } else {
        expect(live, `${ref.kind} ${ref.name}`).toBeUndefined();
      }
    }
    expect(api.names().filter((n) => n.startsWith('DaemonSet '))).toEqual(
      [
        'DaemonSet kube-system/csi-cinder-node',
        'DaemonSet kube-system/flannel',
        'DaemonSet kaas-system/fluent-bit',
      ].sort(),
    );
    const binding = api.get('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'flannel')!;
    expect(binding['subjects']).toEqual([
      { kind: 'ServiceAccount', name: 'flannel', namespace: 'kube-system' },
    ]);
    // The same-named RBAC goes before this addon's is applied; the old DaemonSet once the new one is ready.
    const at = (re: RegExp) => {
      const i = api.requests.findIndex((r) => re.test(r));
      expect(i, String(re)).toBeGreaterThanOrEqual(0);
      return i;
    };
    expect(at(/^DELETE .*\/clusterrolebindings\/flannel$/)).toBeLessThan(
      at(/^PATCH .*\/clusterrolebindings\/flannel$/),
    );
    expect(at(/^PATCH .*\/daemonsets\/flannel$/)).toBeLessThan(
      at(/^DELETE .*\/daemonsets\/kube-flannel-ds$/),
    );
    expect(at(/^PATCH .*\/clusterrolebindings\/kaas-cluster-admin$/)).toBeLessThan(
      at(/^DELETE .*\/clusterrolebindings\/kaas(:|%3a)cluster-admin$/i),
    );
    // Once replaced, a rerun finds nothing more to remove.
    const writes = api.writes;
    await run();
    expect(api.writes).toBe(writes);
  });

  it('refuses to take over an object another writer put in the cluster', async () => {
    api.seed({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'fluent-bit' },
    });
    const err = await run().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err).toMatchObject({
      code: 'addon_object_conflict',
      message:
        'addon "logging": ClusterRole fluent-bit already exists and was not written by this service; ' +
        'kaas does not take over an object another writer owns: remove it from the cluster, then retry',
    });
    expect(
      api.get('rbac.authorization.k8s.io/v1', 'ClusterRole', 'fluent-bit')!.metadata.labels,
    ).toBeUndefined();
    const statuses = await listAddonStatus({ db: store.db, clusterId });
    expect(statuses.find((s) => s.addon === 'logging')!.state).toBe('failed');
  });

  it('fails a service whose workload never becomes ready, naming it, and leaves later ones pending', async () => {
    api.stuck.add('Deployment kaas-system/grafana');
    const err = await run().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).code).toBe('addon_not_ready');
    expect((err as Error).message).toMatch(
      /^addon "monitoring" not ready after 400 ms: Deployment kaas-system\/grafana \(/,
    );
    expect((err as Error).message).not.toMatch(/prometheus/);
    const statuses = await listAddonStatus({ db: store.db, clusterId });
    const state = Object.fromEntries(statuses.map((s) => [s.addon, s.state]));
    expect(state).toMatchObject({
      ingress: 'ready',
      storage: 'ready',
      monitoring: 'failed',
      logging: 'pending',
    });
    expect(statuses.find((s) => s.addon === 'monitoring')!.message).toBe((err as Error).message);
    expect(statuses.find((s) => s.addon === 'registry')!.message).toBe('not applied: "monitoring" failed');
  });

  it('refuses a service whose required Secret is missing, naming it', async () => {
    const err = await applyAddons(deps, { clusterId, addons: all, wait: fastWait }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'addon_secret_missing',
      message:
        'addon "storage" needs Secret kube-system/kaas-cloud-config with keys cloud.conf, which does not exist',
    });
  });

  it('turns API 5xx answers into an UpstreamError naming the object', async () => {
    api.failNext(1000, 503);
    const err = await run().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ code: 'kube_api_error' });
    expect((err as Error).message).toContain(`${api.url} answered 503: Internal error occurred`);
    const statuses = await listAddonStatus({ db: store.db, clusterId });
    expect(statuses.find((s) => s.addon === 'namespaces')!.state).toBe('failed');
  });

  it('turns a refused connection into an UpstreamError saying the API is unreachable', async () => {
    await api.close();
    const err = await run().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ code: 'kube_unreachable' });
    expect((err as Error).message).toMatch(
      /Kubernetes API http:\/\/127\.0\.0\.1:\d+ unreachable: .*ECONNREFUSED/,
    );
    api = await startKubeApi();
  });
});

describe('applyAddons with custom resources', () => {
  let api: KubeApi;
  let store: Store;
  afterEach(async () => {
    await api.close();
    await store.close();
  });

  const crd = widgetCrd;
  const widget = {
    apiVersion: 'example.org/v1',
    kind: 'Widget',
    metadata: { name: 'w', namespace: 'kaas-system' },
  };
  const namespaces = renderAddons(defaultContext(), ['namespaces']);

  async function setup(readyAfterReads: number) {
    api = await startKubeApi({ readyAfterReads });
    store = await freshStore('sqlite');
    return {
      db: store.db,
      logger: silentLogger,
      now: () => new Date(),
      sleep: realSleep,
      kube: clientFor(api),
    };
  }

  it('applies a CRD first and its custom resources only once it is established', async () => {
    const deps = await setup(3);
    const addon: RenderedAddon = {
      addon: 'widgets',
      objects: [widget, crd],
      readiness: [],
      requiredSecrets: [],
    };
    const statuses = await applyAddons(deps, { clusterId, addons: [...namespaces, addon], wait: fastWait });
    expect(statuses.find((s) => s.addon === 'widgets')!.state).toBe('ready');
    expect(api.get('example.org/v1', 'Widget', 'w', 'kaas-system')).toBeDefined();
    const crdReads = api.requests.filter(
      (r) => r === 'GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.org',
    );
    expect(crdReads.length).toBeGreaterThanOrEqual(3);
    // Removing the service deletes the custom resource before its CRD.
    await applyAddons(deps, { clusterId, addons: namespaces, wait: fastWait });
    const deletes = api.requests.filter((r) => r.startsWith('DELETE '));
    expect(deletes).toEqual([
      'DELETE /apis/example.org/v1/namespaces/kaas-system/widgets/w',
      'DELETE /apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.org',
    ]);
  });

  it('fails clearly when a custom kind is never served (its CRD is missing)', async () => {
    const deps = await setup(0);
    const addon: RenderedAddon = { addon: 'widgets', objects: [widget], readiness: [], requiredSecrets: [] };
    const err = await applyAddons(deps, { clusterId, addons: [...namespaces, addon], wait: fastWait }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({
      code: 'addon_kind_not_served',
      message:
        'addon "widgets": Widget (example.org/v1) is not served by the cluster after 400 ms; is its CustomResourceDefinition installed?',
    });
  });

  it('fails clearly when a CRD never becomes established', async () => {
    const deps = await setup(1_000_000);
    const addon: RenderedAddon = { addon: 'widgets', objects: [crd], readiness: [], requiredSecrets: [] };
    const err = await applyAddons(deps, { clusterId, addons: [...namespaces, addon], wait: fastWait }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({
      code: 'addon_not_ready',
      message: 'addon "widgets": CustomResourceDefinition widgets.example.org not established within 400 ms',
    });
  });
});
