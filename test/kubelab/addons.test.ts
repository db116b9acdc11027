/**
 * The managed-service applier (applyAddons) and the role-binding applier (applyRoleBindings) against
 * a real control plane: kube-apiserver, etcd, kube-controller-manager, kube-scheduler and kwok
 * nodes, configured by kubeadm from a kaas cluster's master-0 user data. They talk to it as the
 * provisioner does: the production client, the cluster's break-glass certificate, its CA. The
 * server's audit log of that user's requests is the record of what kaas sent, in order.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  renderAddons,
  wantedAddons,
  type KubernetesObject,
  type RenderedAddon,
} from '../../src/addons/index.ts';
import { BOOTSTRAP_FLANNEL } from '../../src/addons/networking.ts';
import { meta } from '../../src/addons/objects.ts';
import { ADMIN_BINDING, BOOTSTRAP_ADMIN_BINDING } from '../../src/addons/rbac.ts';
import { DEFAULT_STORAGE_CLASS } from '../../src/addons/storage.ts';
import { createCa } from '../../src/auth/pki.ts';
import { ConflictError, UpstreamError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { applyAddons, type ApplyAddonsDeps } from '../../src/provisioner/addons/apply.ts';
import { clusterApiFor, refOf, type ClusterApi } from '../../src/provisioner/addons/client.ts';
import {
  applyRoleBindings,
  type ApplyRoleBindingsDeps,
  type RoleBindingsResult,
} from '../../src/provisioner/addons/rolebindings.ts';
import { realSleep, type WaitOptions } from '../../src/provisioner/addons/wait.ts';
import type { ClusterMaterial } from '../../src/provisioner/material.ts';
import type { Store } from '../../src/store/db.ts';
import { getRoleBindings, type RoleBinding } from '../../src/store/getRoleBindings.ts';
import { listAddonStatus } from '../../src/store/listAddonStatus.ts';
import { replaceRoleBindings } from '../../src/store/replaceRoleBindings.ts';
import { defaultContext } from '../addons/default-context.ts';
import { engines, freshStore } from '../support/databases.ts';
import {
  allowed,
  breakGlass,
  closedPortUrl,
  idOf,
  liveObjects,
  missingFields,
  provideVolumes,
  requestLine,
  secretsFor,
  startAuditedLab,
  type AuditedLab,
  type RawObject,
} from './apply-support.ts';
import type { Kubelab } from '../../src/dev/kube/kubelab.ts';
import { waitForReadyNodes } from './nodes.ts';
import { LAB_ADMIN_ROLE_ID, labCluster } from './support.ts';

const logger = createLogger({ level: 'silent' });
/** Real controllers and kwok: a default cluster rolls out in seconds; the deadlines leave room. */
const labWait: WaitOptions = { readinessMs: 120_000, crdMs: 30_000, pollMs: 200 };
const ctx = defaultContext({ adminRoleId: LAB_ADMIN_ROLE_ID });
/** What a default cluster gets (not cluster-autoscaler: no group of it is autoscaled). */
const wanted = wantedAddons(ctx);
const all = renderAddons(ctx, wanted);
const secrets = secretsFor(all);
const NODES = ['kaas-lab-default-0', 'kaas-lab-default-1', 'kaas-lab-default-2'];

let audited: AuditedLab;
let lab: Kubelab;
let material: ClusterMaterial;
let kube: ClusterApi;

beforeAll(async () => {
  const kaasCa = await createCa({ commonName: 'kaas-test' });
  const cluster = await labCluster({ kaasUrl: 'https://127.0.0.1:1', kaasCaPem: kaasCa.certPem });
  material = cluster.material;
  audited = await startAuditedLab(cluster.master0);
  lab = audited.lab;
  kube = clusterApiFor(await breakGlass(lab, material));
  for (const name of NODES) await lab.addNode(name);
  await waitForReadyNodes(lab, NODES);
  // The tenant's own namespace and Role, which the default context's grants bind in.
  await lab.kubectl(['create', 'namespace', 'team-a']);
  await lab.kubectl([
    'create',
    'role',
    'deployer',
    '--namespace=team-a',
    '--verb=create,update',
    '--resource=deployments',
  ]);
}, 120_000);

afterAll(async () => {
  await audited?.stop();
});

/** The audit events of the requests `action` made. */
async function requestsOf(action: () => Promise<unknown>): Promise<string[]> {
  const before = (await audited.audit()).length;
  await action();
  return (await audited.audit()).slice(before).map(requestLine);
}

/** Index of the first request matching `re` (asserting there is one). */
function first(requests: readonly string[], re: RegExp): number {
  const i = requests.findIndex((r) => re.test(r));
  expect(i, `a request matching ${String(re)}`).toBeGreaterThanOrEqual(0);
  return i;
}

