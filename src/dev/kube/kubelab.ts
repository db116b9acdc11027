/**
 * kubelab: a real upstream Kubernetes control plane on 127.0.0.1 for the tests — etcd,
 * kube-apiserver, kube-controller-manager, kube-scheduler and kwok (upstream's kubelet simulator),
 * each a child process on a free port, all stopped by PID in `stop()`.
 *
 * The control plane is configured as kaas configures master-0: the test passes master-0's
 * BootstrapInput, the harness renders its user data with the production renderer (`nodeContent`)
 * and feeds the kubeadm config it contains to the real kubeadm (`init phase certs`, `kubeconfig`
 * and `control-plane --dry-run`). The processes then run with exactly the flags of the static pods
 * kubeadm wrote, with only these test-harness changes: paths under /etc/kubernetes point into the
 * lab's directory, ports are free ones, everything binds to 127.0.0.1, and etcd is the lab's own
 * (plain http on loopback, declared as external etcd in the copy of the config).
 *
 * With `kubeletServer`, kwok also plays its Nodes' kubelet API, so `pods/portforward` through the
 * API server works for pods on them (test/kubelab/etcdmasters.ts puts a cluster's etcd behind it).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Agent, fetch } from 'undici';
import { parseAllDocuments, parse as parseYaml, stringify } from 'yaml';
import type { BootstrapInput } from '../../bootstrap/input.ts';
import { NODE_IP_PLACEHOLDER } from '../../bootstrap/kubeadm.ts';
import { KUBEADM_CONFIG_PATH, nodeContent } from '../../bootstrap/node.ts';
import { freePort } from './ports.ts';
import { kubeBinary, kwokPortForwardCrd, kwokStages, toolBinary } from './binaries.ts';

const run = promisify(execFile);

/** Where the node's files land on a real master; the lab maps it onto its own directory. */
const KUBERNETES_DIR = '/etc/kubernetes';
/** Master-0's address on the cluster network, as the cloud would give its port (advertised only). */
export const NODE_IP = '10.240.0.5';

export interface KubelabOptions {
  /**
   * Master-0's bootstrap input, as the provisioner builds it (role `init`); not needed to restart
   * a lab kept in `dir`.
   */
  master0?: BootstrapInput;
  /**
   * Keep the lab in this directory (made 0700; kept on stop) instead of a temporary one: a lab that
   * ran there before restarts with its certificates, etcd data and ports (kaas dev --kube).
   */
  dir?: string;
  /** Extra kube-apiserver flags a test needs (e.g. a shorter webhook cache TTL is already kaas's). */
  apiServerFlags?: string[];
  /** Start kube-controller-manager (default true). */
  controllerManager?: boolean;
  /** Start kube-scheduler (default true). */
  scheduler?: boolean;
  /** Start kwok (default true). */
  kwok?: boolean;
  /**
   * Serve kwok's kubelet API for its Nodes (default false): Nodes advertise kwok's server as their
   * kubelet endpoint, so the API server proxies `pods/portforward` to it, and kwok forwards a pod's
   * ports as its PortForward resources (`kwok.x-k8s.io/v1alpha1`, CRD installed here) say.
   */
  kubeletServer?: boolean;
}

