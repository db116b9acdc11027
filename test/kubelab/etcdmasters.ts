/**
 * A cluster's etcd as kubeadm lays it out on its masters, inside kubelab: a real N-member etcd
 * (kubelab's etcd binary), client and peer TLS with certificates from the cluster's etcd CA (each
 * member's serving certificate names its master, as kubeadm's `etcd/server` does), members named
 * after their master Nodes, and for each one the static pod's mirror `kube-system/etcd-<name>` on a
 * kwok Node of that name whose port 2379 kwok forwards (a PortForward resource) to the member's
 * client port. Through the lab's API, `pods/portforward` to that pod reaches that member, as it
 * reaches the etcd container on a real master. The lab must run kwok's kubelet server
 * (`startKubelab({ kubeletServer: true })`).
 *
 * API:
 * - `startEtcdMasters({ lab, etcdCa, names })` starts the first members (`--initial-cluster-state
 *   new`) and returns when every one is healthy;
 * - `joinMember(name)` does to etcd what `kubeadm join --control-plane` does: registers the Node and
 *   the pod, adds the member through a running one (`member add`, retried while etcd calls the
 *   cluster unhealthy), starts it with the membership etcd answered, waits until it is healthy;
 * - `stopMember(name)` kills a member's process (its pod and forward stay, as when etcd crashes);
 * - `members` the harness's view (name, client and peer URLs, running); `stop()` stops everything.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { issueClientCert, issueServerCert, type KeyPair } from '../../src/auth/pki.ts';
import { toolBinary } from './binaries.ts';
import { freePort, startProcess, stopProcess, waitFor, type Kubelab, type Proc } from './kubelab.ts';

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
  // The harness's own etcd client (kubeadm's, on a joining master): healthcheck-client style cert.
  const leaf = await issueClientCert({
    ca: etcdCa,
    commonName: 'kube-etcd-healthcheck-client',
    organization: 'kubeadm',
    days: 1,
  });
  const client = new Agent({ connect: { ca: etcdCa.certPem, cert: leaf.certPem, key: leaf.keyPem } });
  await writeFile(join(dir, 'ca.crt'), etcdCa.certPem);

  async function prepare(name: string): Promise<MasterMember> {
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const m: MasterMember = {
      name,
      clientUrl: `https://127.0.0.1:${clientPort}`,
      peerUrl: `https://127.0.0.1:${peerPort}`,
    };
    const serving = await issueServerCert({
      ca: etcdCa,
      hosts: [name, 'localhost', '127.0.0.1'],
      clientAuth: true,
    });
    await writeFile(join(dir, `${name}.crt`), serving.certPem);
    await writeFile(join(dir, `${name}.key`), serving.keyPem, { mode: 0o600 });
    await lab.addNode(name, { labels: { 'node-role.kubernetes.io/control-plane': '' } });
    await createOrFail(lab, '/api/v1/namespaces/kube-system/pods', etcdPod(name, m.clientUrl));
    await createOrFail(lab, '/apis/kwok.x-k8s.io/v1alpha1/namespaces/kube-system/portforwards', {
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'PortForward',
      metadata: { name: etcdPodName(name), namespace: 'kube-system' },
      spec: { forwards: [{ ports: [2379], target: { address: '127.0.0.1', port: clientPort } }] },
    });
    members.push(m);
    return m;
  }

  function start(m: MasterMember, initialCluster: string, state: 'new' | 'existing'): void {
    const [cert, key, ca] = [join(dir, `${m.name}.crt`), join(dir, `${m.name}.key`), join(dir, 'ca.crt')];
    m.proc = startProcess(dir, m.name, toolBinary('etcd'), [
      `--name=${m.name}`,
      `--data-dir=${join(dir, m.name)}`,
      `--listen-client-urls=${m.clientUrl}`,
      `--advertise-client-urls=${m.clientUrl}`,
      `--listen-peer-urls=${m.peerUrl}`,
      `--initial-advertise-peer-urls=${m.peerUrl}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-state=${state}`,
      '--initial-cluster-token=kaas-etcdmasters',
      `--cert-file=${cert}`,
      `--key-file=${key}`,
      '--client-cert-auth',
      `--trusted-ca-file=${ca}`,
      `--peer-cert-file=${cert}`,
      `--peer-key-file=${key}`,
      '--peer-client-cert-auth',
      `--peer-trusted-ca-file=${ca}`,
      '--listen-metrics-urls=',
      '--log-level=warn',
    ]);
  }

  const running = () =>
    members.filter((m) => m.proc && m.proc.child.exitCode === null && !m.proc.child.signalCode);

  async function healthy(m: MasterMember): Promise<boolean> {
    try {
      const res = await request(`${m.clientUrl}/health`, {
        dispatcher: client,
        headersTimeout: 2_000,
        bodyTimeout: 2_000,
      });
      const body = (await res.body.json()) as { health?: string };
      return res.statusCode === 200 && body.health === 'true';
    } catch {
      return false;
    }
  }

  /** POST to the etcd gateway of the first running member that answers 200. */
  async function gateway(path: string, body: unknown): Promise<Record<string, unknown>> {
    let last = '';
    for (const m of running()) {
      try {
        const res = await request(`${m.clientUrl}${path}`, {
          method: 'POST',
          dispatcher: client,
          body: JSON.stringify(body),
          headersTimeout: 5_000,
          bodyTimeout: 5_000,
        });
        const text = await res.body.text();
        if (res.statusCode === 200) return JSON.parse(text) as Record<string, unknown>;
        last = `${res.statusCode} ${text}`;
      } catch (error) {
        last = (error as Error).message;
      }
    }
    throw new Error(`etcd ${path} failed: ${last}`);
  }

  const stop = async () => {
    for (const m of members) if (m.proc) await stopProcess(m.proc);
    await client.close();
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
    async stopMember(name) {
      const m = members.find((x) => x.name === name);
      if (m?.proc) await stopProcess(m.proc);
    },
    stop,
  };
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
