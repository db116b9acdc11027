/**
 * The real openstack-cloud-controller-manager against kubelab and the real lab OpenStack (Keystone,
 * Neutron, Octavia with no-op amphorae): configured as kaas configures it (the cloud-controller
 * managed service's flags and RBAC, the Secret rendered by src/addons/cloudconf.ts from an
 * application credential the lab admin makes for the test), with Keystone reached over TLS with a
 * private CA that only the Secret's `ca.pem` (cloud.conf's ca-file) makes it trust, a `type: LoadBalancer` Service gets an
 * Octavia load balancer named for the kaas cluster id and its floating IP in `status.loadBalancer`;
 * deleting the Service removes the load balancer, its listeners and pools, and the floating IP.
 * A Node registered as a kubelet with `--cloud-provider=external` registers it (with the
 * uninitialized taint), named as a real lab Nova server (fake driver) on the cluster network, is
 * initialized by it: providerID `openstack:///<server id>`, the taint gone, the server's address.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudConfigSecretData } from '../../src/addons/cloudconf.ts';
import { UNINITIALIZED_TAINT } from '../../src/addons/cloudcontroller.ts';
import { createCa } from '../../src/auth/pki.ts';
import { createLogger } from '../../src/log.ts';
import type { Cloud } from '../../src/openstack/index.ts';
import { defaultContext } from '../addons/default-context.ts';
import { labAdminCloud } from '../support/openstack.ts';
import {
  createLabNetwork,
  loadBalancerCounts,
  kubelabCluster,
  startCloudController,
  startTlsFront,
  type CloudController,
  type LabNetwork,
  type TlsFront,
} from './cloudcontroller.ts';
import { startKubelab, type Kubelab } from '../../src/dev/kube/kubelab.ts';
import { getNode, waitForReadyNodes } from './nodes.ts';
import { labCluster } from './support.ts';

const logger = createLogger({ level: 'silent' });
const run = randomBytes(3).toString('hex');
const clusterId = `occm${run}`;
const NONE = { loadBalancers: 0, listeners: 0, pools: 0, floatingIps: 0 };
const worker = `kaas-${clusterId}-worker-0`;
let cloud: Cloud;
let network: LabNetwork;
let lab: Kubelab;
let occm: CloudController;
let credential: { userId: string; id: string } | undefined;
let front: TlsFront | undefined;
let untrustingLog = '';
/** The worker's Nova server, and what booting it needed. */
let server: { id: string; address: string } | undefined;
let flavorId: string | undefined;
let imageId: string | undefined;
/** When the trusting cloud controller started (for the time it took to initialize the Node). */
let occmStarted = 0;

/** Ports on the cluster network that are not Neutron's own (router, DHCP): the server's, until it goes. */
async function serverPorts(): Promise<number> {
  const ports = await cloud.neutron.ports.list({ network_id: network.networkId });
  return ports.filter((p) => !p.device_owner.startsWith('network:')).length;
}

/** Deletes the worker's server, flavor and image (ignoring what is already gone). */
async function removeServer(): Promise<void> {
  if (server) {
    await cloud.nova.deleteServer(server.id, { ignoreMissing: true });
    await cloud.nova.waitForServerDeleted(server.id, { timeoutMs: 60_000, intervalMs: 500 });
    server = undefined;
  }
  if (flavorId) await cloud.nova.deleteFlavor(flavorId).catch(() => undefined);
  if (imageId) await cloud.glance.deleteImage(imageId, { ignoreMissing: true });
  flavorId = imageId = undefined;
}

