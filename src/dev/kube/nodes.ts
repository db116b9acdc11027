/**
 * The booting-node stand-in: the one part of a node's life a real cloud would do for kubelab. For
 * every ACTIVE server of one cluster (found by kaas's cluster tag through src/openstack, so it works
 * on cloudsim and on the lab's Nova alike) it registers the Node that server's kubelet would
 * register: named after the server, with the kubelet version its user data names (`KUBE_VERSION` in
 * kaas's bootstrap script), the labels of its kubeadm config and, on control-plane nodes, the label
 * and taint kubeadm's mark-control-plane phase adds. kwok then keeps the Node Ready. When a server
 * goes, its Node is removed, as a cloud controller manager would (unless `removeNodes` is false,
 * i.e. a cloud without one, where only kaas removes Node objects). Like a kubelet, it registers its
 * Node again if something else deletes it while the server still runs.
 *
 * Given the cluster's etcd (test/kubelab/etcdmasters.ts), a master that boots with a
 * `join-control-plane` configuration later also does what `kubeadm join --control-plane` does to the
 * cluster: before its kubelet registers it downloads the kubeadm-certs Secret and opens every file
 * with the certificate key of its own user data, and reads the ClusterConfiguration from
 * kubeadm-config (whose `kubernetesVersion` its static pods would run, which must be its kubelet's);
 * either check failing is recorded like kubeadm's failed join, with no Node. After the Node (as
 * kubeadm's control-plane-join phase follows kubelet-start) it adds and starts its etcd member. When
 * a master's server goes, its etcd member's process stops with it.
 */
import { createDecipheriv } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { decodeEnrolledFiles, ENROLLMENT_PATH, SCRIPT_PATH } from '../../bootstrap/node.ts';
import { tagsFor } from '../../cluster/names.ts';
import type { Cloud } from '../../openstack/index.ts';
import { redeem } from '../../provisioner/enrollment.ts';
import { KUBEADM_CERTS } from '../../provisioner/kubeadmcerts.ts';
import type { Db } from '../../store/db.ts';
import type { Kubelab } from './kubelab.ts';

/** What the kubelet of a booted server registers. */
export interface BootedNode {
  /** Without the `v`, e.g. `1.37.2`. */
  kubeletVersion: string;
  labels: Record<string, string>;
  controlPlane: boolean;
  /** A master joining the control plane: the key its kubeadm opens the kubeadm-certs Secret with. */
  certificateKey?: string;
}

/** kubeadm's mark-control-plane label and taint key. */
export const CONTROL_PLANE_ROLE = 'node-role.kubernetes.io/control-plane';

/** Decodes a data: URL (RFC 2397), as Ignition reads `contents.source`. */
function dataUrlContent(url: string): Buffer {
  const match = /^data:([^,]*),(.*)$/s.exec(url);
  if (!match) throw new Error(`not an inline data URL: ${url.slice(0, 40)}`);
  const [, meta = '', data = ''] = match;
  return meta.endsWith(';base64') ? Buffer.from(data, 'base64') : Buffer.from(decodeURIComponent(data));
}

/** Decodes a cloud-init write_files entry's content by its `encoding`. */
function writeFileContent(content: string, encoding = 'text/plain'): Buffer {
  const e = encoding.toLowerCase();
  const raw = /b64|base64/.test(e) ? Buffer.from(content, 'base64') : Buffer.from(content);
  return /gz|gzip/.test(e) ? gunzipSync(raw) : raw;
}

/** The files a node's user data writes, by path: cloud-init `write_files` or Ignition `storage.files`. */
export function userDataFiles(userData: string): Map<string, string> {
  if (userData.startsWith('#cloud-config')) {
    const config = parseYaml(userData) as {
      write_files?: { path: string; content?: string; encoding?: string }[];
    };
    return new Map(
      (config.write_files ?? []).map((f) => [
        f.path,
        writeFileContent(f.content ?? '', f.encoding).toString(),
      ]),
    );
  }
  let config: { ignition?: { version?: string }; storage?: { files?: unknown[] } };
  try {
    config = JSON.parse(userData) as typeof config;
  } catch {
    throw new Error('user data is neither #cloud-config nor Ignition JSON');
  }
  if (!config.ignition?.version) throw new Error('user data JSON has no ignition.version');
  const files = (config.storage?.files ?? []) as {
    path: string;
    contents?: { source?: string; compression?: string };
  }[];
  return new Map(
    files.map((f) => {
      const raw = f.contents?.source ? dataUrlContent(f.contents.source) : Buffer.alloc(0);
      return [f.path, (f.contents?.compression === 'gzip' ? gunzipSync(raw) : raw).toString()];
    }),
  );
}

