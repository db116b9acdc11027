/**
 * A cluster the provisioner created on cloudsim whose Kubernetes API is a kubelab started from
 * that cluster's own stored material: master-0's bootstrap input is the one the provisioner rendered
 * master-0's user data from (its sealed material, opened by the provisioner), so the lab's CA is the
 * cluster CA, kubeadm registered the cluster's join token, and the provisioner's break-glass client
 * certificate authenticates. The booting-node stand-in registers a Node per server the provisioner
 * booted.
 */
import type { BootstrapInput } from '../../src/bootstrap/input.ts';
import { tagsFor } from '../../src/cluster/names.ts';
import { bootstrapInputFor, bootstrapRenderer, type JoinMaterial } from '../../src/provisioner/bootstrap.ts';
import { parse as parseYaml } from 'yaml';
import { createKubeClient, type KubeAccess, type KubeClient } from '../../src/provisioner/kubeclient.ts';
import { kaasBinding } from '../../src/provisioner/identity.ts';
import type { StepContext } from '../../src/provisioner/engine.ts';
import { releaseAccess } from '../../src/provisioner/release.ts';
import { clusterApiFor } from '../../src/provisioner/addons/client.ts';
import { createEtcdClient, type EtcdMemberHealth } from '../../src/provisioner/etcd.ts';
import { etcdThroughApi } from '../../src/provisioner/etcdroute.ts';
import { findProvisionedCluster } from '../../src/store/findProvisionedCluster.ts';
import { listJobs } from '../../src/store/listJobs.ts';
import { updateProvisionedCluster } from '../../src/store/updateProvisionedCluster.ts';
import type { Provisioner, ProvisionerDeps } from '../../src/provisioner/provisioner.ts';
import type { Cloud } from '../../src/openstack/index.ts';
import type { SaveEnrollment } from '../../src/provisioner/enrollment.ts';
import type { ExecDeps, RenderUserData } from '../../src/provisioner/steps/context.ts';
import type { Store } from '../../src/store/db.ts';
import { defaultPatch, previousPatch } from '../../src/dev/kube/binaries.ts';
import { startEtcdMasters, type EtcdMasters } from '../kubelab/etcdmasters.ts';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { releaseForPatch } from '../../src/versions/index.ts';
import { kubeadm, startKubelab, waitFor, type Kubelab } from '../../src/dev/kube/kubelab.ts';
import { waitForReadyNodes } from '../kubelab/nodes.ts';
import { startNodeStandIn, storeEnroller, type NodeStandIn } from '../../src/dev/kube/nodes.ts';
import { logger, testProvisioner, testSpec, type CloudsimSuite } from './support.ts';

/** A provisioned cluster with its kubelab and node stand-in running. */
export interface ClusterLab {
  clusterId: string;
  /** The store the cluster and its jobs are in. */
  store: Store;
  /** The bootstrap input master-0's user data was rendered from (the cluster's material in it). */
  master0: BootstrapInput;
  /** The cluster's kubeadm join token (`<id>.<secret>`), from its stored material. */
  token: string;
  lab: Kubelab;
  nodes: NodeStandIn;
  /** The cluster's etcd behind its masters' etcd pods (only with `etcd: true`). */
  etcd?: EtcdMasters;
  /** A provisioner on the cluster's store whose kube client talks to the lab; `over` replaces deps. */
  provisioner(over?: Partial<ProvisionerDeps>): Provisioner;
  stop(): Promise<void>;
}

/**
 * Creates cluster `name` (one master, `workers` workers, the lab's Kubernetes version unless `spec`
 * overrides it or other fields of testSpec's) with the
 * provisioner, starts kubelab from master-0's input and waits until every server's Node is Ready.
 * The TokenReview webhook points at a closed port: these tests authenticate otherwise.
 */
