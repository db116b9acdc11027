/**
 * The real openstack-cloud-controller-manager (built by test/kubelab/build.sh from the Go module
 * proxy) run as a process beside a kubelab or a nodelab cluster, as kaas deploys it: the
 * cloud-controller managed service's objects applied to the cluster, the kaas-rendered `cloud.conf`
 * in Secret kube-system/kaas-cloud-config, and the binary started with the DaemonSet container's own flags, the
 * Secret's `cloud.conf` where the pod would mount it and the ServiceAccount's token as its identity.
 * Also what a lab test needs around it: a cluster network with a router to an external network on
 * the real lab, and the load balancers, listeners, pools and floating IPs counted through the APIs.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CLOUD_CONFIG_DIR } from '../../src/addons/cloudconf.ts';
import { CLOUD_CONTROLLER, cloudControllerAddon } from '../../src/addons/cloudcontroller.ts';
import { resolveContext, type AddonContext } from '../../src/addons/context.ts';
import { CLOUD_CONFIG_SECRET } from '../../src/addons/storage.ts';
import { createCa, issueServerCert } from '../../src/auth/pki.ts';
import type { Cloud } from '../../src/openstack/index.ts';
import { freePort } from '../../src/dev/kube/ports.ts';
import { cloudControllerBinary } from '../../src/dev/kube/binaries.ts';
import { startProcess, stopProcess, type Kubelab, type Proc } from '../../src/dev/kube/kubelab.ts';

/** A running cloud controller; `stop` ends the process (by PID). */
export interface CloudController {
  proc: Proc;
  /** Its log so far (for assertion messages). */
  log(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The cluster a cloud controller runs beside (a kubelab, or a nodelab cluster): a directory for the
 * controller's files and its log, the API server's URL and CA for the controller's kubeconfig, and
 * kubectl as the cluster's admin (resolving to its stdout).
 */
export interface ControllerCluster {
  dir: string;
  url: string;
  caPem: string;
  kubectl(...args: string[]): Promise<string>;
}

/** A kubelab as {@link startCloudController} reaches it. */
export function kubelabCluster(lab: Kubelab): ControllerCluster {
  return { dir: lab.dir, url: lab.url, caPem: lab.caPem, kubectl: (...args) => lab.kubectl(args) };
}

interface Container {
  name: string;
  args: string[];
}

/**
 * Applies the cloud-controller managed service and the Secret holding `cloudConf` to the cluster,
 * then starts the binary with the DaemonSet's flags (its config directory moved into the cluster's
 * `dir`) and the ServiceAccount's token. `daemonSet: false` leaves the DaemonSet itself out, where
 * the cluster has kubelets that would try to run it (nodelab builds no cloud controller image).
 */
export async function startCloudController(
  cluster: ControllerCluster,
  ctx: AddonContext,
  secret: string | Record<string, string>,
  options: { daemonSet?: boolean } = {},
): Promise<CloudController> {
  const secretData = typeof secret === 'string' ? { 'cloud.conf': secret } : secret;
  const objects = cloudControllerAddon(resolveContext(ctx));
  const ds = objects.find((o) => o.kind === 'DaemonSet') as unknown as {
    spec: { template: { spec: { containers: Container[] } } };
  };
  const container = ds.spec.template.spec.containers.find((c) => c.name === CLOUD_CONTROLLER);
  if (!container) throw new Error('the cloud-controller DaemonSet has no cloud controller container');
  const dir = join(cluster.dir, 'cloud-controller');
  await mkdir(dir, { recursive: true });
  const apply = async (name: string, object: object) => {
    const file = join(dir, name);
    await writeFile(file, JSON.stringify(object), { mode: 0o600 });
    await cluster.kubectl('apply', '-f', file);
  };
  const applied = options.daemonSet === false ? objects.filter((o) => o.kind !== 'DaemonSet') : objects;
  await apply('addon.json', { apiVersion: 'v1', kind: 'List', items: applied });
  await apply('secret.json', {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: CLOUD_CONFIG_SECRET, namespace: 'kube-system' },
    stringData: secretData,
  });

  // What the kubelet would mount: every key of the Secret, read back from the API, in a directory
  // that stands for CLOUD_CONFIG_DIR (paths into it, such as cloud.conf's ca-file, moved with it).
  const mounted = JSON.parse(
    await cluster.kubectl('get', 'secret', '-n', 'kube-system', CLOUD_CONFIG_SECRET, '-o', 'json'),
  ) as { data: Record<string, string> };
  const inDir = (text: string) => text.split(`${CLOUD_CONFIG_DIR}/`).join(`${dir}/`);
  for (const [key, value] of Object.entries(mounted.data)) {
    const text = Buffer.from(value, 'base64').toString();
    await writeFile(join(dir, key), key === 'cloud.conf' ? inDir(text) : text, { mode: 0o600 });
  }

  const token = (
    await cluster.kubectl('create', 'token', CLOUD_CONTROLLER, '-n', 'kube-system', '--duration=3600s')
  ).trim();
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'cluster',
          cluster: {
            server: cluster.url,
            'certificate-authority-data': Buffer.from(cluster.caPem).toString('base64'),
          },
        },
      ],
      users: [{ name: CLOUD_CONTROLLER, user: { token } }],
      contexts: [{ name: 'cluster', context: { cluster: 'cluster', user: CLOUD_CONTROLLER } }],
      'current-context': 'cluster',
    }),
    { mode: 0o600 },
  );
  const args = container.args
    .slice(1)
    .map(inDir)
    .concat([`--kubeconfig=${kubeconfig}`, `--secure-port=${await freePort()}`]);
  const proc = startProcess(cluster.dir, 'cloud-controller', cloudControllerBinary(), args);
  return {
    proc,
    log: () => readFile(join(cluster.dir, 'cloud-controller.log'), 'utf8').catch(() => ''),
    stop: () => stopProcess(proc),
  };
}

