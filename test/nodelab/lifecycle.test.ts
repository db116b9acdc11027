/**
 * kaas's cluster lifecycle on real nodes: the provisioner creates 1 master + 2 workers on cloudsim,
 * and nodelab boots each server as the cloud reports it ACTIVE, from the user data kaas gave it
 * (watch.ts), while the jobs run. Resized to 3 workers, the new server boots and joins (its Node
 * Ready by name; it joins with the resize job's own token, which kaas registered through the cluster's API). Resized back to 1, kaas
 * drains the two highest workers through the API (a workload spread one pod per worker moves to
 * the worker left), deletes their servers and their Nodes: the Nodes are gone from the API, the
 * servers from the cloud, and the nodes from the host. Every Node registers with the cloud provider's
 * uninitialized taint (its kubelet runs with `--cloud-provider=external`) and the real cloud
 * controller, configured with the cluster's own credential, initializes it: providerID, taint gone. Deleted, nothing of the cluster is left in
 * the cloud (servers, ports, networks, floating IPs, the release's Swift container, the keypair)
 * or on the host (veths, cgroups, mounts, node directories, processes; the kubelet's sysctls).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { tagsFor } from '../../src/cluster/names.ts';
import type { CloudController } from '../kubelab/cloudcontroller.ts';
import {
  initializedNodes,
  MINUTE,
  spreadDeployment,
  startNodelabKaas,
  startNodelabCloudController,
  stopLeavingNothing,
  until,
  type NodelabKaas,
} from './kaas.ts';
import { hostTraces } from './node.ts';
import { watchServers, type ServerWatch } from './watch.ts';

/** Apart from master.test.ts's network, should a run of both leave a bridge behind. */
const CIDR = '10.243.0.0/24';
const NAME = 'nl1';
const MASTER = `kaas-${NAME}-master-0`;
const worker = (i: number) => `kaas-${NAME}-default-${i}`;
/** A workload with one pod per worker while there are three (the master's taint keeps it off). */
const SPREAD = 'nodelab-spread';