/** A running kubelab. */
export interface Kubelab {
  /** https://127.0.0.1:<port> */
  readonly url: string;
  /** The cluster CA (kaas's, when master-0's input carries one). */
  readonly caPem: string;
  /** kubeadm's super-admin.conf (system:masters client certificate), pointing at `url`. */
  readonly adminKubeconfig: string;
  /** The lab's directory (configs, logs: `<name>.log`). */
  readonly dir: string;
  /** The flags kube-apiserver runs with. */
  readonly apiServerArgs: readonly string[];
  /** The kubeadm static pod manifests, by component (as kubeadm wrote them). */
  readonly staticPods: Readonly<Record<string, Record<string, unknown>>>;
  /** Runs the lab's kubectl (the default version) with the admin kubeconfig unless `--kubeconfig` is given. */
  kubectl(args: string[], options?: { input?: string; kubeconfig?: string }): Promise<string>;
  /** GET/POST/... against the API as admin; returns status and parsed JSON body. */
  request(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  /**
   * Registers a Node kwok keeps Ready (the stand-in for a booted server), with the taints its
   * kubelet registers with (`--cloud-provider=external` adds the cloud provider's uninitialized one).
   */
  addNode(
    name: string,
    options?: {
      kubeletVersion?: string;
      labels?: Record<string, string>;
      taints?: { key: string; value?: string; effect: string }[];
    },
  ): Promise<void>;
  /** Waits until `check` is true, polling; throws with `what` after `timeoutMs`. */
  waitFor(what: string, check: () => Promise<boolean>, timeoutMs?: number): Promise<void>;
  /** Stops every process (by PID) and removes the directory. */
  stop(): Promise<void>;
}

/** Annotation that tells kwok to manage a Node (its `--manage-nodes-with-annotation-selector`). */
export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

/** Rewrites a path of the real master into the lab's directory. */
function relocate(dir: string, value: string): string {
  return value.split(`${KUBERNETES_DIR}/`).join(`${dir}/`);
}

/**
 * The kubeadm config kaas rendered for master-0, with the lab's addresses: the node IP placeholder
 * becomes NODE_IP (kubeadm refuses a loopback advertise address; the processes still bind to
 * 127.0.0.1 only), the endpoint and certificate directory the lab's, etcd the lab's own.
 */
function labKubeadmConfig(text: string, dir: string, apiPort: number, etcdUrl: string): string {
  const docs = parseAllDocuments(text.split(NODE_IP_PLACEHOLDER).join(NODE_IP)).map(
    (d) => d.toJS() as Record<string, unknown>,
  );
  for (const doc of docs) {
    if (doc['kind'] === 'InitConfiguration') {
      (doc['localAPIEndpoint'] as Record<string, unknown>)['bindPort'] = apiPort;
    }
    if (doc['kind'] === 'ClusterConfiguration') {
      doc['controlPlaneEndpoint'] = `127.0.0.1:${apiPort}`;
      doc['certificatesDir'] = join(dir, 'pki');
      doc['etcd'] = { external: { endpoints: [etcdUrl] } };
    }
  }
  return docs.map((d) => `---\n${stringify(d)}`).join('');
}

/** A lab process and its exit. */
export interface Proc {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
}

/** Starts `bin` with its output in `<dir>/<name>.log`. */
export function startProcess(dir: string, name: string, bin: string, args: string[]): Proc {
  const log = createWriteStream(join(dir, `${name}.log`));
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { name, child, exited };
}

/** Kills by PID: SIGTERM, then SIGKILL after 5 s. */
export async function stopProcess(proc: Proc): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 5_000);
  await proc.exited;
  clearTimeout(timer);
}

function flagsOf(pod: Record<string, unknown>): string[] {
  const container = (pod as { spec: { containers: { command: string[] }[] } }).spec.containers[0];
  if (!container) throw new Error('static pod without a container');
  return container.command.slice(1);
}

/** Replaces (or adds) `--name=value` in a flag list. */
function setFlag(flags: string[], name: string, value: string): string[] {
  const rest = flags.filter((f) => !f.startsWith(`--${name}=`));
  return [...rest, `--${name}=${value}`];
}

/** Runs the default version's kubeadm; a failure carries its output. */
export async function kubeadm(args: string[], env: Record<string, string> = {}): Promise<string> {
  try {
    const { stdout } = await run(kubeBinary('kubeadm'), args, {
      env: { ...process.env, ...env },
      timeout: 60_000,
    });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string };
    throw new Error(`kubeadm ${args.join(' ')} failed: ${e.stderr ?? ''}${e.stdout ?? ''}`, { cause: error });
  }
}

/**
 * Writes master-0's files into the lab's directory and has the real kubeadm make the certificates,
 * kubeconfigs and static pod manifests from kaas's config (once per lab directory).
 */