beforeAll(async () => {
  cloud = labAdminCloud(logger);
  network = await createLabNetwork(cloud, `kaas-${clusterId}`);
  const [admin] = await cloud.keystone.listUsers({ name: 'admin' });
  if (!admin) throw new Error('the lab has no admin user');
  const made = await cloud.keystone.createApplicationCredential(admin.id, { name: `kaas-${clusterId}` });
  credential = { userId: admin.id, id: made.id };
  const kaasCa = await createCa({ commonName: 'kaas-test' });
  const { master0 } = await labCluster({
    kaasUrl: 'https://127.0.0.1:1',
    kaasCaPem: kaasCa.certPem,
    clusterId,
  });
  lab = await startKubelab({ master0, scheduler: false });
  // The worker's server on the cluster network (the lab's Nova has no flavor or image of its own).
  flavorId = (await cloud.nova.createFlavor({ name: `kaas-${clusterId}`, ram: 512, vcpus: 1, disk: 1 })).id;
  imageId = (await cloud.glance.createImage({ name: `kaas-${clusterId}` })).id;
  await cloud.glance.uploadImage(imageId, Buffer.alloc(64 * 1024));
  const { id } = await cloud.nova.createServer({
    name: worker,
    flavorRef: flavorId,
    imageRef: imageId,
    networks: [{ uuid: network.networkId }],
  });
  server = { id, address: '' };
  const active = await cloud.nova.waitForServerStatus(id, 'ACTIVE', { timeoutMs: 90_000, intervalMs: 500 });
  server.address = Object.values(active.addresses).flat()[0]?.addr ?? '';
  // Its kubelet runs with --cloud-provider=external (src/bootstrap/kubeadm.ts), so it registers tainted.
  await lab.addNode(worker, { taints: [UNINITIALIZED_TAINT] });
  await waitForReadyNodes(lab, [worker]);
  // Keystone behind TLS with a private CA, as a cloud kaas reaches with clouds.yaml `cacert`.
  const keystone = new URL(process.env.OS_AUTH_URL ?? 'http://127.0.0.1:5000/v3');
  front = await startTlsFront(keystone.origin);
  const conf = {
    authUrl: `${front.url}${keystone.pathname}`,
    region: process.env.OS_REGION_NAME ?? 'RegionOne',
    applicationCredentialId: made.id,
    applicationCredentialSecret: made.secret,
    floatingNetworkId: network.externalNetworkId,
    subnetId: network.subnetId,
  };
  const ctx = { ...defaultContext(), clusterId };
  // Without the CA in its Secret the cloud controller cannot even authenticate (before kaas put it there).
  const untrusting = await startCloudController(kubelabCluster(lab), ctx, cloudConfigSecretData(conf));
  try {
    await lab.waitFor(
      'the cloud controller without the CA to refuse the private certificate',
      async () => /x509|unknown authority/.test(await untrusting.log()),
      120_000,
    );
    untrustingLog = await untrusting.log();
  } finally {
    await untrusting.stop();
  }
  occmStarted = Date.now();
  occm = await startCloudController(
    kubelabCluster(lab),
    ctx,
    cloudConfigSecretData({ ...conf, caPem: front.caPem }),
  );
}, 300_000);

afterAll(async () => {
  await occm?.stop();
  await front?.close();
  await lab?.stop();
  // Whatever a failed test left: the cloud controller's load balancers and floating IPs.
  if (cloud) {
    await removeServer().catch(() => undefined);
    for (const lb of await cloud.octavia.listLoadBalancers().catch(() => [])) {
      if (!lb.name.startsWith(`kube_service_${clusterId}_`)) continue;
      await cloud.octavia
        .deleteLoadBalancer(lb.id, { cascade: true, ignoreMissing: true })
        .catch(() => undefined);
      await cloud.octavia.waitForLoadBalancerDeleted(lb.id).catch(() => undefined);
    }
    if (network) {
      for (const f of await cloud.neutron.floatingIps.list({
        floating_network_id: network.externalNetworkId,
      }))
        await cloud.neutron.floatingIps.delete(f.id).catch(() => undefined);
      for (const p of await cloud.neutron.ports.list({ network_id: network.networkId }))
        if (!p.device_owner.startsWith('network:'))
          await cloud.neutron.ports.delete(p.id).catch(() => undefined);
      await network.remove();
    }
    if (credential)
      await cloud.keystone
        .deleteApplicationCredential(credential.userId, credential.id)
        .catch(() => undefined);
  }
}, 180_000);

interface ServiceObject {
  status?: { loadBalancer?: { ingress?: { ip?: string }[] } };
}

