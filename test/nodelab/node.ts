/**
 * nodelab: servers kaas created in a cloud, booted as real Linux nodes on this machine. Each node
 * is a set of namespaces (network, mount, UTS) with its own overlay root over the host's root,
 * where test/nodelab/build.sh installed Debian's containerd, runc, CNI plugins and cloud-init (the
 * stand-in for a Debian cloud image). Debian's cloud-init runs against a NoCloud seed holding the
 * user data kaas sent to the cloud, unchanged. The node's `eth2` (kaas's overlay interface) carries
 * the fixed IP the cloud gave the server's port, on a bridge standing in for the cluster's Neutron
 * network, whose gateway address the host holds (so a cloudsim listening there is the node's cloud).
 *
 * Stopping a node kills all its processes and removes its namespaces, mounts, veth, cgroups and
 * directory; stopping the lab removes the bridge and restores the global sysctls the nodes changed
 * (the kubelet and `sysctl --system` write kernel-wide ones). The shortcuts a real cloud would not
 * take are in node.sh and systemctl.sh (marked SHORTCUT) and in docs/architecture.md.
 *
 * Needs root and the cache test/nodelab/build.sh fills, named by $NODELAB_CACHE.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultPatch } from '../../src/dev/kube/binaries.ts';

const run = promisify(execFile);
const NODE_SH = join(import.meta.dirname, 'node.sh');
/** Where nodes keep their roots, stores and logs (one directory each, removed on stop). */
export const NODES_DIR = '/var/tmp/kaas-nodelab';
/** Kernel-wide settings a node changes: the kubelet's, and those `sysctl --system` applies. */
const GLOBAL_SYSCTL_FILES = ['/etc/sysctl.conf', '/etc/sysctl.d', '/usr/lib/sysctl.d', '/run/sysctl.d'];
const KUBELET_SYSCTLS = [
  'vm.overcommit_memory',
  'vm.panic_on_oom',
  'kernel.panic',
  'kernel.panic_on_oops',
  'kernel.keys.root_maxkeys',
  'kernel.keys.root_maxbytes',
];
/** conntrack's table size: one per kernel, read-only in a node's network namespace. */
const CONNTRACK_MAX = 'net.netfilter.nf_conntrack_max';

/** The nodelab cache build.sh filled: `$NODELAB_CACHE`, checked for the default version's images. */
export function nodelabCache(version: string = defaultPatch()): string {
  const cache = process.env.NODELAB_CACHE;
  if (!cache) {
    throw new Error(
      'NODELAB_CACHE is not set: run `export NODELAB_CACHE=$(bash test/nodelab/build.sh)` (npm test does)',
    );
  }
  for (const path of [join(cache, 'images', version), join(cache, 'release', `v${version}`)]) {
    if (!existsSync(path)) {
      throw new Error(`${path} is missing: run bash test/nodelab/build.sh (NODELAB_CACHE=${cache})`);
    }
  }
  return cache;
}

/** A release mirror laid out like dl.k8s.io/release, holding the release build.sh packed. */
export function releaseMirror(version: string = defaultPatch()): string {
  return join(nodelabCache(version), 'release');
}

/** Held by the process whose lab runs (its pid inside): one lab at a time on a host. */
const LAB_LOCK = '/var/tmp/kaas-nodelab.lock';
/** Longest a lab waits for another process's lab to stop (a whole nodelab suite). */
const LAB_LOCK_WAIT_MS = 20 * 60_000;

/**
 * Takes the host's lab lock, waiting while another live process holds it: labs running at once
 * would restore each other's kernel-wide settings too early (the kubelet's sysctls are global)
 * and share two cores between kubeadm runs. A lock whose process is gone is taken over.
 */