/** A cluster network on the real lab, routed to an external network floating IPs come from. */
export interface LabNetwork {
  externalNetworkId: string;
  networkId: string;
  subnetId: string;
  routerId: string;
  /** Removes what `createLabNetwork` made (ignoring what is already gone). */
  remove(): Promise<void>;
}

/**
 * Makes, as the lab admin, an external flat network (its own physical network name, so runs never
 * clash) with a subnet, a cluster network and subnet, and a router between them: what a floating IP
 * on a load balancer's VIP port needs in Neutron.
 */
export async function createLabNetwork(cloud: Cloud, name: string): Promise<LabNetwork> {
  const { neutron } = cloud;
  const made: (() => Promise<unknown>)[] = [];
  const remove = async () => {
    for (const undo of made.reverse()) await undo().catch(() => undefined);
  };
  try {
    const ext = await neutron.networks.create({
      name: `${name}-ext`,
      'router:external': true,
      'provider:network_type': 'flat',
      'provider:physical_network': `${name}-${randomBytes(2).toString('hex')}`,
    });
    made.push(() => neutron.networks.delete(ext.id));
    const extSubnet = await neutron.subnets.create({
      network_id: ext.id,
      name: `${name}-ext`,
      cidr: '203.0.113.0/24',
      ip_version: 4,
      enable_dhcp: false,
    });
    made.push(() => neutron.subnets.delete(extSubnet.id));
    const net = await neutron.networks.create({ name });
    made.push(() => neutron.networks.delete(net.id));
    const subnet = await neutron.subnets.create({
      network_id: net.id,
      name,
      cidr: '10.240.0.0/24',
      ip_version: 4,
    });
    made.push(() => neutron.subnets.delete(subnet.id));
    const router = await neutron.routers.create({ name, external_gateway_info: { network_id: ext.id } });
    made.push(() => neutron.routers.delete(router.id));
    made.push(() => neutron.setRouterGateway(router.id, null));
    await neutron.addRouterInterface(router.id, { subnetId: subnet.id });
    made.push(() => neutron.removeRouterInterface(router.id, { subnetId: subnet.id }));
    return { externalNetworkId: ext.id, networkId: net.id, subnetId: subnet.id, routerId: router.id, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

/**
 * The Octavia objects and floating IPs of a cluster's Services, through the APIs: the cloud
 * controller names each `…kube_service_<cluster id>_<namespace>_<service>` (listeners and pools with
 * a prefix); every floating IP on the test's own external network counts.
 */
export async function loadBalancerCounts(cloud: Cloud, clusterId: string, externalNetworkId: string) {
  const ours = `kube_service_${clusterId}_`;
  const named = async (path: string) => {
    let n = 0;
    for await (const x of cloud.session.paginate<{ name: string }>('load-balancer', `/v2/lbaas/${path}`, {
      itemsKey: path,
    }))
      if (x.name.includes(ours)) n++;
    return n;
  };
  return {
    loadBalancers: await named('loadbalancers'),
    listeners: await named('listeners'),
    pools: await named('pools'),
    floatingIps: (await cloud.neutron.floatingIps.list({ floating_network_id: externalNetworkId })).length,
  };
}

/** A TLS front for an http service: what a cloud whose endpoints use a private CA looks like. */
export interface TlsFront {
  url: string;
  /** The private CA that issued its certificate. */
  caPem: string;
  close(): Promise<void>;
}

/** Serves `target` (an http base URL) over https on 127.0.0.1 with a certificate of a new private CA. */
export async function startTlsFront(target: string): Promise<TlsFront> {
  const ca = await createCa({ commonName: 'kaas-test private cloud CA' });
  const cert = await issueServerCert({ ca, hosts: ['127.0.0.1'] });
  const base = new URL(target);
  const server = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const upstream = httpRequest(
      { host: base.hostname, port: base.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    caPem: ca.certPem,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