type KubeletArgs = { name: string; value: string }[] | Record<string, string> | undefined;

/** A kubeadm config document's kubelet flag `name` (v1beta4 lists, v1beta3 maps). */
function kubeletArg(args: KubeletArgs, name: string): string | undefined {
  if (Array.isArray(args)) return args.find((a) => a.name === name)?.value;
  return args?.[name];
}

/**
 * What a server booted with `userData` registers: version from the bootstrap script, the rest from
 * kubeadm's config, which comes with the files its enrollment answered (`enrolled`).
 */
export function bootedNode(userData: string, enrolled = ''): BootedNode {
  const byPath = userDataFiles(userData);
  for (const file of decodeEnrolledFiles(enrolled)) byPath.set(file.path, file.content);
  const script = byPath.get(SCRIPT_PATH);
  if (script === undefined) throw new Error(`the user data has no ${SCRIPT_PATH}`);
  const version = /^KUBE_VERSION='([^']+)'$/m.exec(script)?.[1];
  if (!version) throw new Error(`${SCRIPT_PATH} in the user data names no KUBE_VERSION`);
  // The kubeadm --config file: whichever file holds an Init/JoinConfiguration.
  const kubeadm = [...byPath.values()]
    .flatMap((text) => {
      try {
        return parseAllDocuments(text).map((d) => d.toJS() as Record<string, unknown> | null);
      } catch {
        return [];
      }
    })
    .find((d) => d?.['kind'] === 'InitConfiguration' || d?.['kind'] === 'JoinConfiguration');
  if (!kubeadm)
    throw new Error('neither user data nor enrollment has a kubeadm InitConfiguration or JoinConfiguration');
  const registration = (kubeadm['nodeRegistration'] ?? {}) as { kubeletExtraArgs?: KubeletArgs };
  const nodeLabels = kubeletArg(registration.kubeletExtraArgs, 'node-labels') ?? '';
  const labels = Object.fromEntries(
    nodeLabels
      .split(',')
      .filter((l) => l !== '')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  const controlPlane = kubeadm['kind'] === 'InitConfiguration' || kubeadm['controlPlane'] !== undefined;
  const joining = kubeadm['controlPlane'] as { certificateKey?: string } | undefined;
  return {
    kubeletVersion: version,
    labels,
    controlPlane,
    ...(joining?.certificateKey ? { certificateKey: joining.certificateKey } : {}),
  };
}

/** A Node as the tests read it. */
export interface NodeObject {
  metadata: { name: string; uid: string; labels?: Record<string, string> };
  spec?: {
    unschedulable?: boolean;
    taints?: { key: string; value?: string; effect: string }[];
    providerID?: string;
  };
  status?: {
    nodeInfo?: { kubeletVersion?: string };
    conditions?: { type: string; status: string }[];
    addresses?: { type: string; address: string }[];
  };
}

/** The cluster's etcd members as the stand-in joins and stops them (test/kubelab/etcdmasters.ts). */
export interface EtcdMembership {
  readonly members: readonly { name: string }[];
  joinMember(name: string): Promise<unknown>;
  stopMember(name: string): Promise<void>;
}

/** A running stand-in. */
export interface NodeStandIn {
  /**
   * One round now: registers the Nodes of ACTIVE servers, removes those of servers gone. Rounds run
   * one at a time, so once it resolves every registration begun earlier is complete (a control-plane
   * Node, like under kubeadm, is Ready a moment before it is tainted).
   */
  sync(): Promise<void>;
  /** Stops polling; throws the first error a background round met. */
  stop(): Promise<void>;
}

