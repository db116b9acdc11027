/**
 * kaas as nodelab's clusters reach it, shared by the nodelab suites: a bridge standing in for the
 * cluster's Neutron network, cloudsim listening on its gateway (so the cloud's Swift, which serves
 * the release TempURL, is reachable from the nodes as it is from real servers), kaas itself
 * (buildApp over HTTPS on the bridge: TokenReview and enrollment) and the real provisioner, with
 * the release build.sh packed staged from a local mirror, and an image registry on the bridge
 * (registry.ts) that every cluster takes its images from (`imageRepository`). Two users: alice
 * holds the cluster's admin role on the project the provisioner builds in, bob is only a member.
 *
 * Clusters are created with `waitForApi: false`: a created cluster's full set of managed services
 * (cloud controller, Cinder CSI, backups) needs images nodelab does not build, so kaas's own
 * addons step would never see them ready. The suites apply what kaas's pod-network step applies
 * (namespaces, RBAC, networking and kaas's cluster-admin binding) with the break-glass certificate,
 * and wait for Nodes by name themselves (kaas's own Node waits are skipped under that option; its
 * etcd waits are not). kaas's own drains, join-token renewals, Node deletions, kubeadm objects and
 * etcd port-forwards go through the cluster's API: the endpoint kaas recorded is the floating IP,
 * which cloudsim routes nowhere, so kaas's cluster clients dial `apiAddress` instead (master-0's
 * fixed address, or the API load balancer's VIP that lb.ts serves).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { fromRepository } from '../../src/addons/images.ts';
import { renderAddons } from '../../src/addons/index.ts';
import { keystoneDirectory } from '../../src/auth/directory.ts';
import { createCa, issueServerCert } from '../../src/auth/pki.ts';
import { createAuthService, type AuthService } from '../../src/auth/service.ts';
import { startCloudsim, type Cloudsim } from '../../src/cloudsim/index.ts';
import { CLUSTER_DEFAULTS } from '../../src/cluster/defaults.ts';
import type { ClusterSpec } from '../../src/cluster/spec.ts';
import { createLogger } from '../../src/log.ts';
import type { Cloud } from '../../src/openstack/index.ts';
import { clusterApiFor } from '../../src/provisioner/addons/client.ts';
import { etcdThroughApi } from '../../src/provisioner/etcdroute.ts';
import { kaasBinding, mastersCertificate } from '../../src/provisioner/identity.ts';
import { createKubeClient } from '../../src/provisioner/kubeclient.ts';
import { adminKubeconfigYaml, type ClusterMaterial } from '../../src/provisioner/material.ts';
import type { Provisioner } from '../../src/provisioner/provisioner.ts';
import { open } from '../../src/provisioner/secretbox.ts';
import { addonContext } from '../../src/provisioner/steps/addons.ts';
import { buildApp } from '../../src/server/app.ts';
import type { Store } from '../../src/store/db.ts';
import { findClusterSecret } from '../../src/store/findClusterSecret.ts';
import { tagsFor } from '../../src/cluster/names.ts';
import { KUBERNETES_RELEASES } from '../../src/versions/index.ts';
import { defaultPatch, kubeBinary } from '../../src/dev/kube/binaries.ts';
import {
  NONE_TAGGED,
  provisionerStore,
  taggedCounts,
  testCloud,
  testProvisioner,
  testSpec,
  TEST_SECRET_KEY,
} from '../provisioner/support.ts';
import { hostTraces, nodelabCache, NO_TRACES, releaseMirror, startNodelab, type Nodelab } from './node.ts';
import { pushImages, startRegistry } from './registry.ts';
// The cluster's cloud controller (startNodelabCloudController).
import { UNINITIALIZED_TAINT } from '../../src/addons/cloudcontroller.ts';
import { CLOUD_CONFIG_SECRET } from '../../src/addons/storage.ts';
import type { NodeObject } from '../../src/dev/kube/nodes.ts';
import { cloudSecrets } from '../../src/provisioner/steps/credential.ts';
import { startCloudController, type CloudController } from '../kubelab/cloudcontroller.ts';

const run = promisify(execFile);
export const MINUTE = 60_000;
/** The image the suites' own pods run (build.sh's busybox), as upstream names it. */
const BUSYBOX = 'docker.io/library/busybox:stable';
/** Kernel-wide settings the kubelet changes on start (see node.ts). */
const KUBELET_SYSCTLS = ['vm.overcommit_memory', 'kernel.panic', 'kernel.panic_on_oops'];

