/**
 * `kaas dev --kube`: each cluster created on the embedded cloud gets a real control plane on
 * 127.0.0.1 (kubelab: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok), made
 * by the real kubeadm from the very input kaas rendered the cluster's master-0 user data from, so it
 * runs kaas's own kube-apiserver configuration: the cluster's CA, its join token, and the TokenReview
 * webhook pointing at this kaas dev. The node stand-in registers a Node for each of the cluster's
 * servers that goes ACTIVE, enrolled as a real node would be. The API address kaas records for the
 * cluster is the control plane's, so kubeconfigs from the panel and the CLI work with kubectl.
 *
 * Each control plane lives in `<dir>/<cluster id>/` and restarts from there on the next
 * `kaas dev --kube`; a cluster's is stopped (by PID) and removed once the cluster is deleted.
 */
import { readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InputError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Cloud } from '../../openstack/index.ts';
import { bootstrapInputFor, bootstrapRenderer } from '../../provisioner/bootstrap.ts';
import type { ProvisionerDeps } from '../../provisioner/provisioner.ts';
import type { Db } from '../../store/db.ts';
import { listProvisionedClusters } from '../../store/listProvisionedClusters.ts';
import { kubeBinary, toolBinary } from './binaries.ts';
import { startKubelab, type Kubelab } from './kubelab.ts';
import { startNodeStandIn, storeEnroller, type NodeStandIn } from './nodes.ts';

/** One cluster's running control plane and node stand-in. */
interface ControlPlane {
  lab: Kubelab;
  nodes: NodeStandIn;
}

/** What `kaas dev` does with its clusters' control planes. */
export interface DevKube {
  /** The provisioner's renderer: rendering a cluster's master-0 starts its control plane first. */
  renderer: NonNullable<ProvisionerDeps['renderer']>;
  /** The API address of a cluster's control plane, once it runs. */
  apiAddress(clusterId: string): string | undefined;
  /**
   * Restarts the control planes kept from an earlier run, for clusters that still exist (and
   * removes those of clusters that do not); says which it could not restart, and why.
   */
  restore(): Promise<{ restored: string[]; failed: { clusterId: string; reason: string }[] }>;
  /** Stops every process (by PID); the directories stay for the next run. */
  close(): Promise<void>;
}

/**
 * Refuses `--kube` clearly when the kubelab binaries are not built: names the one missing and the
 * command that builds them.
 */
export function checkKubeBinaries(): void {
  try {
    for (const name of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubeadm'] as const)
      kubeBinary(name);
    for (const name of ['etcd', 'kwok'] as const) toolBinary(name);
  } catch (error) {
    throw new InputError(`kaas dev --kube needs the kubelab binaries: ${(error as Error).message}`, {
      code: 'kubelab_missing',
      field: '--kube',
      cause: error,
    });
  }
}

/** Control planes for the clusters of `kaas dev`, kept under `dir` (`.kaas/kube`). */
export function startDevKube(input: {
  dir: string;
  /** The cloud the node stand-in lists the clusters' servers in. */
  cloud: Cloud;
  /** The user data a server booted with, as the embedded cloud's hypervisor hands it over. */
  userData: (serverId: string) => Promise<string | undefined>;
  db: Db;
  logger: Logger;
}): DevKube {
  // kubeadm takes absolute paths only.
  const deps = { ...input, dir: resolve(input.dir) };
  const running = new Map<string, ControlPlane>();
  const starting = new Map<string, Promise<ControlPlane>>();
  let closed = false;

  async function start(clusterId: string, master0?: Parameters<typeof startKubelab>[0]['master0']) {
    const lab = await startKubelab({ dir: join(deps.dir, clusterId), ...(master0 ? { master0 } : {}) });
    const nodes = startNodeStandIn({
      cloud: deps.cloud,
      lab,
      clusterId,
      enroll: storeEnroller(deps.db),
      userData: deps.userData,
      onError: (error) =>
        deps.logger.warn({ err: error, clusterId }, 'kaas dev --kube: the node stand-in failed'),
    });
    const plane = { lab, nodes };
    running.set(clusterId, plane);
    deps.logger.info({ clusterId, api: lab.url }, 'kaas dev --kube: control plane running');
    return plane;
  }

  /** Starts a cluster's control plane once, however often its master-0 is rendered. */
  function ensure(clusterId: string, master0?: Parameters<typeof start>[1]): Promise<ControlPlane> {
    const known = running.get(clusterId);
    if (known) return Promise.resolve(known);
    let pending = starting.get(clusterId);
    if (!pending) {
      pending = start(clusterId, master0).finally(() => starting.delete(clusterId));
      starting.set(clusterId, pending);
    }
    return pending;
  }

  async function stop(clusterId: string): Promise<void> {
    const plane = running.get(clusterId);
    running.delete(clusterId);
    if (!plane) return;
    try {
      await plane.nodes.stop();
    } catch (error) {
      deps.logger.warn({ err: error, clusterId }, 'kaas dev --kube: the node stand-in had failed');
    } finally {
      await plane.lab.stop();
    }
  }

  /** Stops and removes the control planes of clusters that are gone (deleted). */
  async function sweep(): Promise<void> {
    const ids = new Set((await listProvisionedClusters({ db: deps.db })).map((c) => c.id));
    for (const clusterId of [...running.keys()].filter((id) => !ids.has(id) && !starting.has(id))) {
      await stop(clusterId);
      await rm(join(deps.dir, clusterId), { recursive: true, force: true });
      deps.logger.info({ clusterId }, 'kaas dev --kube: cluster deleted, its control plane removed');
    }
  }
  let sweeping = Promise.resolve();
  const timer = setInterval(() => {
    sweeping = sweeping
      .then(sweep)
      .catch((error: unknown) => deps.logger.warn({ err: error }, 'kaas dev --kube: sweep failed'));
  }, 1_000);

  return {
    renderer: (material, save) => {
      const render = bootstrapRenderer(() => material, save);
      return async (node) => {
        if (node.role === 'init') await ensure(node.clusterId, bootstrapInputFor(node, material));
        return render(node);
      };
    },
    apiAddress: (clusterId) => running.get(clusterId)?.lab.url,
    async restore() {
      const ids = new Set((await listProvisionedClusters({ db: deps.db })).map((c) => c.id));
      const kept = await readdir(deps.dir).catch(() => [] as string[]);
      const restored: string[] = [];
      const failed: { clusterId: string; reason: string }[] = [];
      for (const clusterId of kept) {
        if (!ids.has(clusterId)) {
          await rm(join(deps.dir, clusterId), { recursive: true, force: true });
          continue;
        }
        try {
          await ensure(clusterId);
          restored.push(clusterId);
        } catch (error) {
          failed.push({ clusterId, reason: (error as Error).message });
        }
      }
      return { restored, failed };
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await sweeping;
      await Promise.allSettled(starting.values());
      for (const clusterId of [...running.keys()]) await stop(clusterId);
    },
  };
}