/** resourceVersions by idOf, once two reads a second apart agree (the controllers are done). */
async function settledVersions(objects: readonly KubernetesObject[]): Promise<Map<string, string>> {
  const versions = async () =>
    new Map([...(await liveObjects(lab, objects))].map(([id, o]) => [id, o.metadata.resourceVersion]));
  let last = await versions();
  await lab.waitFor('the controllers to settle', async () => {
    await realSleep(1_000);
    const now = await versions();
    const same = [...now].every(([id, rv]) => last.get(id) === rv) && now.size === last.size;
    last = now;
    return same;
  });
  return last;
}

interface Pod {
  spec: { nodeName?: string };
  status: { conditions?: { type: string; status: string; reason?: string }[] };
}

/** The pods in kaas-system matching a label selector. */
async function podsOf(selector: string): Promise<Pod[]> {
  const list = await lab.kubectl([
    'get',
    'pods',
    '--namespace=kaas-system',
    `--selector=${selector}`,
    '--output=json',
  ]);
  return (JSON.parse(list) as { items: Pod[] }).items;
}

const GRAFANA_PDB = {
  apiVersion: 'policy/v1',
  kind: 'PodDisruptionBudget',
  namespace: 'kaas-system',
  name: 'grafana',
};

const deployment = async (name: string) =>
  (await liveObjects(lab, [{ apiVersion: 'apps/v1', kind: 'Deployment' }])).get(
    `Deployment kaas-system/${name}`,
  );

/** A fresh SQLite store and the addon applier's deps on the lab, for one describe block. */
function applierOnSqlite(): { store: Store; deps: ApplyAddonsDeps } {
  const applier = {} as { store: Store; deps: ApplyAddonsDeps };
  beforeAll(async () => {
    applier.store = await freshStore('sqlite');
    applier.deps = { db: applier.store.db, logger, now: () => new Date(), sleep: realSleep, kube };
  });
  afterAll(async () => {
    await applier.store?.close();
  });
  return applier;
}