/** Polls `probe` every second until it yields a value; errors count as "not yet" until `timeoutMs`. */
export async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(last)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * What of cluster `name` (id `clusterId`) is left in the cloud: tagged servers, ports, networks and
 * the like, load balancers, floating IPs, the release's Swift containers, the keypair.
 */
export async function cloudLeftovers(cloud: Cloud, clusterId: string, name: string) {
  const tags = tagsFor(clusterId);
  return {
    ...(await taggedCounts(cloud, clusterId)),
    loadBalancers: (await cloud.octavia.listLoadBalancers({ tags })).length,
    floatingIps: (await cloud.neutron.floatingIps.list({ tags })).length,
    containers: (await cloud.swift.listContainers()).filter((c) => c.name.startsWith(`kaas-${name}-`)).length,
    keypair: await cloud.nova.getKeypair(`kaas-${name}-keypair`).then(
      () => true,
      () => false,
    ),
  };
}

/** {@link cloudLeftovers} of a deleted cluster. */
export const NO_LEFTOVERS = {
  ...NONE_TAGGED,
  loadBalancers: 0,
  floatingIps: 0,
  containers: 0,
  keypair: false,
};

/**
 * Stops `kaas` once deleted cluster `name` (id `clusterId`) has left nothing in the cloud and
 * nothing on the host but the lab's bridge; then nothing at all is left, and the kernel-wide
 * sysctls the kubelets set on start are back as they were.
 */
export async function stopLeavingNothing(kaas: NodelabKaas, clusterId: string, name: string): Promise<void> {
  expect(await cloudLeftovers(kaas.cloud, clusterId, name)).toEqual(NO_LEFTOVERS);
  expect(await hostTraces()).toEqual({ ...NO_TRACES, links: [kaas.lab.bridge] });
  await kaas.stop();
  expect(await hostTraces()).toEqual(NO_TRACES);
  expect(await kubeletSysctls()).toEqual(kaas.sysctlsBefore);
}

/**
 * A Deployment of `replicas` pods of `image` (busybox) in `default`, spread one per node over the
 * nodes they may run on (the master's taint honoured), `whenUnsatisfiable` saying whether that is a
 * must.
 */
export function spreadDeployment(
  name: string,
  replicas: number,
  whenUnsatisfiable: 'DoNotSchedule' | 'ScheduleAnyway',
  image: string,
): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 2,
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'kubernetes.io/hostname',
              whenUnsatisfiable,
              nodeTaintsPolicy: 'Honor',
              labelSelector: { matchLabels: { app: name } },
            },
          ],
          containers: [{ name: 'sleep', image, command: ['sleep', '3600'] }],
        },
      },
    },
  };
}

