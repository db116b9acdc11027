/**
 * A cluster's etcd as kubeadm lays it out on its masters, inside kubelab: a real N-member etcd
 * (kubelab's etcd binary), client and peer mutual TLS with the certificates the real kubeadm makes
 * on each master from the cluster's etcd CA (`etcd/server` and `etcd/peer` name the master's Node),
 * members named after their master Nodes, and for each one the static pod's mirror
 * `kube-system/etcd-<name>` on a kwok Node of that name whose port 2379 kwok forwards (a
 * PortForward resource) to the member's client port. Through the lab's API, `pods/portforward` to
 * that pod reaches that member, as it reaches the etcd container on a real master. The lab must run
 * kwok's kubelet server (`startKubelab({ kubeletServer: true })`).
 *
 * API:
 * - `startEtcdMasters({ lab, etcdCa, names })` starts the first members (`--initial-cluster-state
 *   new`) and returns when every one is healthy;
 * - `joinMember(name)` does to etcd what `kubeadm join --control-plane` does: registers the Node and
 *   the pod, adds the member through a running one (`member add`, retried while etcd calls the
 *   cluster unhealthy), starts it with the membership etcd answered, waits until it is healthy;
 * - `stopMember(name)` kills a member's process (its pod and forward stay, as when etcd crashes);
 * - `makeLeader(name)` moves etcd's leadership to that member;
 * - `keepWriting()` writes through the running members until stopped and counts the failures,
 *   to prove a membership change kept quorum;
 * - `health()` every member with its health, read by kaas's etcd client straight from the running
 *   members (not through the cluster API);
 * - `addEtcdPod(lab, name, port)` only the Node, pod and forward, to a port of the test's choice;
 * - `members` the harness's view (name, client and peer URLs, running); `stop()` stops everything.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import type { KeyPair } from '../../src/auth/pki.ts';
import { createEtcdClient, type EtcdMemberHealth } from '../../src/provisioner/etcd.ts';
import { DEFAULT_RELEASE } from '../../src/versions/index.ts';
import { toolBinary } from '../../src/dev/kube/binaries.ts';
import { freePort } from '../../src/dev/kube/ports.ts';
import {
  kubeadm,
  startProcess,
  stopProcess,
  waitFor,
  type Kubelab,
  type Proc,
} from '../../src/dev/kube/kubelab.ts';

/** One member as the harness runs it. */
export interface MasterMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  proc?: Proc;
}

/** A running etcd whose members sit behind `kube-system/etcd-<name>` pods. */
export interface EtcdMasters {
  readonly members: readonly MasterMember[];
  joinMember(name: string): Promise<MasterMember>;
  stopMember(name: string): Promise<void>;
  /** Moves etcd's leadership to member `name` (as `etcdctl move-leader`) and waits until it leads. */
  makeLeader(name: string): Promise<void>;
  /**
   * Writes a key again and again through the running members, as the API servers do, until
   * `stop()`; every failed write is a moment without quorum. For proving a change kept quorum.
   */
  keepWriting(): { stop(): Promise<{ writes: number; failures: string[] }> };
  /** Every member and its health, read directly from the running members. */
  health(): Promise<EtcdMemberHealth[]>;
  stop(): Promise<void>;
}

/** The etcd pod's name on master `name`, as kubeadm's static pod mirror is named. */
export const etcdPodName = (name: string) => `etcd-${name}`;