describe('applyAddons on kubelab', () => {
  const applier = applierOnSqlite();
  const clusterId = 'lab';

  beforeAll(async () => {
    await provideVolumes(lab, all, DEFAULT_STORAGE_CLASS);
  });

  const run = (addons: readonly RenderedAddon[] = all, wait: Partial<WaitOptions> = labWait) =>
    applyAddons(applier.deps, { clusterId, addons, secrets, wait });
  const statusOf = async (addon: string) =>
    (await listAddonStatus({ db: applier.store.db, clusterId })).find((s) => s.addon === addon);

  it('replaces what master-0 applied in earlier releases: one flannel, one admin binding', async () => {
    // As the bootstrap's `kubectl apply` of upstream's kube-flannel.yml and its admin binding left them.
    await lab.kubectl(['apply', '--filename=-'], { input: JSON.stringify(bootstrapManifests()) });
    await lab.waitFor('the bootstrap flannel on every node', async () => {
      const ds = (await liveObjects(lab, [{ apiVersion: 'apps/v1', kind: 'DaemonSet' }])).get(
        'DaemonSet kube-flannel/kube-flannel-ds',
      );
      return (ds?.['status'] as { numberAvailable?: number } | undefined)?.numberAvailable === NODES.length;
    });
    // Applied without the Secrets the later services need: the next test finds them missing.
    const early = renderAddons(ctx, ['namespaces', 'rbac', 'networking']);
    const runEarly = () => applyAddons(applier.deps, { clusterId, addons: early, wait: labWait });
    const requests = await requestsOf(runEarly);

    const live = await liveObjects(lab, [...BOOTSTRAP_FLANNEL, ...BOOTSTRAP_ADMIN_BINDING]);
    const binding = live.get('ClusterRoleBinding flannel')!;
    expect(binding.metadata['labels']).toMatchObject({ 'kaas.io/addon': 'networking' });
    expect(binding['subjects']).toEqual([
      { kind: 'ServiceAccount', name: 'flannel', namespace: 'kube-system' },
    ]);
    expect(live.get('ClusterRole flannel')!.metadata['labels']).toMatchObject({
      'kaas.io/addon': 'networking',
    });
    expect(live.has('ClusterRoleBinding kaas:cluster-admin')).toBe(false);
    expect(live.has('DaemonSet kube-flannel/kube-flannel-ds')).toBe(false);
    // The namespace goes with what is in it; its finalizers take a moment on a real server.
    await lab.waitFor(
      'namespace kube-flannel gone',
      async () =>
        !(await liveObjects(lab, [{ apiVersion: 'v1', kind: 'Namespace' }])).has('Namespace kube-flannel'),
      60_000,
    );
    // The same-named RBAC goes before this addon's is applied; the old DaemonSet once the new one is ready.
    expect(first(requests, /^DELETE .*\/clusterrolebindings\/flannel$/)).toBeLessThan(
      first(requests, /^PATCH .*\/clusterrolebindings\/flannel$/),
    );
    expect(first(requests, /^PATCH .*\/daemonsets\/flannel$/)).toBeLessThan(
      first(requests, /^DELETE .*\/daemonsets\/kube-flannel-ds$/),
    );
    expect(first(requests, /^PATCH .*\/clusterrolebindings\/kaas-cluster-admin$/)).toBeLessThan(
      first(requests, /^DELETE .*\/clusterrolebindings\/kaas%3acluster-admin$/i),
    );
    // Once replaced, a rerun finds nothing more to remove.
    const rerun = await requestsOf(runEarly);
    expect(rerun.filter((r) => r.startsWith('DELETE '))).toEqual([]);
  });

  it('refuses a service whose required Secret is missing or incomplete, naming it', async () => {
    const withoutSecrets = () =>
      applyAddons(applier.deps, { clusterId, addons: all, wait: labWait }).catch((e: unknown) => e);
    // The cloud controller is the first service reading the cloud config (storage the second).
    expect(await withoutSecrets()).toMatchObject({
      code: 'addon_secret_missing',
      message:
        'addon "cloud-controller" needs Secret kube-system/kaas-cloud-config with keys cloud.conf, which does not exist',
    });
    expect((await statusOf('cloud-controller'))?.state).toBe('failed');
    expect((await statusOf('backups'))?.message).toBe('not applied: "cloud-controller" failed');
    await lab.kubectl([
      'create',
      'secret',
      'generic',
      'kaas-cloud-config',
      '--namespace=kube-system',
      '--from-literal=clouds.yaml=x',
    ]);
    expect(await withoutSecrets()).toMatchObject({
      code: 'addon_secret_missing',
      message:
        'addon "cloud-controller" needs Secret kube-system/kaas-cloud-config with keys cloud.conf; missing: cloud.conf',
    });
  });

  it('applies every service in dependency order: CRDs established, workloads rolled out by the real controllers', async () => {
    let statuses: Awaited<ReturnType<typeof run>> = [];
    const requests = await requestsOf(async () => (statuses = await run()));
    expect(statuses.map((s) => [s.addon, s.state])).toEqual([...wanted].sort().map((n) => [n, 'ready']));
    for (const addon of all) {
      expect(statuses.find((s) => s.addon === addon.addon)!.message).toBe(
        `${addon.objects.length} objects applied, ${addon.readiness.length} workloads ready`,
      );
    }

    // The cluster holds every field kaas rendered: nothing dropped on the way, nothing pruned by a schema.
    const objects = all.flatMap((a) => a.objects);
    const live = await liveObjects(lab, objects);
    expect(objects.flatMap((o) => missingFields(o, live.get(idOf(o)), idOf(o)))).toEqual([]);
    const backupLocation = live.get('BackupStorageLocation kaas-system/default')!;
    expect(backupLocation['spec']).toMatchObject({
      provider: expect.any(String),
      objectStorage: expect.any(Object),
    });

    const conditions = (o: RawObject) =>
      ((o['status'] as { conditions?: { type: string; status: string }[] }).conditions ?? []).map(
        (c) => `${c.type}=${c.status}`,
      );
    for (const crd of objects.filter((o) => o.kind === 'CustomResourceDefinition')) {
      expect(conditions(live.get(idOf(crd))!), crd.metadata.name).toContain('Established=True');
    }
    // One flannel, CSI node plugin and fluent-bit pod per node, scheduled and run by kwok; the
    // cloud controller runs on control-plane nodes only, and this lab's nodes are all workers
    // (test/kubelab/cloudcontroller.test.ts runs it).
    for (const ds of objects.filter((o) => o.kind === 'DaemonSet')) {
      const template = (ds['spec'] as { template: { spec: { nodeSelector?: Record<string, string> } } })
        .template;
      const onMasters = template.spec.nodeSelector?.['node-role.kubernetes.io/control-plane'] !== undefined;
      const expected = onMasters ? 0 : NODES.length;
      const status = live.get(idOf(ds))!['status'] as {
        desiredNumberScheduled?: number;
        numberAvailable?: number;
      };
      expect([status.desiredNumberScheduled ?? 0, status.numberAvailable ?? 0], ds.metadata.name).toEqual([
        expected,
        expected,
      ]);
    }
    const pvcs = JSON.parse(
      await lab.kubectl(['get', 'pvc', '--namespace=kaas-system', '--output=json']),
    ) as {
      items: { metadata: { name: string }; status: { phase: string } }[];
    };
    expect(pvcs.items.map((c) => `${c.metadata.name} ${c.status.phase}`).sort()).toEqual(
      [
        'data-elasticsearch-0',
        'data-harbor-database-0',
        'data-prometheus-apps-0',
        'data-prometheus-platform-0',
      ].map((n) => `${n} Bound`),
    );

    const patches = requests.filter((r) => r.startsWith('PATCH '));
    const at = (re: RegExp) => first(patches, re);
    // The namespace exists before anything is put in it; secrets before the workloads that read them.
    expect(at(/\/namespaces\/kaas-system$/)).toBe(0);
    expect(at(/\/secrets\//)).toBeLessThan(at(/\/daemonsets\//));
    // Within an addon: RBAC, then config, then workloads; CRDs before their custom resources.
    expect(at(/\/clusterrolebindings\/csi-cinder/)).toBeLessThan(at(/\/storageclasses\//));
    expect(at(/\/storageclasses\//)).toBeLessThan(at(/\/deployments\/csi-cinder-controller/));
    expect(at(/\/customresourcedefinitions\/schedules\.velero\.io$/)).toBeLessThan(at(/\/schedules\/daily$/));
    // Addons in dependency order: flannel (networking) before ingress, ingress before grafana.
    expect(at(/\/daemonsets\/flannel/)).toBeLessThan(at(/ingress-nginx-controller/));
    expect(at(/ingress-nginx-controller/)).toBeLessThan(at(/deployments\/grafana/));
  });

  it('re-applies as a no-op: every resourceVersion unchanged, nothing created or deleted', async () => {
    const objects = [...all.flatMap((a) => a.objects), ...secrets];
    const before = await settledVersions(objects);
    const requests = await requestsOf(() => run());
    const after = await liveObjects(lab, objects);
    const changed = objects
      .map(idOf)
      .filter((id) => after.get(id)?.metadata.resourceVersion !== before.get(id));
    expect(changed).toEqual([]);
    expect(requests.filter((r) => !/^(GET|PATCH) /.test(r))).toEqual([]);
  });

  it('converges a changed object: a new generation, rolled out by the real controllers, nothing else written', async () => {
    const objects = all.flatMap((a) => a.objects);
    const before = await settledVersions(objects);
    const generation = (await deployment('grafana'))!.metadata.generation!;
    await run(renderAddons({ ...ctx, replicas: { grafana: 2 } }, wanted));

    const grafana = (await deployment('grafana'))!;
    expect(grafana.metadata.generation).toBe(generation + 1);
    expect(grafana['status']).toMatchObject({ observedGeneration: generation + 1, availableReplicas: 2 });
    // Hard anti-affinity: the scheduler put the two replicas on different nodes.
    const pods = await podsOf('app.kubernetes.io/name=grafana');
    expect(new Set(pods.map((p) => p.spec.nodeName)).size).toBe(2);
    // The PodDisruptionBudget that replicas > 1 brings, with status from the real disruption controller.
    await lab.waitFor('grafana PDB status', async () => {
      const pdb = (await liveObjects(lab, [{ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' }])).get(
        'PodDisruptionBudget kaas-system/grafana',
      );
      return (pdb?.['status'] as { currentHealthy?: number } | undefined)?.currentHealthy === 2;
    });
    const after = await liveObjects(lab, objects);
    expect(
      objects.map(idOf).filter((id) => after.get(id)?.metadata.resourceVersion !== before.get(id)),
    ).toEqual(['Deployment kaas-system/grafana']);
  });

  it('prunes an object a service no longer renders', async () => {
    const requests = await requestsOf(() => run());
    expect(requests.filter((r) => r.startsWith('DELETE '))).toEqual([
      'DELETE /apis/policy/v1/namespaces/kaas-system/poddisruptionbudgets/grafana',
    ]);
    expect(await kube.read(GRAFANA_PDB)).toBeUndefined();
    expect((await statusOf('monitoring'))!.objects.some((r) => r.kind === 'PodDisruptionBudget')).toBe(false);
    expect((await deployment('grafana'))!['spec']).toMatchObject({ replicas: 1 });
  });

  it('prunes the objects of a removed service, workloads before their RBAC, and forgets its status', async () => {
    const logging = all.find((a) => a.addon === 'logging')!;
    let statuses: Awaited<ReturnType<typeof run>> = [];
    const requests = await requestsOf(async () => (statuses = await run(all.filter((a) => a !== logging))));
    expect(statuses.map((s) => s.addon)).not.toContain('logging');
    const live = await liveObjects(lab, logging.objects);
    expect(logging.objects.map(idOf).filter((id) => live.has(id))).toEqual([]);
    expect(await deployment('grafana')).toBeDefined();
    const deletes = requests.filter((r) => r.startsWith('DELETE '));
    expect(deletes).toHaveLength(logging.objects.length);
    expect(first(deletes, /daemonsets\/fluent-bit/)).toBeLessThan(
      first(deletes, /clusterrolebindings\/fluent-bit/),
    );
    // The garbage collector removes the pods the deleted workloads owned.
    await lab.waitFor(
      'logging pods gone',
      async () => {
        return (await podsOf('kaas.io/addon=logging')).length === 0;
      },
      60_000,
    );
  });

  it('refuses to take over an object another writer put in the cluster, then takes the service back once it is gone', async () => {
    await lab.kubectl(['create', 'clusterrole', 'fluent-bit', '--verb=get', '--resource=pods']);
    const err = await run().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err).toMatchObject({
      code: 'addon_object_conflict',
      message:
        'addon "logging": ClusterRole fluent-bit already exists and was not written by this service; ' +
        'kaas does not take over an object another writer owns: remove it from the cluster, then retry',
    });
    const theirs = (
      await liveObjects(lab, [{ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole' }])
    ).get('ClusterRole fluent-bit')!;
    expect(theirs.metadata['labels']).toBeUndefined();
    expect((await statusOf('logging'))!.state).toBe('failed');

    await lab.kubectl(['delete', 'clusterrole', 'fluent-bit']);
    expect((await run()).every((s) => s.state === 'ready')).toBe(true);
  });

  it('fails a service whose workload cannot be scheduled, naming it, and leaves later ones pending', async () => {
    // Four replicas that must not share a node, on three nodes: the scheduler leaves one Pending.
    const err = await run(renderAddons({ ...ctx, replicas: { grafana: 4 } }, wanted), {
      ...labWait,
      readinessMs: 8_000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ code: 'addon_not_ready' });
    // How far the rolling update got (replicas > 1 brings anti-affinity, so a new template) varies.
    expect((err as Error).message).toMatch(
      /^addon "monitoring" not ready after 8000 ms: Deployment kaas-system\/grafana \([0-3]\/4 replicas available, [0-4] updated\)$/,
    );
    // The scheduler's verdict on what is left over.
    const unschedulable = (await podsOf('app.kubernetes.io/name=grafana')).filter((p) =>
      p.status.conditions?.some((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable'),
    );
    expect(unschedulable.length).toBeGreaterThan(0);
    const statuses = await listAddonStatus({ db: applier.store.db, clusterId });
    const state = Object.fromEntries(statuses.map((s) => [s.addon, s.state]));
    expect(state).toMatchObject({
      ingress: 'ready',
      storage: 'ready',
      monitoring: 'failed',
      logging: 'pending',
    });
    expect(statuses.find((s) => s.addon === 'registry')!.message).toBe('not applied: "monitoring" failed');

    // Back to what the cluster can run: converges, and drops the budget four replicas brought.
    expect((await run()).every((s) => s.state === 'ready')).toBe(true);
    expect(await kube.read(GRAFANA_PDB)).toBeUndefined();
  });
});

describe('applyAddons with custom resources and API faults on kubelab', () => {
  const applier = applierOnSqlite();
  const clusterId = 'widgets';

  const quick: WaitOptions = { readinessMs: 3_000, crdMs: 3_000, pollMs: 100 };
  const apply = (addons: RenderedAddon[], wait: WaitOptions = labWait) =>
    applyAddons(applier.deps, { clusterId, addons, wait });
  const addon = (name: string, objects: KubernetesObject[]): RenderedAddon => ({
    addon: name,
    objects,
    readiness: [],
    requiredSecrets: [],
  });
  const widget = {
    apiVersion: 'example.org/v1',
    kind: 'Widget',
    metadata: { name: 'w', namespace: 'default' },
    spec: { size: 3 },
  };

  it('fails clearly when a custom kind is never served (its CRD is missing)', async () => {
    // First in this file to ask about example.org/v1: the client caches what discovery found.
    const err = await apply([addon('widgets', [widget])], quick).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'addon_kind_not_served',
      message:
        'addon "widgets": Widget (example.org/v1) is not served by the cluster after 3000 ms; is its CustomResourceDefinition installed?',
    });
  });

  it('applies a CRD first and its custom resources once it is established; removal deletes them before the CRD', async () => {
    const requests = await requestsOf(() => apply([addon('widgets', [widget, widgetCrd()])]));
    const crd = first(requests, /^PATCH .*\/customresourcedefinitions\/widgets\.example\.org$/);
    expect(crd).toBeLessThan(first(requests, /^PATCH .*\/widgets\/w$/));
    expect(
      await kube.read({ apiVersion: 'example.org/v1', kind: 'Widget', namespace: 'default', name: 'w' }),
    ).toMatchObject({
      spec: { size: 3 },
    });

    const removal = await requestsOf(() => apply([]));
    expect(removal.filter((r) => r.startsWith('DELETE '))).toEqual([
      'DELETE /apis/example.org/v1/namespaces/default/widgets/w',
      'DELETE /apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.org',
    ]);
    expect(await listAddonStatus({ db: applier.store.db, clusterId })).toEqual([]);
    // The server deletes the custom resources first (its finalizer), then the definition.
    await lab.waitFor('the CRD gone', async () => (await kube.read(refOf(widgetCrd()))) === undefined);
  });

  it('fails clearly when a CRD never becomes established (its names are taken)', async () => {
    // Another writer's CRD already serves kind Widget in the group: the server never accepts a second.
    // It must hold the names before the second arrives, or the naming controller may give them to either.
    await lab.kubectl(['apply', '--filename=-'], { input: JSON.stringify(widgetCrd()) });
    await lab.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/widgets.example.org']);
    const gizmos = widgetCrd('gizmos');
    const err = await apply([addon('gizmos', [gizmos])], quick).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'addon_not_ready',
      message: 'addon "gizmos": CustomResourceDefinition gizmos.example.org not established within 3000 ms',
    });
    const live = await kube.read({
      apiVersion: gizmos.apiVersion,
      kind: gizmos.kind,
      name: gizmos.metadata.name,
    });
    expect((live?.status as { conditions: unknown[] }).conditions).toContainEqual(
      expect.objectContaining({ type: 'NamesAccepted', status: 'False' }),
    );
    await apply([]);
    await lab.kubectl(['delete', 'customresourcedefinition', 'widgets.example.org']);
    // Four kubectl runs and the server's CRD controllers: more than the default 30 s on a loaded CI machine.
  }, 120_000);

  it('sends what was rendered: a field the server does not know is refused, not dropped', async () => {
    const typo = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta('typo', 'typo', { namespace: 'default' }),
      dat: { a: '1' },
    };
    const err = await apply([addon('typo', [typo])]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'kube_api_error' });
    expect((err as Error).message).toMatch(
      /^apply of ConfigMap default\/typo: Kubernetes API https:\/\/127\.0\.0\.1:\d+ answered 500: failed to create typed patch object .*\.dat: field not declared in schema$/,
    );
    expect(await kube.read(refOf(typo))).toBeUndefined();
    await apply([]);
  });

  it('turns a 5xx answer into an UpstreamError naming the object', async () => {
    // An admission webhook whose service does not exist, failing closed: the server answers 500.
    await lab.kubectl(['apply', '--filename=-'], { input: JSON.stringify(unavailableWebhook('webhooked')) });
    const cm = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta('webhooked', 'guarded', { namespace: 'default' }),
      data: { a: '1' },
    };
    // The server picks up a new webhook configuration within a moment.
    await lab.waitFor('the webhook to take effect', () =>
      lab.kubectl(['create', '--dry-run=server', '--filename=-'], { input: JSON.stringify(cm) }).then(
        () => false,
        () => true,
      ),
    );
    const err = await apply([addon('webhooked', [cm])]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'kube_api_error' });
    expect((err as Error).message).toMatch(
      /^apply of ConfigMap default\/guarded: Kubernetes API https:\/\/127\.0\.0\.1:\d+ answered 500: Internal error occurred: failed calling webhook "unavailable\.kaas\.test"/,
    );
    expect(
      (await listAddonStatus({ db: applier.store.db, clusterId })).find((s) => s.addon === 'webhooked')
        ?.state,
    ).toBe('failed');
    await lab.kubectl(['delete', 'validatingwebhookconfiguration', 'kaas-test-unavailable']);
    await apply([]);
  });

  it('turns a refused connection into an UpstreamError saying the API is unreachable', async () => {
    const server = await closedPortUrl();
    const offline = clusterApiFor({ ...(await breakGlass(lab, material)), server });
    const err = await applyAddons(
      { ...applier.deps, kube: offline },
      { clusterId, addons: [addon('widgets', [widget])], wait: quick },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ code: 'kube_api_unreachable' });
    expect((err as Error).message).toContain(`Kubernetes API ${server} unreachable:`);
    expect((err as Error).message).toContain('ECONNREFUSED');
  });
});

describe.each(engines)('applyRoleBindings on kubelab, store on %s', (engine) => {
  let store: Store;
  let deps: ApplyRoleBindingsDeps;
  const clusterId = `rb-${engine}`;
  const t0 = new Date('2030-01-01T00:00:00.000Z');
  const viewers: RoleBinding = { keystoneRoleId: 'role-reader', kind: 'ClusterRole', roleName: 'view' };
  const editors: RoleBinding = {
    keystoneRoleId: 'role-member',
    kind: 'ClusterRole',
    roleName: 'edit',
    namespace: 'team-a',
  };
  const deployers: RoleBinding = {
    keystoneRoleId: 'role-member',
    kind: 'Role',
    roleName: 'deployer',
    namespace: 'team-a',
  };

  beforeAll(async () => {
    store = await freshStore(engine);
    deps = { db: store.db, logger, now: () => t0, kube };
    // The admin binding is the rbac addon's, applied before any tenant grant.
    await applyAddons(
      { ...deps, sleep: realSleep },
      {
        clusterId,
        addons: renderAddons({ ...ctx, roleBindings: [] }, ['namespaces', 'rbac']),
        wait: labWait,
      },
    );
  });
  afterAll(async () => {
    await store?.close();
  });
  beforeEach(async () => {
    // Each test starts from a cluster without tenant grants: every kaas binding but the admin one goes.
    await lab.kubectl([
      'delete',
      'clusterrolebindings,rolebindings',
      '--all-namespaces',
      '--selector=kaas.io/addon=rbac',
      `--field-selector=metadata.name!=${ADMIN_BINDING}`,
    ]);
  });

  const save = (bindings: RoleBinding[]) =>
    replaceRoleBindings({ db: store.db, clusterId, bindings, updatedBy: 'admin', now: t0 });
  const bindingNames = async () =>
    [
      ...(
        await liveObjects(lab, [
          { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' },
          { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' },
        ])
      ).values(),
    ]
      .filter(
        (o) => (o.metadata['labels'] as Record<string, string> | undefined)?.['kaas.io/addon'] === 'rbac',
      )
      .map(idOf)
      .sort();
  /** Runs the applier for `id` and checks what it reports. */
  const expectRun = async (result: RoleBindingsResult, id = clusterId) =>
    expect(await applyRoleBindings(deps, { clusterId: id })).toEqual(result);
  const pods = { resource: 'pods' };
  const teamDeployments = { group: 'apps', resource: 'deployments', namespace: 'team-a' };

  it('applies, prunes removed bindings (never the admin binding), marks each revision; the grants hold in the authorizer', async () => {
    await save([viewers, editors, deployers]);
    await expectRun({ revision: 1, applied: 3, pruned: 0, marked: true });
    expect(await bindingNames()).toEqual([
      `ClusterRoleBinding ${ADMIN_BINDING}`,
      'ClusterRoleBinding kaas-role-reader-cr-view',
      'RoleBinding team-a/kaas-role-member-cr-edit',
      'RoleBinding team-a/kaas-role-member-role-deployer',
    ]);
    expect((await getRoleBindings({ db: store.db, clusterId })).appliedRevision).toBe(1);
    // What the Keystone roles now allow, as kube-apiserver's RBAC authorizer decides it.
    expect(await allowed(lab, 'role-reader', 'list', { ...pods, namespace: 'kube-system' })).toBe(true);
    expect(await allowed(lab, 'role-reader', 'delete', { ...pods, namespace: 'team-a' })).toBe(false);
    expect(await allowed(lab, 'role-member', 'create', teamDeployments)).toBe(true);
    expect(await allowed(lab, 'role-member', 'create', { ...teamDeployments, namespace: 'default' })).toBe(
      false,
    );
    expect(await allowed(lab, LAB_ADMIN_ROLE_ID, 'delete', { resource: 'nodes' })).toBe(true);

    // Unchanged: no writes, nothing to mark.
    const unchanged = await requestsOf(
      async () => await expectRun({ revision: 1, applied: 3, pruned: 0, marked: false }),
    );
    expect(unchanged.filter((r) => r.startsWith('DELETE '))).toEqual([]);

    await save([deployers]);
    await expectRun({ revision: 2, applied: 1, pruned: 2, marked: true });
    expect(await bindingNames()).toEqual([
      `ClusterRoleBinding ${ADMIN_BINDING}`,
      'RoleBinding team-a/kaas-role-member-role-deployer',
    ]);
    expect(await getRoleBindings({ db: store.db, clusterId })).toMatchObject({
      revision: 2,
      appliedRevision: 2,
      appliedAt: t0.toISOString(),
    });
    expect(await allowed(lab, 'role-reader', 'list', { ...pods, namespace: 'kube-system' })).toBe(false);
    expect(await allowed(lab, 'role-member', 'create', teamDeployments)).toBe(true);
    expect(await allowed(lab, 'role-member', 'delete', teamDeployments)).toBe(false);
    expect(await allowed(lab, LAB_ADMIN_ROLE_ID, 'delete', { resource: 'nodes' })).toBe(true);
  });

  it('leaves the revision pending when the cluster refuses a binding', async () => {
    await save([{ ...deployers, namespace: 'no-such-ns' }]);
    const err = await applyRoleBindings(deps, { clusterId }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toBe(
      `apply of RoleBinding no-such-ns/kaas-role-member-role-deployer: Kubernetes API ${lab.url} answered 404: namespaces "no-such-ns" not found`,
    );
    expect(await getRoleBindings({ db: store.db, clusterId })).toMatchObject({
      revision: 3,
      appliedRevision: 2,
    });
  });

  it('reports an unreachable API as an UpstreamError and marks nothing', async () => {
    await save([viewers]);
    const offline = clusterApiFor({ ...(await breakGlass(lab, material)), server: await closedPortUrl() });
    await expect(applyRoleBindings({ ...deps, kube: offline }, { clusterId })).rejects.toMatchObject({
      code: 'kube_api_unreachable',
    });
    expect(await getRoleBindings({ db: store.db, clusterId })).toMatchObject({
      revision: 4,
      appliedRevision: 2,
    });
  });

  it("with nothing ever saved, prunes stray kaas bindings (never the admin binding nor another writer's) and marks nothing", async () => {
    const crb = (name: string, labels?: Record<string, string>) => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name, ...(labels ? { labels } : {}) },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'someone' }],
    });
    await lab.kubectl(['apply', '--filename=-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          crb('kaas-old', { 'app.kubernetes.io/managed-by': 'kaas', 'kaas.io/addon': 'rbac' }),
          crb('someone-elses'),
        ],
      }),
    });
    await expectRun({ revision: 0, applied: 0, pruned: 1, marked: false }, 'never-saved');
    expect(await bindingNames()).toEqual([`ClusterRoleBinding ${ADMIN_BINDING}`]);
    expect(
      (
        await liveObjects(lab, [{ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' }])
      ).has('ClusterRoleBinding someone-elses'),
    ).toBe(true);
    await lab.kubectl(['delete', 'clusterrolebinding', 'someone-elses']);
  });
});

/** A namespaced CRD (kind Widget, group example.org) named `<plural>.example.org`. */
function widgetCrd(plural = 'widgets') {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.example.org` },
    spec: {
      group: 'example.org',
      names: { kind: 'Widget', plural, singular: plural.slice(0, -1) },
      scope: 'Namespaced',
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } },
            },
          },
        },
      ],
    },
  };
}

/** A webhook, failing closed, for `addon`'s ConfigMaps, whose service does not exist. */
function unavailableWebhook(addon: string) {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: 'kaas-test-unavailable' },
    webhooks: [
      {
        name: 'unavailable.kaas.test',
        clientConfig: { service: { namespace: 'default', name: 'no-such-service', port: 443 } },
        rules: [
          {
            apiGroups: [''],
            apiVersions: ['v1'],
            operations: ['CREATE', 'UPDATE'],
            resources: ['configmaps'],
            scope: 'Namespaced',
          },
        ],
        objectSelector: { matchLabels: { 'kaas.io/addon': addon } },
        failurePolicy: 'Fail',
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
      },
    ],
  };
}

/**
 * What master-0's bootstrap applied in earlier releases (upstream's kube-flannel.yml, trimmed to
 * what the API needs, and the admin binding under its old name), as one `kubectl apply` List.
 */
function bootstrapManifests() {
  const rbac = 'rbac.authorization.k8s.io';
  const labels = { app: 'flannel', 'k8s-app': 'flannel' };
  return {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-flannel', labels } },
      {
        apiVersion: `${rbac}/v1`,
        kind: 'ClusterRole',
        metadata: { name: 'flannel', labels },
        rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] }],
      },
      {
        apiVersion: `${rbac}/v1`,
        kind: 'ClusterRoleBinding',
        metadata: { name: 'flannel', labels },
        roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: 'flannel' },
        subjects: [{ kind: 'ServiceAccount', name: 'flannel', namespace: 'kube-flannel' }],
      },
      {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'flannel', namespace: 'kube-flannel', labels },
      },
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'kube-flannel-cfg', namespace: 'kube-flannel', labels },
        data: { 'net-conf.json': '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}' },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'kube-flannel-ds', namespace: 'kube-flannel', labels },
        spec: {
          selector: { matchLabels: { app: 'flannel' } },
          template: {
            metadata: { labels },
            spec: {
              hostNetwork: true,
              serviceAccountName: 'flannel',
              tolerations: [{ operator: 'Exists', effect: 'NoSchedule' }],
              containers: [{ name: 'kube-flannel', image: 'docker.io/flannel/flannel:v0.26.7' }],
            },
          },
        },
      },
      {
        apiVersion: `${rbac}/v1`,
        kind: 'ClusterRoleBinding',
        metadata: { name: 'kaas:cluster-admin' },
        roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'Group', apiGroup: rbac, name: LAB_ADMIN_ROLE_ID }],
      },
    ],
  };
}
