/**
 * The provisioner's addons step, end to end: cloudsim boots the servers, and the cluster's API is a
 * kubelab started, during the create job, from the very input the provisioner rendered master-0's
 * user data from (its CA, its kubeadm config); the booting-node stand-in registers a Node for each
 * ACTIVE server. The provisioner reaches that API with its own clients and its own identity on the
 * cluster (identity.ts; create binds it): the only redirect is the address (cloudsim's floating IP routes nowhere),
 * and the API's certificate is still checked against the cluster CA kaas stored.
 *
 * (test/provisioner/clusterlab.ts starts its lab after a create with waitForApi=false, which then
 * holds for every later job of that cluster and skips the addons step; hence this file's own boot.)
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderAddons, wantedAddons } from '../../src/addons/index.ts';
import { WILDCARD_TLS_SECRET } from '../../src/addons/objects.ts';
import { CLOUD_CA_KEY, CLOUD_CONFIG_DIR, CREDENTIAL_ANNOTATION } from '../../src/addons/cloudconf.ts';
import { CLOUD_CONFIG_SECRET, DEFAULT_STORAGE_CLASS } from '../../src/addons/storage.ts';
import { isOpenStackError, type Cloud } from '../../src/openstack/index.ts';
import { createCa, issueClientCert } from '../../src/auth/pki.ts';
import { probeApi } from '../../src/cli/provisioner.ts';
import { clusterApiFor } from '../../src/provisioner/addons/client.ts';
import type { WaitOptions } from '../../src/provisioner/addons/wait.ts';
import { bootstrapInputFor, bootstrapRenderer, type JoinMaterial } from '../../src/provisioner/bootstrap.ts';
import type { SaveEnrollment } from '../../src/provisioner/enrollment.ts';
import { KAAS_BINDING, KAAS_GROUP, kaasBinding, refusedMessage } from '../../src/provisioner/identity.ts';
import { createKubeClient } from '../../src/provisioner/kubeclient.ts';
import type { ClusterView } from '../../src/provisioner/provisioner.ts';
import {
  ADDONS_UNREACHABLE,
  SWIFT_CREDENTIALS_SECRET,
  addonContext,
} from '../../src/provisioner/steps/addons.ts';
import type { NodeBootstrap } from '../../src/provisioner/steps/context.ts';
import type { Store } from '../../src/store/db.ts';
import { findClusterSecret } from '../../src/store/findClusterSecret.ts';
import { replaceClusterSecret } from '../../src/store/replaceClusterSecret.ts';
import type { ClusterMaterial } from '../../src/provisioner/material.ts';
import { open, seal } from '../../src/provisioner/secretbox.ts';
import { listAddonStatus } from '../../src/store/listAddonStatus.ts';
import { replaceRoleBindings } from '../../src/store/replaceRoleBindings.ts';
import {
  cloudsimSuite,
  TEST_SECRET_KEY,
  testCloud,
  testProvisioner,
  testSpec,
} from '../provisioner/support.ts';
import { allowed, liveObjects, provideVolumes } from './apply-support.ts';
import { defaultPatch } from '../../src/dev/kube/binaries.ts';
import { startKubelab, type Kubelab } from '../../src/dev/kube/kubelab.ts';
import { startNodeStandIn, storeEnroller, type NodeStandIn } from '../../src/dev/kube/nodes.ts';

const suite = cloudsimSuite();
/** The one cluster whose servers "boot": rendering its master-0 starts the lab. */
const NAME = 'ad1';

interface Booted {
  lab: Kubelab;
  nodes: NodeStandIn;
}
let booting: Promise<Booted> | undefined;
/** The lab's address once it is up. */
let labUrl: string | undefined;
/** The API address the provisioner asked for, each time it built a client for the addons step. */
const dialled: string[] = [];

afterAll(async () => {
  const booted = await booting?.catch(() => undefined);
  try {
    await booted?.nodes.stop();
  } finally {
    await booted?.lab.stop();
  }
});

/**
 * The production renderer; rendering master-0 of NAME boots the lab from that very input, with a
 * stand-in whose nodes enroll through `store`.
 */
