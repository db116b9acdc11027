/**
 * kaas's route to etcd through the cluster API (src/provisioner/etcdroute.ts, portforward.ts) on
 * kubelab: a real kube-apiserver proxies `pods/portforward` to kwok's kubelet server, which forwards
 * each `kube-system/etcd-<master>` pod's port 2379 to a real etcd member (test/kubelab/etcdmasters.ts,
 * TLS from the cluster's etcd CA). The test reaches etcd only through the lab's API address, with
 * the cluster's break-glass certificate, as kaas reaches a cluster.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, type KeyPair } from '../../src/auth/pki.ts';
import type { EtcdClient, EtcdMemberHealth } from '../../src/provisioner/etcd.ts';
import { etcdThroughApi } from '../../src/provisioner/etcdroute.ts';
import type { KubeAccess } from '../../src/provisioner/kubeclient.ts';
import { mastersCertificate } from '../../src/provisioner/identity.ts';
import { openPortForward } from '../../src/provisioner/portforward.ts';
import { addEtcdPod, startEtcdMasters, type EtcdMasters } from '../kubelab/etcdmasters.ts';
import { freePort } from '../../src/dev/kube/ports.ts';
import { startKubelab, type Kubelab } from '../../src/dev/kube/kubelab.ts';
import { labCluster } from '../kubelab/support.ts';

const master = (i: number) => `kaas-lab-master-${i}`;
let lab: Kubelab;
let etcd: EtcdMasters;
let access: KubeAccess;
let etcdCa: KeyPair;
let api: Agent;
const clients: EtcdClient[] = [];
/** Accepts connections and never answers: an API or etcd that hangs. */
let silent: Server;
let silentPort: number;
const held: Socket[] = [];

/** What kaas must never show in an error: its keys and certificates, the etcd CA's included. */
function expectNoSecrets(error: unknown): void {
  const text = `${String(error)} ${JSON.stringify(error)} ${(error as Error).stack ?? ''}`;
  expect(text).not.toMatch(/BEGIN|PRIVATE KEY/);
  for (const pem of [access.keyPem, access.certPem, etcdCa.keyPem, etcdCa.certPem]) {
    const body = pem.split('\n')[1] ?? '';
    expect(body.length).toBeGreaterThan(20);
    expect(text).not.toContain(body);
  }
}

/** The error `promise` rejects with, and how long it took. */
async function failure(promise: Promise<unknown>): Promise<{ error: Error & { code?: string }; ms: number }> {
  const started = Date.now();
  try {
    await promise;
  } catch (error) {
    expectNoSecrets(error);
    return { error: error as Error & { code?: string }, ms: Date.now() - started };
  }
  throw new Error('expected a failure');
}

/**
 * The members' health once exactly `names` read healthy: after a member stops or leaves, the others
 * may be electing a leader for a moment, and /health says so.
 */
async function healthyOnly(client: EtcdClient, names: string[]): Promise<EtcdMemberHealth[]> {
  let health: EtcdMemberHealth[] = [];
  const want = [...names].sort().join(',');
  await lab.waitFor(
    `healthy etcd members ${want}`,
    async () => {
      health = await client.health();
      const healthy = health.filter((m) => m.healthy).map((m) => m.name);
      return healthy.sort().join(',') === want;
    },
    30_000,
  );
  return health;
}

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
    ...(await mastersCertificate(material.ca, 'kaas-break-glass')),
  };
  api = new Agent({ connect: { ca: access.caPem, cert: access.certPem, key: access.keyPem } });
  etcd = await startEtcdMasters({ lab, etcdCa, names: [master(0), master(1), master(2)] });
  silent = createServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentPort = (silent.address() as { port: number }).port;
}, 180_000);