export async function startEtcdMasters(input: {
  lab: Kubelab;
  etcdCa: KeyPair;
  names: readonly string[];
}): Promise<EtcdMasters> {
  const { lab, etcdCa } = input;
  const dir = await mkdtemp(join(tmpdir(), 'kaas-etcdmasters-'));
  const members: MasterMember[] = [];
  /**
   * Master `name`'s etcd certificates made by the real kubeadm from the etcd CA, as on that master
   * (`init phase certs etcd-server|etcd-peer|etcd-healthcheck-client`): the serving and peer ones
   * name the Node (DNS) and carry its address, localhost and 127.0.0.1.
   */
  async function kubeadmCerts(name: string, address: string): Promise<string> {
    const pki = join(dir, `${name}-pki`);
    await mkdir(join(pki, 'etcd'), { recursive: true });
    await writeFile(join(pki, 'etcd', 'ca.crt'), etcdCa.certPem);
    await writeFile(join(pki, 'etcd', 'ca.key'), etcdCa.keyPem, { mode: 0o600 });
    const config = join(pki, 'kubeadm.yaml');
    await writeFile(
      config,
      [
        `apiVersion: ${DEFAULT_RELEASE.kubeadmApiVersion}`,
        'kind: InitConfiguration',
        `nodeRegistration: { name: ${name} }`,
        `localAPIEndpoint: { advertiseAddress: ${address} }`,
        '---',
        `apiVersion: ${DEFAULT_RELEASE.kubeadmApiVersion}`,
        'kind: ClusterConfiguration',
        `kubernetesVersion: v${DEFAULT_RELEASE.patch}`,
        `certificatesDir: ${pki}`,
        '',
      ].join('\n'),
    );
    for (const cert of ['etcd-server', 'etcd-peer', 'etcd-healthcheck-client']) {
      await kubeadm(['init', 'phase', 'certs', cert, '--config', config]);
    }
    return join(pki, 'etcd');
  }

  const pkiOf = new Map<string, string>();
  async function prepare(name: string): Promise<MasterMember> {
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const m: MasterMember = {
      name,
      clientUrl: `https://127.0.0.1:${clientPort}`,
      peerUrl: `https://127.0.0.1:${peerPort}`,
    };
    // Each master its own address on the cluster network (advertised in certificates only).
    pkiOf.set(name, await kubeadmCerts(name, `10.240.0.${10 + pkiOf.size}`));
    await addEtcdPod(lab, name, clientPort);
    members.push(m);
    return m;
  }

  function start(m: MasterMember, initialCluster: string, state: 'new' | 'existing'): void {
    const pki = pkiOf.get(m.name) as string;
    m.proc = startTlsEtcdMember(dir, m, {
      initialCluster,
      state,
      files: {
        ca: join(pki, 'ca.crt'),
        cert: join(pki, 'server.crt'),
        key: join(pki, 'server.key'),
        peerCert: join(pki, 'peer.crt'),
        peerKey: join(pki, 'peer.key'),
      },
    });
  }

  // The harness's own etcd client, as kubeadm's on a master: the healthcheck-client certificate.
  let client: Agent | undefined;
  const harnessClient = async (): Promise<Agent> => {
    if (client) return client;
    const pki = pkiOf.values().next().value as string;
    const [cert, key] = await Promise.all(
      ['healthcheck-client.crt', 'healthcheck-client.key'].map((f) => readFile(join(pki, f), 'utf8')),
    );
    return (client = new Agent({ connect: { ca: etcdCa.certPem, cert, key } }));
  };

  const running = () =>
    members.filter((m) => m.proc && m.proc.child.exitCode === null && !m.proc.child.signalCode);

  async function healthy(m: MasterMember): Promise<boolean> {
    try {
      const res = await request(`${m.clientUrl}/health`, {
        dispatcher: await harnessClient(),
        headersTimeout: 2_000,
        bodyTimeout: 2_000,
      });
      const body = (await res.body.json()) as { health?: string };
      return res.statusCode === 200 && body.health === 'true';
    } catch {
      return false;
    }
  }

  /** POST to member `m`'s etcd gateway: its answer, or an error naming the status and body. */
  async function post(m: MasterMember, path: string, body: unknown): Promise<Record<string, unknown>> {
    const res = await request(`${m.clientUrl}${path}`, {
      method: 'POST',
      dispatcher: await harnessClient(),
      body: JSON.stringify(body),
      headersTimeout: 5_000,
      bodyTimeout: 5_000,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  }

  /** POST to the etcd gateway of the first running member that answers 200. */
  async function gateway(path: string, body: unknown): Promise<Record<string, unknown>> {
    let last = '';
    for (const m of running()) {
      try {
        return await post(m, path, body);
      } catch (error) {
        last = (error as Error).message;
      }
    }
    throw new Error(`etcd ${path} failed: ${last}`);
  }

  /** Member `m`'s etcd ID and the ID of the leader it follows. */
  async function status(m: MasterMember): Promise<{ id: string; leader: string }> {
    const out = await post(m, '/v3/maintenance/status', {});
    const header = (out['header'] ?? {}) as { member_id?: string };
    return { id: String(header.member_id ?? ''), leader: String(out['leader'] ?? '') };
  }

  const stop = async () => {
    for (const m of members) if (m.proc) await stopProcess(m.proc);
    await client?.close();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const first: MasterMember[] = [];
    for (const name of input.names) first.push(await prepare(name));
    const initial = first.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    for (const m of first) start(m, initial, 'new');
    await waitFor(`${first.length} healthy etcd members`, async () => {
      const states = await Promise.all(first.map(healthy));
      return states.every(Boolean);
    });
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    members,
    async joinMember(name) {
      const m = await prepare(name);
      // etcd refuses a reconfiguration until its members have been connected for 5 s.
      let added: Record<string, unknown> | undefined;
      await waitFor(
        `member add of ${name}`,
        async () => {
          try {
            added = await gateway('/v3/cluster/member/add', { peerURLs: [m.peerUrl] });
            return true;
          } catch (error) {
            if (/unhealthy cluster/.test((error as Error).message)) return false;
            throw error;
          }
        },
        30_000,
      );
      const listed = ((added?.['members'] ?? []) as { name?: string; peerURLs?: string[] }[]).map(
        (x) => `${x.name || name}=${x.peerURLs?.[0] ?? ''}`,
      );
      start(m, listed.join(','), 'existing');
      await waitFor(`etcd member ${name} healthy`, () => healthy(m), 30_000);
      return m;
    },
    async makeLeader(name) {
      const target = members.find((x) => x.name === name);
      if (!target) throw new Error(`no etcd member ${name}`);
      await waitFor(`etcd leadership on ${name}`, async () => {
        const { id, leader } = await status(target);
        if (id === leader) return true;
        for (const x of running()) {
          if ((await status(x)).id === leader) {
            await post(x, '/v3/maintenance/transfer-leadership', { targetID: id });
          }
        }
        return false;
      });
    },
    async health() {
      const client = createEtcdClient({
        endpoints: running().map((m) => m.clientUrl),
        etcdCa,
        timeoutMs: 5_000,
      });
      try {
        return await client.health();
      } finally {
        await client.close();
      }
    },
    async stopMember(name) {
      const m = members.find((x) => x.name === name);
      if (m?.proc) await stopProcess(m.proc);
    },
    keepWriting() {
      let writing = true;
      let writes = 0;
      const failures: string[] = [];
      const b64 = (v: string) => Buffer.from(v).toString('base64');
      const loop = (async () => {
        while (writing) {
          try {
            await gateway('/v3/kv/put', { key: b64('/kaas-test/quorum'), value: b64(String(writes)) });
            writes++;
          } catch (error) {
            failures.push((error as Error).message);
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      return {
        async stop() {
          writing = false;
          await loop;
          return { writes, failures };
        },
      };
    },
    stop,
  };
}

/**
 * Starts one etcd member from kubelab's binary with client and peer mutual TLS (one certificate for
 * both, serving and client, from the etcd CA), its data and log under `dir`.
 */
export function startTlsEtcdMember(
  dir: string,
  m: { name: string; clientUrl: string; peerUrl: string },
  cluster: {
    initialCluster: string;
    state: 'new' | 'existing';
    /** Serving (and client) certificate; the peer one defaults to it. */
    files: { cert: string; key: string; ca: string; peerCert?: string; peerKey?: string };
    /**
     * etcd's election timeout (default 1 s). A loaded machine delays heartbeats past 1 s, and the
     * election that follows moves leadership under a test that reads who leads; transfers asked
     * for still happen at once.
     */
    electionTimeoutMs?: number;
  },
): Proc {
  const { cert, key, ca, peerCert = cert, peerKey = key } = cluster.files;
  return startProcess(dir, m.name, toolBinary('etcd'), [
    `--name=${m.name}`,
    `--data-dir=${join(dir, m.name)}`,
    `--listen-client-urls=${m.clientUrl}`,
    `--advertise-client-urls=${m.clientUrl}`,
    `--listen-peer-urls=${m.peerUrl}`,
    `--initial-advertise-peer-urls=${m.peerUrl}`,
    `--initial-cluster=${cluster.initialCluster}`,
    `--initial-cluster-state=${cluster.state}`,
    '--initial-cluster-token=kaas-test',
    `--cert-file=${cert}`,
    `--key-file=${key}`,
    '--client-cert-auth',
    `--trusted-ca-file=${ca}`,
    `--peer-cert-file=${peerCert}`,
    `--peer-key-file=${peerKey}`,
    '--peer-client-cert-auth',
    `--peer-trusted-ca-file=${ca}`,
    '--listen-metrics-urls=',
    '--log-level=warn',
    ...(cluster.electionTimeoutMs
      ? [
          `--heartbeat-interval=${cluster.electionTimeoutMs / 20}`,
          `--election-timeout=${cluster.electionTimeoutMs}`,
        ]
      : []),
  ]);
}

/**
 * Master `name` as the API shows it, without a member: its kwok Node and the `etcd-<name>` pod whose
 * port 2379 kwok forwards to `127.0.0.1:<port>` (tests point it at a port nothing serves etcd on).
 */
export async function addEtcdPod(lab: Kubelab, name: string, port: number): Promise<void> {
  // The forward first: kwok reads it when a port-forward arrives, from its own watch, so by the
  // time kwok has seen the Node and the pod and reported the pod Running it has seen the forward.
  await createOrFail(lab, '/apis/kwok.x-k8s.io/v1alpha1/namespaces/kube-system/portforwards', {
    apiVersion: 'kwok.x-k8s.io/v1alpha1',
    kind: 'PortForward',
    metadata: { name: etcdPodName(name), namespace: 'kube-system' },
    spec: { forwards: [{ ports: [2379], target: { address: '127.0.0.1', port } }] },
  });
  await lab.addNode(name, { labels: { 'node-role.kubernetes.io/control-plane': '' } });
  const path = `/api/v1/namespaces/kube-system/pods/${etcdPodName(name)}`;
  await createOrFail(lab, '/api/v1/namespaces/kube-system/pods', etcdPod(name, `https://127.0.0.1:${port}`));
  await waitFor(`${path} Running`, async () => {
    const res = await lab.request('GET', path);
    return (res.body as { status?: { phase?: string } }).status?.phase === 'Running';
  });
}

/** The mirror pod kubeadm's etcd static pod shows as in the API (kwok marks it Running). */
function etcdPod(name: string, clientUrl: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: etcdPodName(name),
      namespace: 'kube-system',
      labels: { component: 'etcd', tier: 'control-plane' },
      annotations: {
        'kubeadm.kubernetes.io/etcd.advertise-client-urls': clientUrl,
        // A static pod's mirror, as the kubelet posts it (and as drains leave it).
        'kubernetes.io/config.mirror': createHash('sha256').update(name).digest('hex').slice(0, 32),
      },
    },
    spec: {
      nodeName: name,
      priorityClassName: 'system-node-critical',
      tolerations: [{ operator: 'Exists' }],
      containers: [{ name: 'etcd', image: 'registry.k8s.io/etcd:3.6.16-0' }],
    },
  };
}

async function createOrFail(lab: Kubelab, path: string, body: unknown): Promise<void> {
  const res = await lab.request('POST', path, body);
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(res.body)}`);
}