describe('openstack-cloud-controller-manager on kubelab with the kaas cloud.conf', () => {
  it("trusts the cloud's private CA only through the Secret's ca.pem (without it, x509 errors)", () => {
    expect(untrustingLog).toMatch(/x509|unknown authority/);
  });

  it("initializes the worker's Node from its Nova server: providerID, address, the uninitialized taint gone", async () => {
    expect(server?.address, 'the server has a fixed IP on the cluster network').toMatch(/^10\.240\.0\./);
    // Until then the Node is as its kubelet registered it, tainted (the untrusting controller could not help).
    expect((await getNode(lab, worker))?.spec?.taints).toContainEqual(UNINITIALIZED_TAINT);
    let node: Awaited<ReturnType<typeof getNode>>;
    await lab.waitFor(
      'the cloud controller to initialize the Node',
      async () => {
        node = await getNode(lab, worker);
        return (
          node?.spec?.providerID !== undefined &&
          !node.spec.taints?.some((t) => t.key === UNINITIALIZED_TAINT.key)
        );
      },
      120_000,
    );
    console.log(`the cloud controller initialized ${worker} ${Date.now() - occmStarted} ms after it started`);
    expect(node!.spec!.providerID).toBe(`openstack:///${server!.id}`);
    expect(node!.status?.addresses).toContainEqual({ type: 'InternalIP', address: server!.address });
  }, 180_000);

  it('runs against the lab and stays up', async () => {
    await new Promise((r) => setTimeout(r, 3_000));
    expect(occm.proc.child.exitCode, await occm.log()).toBeNull();
  });

  it('gives a LoadBalancer Service an Octavia load balancer and its floating IP; deleting the Service removes them', async () => {
    const service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'default' },
      spec: {
        type: 'LoadBalancer',
        selector: { app: 'web' },
        ports: [{ name: 'http', port: 80, targetPort: 8080 }],
      },
    };
    const created = await lab.request('POST', '/api/v1/namespaces/default/services', service);
    expect(created.status).toBe(201);
    let address: string | undefined;
    await lab.waitFor(
      'the Service to get a load balancer address',
      async () => {
        if (occm.proc.child.exitCode !== null)
          throw new Error(`the cloud controller exited: ${await occm.log()}`);
        const got = await lab.request('GET', '/api/v1/namespaces/default/services/web');
        address = (got.body as ServiceObject).status?.loadBalancer?.ingress?.[0]?.ip;
        return address !== undefined;
      },
      240_000,
    );
    const [lb] = await cloud.octavia.listLoadBalancers({ name: `kube_service_${clusterId}_default_web` });
    expect(lb, await occm.log()).toBeDefined();
    expect(lb!.provisioning_status).toBe('ACTIVE');
    const fips = await cloud.neutron.floatingIps.list({ floating_network_id: network.externalNetworkId });
    expect(fips.map((f) => f.floating_ip_address)).toEqual([address]);
    expect(fips[0]!.port_id).toBe(lb!.vip_port_id);
    expect(await loadBalancerCounts(cloud, clusterId, network.externalNetworkId)).toEqual({
      loadBalancers: 1,
      listeners: 1,
      pools: 1,
      floatingIps: 1,
    });

    expect((await lab.request('DELETE', '/api/v1/namespaces/default/services/web')).status).toBe(200);
    await lab.waitFor(
      'the Service to be gone (the cloud controller removes its finalizer once the load balancer is deleted)',
      async () => (await lab.request('GET', '/api/v1/namespaces/default/services/web')).status === 404,
      240_000,
    );
    expect(await loadBalancerCounts(cloud, clusterId, network.externalNetworkId)).toEqual(NONE);
  }, 600_000);

  it("leaves nothing of the worker's server on the lab once it is deleted (servers and ports counted)", async () => {
    expect(await serverPorts()).toBe(1);
    await removeServer();
    expect(await cloud.nova.listServers({ name: worker })).toEqual([]);
    expect(await serverPorts()).toBe(0);
  }, 120_000);
});