/** Options of {@link startNodeStandIn}. */
export interface NodeStandInOptions {
  cloud: Cloud;
  lab: Kubelab;
  /** Only servers tagged `kaas-cluster=<clusterId>` boot into this lab. */
  clusterId: string;
  /** Poll interval; default 200 ms. */
  intervalMs?: number;
  /** Remove a Node when its server is gone (a cloud controller manager's job); default true. */
  removeNodes?: boolean;
  /**
   * The cluster's etcd, once it runs: masters booted after that join it as kubeadm would (masters
   * already among its members are left alone), and a master's member stops when its server goes.
   */
  etcd?: () => EtcdMembership | undefined;
  /** Redeems a server's enrollment as its bootstrap script would (storeEnroller); default: none. */
  enroll?: Enroller;
  /**
   * Reads the user data a server booted with, as its hypervisor hands it over; default Nova's
   * `OS-EXT-SRV-ATTR:user_data` (admin only). kaas dev reads its embedded cloud's own state.
   */
  userData?: (serverId: string) => Promise<string | undefined>;
  /** Told of every failed background round (stop() throws the first); default: nothing. */
  onError?: (error: unknown) => void;
}

/**
 * Trades a node's user data's enrollment for its answer (the files kaas hands the node); undefined
 * when kaas refuses it (expired, used): that node's bootstrap stops there, and it never joins.
 */
export type Enroller = (userData: string) => Promise<string | undefined>;

/** The enrollment URL and credential a node's user data names. */
export function enrollmentOf(userData: string): { url: string; credential: string } {
  const text = userDataFiles(userData).get(ENROLLMENT_PATH) ?? '';
  const url = /^ENROLL_URL='([^']+)'$/m.exec(text)?.[1];
  const credential = /^ENROLL_CREDENTIAL='([^']+)'$/m.exec(text)?.[1];
  if (!url || !credential) throw new Error(`the user data has no enrollment at ${ENROLLMENT_PATH}`);
  return { url, credential };
}

/** Redeems enrollments in kaas's store, as `POST /enroll/<cluster>` does for a real node. */
export function storeEnroller(db: Db): Enroller {
  return async (userData) => {
    const { url, credential } = enrollmentOf(userData);
    const clusterId = decodeURIComponent(url.slice(url.lastIndexOf('/') + 1));
    const answer = await redeem(db, new Date(), clusterId, credential);
    return 'refused' in answer ? undefined : answer.files;
  };
}

/** Opens one value of the kubeadm-certs Secret as kubeadm's cryptoutil does (nonce || ciphertext || tag). */
function openKubeadmSealed(sealed: Buffer, keyHex: string): string {
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(keyHex, 'hex'), sealed.subarray(0, 12));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([
    decipher.update(sealed.subarray(12, sealed.length - 16)),
    decipher.final(),
  ]).toString();
}

/**
 * What `kubeadm join --control-plane` needs from the cluster before it touches the machine: the
 * shared certificates, opened with the node's own certificate key, and a ClusterConfiguration whose
 * version is the one the node's kubelet runs. Throws as kubeadm's join would fail.
 */
async function checkControlPlaneJoin(lab: Kubelab, name: string, node: BootedNode): Promise<void> {
  const secret = await lab.request(
    'GET',
    `/api/v1/namespaces/${KUBEADM_CERTS.namespace}/secrets/${KUBEADM_CERTS.name}`,
  );
  if (secret.status !== 200)
    throw new Error(`${name}: kubeadm join found no kubeadm-certs (${secret.status})`);
  const data = (secret.body as { data?: Record<string, string> }).data ?? {};
  for (const file of [
    'ca.crt',
    'ca.key',
    'sa.key',
    'sa.pub',
    'front-proxy-ca.crt',
    'front-proxy-ca.key',
    'etcd-ca.crt',
    'etcd-ca.key',
  ]) {
    const value = data[file];
    if (value === undefined) throw new Error(`${name}: kubeadm-certs has no ${file}`);
    try {
      openKubeadmSealed(Buffer.from(value, 'base64'), node.certificateKey ?? '');
    } catch (error) {
      throw new Error(`${name}: kubeadm join cannot open ${file} of kubeadm-certs with its certificate key`, {
        cause: error,
      });
    }
  }
  const config = await lab.request('GET', '/api/v1/namespaces/kube-system/configmaps/kubeadm-config');
  const text = (config.body as { data?: Record<string, string> }).data?.['ClusterConfiguration'] ?? '';
  const version = (parseYaml(text) as { kubernetesVersion?: string } | null)?.kubernetesVersion;
  if (version !== `v${node.kubeletVersion}`) {
    throw new Error(
      `${name}: kubeadm join would run a ${String(version)} control plane under a v${node.kubeletVersion} kubelet`,
    );
  }
}