function renderer(store: Store) {
  return (material: JoinMaterial, save: SaveEnrollment) => {
    const render = bootstrapRenderer(() => material, save);
    return (node: NodeBootstrap) => {
      if (node.spec.name === NAME && node.role === 'init') {
        booting ??= startKubelab({ master0: bootstrapInputFor(node, material) }).then((lab) => {
          labUrl = lab.url;
          const enroll = storeEnroller(store.db);
          return {
            lab,
            nodes: startNodeStandIn({ cloud: suite.cloud, lab, clusterId: node.clusterId, enroll }),
          };
        });
      }
      return render(node);
    };
  };
}

/** What an operator does after the cluster's admins revoked kaas: re-binds it with the break-glass kubeconfig. */
async function restoreIdentity(lab: Kubelab, p: ReturnType<typeof provisioner>): Promise<void> {
  const breakGlass = join(lab.dir, 'break-glass.conf');
  await writeFile(breakGlass, await p.adminKubeconfig(NAME), { mode: 0o600 });
  await lab.kubectl(['apply', '--filename=-', `--server=${lab.url}`], {
    input: JSON.stringify(kaasBinding()),
    kubeconfig: breakGlass,
  });
}

/** Where the cluster's floating IP would lead: the lab. */
function labAddress(): string {
  if (!labUrl) throw new Error(`the API of ${NAME} was dialled before its master-0 booted`);
  return labUrl;
}

async function labOf(): Promise<Kubelab> {
  if (!booting) throw new Error(`no master-0 of ${NAME} was rendered`);
  return (await booting).lab;
}

/** A provisioner whose clusters' API is the lab; `wait` bounds the addons step's waits. */
function provisioner(store: Store, wait: Partial<WaitOptions> = {}, cloud: Cloud = suite.cloud) {
  // No kaas serves TokenReview here: the webhook points at a closed port, as in clusterlab.ts.
  return testProvisioner(
    store,
    cloud,
    { kaasUrl: 'https://127.0.0.1:1', caPem: suite.webhook.caPem },
    {
      renderer: renderer(store),
      // The API answers once the lab is up and the stand-in has registered every ACTIVE server's Node.
      fetchApi: async (url, signal, caPem) => {
        if (!booting) return 0;
        await (await booting).nodes.sync();
        return probeApi(`${labAddress()}${new URL(url).pathname}`, signal, caPem);
      },
      clusterApi: (access) => {
        dialled.push(access.server);
        return clusterApiFor({ ...access, server: labAddress() });
      },
      kubeClient: (access) => createKubeClient({ ...access, server: labAddress() }),
      addonWait: { readinessMs: 120_000, crdMs: 30_000, pollMs: 200, ...wait },
      waitTimeoutMs: 120_000,
    },
  );
}

/** A Secret's values as the cluster stores them (base64 under data), decoded. */
async function secretValues(namespace: string, name: string): Promise<Record<string, string>> {
  const live = (await liveObjects(await labOf(), [{ apiVersion: 'v1', kind: 'Secret' }])).get(
    `Secret ${namespace}/${name}`,
  );
  const data = (live?.['data'] ?? {}) as Record<string, string>;
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
}

/** What an operator puts into the cluster before kaas can run ingress and what needs it (the cloud Secrets are kaas's). */
async function createOperatorSecrets(lab: Kubelab): Promise<void> {
  const tls = await createCa({ commonName: `*.${NAME}.apps.example.com` });
  const secret = (namespace: string, name: string, stringData: Record<string, string>, type = 'Opaque') => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type,
    stringData,
  });
  const items = [
    secret(
      'kaas-system',
      WILDCARD_TLS_SECRET,
      { 'tls.crt': tls.certPem, 'tls.key': tls.keyPem },
      'kubernetes.io/tls',
    ),
  ];
  await lab.kubectl(['apply', '--filename=-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
  });
}