async function prepare(
  options: KubelabOptions,
  dir: string,
  configPath: string,
  manifests: string,
  apiPort: number,
  etcdUrl: string,
): Promise<void> {
  const master0 = options.master0;
  if (!master0) throw new Error(`${dir} holds no control plane to restart, and no master-0 input was given`);
  // Master-0's files, as its user data writes them, under the lab's directory.
  const content = nodeContent(master0);
  let kubeadmConfig = '';
  for (const file of content.files) {
    if (file.path === KUBEADM_CONFIG_PATH) kubeadmConfig = file.content;
    if (!file.path.startsWith(`${KUBERNETES_DIR}/`)) continue;
    const path = relocate(dir, file.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, file.content, { mode: file.mode });
  }
  if (kubeadmConfig === '') throw new Error(`master-0's user data has no ${KUBEADM_CONFIG_PATH}`);
  await writeFile(configPath, labKubeadmConfig(kubeadmConfig, dir, apiPort, etcdUrl), {
    mode: 0o600,
  });

  // The real kubeadm makes the certificates, kubeconfigs and static pods from kaas's config.
  await kubeadm(['init', 'phase', 'certs', 'all', '--config', configPath]);
  for (const which of ['super-admin', 'controller-manager', 'scheduler']) {
    await kubeadm(['init', 'phase', 'kubeconfig', which, '--config', configPath, '--kubeconfig-dir', dir]);
    // kubeadm points the components at the node's own address; the lab listens on loopback.
    const path = join(dir, `${which}.conf`);
    const text = await readFile(path, 'utf8');
    await writeFile(path, text.split(`https://${NODE_IP}:`).join('https://127.0.0.1:'), { mode: 0o600 });
  }
  await mkdir(manifests);
  await kubeadm(['init', 'phase', 'control-plane', 'all', '--dry-run', '--config', configPath], {
    KUBEADM_INIT_DRYRUN_DIR: manifests,
  });
}

/** The loopback ports of one lab's processes. */
interface LabPorts {
  etcd: number;
  peer: number;
  api: number;
  controllerManager: number;
  scheduler: number;
  kwok: number;
}

/** Where a kept lab directory records its ports: a restart must answer at the address kaas recorded. */
const PORTS_FILE = 'ports.json';

async function newPorts(): Promise<LabPorts> {
  const [etcd, peer, api, controllerManager, scheduler, kwok] = await Promise.all(
    Array.from({ length: 6 }, () => freePort()),
  );
  return { etcd, peer, api, controllerManager, scheduler, kwok } as LabPorts;
}

/** The ports a kept lab ran on, or undefined when none finished starting in `dir`. */
async function readPorts(dir: string): Promise<LabPorts | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, PORTS_FILE), 'utf8')) as LabPorts;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Where a kept lab records its processes, for the next start to stop what a killed run left. */
const PIDS_FILE = 'pids.json';

/**
 * Stops what an earlier run of the lab kept in `dir` left running (its owner was killed, not
 * stopped): each process it recorded whose command line still names `dir`, so no other is touched.
 */
async function stopLeftovers(dir: string): Promise<void> {
  const text = await readFile(join(dir, PIDS_FILE), 'utf8').catch(() => '[]');
  const running = async (pid: number) =>
    (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).includes(dir);
  for (const pid of JSON.parse(text) as number[]) {
    if (!(await running(pid))) continue;
    process.kill(pid, 'SIGTERM');
    await waitFor(`process ${pid} left by an earlier run to stop`, async () => !(await running(pid)), 10_000);
  }
}