/** The kubelet's kernel-wide settings as they are now (to compare before and after a lab). */
export function kubeletSysctls(): Promise<string[]> {
  return Promise.all(KUBELET_SYSCTLS.map((k) => readFile(`/proc/sys/${k.replaceAll('.', '/')}`, 'utf8')));
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** kubectl with the cluster's break-glass certificate, and what the suites do with it. */
export interface BreakGlass {
  /** The cluster's CA certificate. */
  readonly caPem: string;
  kubectl(...args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** `kubectl apply` of `object` (with `flags`). */
  apply(object: object, ...flags: string[]): Promise<void>;
  /** Waits until Node `name` is Ready. */
  ready(name: string): Promise<void>;
  /**
   * Applies what kaas's pod-network step applies on a cluster whose API it waits for: kaas's
   * cluster-admin binding, then its namespaces, RBAC and networking services (flannel).
   */
  applyPodNetwork(): Promise<void>;
}

/** One cluster's users, as the suites seed them in cloudsim. */
export interface LabUsers {
  readonly password: string;
  readonly alice: { id: string };
  readonly bob: { id: string };
  readonly adminRole: { id: string };
}

/** kaas, its cloud and its lab; `stop` removes all of it. */
export interface NodelabKaas {
  readonly lab: Nodelab;
  readonly sim: Cloudsim;
  readonly cloud: Cloud;
  readonly store: Store;
  readonly auth: AuthService;
  readonly provisioner: Provisioner;
  readonly users: LabUsers;
  /** A directory for the suite's files, removed on stop. */
  readonly work: string;
  /** The image repository every cluster is created with: the lab's registry. */
  readonly imageRepository: string;
  /** busybox as the nodes pull it (from {@link imageRepository}), for the suites' own pods. */
  readonly busybox: string;
  /**
   * Where kaas's cluster clients connect: master-0's fixed address on eth2, set by the suite once
   * master-0 booted (until then kaas has no endpoint to dial, and a client made would throw).
   */
  apiAddress: string | undefined;
  /** The kubelet's kernel-wide settings as the lab found them (read under its host lock). */
  readonly sysctlsBefore: readonly string[];
  /**
   * Queues the create of cluster `name` (the catalogue's default version, `workers` in group
   * `default`, on the lab's network, its images from the lab's registry, alice's role as its admin
   * role, then `over`), not waiting for its API.
   */
  createCluster(
    name: string,
    workers: number,
    over?: Record<string, unknown>,
  ): ReturnType<Provisioner['createCluster']>;
  /** kubectl as break-glass on cluster `clusterId` (its API at `apiAddress`). */
  breakGlass(clusterId: string): Promise<BreakGlass>;
  /** Stops the lab (every node), kaas, cloudsim and the store; safe to call twice. */
  stop(): Promise<void>;
}

/** Starts kaas on a fresh nodelab bridge of network `cidr` (a /24). */
export async function startNodelabKaas(cidr: string): Promise<NodelabKaas> {
  const closers: (() => Promise<unknown>)[] = [];
  // In reverse order of starting; each runs even when one before it failed.
  const stop = async () => {
    const errors: unknown[] = [];
    for (const close of closers.splice(0).reverse()) await close().catch((e: unknown) => errors.push(e));
    if (errors.length > 0) throw new AggregateError(errors, 'the nodelab kaas did not stop cleanly');
  };
  try {
    return await start(cidr, closers, stop);
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

async function start(
  cidr: string,
  closers: (() => Promise<unknown>)[],
  stop: () => Promise<void>,
): Promise<NodelabKaas> {
  const version = defaultPatch();
  const work = await mkdtemp(join(tmpdir(), 'kaas-nodelab-'));
  closers.push(() => rm(work, { recursive: true, force: true }));
  const store = await provisionerStore();
  closers.push(() => store.close());
  // The registry's CA, which the nodes' image trusts (node.sh writes it into each node's CA store).
  const registryCa = await createCa({ commonName: 'kaas-nodelab-registry' });
  const lab = await startNodelab({ cidr, caPem: registryCa.certPem });
  closers.push(() => lab.stop());
  // Once the lab holds the host, no other lab's kubelets change these.
  const sysctlsBefore = await kubeletSysctls();
  const registryDir = join(work, 'registry');
  const registry = await startRegistry({ host: lab.gateway, ca: registryCa, dir: registryDir });
  closers.push(() => registry.stop());
  const pushStarted = Date.now();
  const pushed = await pushImages({
    registry,
    caPem: registryCa.certPem,
    images: join(nodelabCache(), 'images'),
    dir: registryDir,
  });
  console.info(
    `nodelab: ${pushed.length} images pushed to ${registry.repository} in ${((Date.now() - pushStarted) / 1000).toFixed(1)} s`,
  );
  const sim = await startCloudsim({ port: 0, host: lab.gateway, bootTimeMs: 20 });
  closers.push(() => sim.close());
  const cloud = testCloud(sim);
  const mirror = releaseMirror();
  // Every release build.sh packed (the default and the minor before it), with its digest.
  const releaseCatalogue = await Promise.all(
    KUBERNETES_RELEASES.map(async (r) => {
      const tarball = join(mirror, `v${r.patch}`, 'kubernetes-server-linux-amd64.tar.gz');
      return existsSync(tarball)
        ? { ...r, artifact: { url: r.artifact.url, sha256: await sha256Of(tarball) } }
        : r;
    }),
  );
  // The users: one holds the cluster's admin role on its project (the bootstrap project of
  // cloudsim, which the provisioner builds in), one only member.
  const project = [...sim.state.projects.values()].find((p) => p.name === 'admin');
  if (!project) throw new Error('cloudsim has no admin project');
  const adminRole = sim.seedRole('kubernetes-admins');
  const memberRole = [...sim.state.roles.values()].find((r) => r.name === 'member');
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const alice = sim.seedUser({ name: 'alice', password });
  const bob = sim.seedUser({ name: 'bob', password });
  sim.assignRole({ projectId: project.id, roleId: adminRole.id, userId: alice.id });
  sim.assignRole({ projectId: project.id, roleId: memberRole?.id ?? '', userId: bob.id });
  // kaas as its clusters reach it: HTTPS on the bridge, its certificate from kaas's CA.
  const kaasCa = await createCa({ commonName: 'kaas-nodelab' });
  const kaasCert = await issueServerCert({ ca: kaasCa, hosts: [lab.gateway] });
  const logger = createLogger({ level: process.env.KAAS_TEST_LOG ?? 'silent' });
  const now = () => new Date();
  const auth = createAuthService({ store, directory: keystoneDirectory(cloud), logger, now });
  closers.push(() => auth.close());
  const kaas: FastifyInstance = await buildApp(
    { store, logger, now, auth },
    { https: { key: kaasCert.keyPem, cert: kaasCert.certPem } },
  );
  closers.push(() => kaas.close());
  await kaas.listen({ host: lab.gateway, port: 0 });
  const kaasUrl = `https://${lab.gateway}:${(kaas.server.address() as { port: number }).port}`;
  const api = () => {
    if (!context.apiAddress) throw new Error('kaas dialled the cluster API before master-0 booted');
    return `https://${context.apiAddress}:6443`;
  };
  const provisioner = testProvisioner(
    store,
    cloud,
    { kaasUrl, caPem: kaasCa.certPem },
    {
      releaseMirror: mirror,
      releaseCacheDir: join(work, 'releases'),
      releaseCatalogue,
      kubeClient: (access) => createKubeClient({ ...access, server: api() }),
      clusterApi: (access) => clusterApiFor({ ...access, server: api() }),
      etcdClient: (options) => etcdThroughApi({ ...options, access: { ...options.access, server: api() } }),
      // kaas's etcd waits are real here: a master's join is a real kubeadm join, minutes long.
      waitTimeoutMs: 10 * MINUTE,
      // The production lease, not the unit suites' 2 s (made for their kill-and-resume tests): beside
      // real nodes under the full suite's load, this process once stalled past two thirds of 2 s,
      // and the engine gave the upgrade job up in the middle of a drain.
      leaseMs: 30_000,
    },
  );

  const breakGlass = async (clusterId: string): Promise<BreakGlass> => {
    const sealed = await findClusterSecret({ db: store.db, clusterId });
    if (!sealed) throw new Error('the provisioner stored no material');
    const material = JSON.parse(open(TEST_SECRET_KEY, sealed, clusterId)) as ClusterMaterial;
    const spec = (await provisioner.getCluster(clusterId, { observe: false })).spec as ClusterSpec;
    const kubeconfig = join(work, `break-glass-${clusterId}.conf`);
    await writeFile(
      kubeconfig,
      adminKubeconfigYaml({
        clusterName: spec.name,
        server: api(),
        caPem: material.ca.certPem,
        cert: await mastersCertificate(material.ca, 'kaas-break-glass'),
      }),
      { mode: 0o600 },
    );
    const kubectl = (...args: string[]) =>
      run(kubeBinary('kubectl'), ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 16 << 20 });
    let applied = 0;
    const apply = async (object: object, ...flags: string[]) => {
      const manifest = join(work, `manifest-${clusterId}-${applied++}.json`);
      await writeFile(manifest, JSON.stringify(object));
      await kubectl('apply', ...flags, '-f', manifest);
    };
    return {
      caPem: material.ca.certPem,
      kubectl,
      ready: async (name) => {
        await until(`${name} Ready`, 5 * MINUTE, async () => {
          const { stdout } = await kubectl('get', 'node', name, '-o', 'json');
          const conditions = (
            JSON.parse(stdout) as { status: { conditions: { type: string; status: string }[] } }
          ).status.conditions;
          return conditions.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
        });
      },
      apply,
      applyPodNetwork: async () => {
        const addons = renderAddons(
          addonContext(spec, clusterId, { authUrl: sim.authUrl, region: 'RegionOne' }),
          ['namespaces', 'rbac', 'networking'],
        );
        await apply(
          { apiVersion: 'v1', kind: 'List', items: [kaasBinding(), ...addons.flatMap((a) => a.objects)] },
          '--server-side',
          '--field-manager=kaas',
        );
      },
    };
  };

  const context: NodelabKaas = {
    lab,
    sim,
    cloud,
    store,
    auth,
    provisioner,
    users: { password, alice, bob, adminRole },
    work,
    imageRepository: registry.repository,
    busybox: fromRepository(BUSYBOX, registry.repository),
    apiAddress: undefined,
    sysctlsBefore,
    createCluster: (name, workers, over = {}) =>
      provisioner.createCluster(
        testSpec(name, workers, {
          kubernetesVersion: version,
          network: { ...CLUSTER_DEFAULTS.network, nodeCidr: cidr },
          imageRepository: registry.repository,
          adminRoleId: adminRole.id,
          ...over,
        }),
        { waitForApi: false },
      ),
    breakGlass,
    stop,
  };
  return context;
}

/**
 * The cluster's cloud controller, the real openstack-cloud-controller-manager, beside a nodelab
 * cluster as kaas configures it: the cloud-controller managed service's RBAC, the `cloud.conf`
 * Secret kaas renders from the cluster's own application credential (read from the sealed material
 * the create job stored it in) and cloudsim's address, the cluster's API at `apiAddress`. It
 * initializes every Node from its server: providerID, addresses, and the uninitialized taint the
 * kubelets (`--cloud-provider=external`) register with removed, without which neither CoreDNS nor
 * the suites' pods schedule. SHORTCUT: a host process standing in for the DaemonSet's pod, which
 * is left out (nodelab builds no cloud controller image).
 */
export async function startNodelabCloudController(
  kaas: NodelabKaas,
  clusterId: string,
): Promise<CloudController> {
  const sealed = await findClusterSecret({ db: kaas.store.db, clusterId });
  if (!sealed) throw new Error('the provisioner stored no material');
  const { credential } = JSON.parse(open(TEST_SECRET_KEY, sealed, clusterId)) as ClusterMaterial;
  if (!credential) throw new Error('the create job made the cluster no application credential');
  const spec = (await kaas.provisioner.getCluster(clusterId, { observe: false })).spec as ClusterSpec;
  const secrets = await cloudSecrets({ cloud: kaas.cloud, spec, clusterId }, credential);
  const conf = secrets.find((s) => s.metadata.name === CLOUD_CONFIG_SECRET) as
    { data: Record<string, string> } | undefined;
  if (!conf) throw new Error(`kaas rendered no ${CLOUD_CONFIG_SECRET} Secret`);
  const config = kaas.cloud.session.config;
  const ctx = addonContext(
    spec,
    clusterId,
    { authUrl: config.auth.authUrl, region: config.regionName ?? 'RegionOne' },
    credential.id,
  );
  if (kaas.apiAddress === undefined) throw new Error('the suite has not set the API address yet');
  const { caPem, kubectl } = await kaas.breakGlass(clusterId);
  const data = Object.fromEntries(
    Object.entries(conf.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
  );
  return startCloudController(
    {
      dir: kaas.work,
      url: `https://${kaas.apiAddress}:6443`,
      caPem,
      kubectl: async (...args) => (await kubectl(...args)).stdout,
    },
    ctx,
    data,
    { daemonSet: false },
  );
}

/**
 * Waits until the cloud controller has initialized each of Nodes `names` from its server: its
 * providerID `openstack:///<server id>`, no uninitialized taint. Resolves to the seconds each
 * waited for it (to the second, by the API's clocks): from the Node's registration, or from
 * `since` (when the controller started) if that is later, to the controller's `Synced` event.
 */
export async function initializedNodes(
  kubectl: BreakGlass['kubectl'],
  cloud: Cloud,
  clusterId: string,
  names: readonly string[],
  since: number,
  timeoutMs = 3 * MINUTE,
): Promise<Record<string, number>> {
  const servers = new Map(
    (await cloud.nova.listServers({ tags: tagsFor(clusterId) })).map((s) => [s.name, s.id]),
  );
  const registered = new Map<string, number>();
  await until(`the cloud controller to initialize ${names.join(', ')}`, timeoutMs, async () => {
    const { stdout } = await kubectl('get', 'nodes', '-o', 'json');
    for (const node of (JSON.parse(stdout) as { items: NodeObject[] }).items) {
      const { name, creationTimestamp } = node.metadata as NodeObject['metadata'] & {
        creationTimestamp: string;
      };
      if (!names.includes(name) || registered.has(name)) continue;
      const tainted = node.spec?.taints?.some((t) => t.key === UNINITIALIZED_TAINT.key) ?? false;
      if (tainted || node.spec?.providerID === undefined) continue;
      expect(node.spec.providerID).toBe(`openstack:///${servers.get(name) ?? '?'}`);
      registered.set(name, Date.parse(creationTimestamp));
    }
    return names.every((n) => registered.has(n)) ? true : undefined;
  });
  const { stdout } = await kubectl(
    'get',
    'events',
    '-A',
    '--field-selector',
    'involvedObject.kind=Node,reason=Synced',
    '-o',
    'json',
  );
  const events = (
    JSON.parse(stdout) as { items: { involvedObject: { name: string }; firstTimestamp: string }[] }
  ).items;
  const seconds: Record<string, number> = {};
  for (const [name, at] of registered) {
    const synced = Math.min(
      ...events.filter((e) => e.involvedObject.name === name).map((e) => Date.parse(e.firstTimestamp)),
    );
    expect(synced, `the cloud controller's Synced event for ${name}`).toBeLessThan(Infinity);
    // The API's times are whole seconds: `since` too.
    seconds[name] = Math.round((synced - Math.max(at, Math.floor(since / 1000) * 1000)) / 1000);
  }
  return seconds;
}