describe('the addons step of create, resize and delete, on a cluster booted from its user data', () => {
  let store: Store;
  let cluster: ClusterView;
  const version = { kubernetesVersion: defaultPatch() };

  it('succeeds with a warning, touching no API, when the cluster API is not waited for', async () => {
    const s = await suite.store();
    const p = provisioner(s);
    const { cluster: unwaited, job } = await p.createCluster(testSpec('ad0', 1, version), {
      waitForApi: false,
    });
    await p.runUntilIdle();
    const view = await p.getJob(job.id);
    expect(view.job.state).toBe('succeeded');
    expect(view.events.some((e) => e.level === 'warn' && e.message === ADDONS_UNREACHABLE)).toBe(true);
    expect(dialled).toEqual([]);
    expect(await listAddonStatus({ db: s.db, clusterId: unwaited.id })).toEqual([]);
  });

  it('creates the cluster and applies what it can: services whose operator Secrets are missing are skipped, with a warning each', async () => {
    store = await suite.store();
    const p = provisioner(store);
    const created = await p.createCluster(testSpec(NAME, 2, version), {
      waitForApi: true,
    });
    cluster = created.cluster;
    const { job } = created;
    await p.runUntilIdle();
    const view = await p.getJob(job.id);
    expect(view.job.state, JSON.stringify(view.events.slice(-3))).toBe('succeeded');
    // Twice: the pod network before the Node wait (no kubelet is Ready without it), then the rest;
    // each time a client binding kaas's identity (create only), then one acting as kaas.
    expect(dialled).toEqual(Array.from({ length: 4 }, () => expect.stringMatching(/^https:\/\/.+:6443$/)));
    expect(view.steps.find((s) => s.stepId === 'pod-network')?.output).toMatchObject({
      applied: true,
      ready: ['namespaces', 'networking'],
    });
    // The create waited, by name, for the Node of every server it booted to be Ready.
    expect(view.steps.find((s) => s.stepId === 'wait-nodes')?.output).toEqual({
      api: expect.stringMatching(/^https:\/\/.+:6443$/),
      nodes: [`kaas-${NAME}-master-0`, `kaas-${NAME}-default-0`, `kaas-${NAME}-default-1`],
      condition: 'Ready',
    });
    // The cloud-facing services run on the cluster's own credential, whose Secrets kaas wrote.
    const statuses = await listAddonStatus({ db: store.db, clusterId: cluster.id });
    expect(statuses.map((s) => [s.addon, s.state]).sort()).toEqual([
      ['backups', 'ready'],
      ['cloud-controller', 'ready'],
      ['namespaces', 'ready'],
      ['networking', 'ready'],
      ['rbac', 'ready'],
      ['storage', 'ready'],
    ]);
    const credential = view.steps.find((s) => s.stepId === 'credential')?.output as { id: string };
    const swift = await secretValues('kaas-system', SWIFT_CREDENTIALS_SECRET);
    expect(swift['OS_APPLICATION_CREDENTIAL_ID']).toBe(credential.id);
    expect(swift['OS_STORAGE_URL']).toBe(await suite.cloud.session.endpoint('object-store'));
    const conf = (await secretValues('kube-system', CLOUD_CONFIG_SECRET))['cloud.conf'];
    expect(conf).toContain(`application-credential-id = "${credential.id}"`);
    expect(conf).toContain(`application-credential-secret = "${swift['OS_APPLICATION_CREDENTIAL_SECRET']}"`);
    // The secret in the cluster is the credential's: it authenticates, as member of kaas's project.
    const used = await suite.cloud.keystone.authenticateApplicationCredential({
      id: credential.id,
      secret: swift['OS_APPLICATION_CREDENTIAL_SECRET'] as string,
    });
    expect(used.roles.map((r) => r.name)).toContain('member');
    const warnings = view.events.filter((e) => e.level === 'warn').map((e) => e.message);
    expect(warnings).toContain(
      'managed service "ingress" skipped: an operator must first create Secret kaas-system/kaas-wildcard-tls (keys tls.crt, tls.key) in the cluster',
    );
    expect(warnings).toContain('managed service "registry" skipped: it needs ingress, which was not applied');
    // The pod overlay runs on the master and both workers the create booted.
    const flannel = (await liveObjects(await labOf(), [{ apiVersion: 'apps/v1', kind: 'DaemonSet' }])).get(
      'DaemonSet kube-system/flannel',
    );
    expect(flannel?.['status']).toMatchObject({ desiredNumberScheduled: 3, numberAvailable: 3 });
  }, 120_000);

  it('applies every service and the tenant grants once an operator supplied the Secrets, generating passwords once', async () => {
    const lab = await labOf();
    await createOperatorSecrets(lab);
    // What Cinder CSI would provision for the services' volume claims.
    const ctx = addonContext(cluster.spec, cluster.id, { authUrl: '', region: '' });
    const services = renderAddons(ctx, wantedAddons(ctx));
    await provideVolumes(lab, services, DEFAULT_STORAGE_CLASS);
    await replaceRoleBindings({
      db: store.db,
      clusterId: cluster.id,
      bindings: [{ keystoneRoleId: 'role-reader', kind: 'ClusterRole', roleName: 'view' }],
      updatedBy: 'admin',
      now: new Date(),
    });
    const p = provisioner(store);
    const resize = await p.resizeCluster(NAME, 'default', 3);
    await p.runUntilIdle();
    const view = await p.getJob(resize.id);
    expect(view.job.state, JSON.stringify(view.events.slice(-4))).toBe('succeeded');
    const statuses = await listAddonStatus({ db: store.db, clusterId: cluster.id });
    expect(statuses.map((s) => [s.addon, s.state]).sort()).toEqual(
      wantedAddons(ctx)
        .map((a) => [a, 'ready'])
        .sort(),
    );
    expect(view.steps.find((s) => s.stepId === 'addons')?.output).toMatchObject({
      applied: true,
      skipped: [],
      roleBindings: { revision: 1, applied: 1, pruned: 0 },
    });
    // The new worker's join token (this job's own) was registered on the cluster itself.
    expect(view.steps.find((s) => s.stepId === 'join-token')?.output).toMatchObject({ renewed: 'created' });
    // Velero's CRDs came with the backups addon, so its custom resources were accepted.
    const schedules = await liveObjects(lab, [{ apiVersion: 'velero.io/v1', kind: 'Schedule' }]);
    expect(schedules.get('Schedule kaas-system/daily')?.['spec']).toMatchObject({
      schedule: expect.any(String),
    });
    const grafana = (await secretValues('kaas-system', 'kaas-grafana-admin'))['password'];
    const registry = await secretValues('kaas-system', 'kaas-registry-secrets');
    expect(grafana).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(registry['csrfKey']).toHaveLength(32);
    expect(registry['tokenCert']).toContain('BEGIN CERTIFICATE');
    expect((await secretValues('kaas-system', 'kaas-ingress-auth'))['auth']).toMatch(/^admin:\{SHA\}/);
    // The tenant grant from the control panel's store holds in the cluster's authorizer.
    expect(await allowed(lab, 'role-reader', 'list', { resource: 'pods', namespace: 'default' })).toBe(true);

    // Another resize re-applies the services and keeps the generated credentials.
    const again = await p.resizeCluster(NAME, 'default', 4);
    await p.runUntilIdle();
    expect((await p.getJob(again.id)).job.state).toBe('succeeded');
    expect((await secretValues('kaas-system', 'kaas-grafana-admin'))['password']).toBe(grafana);
    expect((await secretValues('kaas-system', 'kaas-registry-secrets'))['tokenKey']).toBe(
      registry['tokenKey'],
    );
  }, 240_000);

  it('rotates the credential without downtime: a new one in, the Secrets and the pods on it, then the old one deleted; a kaas trusting a private CA gives it to the cluster', async () => {
    const lab = await labOf();
    const ks = suite.cloud.keystone;
    const before = await secretValues('kaas-system', SWIFT_CREDENTIALS_SECRET);
    const old = {
      id: before['OS_APPLICATION_CREDENTIAL_ID'] as string,
      secret: before['OS_APPLICATION_CREDENTIAL_SECRET'] as string,
    };
    expect(Object.keys(await secretValues('kube-system', CLOUD_CONFIG_SECRET))).toEqual(['cloud.conf']);
    // This kaas reaches the cloud trusting a private CA (clouds.yaml cacert), as its Secret will say.
    const caPem = (await createCa({ commonName: 'private cloud CA' })).certPem;
    const cacert = join(lab.dir, 'cloud-ca.pem');
    await writeFile(cacert, caPem);
    const p = provisioner(store, {}, testCloud({ ...suite.cloud.session.config, cacert }));
    const job = await p.rotateCredentials(NAME);
    await p.runUntilIdle();
    const view = await p.getJob(job.id);
    expect(view.job.state, JSON.stringify(view.events.slice(-4))).toBe('succeeded');
    const rotated = view.steps.find((s) => s.stepId === 'credential:rotate')?.output as {
      id: string;
      retired: string;
    };
    expect(rotated.retired).toBe(old.id);
    expect(rotated.id).not.toBe(old.id);
    expect(view.steps.find((s) => s.stepId === 'credential:retire')?.output).toEqual({
      id: rotated.id,
      deleted: [old.id],
    });

    const after = await secretValues('kaas-system', SWIFT_CREDENTIALS_SECRET);
    expect(after['OS_APPLICATION_CREDENTIAL_ID']).toBe(rotated.id);
    const cloudConfig = await secretValues('kube-system', CLOUD_CONFIG_SECRET);
    const conf = cloudConfig['cloud.conf'];
    expect(conf).toContain(`application-credential-id = "${rotated.id}"`);
    expect(conf).not.toContain(old.secret);
    expect(conf).toContain(`ca-file = "${CLOUD_CONFIG_DIR}/${CLOUD_CA_KEY}"`);
    expect(cloudConfig[CLOUD_CA_KEY]).toBe(caPem);
    // Restarted: every pod of the services reading it was made from a template naming the new one.
    for (const [namespace, selector] of [
      ['kube-system', 'app.kubernetes.io/name=openstack-cloud-controller-manager'],
      ['kube-system', 'app.kubernetes.io/name=csi-cinder-node'],
      ['kaas-system', 'app.kubernetes.io/name=velero'],
    ] as const) {
      const pods = (
        await lab.request(
          'GET',
          `/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(selector)}`,
        )
      ).body as {
        items: { metadata: { annotations?: Record<string, string>; deletionTimestamp?: string } }[];
      };
      // Pods of the old template may still be terminating: every running one is on the new credential.
      pods.items = pods.items.filter((i) => i.metadata.deletionTimestamp === undefined);
      expect(pods.items.length, selector).toBeGreaterThan(0);
      expect(
        pods.items.map((i) => i.metadata.annotations?.[CREDENTIAL_ANNOTATION]),
        selector,
      ).toEqual(pods.items.map(() => rotated.id));
    }
    // Keystone: the new one works, the old one is gone.
    const used = await ks.authenticateApplicationCredential({
      id: rotated.id,
      secret: after['OS_APPLICATION_CREDENTIAL_SECRET'] as string,
    });
    expect(used.roles.map((r) => r.name)).toContain('member');
    const refused = await ks.authenticateApplicationCredential(old).catch((e: unknown) => e);
    expect(isOpenStackError(refused, 'openstack_unauthorized')).toBe(true);
    expect(JSON.stringify(view)).not.toContain(after['OS_APPLICATION_CREDENTIAL_SECRET']);
  }, 240_000);

  it('fails the job when a service does not become ready, naming it', async () => {
    const lab = await labOf();
    // A quota allowing no new pods in kaas-system: grafana's replacement pod is refused.
    await lab.kubectl(['create', 'quota', 'no-new-pods', '--namespace=kaas-system', '--hard=pods=0']);
    await lab.kubectl([
      'delete',
      'pods',
      '--namespace=kaas-system',
      '--selector=app.kubernetes.io/name=grafana',
      '--wait=false',
    ]);
    const p = provisioner(store, { readinessMs: 5_000 });
    const resize = await p.resizeCluster(NAME, 'default', 5);
    await p.runUntilIdle();
    const view = await p.getJob(resize.id);
    expect(view.job.state).toBe('failed');
    const monitoring = (await listAddonStatus({ db: store.db, clusterId: cluster.id })).find(
      (s) => s.addon === 'monitoring',
    );
    expect(monitoring?.state).toBe('failed');
    expect(monitoring?.message).toMatch(
      /^addon "monitoring" not ready after 5000 ms: Deployment kaas-system\/grafana \(0\/1 replicas available/,
    );
    await lab.kubectl(['delete', 'quota', 'no-new-pods', '--namespace=kaas-system']);
  }, 120_000);

  it("acts as its own identity, bound at create; once the cluster's admins revoke it, jobs fail saying how to restore it", async () => {
    const lab = await labOf();
    // Create bound kaas's group to cluster-admin; every later job acted as user kaas through it.
    const binding = (
      await lab.request('GET', `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${KAAS_BINDING}`)
    ).body;
    expect(binding).toMatchObject({
      roleRef: { kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'Group', name: KAAS_GROUP }],
    });
    await lab.kubectl(['delete', 'clusterrolebinding', KAAS_BINDING]);
    const p = provisioner(store);
    const failed = await p.retryJob(NAME);
    await p.runUntilIdle();
    const view = await p.getJob(failed.id);
    expect(view.job.state).toBe('failed');
    expect(view.job.error).toMatchObject({
      code: 'kube_api_refused',
      message: expect.stringContaining(refusedMessage(403)),
    });
    // No job re-grants it: only an operator, with the break-glass kubeconfig.
    expect(
      (await lab.request('GET', `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${KAAS_BINDING}`))
        .status,
    ).toBe(404);
    await restoreIdentity(lab, p);
    await p.retryJob(NAME);
    await p.runUntilIdle();
    expect((await p.getJob(failed.id)).job.state).toBe('succeeded');
  }, 120_000);

  it('binds the identity of a cluster made before it had one with its stored one-year certificate once, then forgets the certificate', async () => {
    const lab = await labOf();
    const p = provisioner(store);
    const { id } = await p.getCluster(NAME);
    const sealed = (await findClusterSecret({ db: store.db, clusterId: id }))!;
    const material = JSON.parse(open(TEST_SECRET_KEY, sealed, id)) as ClusterMaterial;
    // As such a cluster is stored: a one-year system:masters certificate, no binding of kaas's group.
    const admin = await issueClientCert({
      ca: material.ca,
      commonName: 'kaas',
      organization: 'system:masters',
      days: 365,
    });
    const legacy = seal(TEST_SECRET_KEY, JSON.stringify({ ...material, admin }), id);
    expect(
      await replaceClusterSecret({ db: store.db, clusterId: id, previous: sealed, sealed: legacy }),
    ).toBe(true);
    await lab.kubectl(['delete', 'clusterrolebinding', KAAS_BINDING]);
    const bound = await p.resizeCluster(NAME, 'default', 2);
    await p.runUntilIdle();
    const boundView = (await p.getJob(bound.id)).job;
    expect(boundView.state, JSON.stringify(boundView.error)).toBe('succeeded');
    expect(
      (await lab.request('GET', `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${KAAS_BINDING}`))
        .status,
    ).toBe(200);
    const after = JSON.parse(
      open(TEST_SECRET_KEY, (await findClusterSecret({ db: store.db, clusterId: id }))!, id),
    ) as ClusterMaterial;
    expect(after.admin).toBeUndefined();
    expect(after.ca).toEqual(material.ca);
    // Its admins' revocation now holds: the next job acts as kaas and is refused.
    await lab.kubectl(['delete', 'clusterrolebinding', KAAS_BINDING]);
    const refused = await p.resizeCluster(NAME, 'default', 3);
    await p.runUntilIdle();
    expect((await p.getJob(refused.id)).job).toMatchObject({
      state: 'failed',
      error: { code: 'kube_api_refused' },
    });
    await restoreIdentity(lab, p);
    await p.retryJob(NAME);
    await p.runUntilIdle();
    const retried = (await p.getJob(refused.id)).job;
    expect(retried.state, JSON.stringify(retried.error)).toBe('succeeded');
  }, 180_000);

  it("forgets the services' status when the cluster is deleted", async () => {
    const p = provisioner(store);
    const del = await p.deleteCluster(NAME);
    await p.runUntilIdle();
    expect((await p.getJob(del.id)).job.state).toBe('succeeded');
    expect(await listAddonStatus({ db: store.db, clusterId: cluster.id })).toEqual([]);
  }, 60_000);
});
