/**
 * One flannel and one cluster-admin binding on a real control plane: master-0's bootstrap applies
 * what its script applies (with kubectl, as the script does), then the addon applier applies the
 * networking and rbac managed services with server-side apply. Also a cluster an earlier release
 * made, whose bootstrap applied its own flannel and admin binding: the applier leaves one of each.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { renderAddons } from '../../src/addons/index.ts';
import { createCa } from '../../src/auth/pki.ts';
import { nodeContent } from '../../src/bootstrap/node.ts';
import { createLogger } from '../../src/log.ts';
import { applyAddons } from '../../src/provisioner/addons/apply.ts';
import { clusterApiFromConfig } from '../../src/provisioner/addons/client.ts';
import { realSleep } from '../../src/provisioner/addons/wait.ts';
import { addonContext } from '../../src/provisioner/steps/addons.ts';
import type { Store } from '../../src/store/db.ts';
import { freshStore } from '../support/databases.ts';
import { KubectlError, startKubelab, type Kubelab } from '../../src/dev/kube/kubelab.ts';
import { LAB_ADMIN_ROLE_ID, labCluster } from './support.ts';

/** What the bootstrap of releases before the addons owned them applied on master-0. */
const EARLIER_BOOTSTRAP = `
apiVersion: v1
kind: Namespace
metadata:
  name: kube-flannel
  labels: { k8s-app: flannel, pod-security.kubernetes.io/enforce: privileged }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: flannel, namespace: kube-flannel, labels: { app: flannel, k8s-app: flannel } }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: flannel, labels: { app: flannel, k8s-app: flannel } }
rules:
  - { apiGroups: [''], resources: [pods], verbs: [get] }
  - { apiGroups: [''], resources: [nodes], verbs: [get, list, watch] }
  - { apiGroups: [''], resources: [nodes/status], verbs: [patch] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: flannel, labels: { app: flannel, k8s-app: flannel } }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: flannel }
subjects: [{ kind: ServiceAccount, name: flannel, namespace: kube-flannel }]
---
apiVersion: v1
kind: ConfigMap
metadata: { name: kube-flannel-cfg, namespace: kube-flannel, labels: { app: flannel, k8s-app: flannel } }
data: { net-conf.json: '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}' }
---
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: kube-flannel-ds, namespace: kube-flannel, labels: { app: flannel, k8s-app: flannel } }
spec:
  selector: { matchLabels: { app: flannel } }
  template:
    metadata: { labels: { app: flannel, k8s-app: flannel } }
    spec:
      hostNetwork: true
      serviceAccountName: flannel
      tolerations: [{ operator: Exists, effect: NoSchedule }]
      containers:
        - name: kube-flannel
          image: ghcr.io/flannel-io/flannel:v0.26.4
          command: [/opt/bin/flanneld]
          args: [--ip-masq, --kube-subnet-mgr, --iface=eth2]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: 'kaas:cluster-admin', labels: { app.kubernetes.io/managed-by: kaas } }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: Group, name: ${LAB_ADMIN_ROLE_ID} }]
`;