/** Starts polling the cloud for the cluster's servers and keeps the lab's Nodes in step. */
export function startNodeStandIn(options: NodeStandInOptions): NodeStandIn {
  const { cloud, lab, clusterId } = options;
  const removeNodes = options.removeNodes ?? true;
  const booted = new Map<string, BootedNode>();
  const registered = new Set<string>();
  /** Servers whose enrollment kaas refused: their bootstrap stopped, so they register no Node. */
  const unenrolled = new Set<string>();
  /** Every server seen ACTIVE, and whether it is a master. */
  const masters = new Map<string, boolean>();

  async function register(name: string, node: BootedNode): Promise<void> {
    const labels = { ...node.labels, ...(node.controlPlane ? { [CONTROL_PLANE_ROLE]: '' } : {}) };
    await lab.addNode(name, { kubeletVersion: node.kubeletVersion, labels });
    if (node.controlPlane) {
      await lab.kubectl(['taint', 'node', name, `${CONTROL_PLANE_ROLE}:NoSchedule`, '--overwrite']);
    }
  }

  /** Masters whose etcd member this stand-in started (kubeadm join did, on a real master). */
  const joined = new Set<string>();

  async function join(name: string, node: BootedNode): Promise<void> {
    const etcd = options.etcd?.();
    if (!etcd || !node.certificateKey || joined.has(name)) return;
    if (etcd.members.some((m) => m.name === name)) return;
    await etcd.joinMember(name);
    joined.add(name);
  }

  async function round(): Promise<void> {
    const servers = await cloud.nova.listServers({ tags: tagsFor(clusterId) });
    const list = await lab.request('GET', '/api/v1/nodes');
    if (list.status !== 200) throw new Error(`listing Nodes answered ${list.status}`);
    const nodes = new Set((list.body as { items: NodeObject[] }).items.map((n) => n.metadata.name));
    for (const server of servers.filter((s) => s.status === 'ACTIVE' && !unenrolled.has(s.id))) {
      let node = booted.get(server.id);
      if (!node) {
        const userData = await (options.userData ?? cloud.nova.getServerUserData)(server.id);
        if (userData === undefined) throw new Error(`server ${server.name} has no user data`);
        const enrolled = options.enroll ? await options.enroll(userData) : '';
        if (enrolled === undefined) {
          unenrolled.add(server.id);
          continue;
        }
        node = bootedNode(userData, enrolled);
        booted.set(server.id, node);
      }
      if (!nodes.has(server.name)) {
        // kubeadm join --control-plane checks the certificates and the version before its kubelet starts.
        if (!joined.has(server.name) && node.certificateKey && options.etcd?.()) {
          await checkControlPlaneJoin(lab, server.name, node);
        }
        await register(server.name, node);
      }
      // Its control-plane-join phase, after the kubelet registered: the etcd member.
      await join(server.name, node);
      registered.add(server.name);
      masters.set(server.name, node.controlPlane);
    }
    const names = new Set(servers.map((s) => s.name));
    for (const [name, controlPlane] of masters) {
      if (names.has(name)) continue;
      // The VM is gone, and with it the etcd it ran.
      if (controlPlane) await options.etcd?.()?.stopMember(name);
      masters.delete(name);
    }
    if (!removeNodes) return;
    for (const name of [...registered].filter((n) => !names.has(n))) {
      const res = await lab.request('DELETE', `/api/v1/nodes/${encodeURIComponent(name)}`);
      if (res.status !== 200 && res.status !== 404) {
        throw new Error(`deleting Node ${name} answered ${res.status}: ${JSON.stringify(res.body)}`);
      }
      registered.delete(name);
    }
  }

  // Rounds never overlap: sync() queues behind the background one.
  let chain: Promise<void> = Promise.resolve();
  const sync = (): Promise<void> => {
    const next = chain.then(round);
    chain = next.catch(() => undefined);
    return next;
  };
  let stopped = false;
  let failure: unknown;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    void sync()
      .catch((error: unknown) => {
        failure ??= error;
        options.onError?.(error);
      })
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, options.intervalMs ?? 200);
      });
  };
  tick();
  return {
    sync,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await chain;
      if (failure !== undefined) throw failure;
    },
  };
}
