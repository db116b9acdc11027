/**
 * What the `kaas dev --kube` suites check from outside: the control-plane processes kaas dev runs
 * (read from /proc, by PID), and the Nodes the real kubectl (from the kubelab cache) lists through
 * a kubeconfig a user downloaded.
 */
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { kubeBinary } from '../../src/dev/kube/binaries.ts';

const run = promisify(execFile);

/** The kubelab cache kaas dev --kube runs from, as the environment names it. */
export const kubelabCache = (): string => process.env.KUBELAB_CACHE ?? '/var/cache/kaas-kubelab';

/** A live process's command name and state letter from /proc/<pid>/stat; undefined once it is gone. */
function stat(pid: number | string): { name: string; fields: string[] } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : { name: /\((.*)\)/.exec(text)?.[1] ?? '', fields };
  } catch {
    return undefined;
  }
}

const pids = () => readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));

/** The live processes whose parent is `pid`, with their command names. */
export function childrenOf(pid: number): { pid: number; name: string }[] {
  return pids().flatMap((entry) => {
    const s = stat(entry);
    return s && Number(s.fields[1]) === pid ? [{ pid: Number(entry), name: s.name }] : [];
  });
}

/** Whether process `pid` still runs (a zombie does not). */
export function alive(pid: number): boolean {
  return stat(pid) !== undefined;
}

const CONTROL_PLANE = ['etcd', 'kube-apiserver', 'kube-controller', 'kube-scheduler', 'kwok'];

/** kaas dev's (`pid`) control-plane children now (not whatever else it runs for a moment). */
export function controlPlaneChildren(pid: number): ReturnType<typeof childrenOf> {
  return childrenOf(pid).filter((c) => CONTROL_PLANE.includes(c.name));
}

/** The names of kaas dev's (`pid`) control-plane children now, sorted; their PIDs are added to `seen`. */
export function controlPlaneOf(pid: number, seen: Set<number>): string[] {
  const found = controlPlaneChildren(pid);
  for (const c of found) seen.add(c.pid);
  return found.map((c) => c.name).sort();
}

/** Kills (SIGKILL) every process whose command line names `dir`: what a failed run left there. */
export function killWorkingIn(dir: string): void {
  for (const entry of pids()) {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.includes(dir)) process.kill(Number(entry), 'SIGKILL');
  }
}

/** The kubelab cache's kubectl (the catalogue's default version) with `kubeconfig`. */
export async function kubectl(kubeconfig: string, args: string[]): Promise<string> {
  const { stdout } = await run(kubeBinary('kubectl'), [`--kubeconfig=${kubeconfig}`, ...args], {
    timeout: 30_000,
  });
  return stdout;
}

interface NodeList {
  items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[] } }[];
}

/** The Nodes kubectl lists through `kubeconfig`, each with whether it is Ready, by name. */
export async function nodes(kubeconfig: string): Promise<[string, boolean][]> {
  const list = JSON.parse(await kubectl(kubeconfig, ['get', 'nodes', '-o', 'json'])) as NodeList;
  return list.items
    .map((n): [string, boolean] => [
      n.metadata.name,
      n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
    ])
    .sort();
}