describe('nodelab: resize and delete on real nodes', () => {
  let kaas: NodelabKaas | undefined;
  let watch: ServerWatch | undefined;
  let occm: CloudController | undefined;
  // The watch tears the nodes down before kaas and the lab stop, even when it fails.
  afterAll(() =>
    (occm?.stop() ?? Promise.resolve()).finally(() => watch?.stop()).finally(() => kaas?.stop()),
  );

  it(
    'creates 1 master + 2 workers, grows to 3 workers, shrinks to 1 with drains, deletes, leaves nothing',
    async () => {
      kaas = await startNodelabKaas(CIDR);
      const { lab, cloud, provisioner } = kaas;
      const started = Date.now();
      const { cluster, job } = await kaas.createCluster(NAME, 2);
      watch = watchServers(lab, cloud, cluster.id, kaas.sim.knobs);
      await provisioner.runUntilIdle();
      expect((await provisioner.getJob(job.id)).job.state).toBe('succeeded');
      const master = await watch.booted(MASTER, 5 * MINUTE);
      kaas.apiAddress = master.address;
      const { kubectl, apply, ready, applyPodNetwork } = await kaas.breakGlass(cluster.id);
      await applyPodNetwork();
      const occmStarted = Date.now();
      occm = await startNodelabCloudController(kaas, cluster.id);
      for (const name of [MASTER, worker(0), worker(1)]) {
        await watch.booted(name, 5 * MINUTE);
        await ready(name);
      }
      const initialized = await initializedNodes(
        kubectl,
        cloud,
        cluster.id,
        [MASTER, worker(0), worker(1)],
        occmStarted,
      );
      const createMs = Date.now() - started;
      const nodes = [master, await watch.booted(worker(0), 0), await watch.booted(worker(1), 0)];
      const rss = await Promise.all(nodes.map((n) => n.rssBytes()));
      const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
      const nodeNames = async () => {
        const { stdout } = await kubectl('get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}');
        return stdout.split(' ').filter(Boolean).sort();
      };
      const serverNames = async () =>
        (await cloud.nova.listServers({ tags: tagsFor(cluster.id) })).map((s) => s.name).sort();
      expect(await nodeNames()).toEqual([MASTER, worker(0), worker(1)].sort());

      // Grown to 3 workers: the new server boots from its user data and joins.
      const grown = Date.now();
      const grow = await provisioner.resizeCluster(cluster.id, 'default', 3);
      await provisioner.runUntilIdle();
      const growView = await provisioner.getJob(grow.id);
      expect(growView.job.state).toBe('succeeded');
      // kaas registered this job's own join token through the cluster's API before the new server
      // was made; the real kubeadm join below uses it (the create-time token is never extended).
      expect(growView.steps.find((s) => s.stepId === 'join-token')?.output).toMatchObject({
        renewed: 'created',
      });
      await watch.booted(worker(2), 5 * MINUTE);
      await ready(worker(2));
      Object.assign(
        initialized,
        await initializedNodes(kubectl, cloud, cluster.id, [worker(2)], occmStarted),
      );
      const growMs = Date.now() - grown;
      expect(await nodeNames()).toEqual([MASTER, worker(0), worker(1), worker(2)].sort());

      // One pod per worker: topology spread over the nodes the pods may run on (the master's
      // taint honoured), so workers 1 and 2, which the shrink removes, each run one.
      await apply(spreadDeployment(SPREAD, 3, 'DoNotSchedule', kaas.busybox));
      const spreadPods = async () => {
        const { stdout } = await kubectl('get', 'pods', '-l', `app=${SPREAD}`, '-o', 'json');
        return (
          JSON.parse(stdout) as {
            items: {
              metadata: { name: string; deletionTimestamp?: string };
              spec: { nodeName?: string };
              status: { phase: string };
            }[];
          }
        ).items.filter((p) => !p.metadata.deletionTimestamp);
      };
      const runningOn = async () => {
        const pods = await spreadPods();
        return pods.length === 3 && pods.every((p) => p.status.phase === 'Running')
          ? pods.map((p) => ({ pod: p.metadata.name, node: p.spec.nodeName ?? '' }))
          : undefined;
      };
      const placed = await until(`${SPREAD} running`, 3 * MINUTE, runningOn);
      expect(placed.map((p) => p.node).sort()).toEqual([worker(0), worker(1), worker(2)]);

      // Shrunk to 1 worker: kaas drains workers 2 then 1 through the API, deletes their servers,
      // then their Nodes; nodelab tears each node down as its server goes.
      const shrunk = Date.now();
      const shrink = await provisioner.resizeCluster(cluster.id, 'default', 1);
      await provisioner.runUntilIdle();
      const shrinkView = await provisioner.getJob(shrink.id);
      expect(shrinkView.job.state, JSON.stringify(shrinkView.events.slice(-3))).toBe('succeeded');
      for (const i of [1, 2]) {
        const evicted = placed.find((p) => p.node === worker(i))?.pod;
        expect(shrinkView.steps.find((s) => s.stepId === `drain:${worker(i)}`)?.output).toMatchObject({
          drained: true,
          evicted: expect.arrayContaining([`default/${evicted}`]),
        });
        await watch.stopped(worker(i), 2 * MINUTE);
      }
      const shrinkMs = Date.now() - shrunk;
      expect(await nodeNames()).toEqual([MASTER, worker(0)].sort());
      expect(await serverNames()).toEqual([MASTER, worker(0)].sort());
      // The workload runs on, all of it on the worker left.
      const moved = await until(`${SPREAD} rescheduled`, 3 * MINUTE, runningOn);
      expect(moved.map((p) => p.node)).toEqual([worker(0), worker(0), worker(0)]);
      // Nothing of the removed nodes is left on the host: two nodes' veths beside the bridge.
      const traces = await hostTraces();
      expect(traces.links.filter((l) => l !== lab.bridge)).toHaveLength(2);
      expect(traces.cgroups.filter((c) => /-default-[12]$/.test(c))).toEqual([]);
      expect(traces.nodeDirs.map((d) => d.replace(/-[0-9a-f]{6}$/, ''))).toEqual([MASTER, worker(0)].sort());

      // Deleted: nothing of the cluster is left in the cloud, nodelab stops the last two nodes.
      const deleted = Date.now();
      const remove = await provisioner.deleteCluster(cluster.id);
      await provisioner.runUntilIdle();
      expect((await provisioner.getJob(remove.id)).job.state).toBe('succeeded');
      await watch.stopped(MASTER, 2 * MINUTE);
      await watch.stopped(worker(0), 2 * MINUTE);
      const deleteMs = Date.now() - deleted;
      await watch.stop();
      watch = undefined;
      expect(occm.proc.child.exitCode, await occm.log()).toBeNull();
      await occm.stop();
      occm = undefined;
      await stopLeavingNothing(kaas, cluster.id, NAME);
      kaas = undefined;
      console.info(
        `nodelab lifecycle: 1 master + 2 workers Ready ${Math.round(createMs / 1000)} s after create, ` +
          `${mib(rss.reduce((a, b) => a + b, 0))} MiB resident (${nodes
            .map((n, i) => `${n.name} ${mib(rss[i] ?? 0)}`)
            .join(', ')}); ` +
          `3rd worker Ready ${Math.round(growMs / 1000)} s after resize; shrink to 1 (2 drains) ` +
          `${Math.round(shrinkMs / 1000)} s; delete ${Math.round(deleteMs / 1000)} s; the cloud ` +
          `controller initialized each Node ${Object.entries(initialized)
            .map(([n, sec]) => `${n} ${sec} s`)
            .join(', ')} after it registered (or the controller started)`,
      );
    },
    15 * MINUTE,
  );
});