/** Starts a control plane configured from master-0's user data, or restarts one kept in `options.dir`. */
export async function startKubelab(options: KubelabOptions): Promise<Kubelab> {
  const kept = options.dir !== undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'kubelab-')));
  const previous = kept ? await readPorts(dir) : undefined;
  if (kept && !previous) {
    // A start that never finished leaves files kubeadm would refuse to reuse: begin again.
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
  const procs: Proc[] = [];
  let admin: Agent | undefined;
  const stop = async () => {
    for (const p of [...procs].reverse()) await stopProcess(p);
    await admin?.close();
    if (!kept) await rm(dir, { recursive: true, force: true });
  };
  try {
    const ports = previous ?? (await newPorts());
    const { etcd: etcdPort, peer: peerPort, api: apiPort, controllerManager: cmPort } = ports;
    const { scheduler: schedPort, kwok: kwokPort } = ports;
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;

    const configPath = join(dir, 'kubeadm.yaml');
    const manifests = join(dir, 'manifests');
    if (previous) await stopLeftovers(dir);
    else await prepare(options, dir, configPath, manifests, apiPort, etcdUrl);
    const staticPods: Record<string, Record<string, unknown>> = {};
    for (const c of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
      staticPods[c] = parseYaml(await readFile(join(manifests, `${c}.yaml`), 'utf8')) as Record<
        string,
        unknown
      >;
    }
    const caPem = await readFile(join(dir, 'pki', 'ca.crt'), 'utf8');
    /** A component's flags as kubeadm wrote them, moved into the lab: its paths, a free port, loopback. */
    const staticPodFlags = (component: string, port: number): string[] => {
      const flags = flagsOf(staticPods[component] as Record<string, unknown>).map((f) => relocate(dir, f));
      return setFlag(setFlag(flags, 'secure-port', String(port)), 'bind-address', '127.0.0.1');
    };

    procs.push(
      startProcess(dir, 'etcd', toolBinary('etcd'), [
        '--name=kubelab',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=kubelab=http://127.0.0.1:${peerPort}`,
        '--listen-metrics-urls=',
        '--log-level=warn',
      ]),
    );
    await waitHttp(`${etcdUrl}/health`, procs[0] as Proc, dir);

    const apiArgs = [
      ...staticPodFlags('kube-apiserver', apiPort as number),
      ...(options.apiServerFlags ?? []),
    ];
    const apiserver = startProcess(dir, 'kube-apiserver', kubeBinary('kube-apiserver'), apiArgs);
    procs.push(apiserver);

    const adminKubeconfig = join(dir, 'super-admin.conf');
    const agent = await adminAgent(adminKubeconfig);
    admin = agent;
    const url = `https://127.0.0.1:${apiPort}`;
    const request: Kubelab['request'] = async (method, path, body) => {
      const res = await fetch(`${url}${path}`, {
        method,
        dispatcher: agent,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // non-JSON bodies (e.g. /readyz's "ok") stay text
      }
      return { status: res.status, body: parsed };
    };
    await waitFor(
      'kube-apiserver /readyz',
      async () => {
        if (apiserver.child.exitCode !== null) throw await exitedError(dir, 'kube-apiserver');
        try {
          return (await request('GET', '/readyz')).status === 200;
        } catch {
          return false;
        }
      },
      60_000,
    );
    // What kubeadm init does next on master-0 and joins rely on: the kubeadm/kubelet config maps,
    // kaas's join token as a bootstrap-token Secret, cluster-info and the node bootstrap RBAC.
    if (!previous) {
      for (const phase of [['upload-config', 'all'], ['bootstrap-token']]) {
        await kubeadm(['init', 'phase', ...phase, '--config', configPath, '--kubeconfig', adminKubeconfig]);
      }
      // From now on the directory restarts as this lab.
      if (kept) await writeFile(join(dir, PORTS_FILE), JSON.stringify(ports), { mode: 0o600 });
    }

    if (options.controllerManager ?? true) {
      const args = staticPodFlags('kube-controller-manager', cmPort as number);
      procs.push(startProcess(dir, 'kube-controller-manager', kubeBinary('kube-controller-manager'), args));
    }
    if (options.scheduler ?? true) {
      const args = staticPodFlags('kube-scheduler', schedPort as number);
      procs.push(startProcess(dir, 'kube-scheduler', kubeBinary('kube-scheduler'), args));
    }
    const kubeletServer = (options.kwok ?? true) && (options.kubeletServer ?? false);
    if (kubeletServer) {
      // kwok watches PortForward resources only once their CRD is served.
      const crd = parseYaml(await readFile(kwokPortForwardCrd(), 'utf8')) as Record<string, unknown>;
      const res = await request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
      if (res.status !== 201 && res.status !== 409) {
        throw new Error(`installing kwok's PortForward CRD: ${res.status}`);
      }
      await waitFor('the PortForward CRD established', async () => {
        const got = await request('GET', '/apis/kwok.x-k8s.io/v1alpha1/portforwards');
        return got.status === 200;
      });
    }
    if (options.kwok ?? true) {
      procs.push(
        startProcess(dir, 'kwok', toolBinary('kwok'), [
          // Nodes name kwok's server as their kubelet; the API server reaches it over TLS (kwok's
          // self-signed certificate: kubeadm configures no kubelet CA, as for a real kubelet).
          ...(kubeletServer ? [`--node-port=${kwokPort}`, '--enable-crds=PortForward'] : []),
          `--kubeconfig=${adminKubeconfig}`,
          `--config=${kwokStages()}`,
          '--manage-all-nodes=false',
          `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
          '--node-ip=127.0.0.1',
          `--server-address=127.0.0.1:${kwokPort}`,
          '--cidr=10.244.0.0/16',
          '--node-lease-duration-seconds=40',
        ]),
      );
    }

    if (kept) {
      const pids = procs.map((p) => p.child.pid);
      await writeFile(join(dir, PIDS_FILE), JSON.stringify(pids), { mode: 0o600 });
    }

    const kubectl: Kubelab['kubectl'] = async (args, opts = {}) => {
      const child = spawn(
        kubeBinary('kubectl'),
        [`--kubeconfig=${opts.kubeconfig ?? adminKubeconfig}`, ...args],
        {
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdin.end(opts.input ?? '');
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      if (code !== 0) throw new KubectlError(args, code, stdout, stderr);
      return stdout;
    };

    return {
      url,
      caPem,
      adminKubeconfig,
      dir,
      apiServerArgs: apiArgs,
      staticPods,
      kubectl,
      request,
      waitFor,
      async addNode(name, opts = {}) {
        const res = await request('POST', '/api/v1/nodes', {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: {
            name,
            annotations: { [KWOK_NODE_ANNOTATION]: 'fake' },
            labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', ...opts.labels },
          },
          ...(opts.taints ? { spec: { taints: opts.taints } } : {}),
          status: opts.kubeletVersion ? { nodeInfo: { kubeletVersion: `v${opts.kubeletVersion}` } } : {},
        });
        if (res.status !== 201 && res.status !== 409) {
          throw new Error(`creating node ${name} failed: ${res.status} ${JSON.stringify(res.body)}`);
        }
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A kubectl run that exited non-zero; carries its output for assertions. */
export class KubectlError extends Error {
  constructor(
    readonly args: string[],
    readonly code: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`kubectl ${args.join(' ')} exited ${code}: ${stderr.trim()}`);
  }
}

/** An undici dispatcher with admin.conf's client certificate, trusting only its CA. */
async function adminAgent(path: string): Promise<Agent> {
  const kc = parseYaml(await readFile(path, 'utf8')) as {
    clusters: { cluster: { 'certificate-authority-data': string } }[];
    users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
  };
  const b64 = (v: string | undefined) => Buffer.from(v ?? '', 'base64').toString('utf8');
  return new Agent({
    connect: {
      ca: b64(kc.clusters[0]?.cluster['certificate-authority-data']),
      cert: b64(kc.users[0]?.user['client-certificate-data']),
      key: b64(kc.users[0]?.user['client-key-data']),
    },
  });
}

async function exitedError(dir: string, name: string): Promise<Error> {
  const log = await readFile(join(dir, `${name}.log`), 'utf8').catch(() => '');
  return new Error(`${name} exited during start-up:\n${log.split('\n').slice(-30).join('\n')}`);
}

async function waitHttp(url: string, proc: Proc, dir: string): Promise<void> {
  await waitFor(
    url,
    async () => {
      if (proc.child.exitCode !== null) throw await exitedError(dir, proc.name);
      try {
        return (await fetch(url)).ok;
      } catch {
        return false;
      }
    },
    30_000,
  );
}

/** Polls `check` every 100 ms until it is true; throws after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
