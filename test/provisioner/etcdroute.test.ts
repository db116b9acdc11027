/**
 * kaas's route to etcd through the cluster API (src/provisioner/etcdroute.ts, portforward.ts) on
 * kubelab: a real kube-apiserver proxies `pods/portforward` to kwok's kubelet server, which forwards
 * each `kube-system/etcd-<master>` pod's port 2379 to a real etcd member (test/kubelab/etcdmasters.ts,
 * TLS from the cluster's etcd CA). The test reaches etcd only through the lab's API address, with
 * the cluster's break-glass certificate, as kaas reaches a cluster.
 */
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyPair } from '../../src/auth/pki.ts';
import type { EtcdClient } from '../../src/provisioner/etcd.ts';
import { etcdThroughApi } from '../../src/provisioner/etcdroute.ts';
import type { KubeAccess } from '../../src/provisioner/kubeclient.ts';
import { createCa } from '../../src/auth/pki.ts';
import { startEtcdMasters, type EtcdMasters } from '../kubelab/etcdmasters.ts';
import { startKubelab, type Kubelab } from '../kubelab/kubelab.ts';
import { labCluster } from '../kubelab/support.ts';

const master = (i: number) => `kaas-lab-master-${i}`;
let lab: Kubelab;
let etcd: EtcdMasters;
let access: KubeAccess;
let etcdCa: KeyPair;
let api: Agent;
const clients: EtcdClient[] = [];

/** A client through the API that the suite closes at the end. */
function through(masters: readonly string[], timeoutMs = 5_000): EtcdClient {
  const client = etcdThroughApi({ access, etcdCa, masters, timeoutMs });
  clients.push(client);
  return client;
}

beforeAll(async () => {
  const kaasCa = await createCa({ commonName: 'kaas-test' });
  const { material, master0 } = await labCluster({
    kaasUrl: 'https://127.0.0.1:1',
    kaasCaPem: kaasCa.certPem,
  });
  if (!material.etcdCa) throw new Error('cluster material without an etcd CA');
  etcdCa = material.etcdCa;
  lab = await startKubelab({ master0, controllerManager: false, scheduler: false, kubeletServer: true });
  access = {
    server: lab.url,
    caPem: material.ca.certPem,
    certPem: material.admin.certPem,
    keyPem: material.admin.keyPem,
  };
  api = new Agent({ connect: { ca: access.caPem, cert: access.certPem, key: access.keyPem } });
  etcd = await startEtcdMasters({ lab, etcdCa, names: [master(0), master(1), master(2)] });
}, 180_000);

afterAll(async () => {
  for (const c of clients) await c.close();
  await api?.destroy();
  await etcd?.stop();
  await lab?.stop();
});

describe('etcd through the cluster API', () => {
  it('lists the members and reads each one health through its own pod', async () => {
    const client = through([master(0), master(1), master(2)]);
    const health = await client.health();
    expect(health.map((m) => m.name).sort()).toEqual([master(0), master(1), master(2)]);
    expect(health.every((m) => m.healthy)).toBe(true);
  }, 60_000);

  it('replaces a master: adds the new member, starts it, removes the old one, keeping quorum', async () => {
    const before = await through([master(0), master(1), master(2)]).members();
    // kubeadm join --control-plane on master-3 adds and starts its member (the harness does it).
    await etcd.joinMember(master(3));
    const client = through([master(0), master(1), master(2), master(3)]);
    const four = await client.health();
    expect(four.map((m) => m.name).sort()).toEqual([master(0), master(1), master(2), master(3)]);
    expect(four.every((m) => m.healthy)).toBe(true);

    const old = before.find((m) => m.name === master(2))!;
    expect(await client.removeMember(old.id)).toEqual({ removed: true });
    await etcd.stopMember(master(2));
    const after = await through([master(0), master(1), master(3)]).health();
    expect(after.map((m) => m.name).sort()).toEqual([master(0), master(1), master(3)]);
    expect(after.every((m) => m.healthy)).toBe(true);
    // Removing it again is a no-op, as a resumed step needs.
    expect(await client.removeMember(old.id)).toEqual({ removed: false });
  }, 120_000);

  it('adds a member through the API (the contract masters uses) and refuses one that would lose quorum', async () => {
    const client = through([master(0), master(1), master(3)]);
    const peer = 'https://127.0.0.1:1';
    const added = await client.addMember(peer);
    expect(added).toMatchObject({ peerUrls: [peer], name: '' });
    const health = await client.health();
    expect(health.find((m) => m.id === added.id)).toMatchObject({ healthy: false, reason: 'not started' });
    // While a member is down (never started), kaas changes nothing else: refused up front.
    const m0 = health.find((m) => m.name === master(0))!;
    await expect(client.removeMember(m0.id)).rejects.toMatchObject({ code: 'etcd_member_unhealthy' });
    // The never-started member can go: the three healthy ones keep quorum.
    expect(await client.removeMember(added.id)).toEqual({ removed: true });
    expect((await client.members()).map((m) => m.name).sort()).toEqual([master(0), master(1), master(3)]);
  }, 120_000);
});