export async function lockHost(path = LAB_LOCK): Promise<() => Promise<void>> {
  const deadline = Date.now() + LAB_LOCK_WAIT_MS;
  for (;;) {
    try {
      await writeFile(path, String(process.pid), { flag: 'wx' });
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(await readFile(path, 'utf8').catch(() => ''));
    if (holder === process.pid) throw new Error('this process already runs a nodelab: stop it first');
    if (!alive(holder)) {
      await rm(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `another nodelab (pid ${holder}) held ${LAB_LOCK} for ${LAB_LOCK_WAIT_MS / 60_000} min`,
      );
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** One booted server. */
export interface LabNode {
  readonly name: string;
  /** The node's fixed IP on eth2. */
  readonly address: string;
  /** Runs a command inside the node (its namespaces, its root); resolves with its stdout. */
  exec(command: string[], timeoutMs?: number): Promise<string>;
  /** A file of the node's root (the upper layer: only what the node wrote), or undefined. */
  readFile(path: string): Promise<string | undefined>;
  /** Resident memory of all the node's processes, in bytes. */
  rssBytes(): Promise<number>;
  /** Kills the node and removes every trace of it from the host. */
  stop(): Promise<void>;
}

/** A bridge standing in for one Neutron network, and the nodes on it. */
export interface Nodelab {
  /** The host's address on the bridge: the network's gateway. */
  readonly gateway: string;
  /** The bridge's name on the host. */
  readonly bridge: string;
  /**
   * Boots a server: lays out its node, seeds `userData` (the text kaas sent to the cloud) and runs
   * cloud-init's four stages. Resolves once cloud-init is done (kaas's bootstrap script has run);
   * rejects, with the end of cloud-init's output, when a stage fails.
   */
  boot(server: { name: string; address: string; userData: string }): Promise<LabNode>;
  /** Stops every node, removes the bridge, restores the global sysctls. */
  stop(): Promise<void>;
}

async function sh(args: string[], timeoutMs = 120_000): Promise<string> {
  const { stdout } = await run('bash', [NODE_SH, ...args], { timeout: timeoutMs, maxBuffer: 64 << 20 });
  return stdout;
}

async function sysctlKeys(): Promise<string[]> {
  const keys = new Set([...KUBELET_SYSCTLS, CONNTRACK_MAX]);
  const { stdout } = await run('bash', [
    '-c',
    `cat $(find ${GLOBAL_SYSCTL_FILES.join(' ')} -name '*.conf' 2>/dev/null) /etc/sysctl.conf 2>/dev/null || true`,
  ]);
  for (const line of stdout.split('\n')) {
    const key = /^\s*-?([a-z0-9_.\-/]+)\s*=/.exec(line)?.[1]?.replaceAll('/', '.');
    // net.* settings are per network namespace: a node's stay in its own.
    if (key && !key.startsWith('net.')) keys.add(key);
  }
  return [...keys];
}

async function readSysctls(keys: readonly string[]): Promise<Map<string, string>> {
  const values = new Map<string, string>();
  for (const key of keys) {
    const value = await readFile(`/proc/sys/${key.replaceAll('.', '/')}`, 'utf8').catch(() => undefined);
    if (value !== undefined) values.set(key, value.trim());
  }
  return values;
}

/** The ends of a failed node's service and pod logs, for the error that reports it. */
async function bootLogs(dir: string): Promise<string> {
  const { stdout } = await run(
    'bash',
    [
      '-c',
      'cd "$1/upper/var/log" 2>/dev/null || exit 0; for f in nodelab-*.log $(find pods -name "*.log" 2>/dev/null); do echo "== $f"; tail -n 15 "$f"; done',
      'bootLogs',
      dir,
    ],
    { maxBuffer: 16 << 20 },
  ).catch(() => ({ stdout: '' }));
  return stdout.slice(-12_000);
}

/**
 * Creates the bridge of network `cidr` (a /24; the host takes its .1) and notes the global sysctls
 * to restore. Nodes trust `caPem` (a registry's CA) besides the host's CAs, as an image built for
 * the cloud would. Throws when not root.
 */
export async function startNodelab(options: { cidr: string; caPem?: string }): Promise<Nodelab> {
  if (process.getuid?.() !== 0) throw new Error('nodelab needs root (namespaces, mounts, veths)');
  const match = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(options.cidr);
  if (!match) throw new Error(`nodelab networks are /24s ending in .0, got ${options.cidr}`);
  const gateway = `${match[1]}.1`;
  const bridge = `nlbr${randomBytes(3).toString('hex')}`;
  const unlock = await lockHost();
  let saved: Map<string, string>;
  try {
    saved = await readSysctls(await sysctlKeys());
    // SHORTCUT: kube-proxy before 1.37 writes nf_conntrack_max whenever it differs from what its
    // default conntrack settings ask for (32768 per CPU, at least 131072), and a node's network
    // namespace cannot write it (a VM's kube-proxy can): the host's is set to that for the lab.
    await writeFile(
      `/proc/sys/${CONNTRACK_MAX.replaceAll('.', '/')}`,
      String(Math.max(32768 * cpus().length, 131072)),
    );
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await run('ip', ['addr', 'add', `${gateway}/24`, 'dev', bridge]);
    await run('ip', ['link', 'set', bridge, 'up']);
    await mkdir(NODES_DIR, { recursive: true });
  } catch (error) {
    await run('ip', ['link', 'del', bridge]).catch(() => undefined);
    await unlock();
    throw error;
  }
  const nodes = new Map<string, LabNode>();

  const boot: Nodelab['boot'] = async (server) => {
    if (nodes.has(server.name)) throw new Error(`node ${server.name} is already booted`);
    const dir = join(NODES_DIR, `${server.name}-${randomBytes(3).toString('hex')}`);
    const node: LabNode = {
      name: server.name,
      address: server.address,
      exec: async (command, timeoutMs = 60_000) => {
        const { stdout } = await run(
          'nsenter',
          [`--net=${dir}/ns/net`, `--mount=${dir}/ns/mnt`, `--uts=${dir}/ns/uts`, ...command],
          { timeout: timeoutMs, maxBuffer: 64 << 20 },
        );
        return stdout;
      },
      rssBytes: async () => {
        let total = 0;
        for (const pid of (await sh(['pids', dir, server.name])).split('\n').filter(Boolean)) {
          const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
          total += Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
        }
        return total;
      },
      readFile: (path) => readFile(join(dir, 'upper', path), 'utf8').catch(() => undefined),
      stop: async () => {
        nodes.delete(server.name);
        await sh(['down', dir, server.name]);
      },
    };
    nodes.set(server.name, node);
    try {
      const ca = options.caPem === undefined ? [] : [join(dir, 'trusted-ca.crt')];
      if (options.caPem !== undefined) {
        await mkdir(dir);
        await writeFile(join(dir, 'trusted-ca.crt'), options.caPem);
      }
      await sh(['up', dir, server.name, `${server.address}/24`, gateway, bridge, ...ca]);
      await writeFile(join(dir, 'user-data'), server.userData, { mode: 0o600 });
      await writeFile(
        join(dir, 'meta-data'),
        `instance-id: ${server.name}\nlocal-hostname: ${server.name}\n`,
      );
      await sh(['boot', dir], 15 * 60_000).catch(async (error: { stderr?: string }) => {
        throw new Error(
          `${server.name} failed to boot:\n${(error.stderr ?? String(error)).slice(-4000)}\n${await bootLogs(dir)}`,
        );
      });
    } catch (error) {
      await node.stop().catch(() => undefined);
      throw error;
    }
    return node;
  };

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const errors: unknown[] = [];
    for (const node of [...nodes.values()]) await node.stop().catch((e: unknown) => errors.push(e));
    await run('ip', ['link', 'del', bridge]).catch((e: unknown) => errors.push(e));
    // Kept while another lab's nodes are in it.
    await rmdir(NODES_DIR).catch(() => undefined);
    for (const [key, value] of saved) {
      const path = `/proc/sys/${key.replaceAll('.', '/')}`;
      const now = await readFile(path, 'utf8').catch(() => undefined);
      if (now !== undefined && now.trim() !== value) {
        await writeFile(path, value).catch((e: unknown) => errors.push(e));
      }
    }
    await unlock();
    if (errors.length > 0) throw new AggregateError(errors, 'nodelab did not stop cleanly');
  };

  return { gateway, bridge, boot, stop };
}

/**
 * What nodes leave on the host: nodelab's links (node veths and lab bridges), cgroups, mounts and
 * node directories.
 */
export async function hostTraces(): Promise<{
  links: string[];
  cgroups: string[];
  mounts: number;
  nodeDirs: string[];
}> {
  const { stdout: links } = await run('ip', ['-o', 'link']);
  const { stdout: cgroups } = await run('bash', [
    '-c',
    'ls -d /sys/fs/cgroup/*/nodelab-* 2>/dev/null || true',
  ]);
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  return {
    links: [...links.matchAll(/^\d+: (nl[^:@]*)[:@]/gm)].map((m) => m[1] ?? ''),
    cgroups: cgroups.split('\n').filter(Boolean),
    mounts: mountinfo.split('\n').filter((l) => l.includes(NODES_DIR)).length,
    nodeDirs: (await readdir(NODES_DIR).catch(() => [])).sort(),
  };
}

/** {@link hostTraces} once every lab is stopped. */
export const NO_TRACES = { links: [], cgroups: [], mounts: 0, nodeDirs: [] };