export async function provisionOnKubelab(
  suite: Pick<CloudsimSuite, 'cloud' | 'webhook' | 'store'>,
  input: {
    name: string;
    workers: number;
    removeNodes?: boolean;
    spec?: Record<string, unknown>;
    /**
     * Also run the cluster's etcd (a real member per master, behind kwok port-forwards of the
     * masters' etcd pods, from the cluster's etcd CA); masters booted later join it as kubeadm would.
     */
    etcd?: boolean;
    /** The cloud client the node stand-in polls with (default the suite's), e.g. to count its calls apart. */
    standInCloud?: Cloud;
  },
): Promise<ClusterLab> {
  const store: Store = await suite.store();
  let master0: BootstrapInput | undefined;
  // Started once the cluster exists; the kube client factory runs only in later jobs.
  let lab: Kubelab | undefined = undefined;
  // The provisioner's own renderer, noting master-0's input on the way.
  const renderer = (m: JoinMaterial, save: SaveEnrollment): RenderUserData => {
    const render = bootstrapRenderer(() => m, save);
    return (node) => {
      if (node.role === 'init') master0 = bootstrapInputFor(node, m);
      return render(node);
    };
  };
  const webhook = { kaasUrl: 'https://127.0.0.1:1', caPem: suite.webhook.caPem };
  const provisioner = (over: Partial<ProvisionerDeps> = {}) =>
    testProvisioner(store, suite.cloud, webhook, {
      renderer,
      kubeClient: (access) => {
        if (!lab) throw new Error('the kubelab of this cluster is not running');
        return createKubeClient({ ...access, server: lab.url });
      },
      ...over,
    });
  const p = provisioner();
  const { cluster, job } = await p.createCluster(
    testSpec(input.name, input.workers, { kubernetesVersion: defaultPatch(), ...input.spec }),
    { waitForApi: false },
  );
  await p.runUntilIdle();
  const created = await p.getJob(job.id);
  if (created.job.state !== 'succeeded' || !master0) {
    throw new Error(`creating ${input.name} failed: ${JSON.stringify(created.job.error)}`);
  }
  const started = await startKubelab({ master0, ...(input.etcd ? { kubeletServer: true } : {}) });
  lab = started;
  // What create's addons step does when it waits for the API: bind kaas's own identity.
  await started.kubectl(['apply', '--filename=-'], { input: JSON.stringify(kaasBinding()) });
  let etcd: EtcdMasters | undefined;
  const nodes = startNodeStandIn({
    cloud: input.standInCloud ?? suite.cloud,
    enroll: storeEnroller(store.db),
    lab: started,
    clusterId: cluster.id,
    ...(input.removeNodes === undefined ? {} : { removeNodes: input.removeNodes }),
    etcd: () => etcd,
  });
  const stop = async () => {
    try {
      await nodes.stop();
    } finally {
      try {
        await etcd?.stop();
      } finally {
        await started.stop();
      }
    }
  };
  try {
    const servers = await suite.cloud.nova.listServers({ tags: tagsFor(cluster.id) });
    await waitForReadyNodes(
      started,
      servers.map((s) => s.name),
    );
    await nodes.sync();
    if (input.etcd) {
      if (!master0.etcdCa) throw new Error('the cluster material has no etcd CA');
      // The members the create-time masters' kubeadm made (init, then join), named after their Nodes.
      const masters = servers.filter((s) => s.metadata['kaas-role'] === 'master').map((s) => s.name);
      etcd = await startEtcdMasters({ lab: started, etcdCa: master0.etcdCa, names: masters.sort() });
    }
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  return {
    clusterId: cluster.id,
    store,
    master0,
    token: master0.join.token,
    lab: started,
    nodes,
    ...(etcd ? { etcd } : {}),
    provisioner,
    stop,
  };
}

/** The cluster's break-glass access (from its stored material, through adminKubeconfig), pointed at the lab. */
export async function breakGlassAccess(c: ClusterLab, name: string): Promise<KubeAccess> {
  const kubeconfig = parseYaml(await c.provisioner().adminKubeconfig(name)) as {
    clusters: { cluster: { 'certificate-authority-data': string } }[];
    users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
  };
  const pem = (b64 = '') => Buffer.from(b64, 'base64').toString();
  return {
    server: c.lab.url,
    caPem: pem(kubeconfig.clusters[0]?.cluster['certificate-authority-data']),
    certPem: pem(kubeconfig.users[0]?.user['client-certificate-data']),
    keyPem: pem(kubeconfig.users[0]?.user['client-key-data']),
  };
}

/**
 * Runs the cluster's queued jobs in one provisioner after another, each dying right after it
 * checkpointed a step no earlier run died after, until a run finishes; after every death no server
 * name may exist twice, and the next run waits out the dead one's lease to take the job over.
 * `afterCheckpoint` runs first on every checkpoint. Returns the steps the runs died after, in order.
 */
export async function killAfterEachStep(
  c: ClusterLab,
  cloud: Cloud,
  input: {
    maxRuns: number;
    over?: Partial<ProvisionerDeps>;
    afterCheckpoint?: (stepId: string) => void | Promise<void>;
  },
): Promise<string[]> {
  const killed: string[] = [];
  const leaseMs = 600;
  /** Waits until no job of the cluster runs under a live lease: the killed run's has run out. */
  const leasesOver = () =>
    waitFor(
      "the killed run's lease to run out",
      async () =>
        (await listJobs({ db: c.store.db, clusterId: c.clusterId })).every(
          (j) => j.state !== 'running' || Date.parse(j.leaseExpiresAt ?? '') < Date.now(),
        ),
      10_000,
    );
  for (let run = 0; run <= input.maxRuns; run++) {
    const p = c.provisioner({
      ...input.over,
      owner: `run-${run}`,
      leaseMs,
      concurrency: 1,
      hooks: {
        afterCheckpoint: async (_job, stepId) => {
          await input.afterCheckpoint?.(stepId);
          if (killed.includes(stepId)) return;
          killed.push(stepId);
          throw new Error(`killed after ${stepId}`);
        },
      },
    });
    try {
      await p.runUntilIdle();
      // Idle may only mean the killed run's lease has not run out yet (a loaded machine): go again.
      const jobs = await listJobs({ db: c.store.db, clusterId: c.clusterId });
      if (!jobs.some((j) => j.state === 'running' || j.state === 'queued')) return killed;
      await leasesOver();
    } catch (error) {
      if ((error as Error).message !== `killed after ${killed.at(-1)}`) throw error;
      const names = (await cloud.nova.listServers({ tags: tagsFor(c.clusterId) })).map((s) => s.name);
      if (new Set(names).size !== names.length)
        throw new Error(`duplicate servers: ${names.sort().join(', ')}`);
      await leasesOver();
    }
  }
  throw new Error(`the job did not finish within ${input.maxRuns} runs; died after ${killed.join(', ')}`);
}

/**
 * kube-proxy and CoreDNS as the real kubeadm init deploys them on a cluster of `version` (its
 * `addon all` phase against the lab), for the suites that check an upgrade moves them.
 */
export async function installKubeadmAddons(lab: Kubelab, version: string, nodeName: string): Promise<void> {
  const apiVersion = releaseForPatch(version)?.kubeadmApiVersion;
  if (!apiVersion) throw new Error(`${version} is not in the catalogue`);
  const config = join(lab.dir, `addons-kubeadm-${version}.yaml`);
  await writeFile(
    config,
    [
      `apiVersion: ${apiVersion}`,
      'kind: InitConfiguration',
      'localAPIEndpoint: { advertiseAddress: 10.240.0.5, bindPort: 6443 }',
      `nodeRegistration: { name: ${nodeName} }`,
      '---',
      `apiVersion: ${apiVersion}`,
      'kind: ClusterConfiguration',
      `kubernetesVersion: v${version}`,
      'networking: { podSubnet: 10.244.0.0/16, serviceSubnet: 10.96.0.0/12 }',
      '',
    ].join('\n'),
  );
  await kubeadm([
    'init',
    'phase',
    'addon',
    'all',
    `--config=${config}`,
    `--kubeconfig=${lab.adminKubeconfig}`,
  ]);
}

/**
 * A cluster to upgrade: three workers on the release before the default one, Node objects removed
 * only by kaas (no cloud controller manager here), so an upgrade's removals show.
 */
export function provisionForUpgrade(
  suite: Pick<CloudsimSuite, 'cloud' | 'webhook' | 'store'>,
  name: string,
  spec: Record<string, unknown>,
  extra: { etcd?: boolean; standInCloud?: Cloud } = {},
): Promise<ClusterLab> {
  return provisionOnKubelab(suite, {
    name,
    workers: 3,
    removeNodes: false,
    ...extra,
    spec: { kubernetesVersion: previousPatch(), ...spec },
  });
}

/**
 * What a step executor gets for cluster `c` on kubelab + cloudsim, as the engine would hand it:
 * its API at `url` through `kube`, nothing else waiting. Tests add what their executors need.
 */
export function labExecDeps(
  suite: CloudsimSuite,
  c: ClusterLab,
  parts: {
    url: string;
    kube: KubeClient;
    /** Where the step's events go; default nowhere. */
    event?: StepContext['event'];
    waitForApi?: boolean;
    waitTimeoutMs: number;
    sleep?: (ms: number) => Promise<void>;
  },
): ExecDeps {
  return {
    cloud: suite.cloud,
    logger,
    now: () => new Date(),
    sleep: parts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    spec: {} as ExecDeps['spec'],
    clusterId: c.clusterId,
    options: { waitForApi: parts.waitForApi ?? true } as ExecDeps['options'],
    renderUserData: async () => '',
    serverConcurrency: 1,
    pollIntervalMs: 100,
    waitTimeoutMs: parts.waitTimeoutMs,
    drainTimeoutMs: 1_000,
    kubeCleanupTimeoutMs: 1_000,
    release: releaseAccess({}),
    kube: { url: parts.url, client: parts.kube, bootstrapToken: c.token },
    ctx: {
      job: {} as StepContext['job'],
      previousOutput: undefined,
      outputs: new Map(),
      signal: new AbortController().signal,
      checkpoint: async () => undefined,
      event: parts.event ?? (async () => undefined),
    },
  };
}

/**
 * A cluster to upgrade waits for its real Nodes from now on: created while nothing answered (the
 * cloud boots nothing), it was recorded with waitForApi off.
 */
export async function waitForApiFromNowOn(c: ClusterLab): Promise<void> {
  const record = await findProvisionedCluster({ db: c.store.db, ref: c.clusterId });
  await updateProvisionedCluster({
    db: c.store.db,
    id: c.clusterId,
    status: record!.status,
    options: { ...(record!.options as object), waitForApi: true },
    now: new Date().toISOString(),
  });
}

/** The lab's API and etcd route in place of the cluster's addresses (kwok nodes have none kaas could reach). */
export function labApiDeps(c: ClusterLab): Partial<ProvisionerDeps> {
  return {
    clusterApi: (access) => clusterApiFor({ ...access, server: c.lab.url }),
    etcdClient: (o) => etcdThroughApi({ ...o, access: { ...o.access, server: c.lab.url } }),
    pollIntervalMs: 200,
    waitTimeoutMs: 120_000,
  };
}

/** etcd as its own running members report it, read directly (not through kaas's route). */
export async function etcdHealthOf(c: ClusterLab): Promise<EtcdMemberHealth[]> {
  const running = c.etcd!.members.filter(
    (m) => m.proc && m.proc.child.exitCode === null && !m.proc.child.signalCode,
  );
  const client = createEtcdClient({
    endpoints: running.map((m) => m.clientUrl),
    etcdCa: c.master0.etcdCa!,
    timeoutMs: 5_000,
  });
  try {
    return await client.health();
  } finally {
    await client.close();
  }
}

/** After a suite: deletes the cluster if a failed test left it, then stops its kubelab. */
export async function deleteLeftCluster(c: ClusterLab): Promise<void> {
  const p = c.provisioner();
  if (await p.getCluster(c.clusterId).catch(() => undefined)) {
    await p.deleteCluster(c.clusterId);
    await p.runUntilIdle().catch(() => undefined);
  }
  await c.stop();
}

/** The steps every job that boots nodes starts with: the release staged, this job's join token. */
export const STAGING_STEPS = ['release', 'artifacts', 'release-tarball', 'join-token'] as const;