afterAll(async () => {
  for (const socket of held) socket.destroy();
  silent?.close();
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

  it('replaces the leading master: adds the new member, starts it, moves leadership, removes the old one, keeping quorum', async () => {
    const before = await through([master(0), master(1), master(2)]).members();
    const writer = etcd.keepWriting();
    // kubeadm join --control-plane on master-3 adds and starts its member (the harness does it).
    await etcd.joinMember(master(3));
    const client = through([master(0), master(1), master(2), master(3)]);
    const four = await client.health();
    expect(four.map((m) => m.name).sort()).toEqual([master(0), master(1), master(2), master(3)]);
    expect(four.every((m) => m.healthy)).toBe(true);

    // The member leaving leads, the case that needs the most care: kaas hands leadership over first.
    await etcd.makeLeader(master(2));
    const old = before.find((m) => m.name === master(2))!;
    const removal = await client.removeMember(old.id);
    expect(removal.removed).toBe(true);
    expect([master(0), master(1), master(3)]).toContain(removal.leaderMovedTo);
    await etcd.stopMember(master(2));
    const after = await healthyOnly(through([master(0), master(1), master(3)]), [
      master(0),
      master(1),
      master(3),
    ]);
    expect(after.map((m) => m.name).sort()).toEqual([master(0), master(1), master(3)]);
    // Removing it again is a no-op, as a resumed step needs.
    expect(await client.removeMember(old.id)).toEqual({ removed: false });
    // Quorum held throughout: every write the API servers would make succeeded.
    const { writes, failures } = await writer.stop();
    expect(failures).toEqual([]);
    expect(writes).toBeGreaterThan(10);
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

  it('reads a member kaas was not told to dial as unhealthy, without dialling it', async () => {
    const health = await through([master(0)]).health();
    expect(health.find((m) => m.name === master(0))?.healthy).toBe(true);
    expect(health.find((m) => m.name === master(1))).toMatchObject({
      healthy: false,
      reason: `no route: ${master(1)} is not one of the masters kaas may dial`,
    });
  }, 30_000);
});

describe('failures through the cluster API', () => {
  it('refuses no masters, or a master that is not a Node name, before dialling anything', () => {
    for (const masters of [[], ['Master_0'], ['a/b'], ['x:2379'], ['']]) {
      expect(() => etcdThroughApi({ access, etcdCa, masters })).toThrow(
        expect.objectContaining({ code: 'invalid_input', field: 'masters' }),
      );
    }
  });

  it('refuses an API address that is not https, or a port that is not one', async () => {
    const open = (server: string, port = 2379) =>
      openPortForward({ server, dispatcher: api, namespace: 'kube-system', pod: 'etcd-x', port });
    for (const server of ['http://127.0.0.1:6443', 'ftp://x', '127.0.0.1:6443', 'https://', 'https://a/b']) {
      await expect(open(server)).rejects.toMatchObject({ code: 'invalid_input', field: 'server' });
    }
    for (const port of [0, 65_536, 1.5, Number.NaN]) {
      await expect(open(lab.url, port)).rejects.toMatchObject({ code: 'invalid_input', field: 'port' });
    }
  });

  it('a port-forward to a missing pod fails at once with port_forward_pod_missing', async () => {
    const { error, ms } = await failure(
      openPortForward({
        server: lab.url,
        dispatcher: api,
        namespace: 'kube-system',
        pod: 'etcd-nope',
        port: 2379,
      }),
    );
    expect(error).toMatchObject({ code: 'port_forward_pod_missing' });
    expect(error.message).toBe('port-forward to kube-system/etcd-nope:2379: pods "etcd-nope" not found');
    expect(ms).toBeLessThan(5_000);

    // Through the client: a master without its etcd pod is skipped for membership calls...
    const client = through(['kaas-lab-master-9', master(0), master(1), master(3)]);
    expect((await client.members()).map((m) => m.name).sort()).toEqual([master(0), master(1), master(3)]);
    // ...and when no master has one, the call fails saying so.
    const none = await failure(through(['kaas-lab-master-9']).members());
    expect(none.error).toMatchObject({ code: 'etcd_unreachable' });
    expect(none.error.message).toContain(
      'kaas-lab-master-9: port-forward to kube-system/etcd-kaas-lab-master-9:2379: pods "etcd-kaas-lab-master-9" not found',
    );
  }, 30_000);

  it('a pod whose target is down: the stream fails with the kubelet reason, the member reads unhealthy', async () => {
    const down = await freePort();
    await addEtcdPod(lab, 'kaas-lab-master-8', down);
    const stream = await openPortForward({
      server: lab.url,
      dispatcher: api,
      namespace: 'kube-system',
      pod: 'etcd-kaas-lab-master-8',
      port: 2379,
    });
    const { error } = await failure(
      new Promise((resolve, reject) => {
        stream.on('error', reject);
        stream.on('end', resolve);
        stream.resume();
      }),
    );
    expect(error).toMatchObject({ code: 'port_forward_failed' });
    expect(error.message).toMatch(
      /^port-forward to kube-system\/etcd-kaas-lab-master-8:2379: .*connection refused/,
    );

    // A real member whose etcd died: its own pod's forward says so, the others are healthy.
    await etcd.stopMember(master(1));
    const client = through([master(0), master(1), master(3)]);
    const health = await healthyOnly(client, [master(0), master(3)]);
    expect(health.find((m) => m.name === master(1))).toMatchObject({ healthy: false });
    expect(health.find((m) => m.name === master(1))?.reason).toMatch(
      /^unreachable: port-forward to kube-system\/etcd-kaas-lab-master-1:2379: .*connection refused/,
    );
    const m0 = health.find((m) => m.name === master(0))!;
    const refused = await failure(client.removeMember(m0.id));
    expect(refused.error).toMatchObject({ code: 'etcd_member_unhealthy' });
    expect(refused.error.message).toContain(`${master(1)} (unreachable: port-forward`);
  }, 60_000);

  it('refuses a removal that would lose quorum, after the removals that keep it', async () => {
    const client = through([master(0), master(1), master(3)]);
    const id = async (name: string) => (await client.members()).find((m) => m.name === name)!.id;
    // The dead member goes (the two healthy ones are the new quorum), then one more.
    expect(await client.removeMember(await id(master(1)))).toEqual({ removed: true });
    // master-0 leads (an earlier handover may have left master-3 leading), so this removal moves no leadership.
    await etcd.makeLeader(master(0));
    expect(await client.removeMember(await id(master(3)))).toEqual({ removed: true });
    await etcd.stopMember(master(3));
    const last = await id(master(0));
    const { error } = await failure(client.removeMember(last));
    expect(error).toMatchObject({ code: 'etcd_quorum_loss' });
    expect((await client.members()).map((m) => m.name)).toEqual([master(0)]);
  }, 90_000);

  it('refuses a member whose serving certificate does not name the master dialled', async () => {
    // etcd-kaas-lab-master-5 forwards to master-0's etcd: right CA, wrong name.
    const port = Number(new URL(etcd.members.find((m) => m.name === master(0))!.clientUrl).port);
    await addEtcdPod(lab, 'kaas-lab-master-5', port);
    const { error } = await failure(through(['kaas-lab-master-5']).members());
    expect(error).toMatchObject({ code: 'etcd_unreachable' });
    expect(error.message).toMatch(/kaas-lab-master-5: .*(altnames|does not match)/i);
    // The same member through its own pod is fine.
    expect((await through([master(0)]).members()).map((m) => m.name)).toEqual([master(0)]);
  }, 30_000);

  it('an API that never opens the stream times out with port_forward_timeout', async () => {
    const { error, ms } = await failure(
      openPortForward({
        server: `https://127.0.0.1:${silentPort}`,
        dispatcher: api,
        namespace: 'kube-system',
        pod: 'etcd-x',
        port: 2379,
        timeoutMs: 1_000,
      }),
    );
    expect(error).toMatchObject({ code: 'port_forward_timeout' });
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(5_000);

    // Through the client, the tunnel's reason reaches the caller.
    const hung = etcdThroughApi({
      access: { ...access, server: `https://127.0.0.1:${silentPort}` },
      etcdCa,
      masters: [master(0)],
      timeoutMs: 1_000,
    });
    clients.push(hung);
    const viaClient = await failure(hung.members());
    expect(viaClient.error).toMatchObject({ code: 'etcd_unreachable' });
    expect(viaClient.error.message).toContain(
      `${master(0)}: port-forward to kube-system/etcd-${master(0)}:2379: the API did not open the stream within 1000 ms`,
    );
    expect(viaClient.ms).toBeLessThan(5_000);
  }, 30_000);

  it('an API nothing listens on fails at once, saying so', async () => {
    const closed = etcdThroughApi({
      access: { ...access, server: `https://127.0.0.1:${await freePort()}` },
      etcdCa,
      masters: [master(0)],
    });
    clients.push(closed);
    const { error, ms } = await failure(closed.members());
    expect(error).toMatchObject({ code: 'etcd_unreachable' });
    expect(error.message).toContain(
      `${master(0)}: port-forward to kube-system/etcd-${master(0)}:2379: connection refused: nothing listens on the API address`,
    );
    expect(ms).toBeLessThan(5_000);
  }, 30_000);

  it('a member that accepts and never speaks TLS times out instead of hanging', async () => {
    await addEtcdPod(lab, 'kaas-lab-master-7', silentPort);
    const { error, ms } = await failure(through(['kaas-lab-master-7'], 1_500).members());
    expect(error).toMatchObject({ code: 'etcd_unreachable' });
    expect(error.message).toContain(
      'kaas-lab-master-7: etcd member kaas-lab-master-7: no TLS session through its tunnel within 1500 ms',
    );
    expect(ms).toBeLessThan(10_000);
  }, 30_000);

  it("a pod on a Node whose kubelet cannot be reached fails with the API's reason", async () => {
    const res = await lab.request('POST', '/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'kaas-lab-master-6' },
    });
    expect(res.status).toBe(201);
    const pod = await lab.request('POST', '/api/v1/namespaces/kube-system/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'etcd-kaas-lab-master-6',
        namespace: 'kube-system',
        annotations: { 'kubernetes.io/config.mirror': 'x' },
      },
      spec: {
        nodeName: 'kaas-lab-master-6',
        containers: [{ name: 'etcd', image: 'registry.k8s.io/etcd:3.6.16-0' }],
      },
    });
    expect(pod.status).toBe(201);
    const { error, ms } = await failure(
      openPortForward({
        server: lab.url,
        dispatcher: api,
        namespace: 'kube-system',
        pod: 'etcd-kaas-lab-master-6',
        port: 2379,
        timeoutMs: 5_000,
      }),
    );
    expect(error).toMatchObject({ code: 'port_forward_failed' });
    expect(error.message).toBe(
      'port-forward to kube-system/etcd-kaas-lab-master-6:2379: the API answered 500: no preferred addresses found; known addresses: []',
    );
    expect(ms).toBeLessThan(10_000);
  }, 30_000);
});