interface Item {
  metadata: {
    name: string;
    namespace?: string;
    managedFields?: { manager: string; operation: string; subresource?: string }[];
  };
  spec?: { template?: { spec?: { containers?: { command?: string[] }[] } } };
  roleRef?: { name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

let lab: Kubelab | undefined;
let store: Store | undefined;

afterEach(async () => {
  await lab?.stop();
  await store?.close();
  lab = undefined;
  store = undefined;
});

/** A lab cluster with one kwok node, and master-0's bootstrap applied as its script applies it. */
async function bootstrappedCluster() {
  const kaasCa = await createCa({ commonName: 'kaas-test' });
  const cluster = await labCluster({ kaasUrl: 'https://127.0.0.1:1', kaasCaPem: kaasCa.certPem });
  lab = await startKubelab({ master0: cluster.master0 });
  await lab.addNode('kaas-lab-default-0');
  const content = nodeContent(cluster.master0);
  const script = content.files.find((f) => f.path === content.scriptPath)!.content;
  for (const [, path] of script.matchAll(/kubectl apply -f (\S+)/g)) {
    const file = content.files.find((f) => f.path === path)!;
    await lab.kubectl(['apply', '-f', '-'], { input: file.content });
  }
  return { cluster, lab };
}

type LabCluster = Awaited<ReturnType<typeof labCluster>>;

/** The networking and rbac services, rendered as the provisioner's addons step renders them. */
function rendered(cluster: LabCluster) {
  const ctx = addonContext(cluster.master0.spec, cluster.clusterId, {
    authUrl: 'https://keystone.invalid/v3',
    region: 'RegionOne',
  });
  return renderAddons(ctx, ['namespaces', 'rbac', 'networking']);
}

/** kaas's client of the lab's API, as the break-glass admin. */
function clusterApiOf(lab: Kubelab) {
  const kc = new KubeConfig();
  kc.loadFromFile(lab.adminKubeconfig);
  return clusterApiFromConfig(kc);
}

/** The addon applier, as the provisioner's addons step runs it, for networking and rbac. */
async function applyNetworkingAndRbac(lab: Kubelab, cluster: LabCluster) {
  store = await freshStore('sqlite');
  return applyAddons(
    {
      db: store.db,
      logger: createLogger({ level: 'silent' }),
      now: () => new Date(),
      sleep: realSleep,
      kube: clusterApiOf(lab),
    },
    {
      clusterId: cluster.clusterId,
      addons: rendered(cluster),
      wait: { readinessMs: 60_000, crdMs: 30_000, pollMs: 250 },
    },
  );
}

async function list(lab: Kubelab, path: string): Promise<Item[]> {
  const { status, body } = await lab.request('GET', path);
  expect(status).toBe(200);
  return (body as { items: Item[] }).items;
}

/** `kubectl auth can-i` as the lab's kubectl answers it (a SubjectAccessReview). */
async function canI(lab: Kubelab, args: string[]): Promise<boolean> {
  try {
    return (await lab.kubectl(['auth', 'can-i', ...args])).trim() === 'yes';
  } catch (err) {
    if (err instanceof KubectlError && err.stdout.trim() === 'no') return false;
    throw err;
  }
}

/** Who wrote the object's spec and metadata (status writers left out). */
const writers = (o: Item) => [
  ...new Set(
    (o.metadata.managedFields ?? []).filter((f) => f.subresource !== 'status').map((f) => f.manager),
  ),
];

/**
 * One flannel DaemonSet, whose binding lets its service account list nodes; one admin binding;
 * each written by kaas's field manager alone.
 */
async function expectOneOwnerEach(lab: Kubelab) {
  const flannels = (await list(lab, '/apis/apps/v1/daemonsets')).filter((d) =>
    d.spec?.template?.spec?.containers?.some((c) => c.command?.includes('/opt/bin/flanneld')),
  );
  expect(flannels.map((d) => `${d.metadata.namespace}/${d.metadata.name}`)).toEqual(['kube-system/flannel']);
  expect(writers(flannels[0]!)).toEqual(['kaas']);

  const bindings = await list(lab, '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings');
  const flannel = bindings.find((b) => b.metadata.name === 'flannel')!;
  expect(flannel.subjects).toEqual([{ kind: 'ServiceAccount', name: 'flannel', namespace: 'kube-system' }]);
  expect(writers(flannel)).toEqual(['kaas']);
  const role = await lab.request('GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles/flannel');
  expect(writers(role.body as Item)).toEqual(['kaas']);
  for (const s of flannel.subjects!) {
    const as = `--as=system:serviceaccount:${s.namespace}:${s.name}`;
    expect(await canI(lab, ['list', 'nodes', as])).toBe(true);
    expect(await canI(lab, ['patch', 'nodes', '--subresource=status', as])).toBe(true);
  }

  const admin = bindings.filter(
    (b) => b.roleRef?.name === 'cluster-admin' && b.subjects?.some((s) => s.name === LAB_ADMIN_ROLE_ID),
  );
  expect(admin.map((b) => b.metadata.name)).toEqual(['kaas-cluster-admin']);
  expect(writers(admin[0]!)).toEqual(['kaas']);
  expect(await canI(lab, ['*', '*', '--as=alice', `--as-group=${LAB_ADMIN_ROLE_ID}`])).toBe(true);
}

describe('one owner per object on a real control plane', () => {
  it('a new cluster runs one flannel and has one admin binding', async () => {
    const { cluster, lab } = await bootstrappedCluster();
    const statuses = await applyNetworkingAndRbac(lab, cluster);
    expect(statuses.map((s) => [s.addon, s.state])).toEqual([
      ['namespaces', 'ready'],
      ['networking', 'ready'],
      ['rbac', 'ready'],
    ]);
    await expectOneOwnerEach(lab);
  }, 180_000);

  it('a cluster whose bootstrap applied flannel and the admin binding is left with one of each', async () => {
    const { cluster, lab } = await bootstrappedCluster();
    // An earlier release: master-0's script applied its flannel, then the networking service
    // force-applied its own (taking the shared binding's subjects).
    await lab.kubectl(['apply', '-f', '-'], { input: EARLIER_BOOTSTRAP });
    expect(await canI(lab, ['list', 'nodes', '--as=system:serviceaccount:kube-flannel:flannel'])).toBe(true);
    const kube = clusterApiOf(lab);
    for (const o of rendered(cluster).find((a) => a.addon === 'networking')!.objects) await kube.apply(o);
    expect(await canI(lab, ['list', 'nodes', '--as=system:serviceaccount:kube-flannel:flannel'])).toBe(false);

    await applyNetworkingAndRbac(lab, cluster);
    await expectOneOwnerEach(lab);
    expect(await canI(lab, ['list', 'nodes', '--as=system:serviceaccount:kube-flannel:flannel'])).toBe(false);
    // Deleted (its namespace may still be terminating while the namespace controller empties it).
    const old = await lab.request('GET', '/apis/apps/v1/namespaces/kube-flannel/daemonsets/kube-flannel-ds');
    expect(old.status).toBe(404);
    const ns = await lab.request('GET', '/api/v1/namespaces/kube-flannel');
    expect(
      ns.status === 404 || (ns.body as { status?: { phase?: string } }).status?.phase === 'Terminating',
    ).toBe(true);
  }, 180_000);
});
