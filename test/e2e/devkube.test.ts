/**
 * `kaas dev --kube` from an empty directory, as real processes: kaas dev (test/support/devProcess.ts)
 * gives the cluster the kaas CLI creates a real control plane on 127.0.0.1 (kubelab), its servers
 * join as Nodes through the node stand-in, and the kubeconfig a user downloads with one of their
 * API tokens works with the real kubectl, authenticated by kaas dev's TokenReview. Restarting kaas
 * dev brings the control plane back at the same address; deleting the cluster stops it. Every
 * control-plane process is stopped by kaas dev, and what a killed kaas dev left by the next one.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeBinary } from '../../src/dev/kube/binaries.ts';
import { freePort } from '../../src/dev/kube/ports.ts';
import { waitFor } from '../ha/support.ts';
import { devAdminCli, spawnDev } from '../support/dev.ts';
import type { ServiceProcess } from '../support/process.ts';

const run = promisify(execFile);

let home: string;
let project: string;
let port: number;
let running: ServiceProcess | undefined;
/** Every control-plane process kaas dev started in this test, to prove none is left. */
const seen = new Set<number>();

function startDevProcess(args: string[], env: Record<string, string> = {}): ServiceProcess {
  const cache = process.env.KUBELAB_CACHE ?? '/var/cache/kaas-kubelab';
  return spawnDev({ cwd: project, home, port, args, env: { KUBELAB_CACHE: cache, ...env } });
}

/** The live processes whose parent is `pid`, with their command names. */
function childrenOf(pid: number): { pid: number; name: string }[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const name = /\((.*)\)/.exec(stat)?.[1] ?? '';
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return ppid === pid && !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')
          ? [{ pid: Number(entry), name }]
          : [];
      } catch {
        return [];
      }
    });
}

/** Whether process `pid` still runs (a zombie does not). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

const CONTROL_PLANE = ['etcd', 'kube-apiserver', 'kube-controller', 'kube-scheduler', 'kwok'];

/** kaas dev's control-plane children now, noted in `seen`. */
function controlPlaneOf(dev: ServiceProcess): string[] {
  const found = childrenOf(dev.pid).filter((c) => CONTROL_PLANE.includes(c.name));
  for (const c of found) seen.add(c.pid);
  return found.map((c) => c.name).sort();
}

async function stop(dev: ServiceProcess): Promise<void> {
  dev.kill('SIGTERM');
  expect(await dev.exited, dev.output()).toEqual({ code: 0, signal: null });
}

async function kubectl(kubeconfig: string, args: string[]): Promise<string> {
  const { stdout } = await run(kubeBinary('kubectl'), [`--kubeconfig=${kubeconfig}`, ...args], {
    timeout: 30_000,
  });
  return stdout;
}

interface NodeList {
  items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[] } }[];
}

/** The Nodes kubectl lists through `kubeconfig`, each with whether it is Ready. */
async function nodes(kubeconfig: string): Promise<[string, boolean][]> {
  const list = JSON.parse(await kubectl(kubeconfig, ['get', 'nodes', '-o', 'json'])) as NodeList;
  return list.items
    .map((n): [string, boolean] => [
      n.metadata.name,
      n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
    ])
    .sort();
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'kaas-e2e-devkube-'));
  project = join(home, 'project');
  mkdirSync(project);
  port = await freePort();
});
afterAll(() => {
  running?.kill('SIGKILL');
  // A failed run leaves nothing behind either: every process working in this test's directory.
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    const cmdline = (() => {
      try {
        return readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      } catch {
        return '';
      }
    })();
    if (home && cmdline.includes(join(home, 'project', '.kaas', 'kube')))
      process.kill(Number(entry), 'SIGKILL');
  }
});

describe('kaas dev --kube', () => {
  it('refuses clearly without the kubelab binaries, naming the command that builds them', async () => {
    const refused = startDevProcess(['--kube'], { KUBELAB_CACHE: join(home, 'no-kubelab') });
    expect(await refused.exited).toEqual({ code: 2, signal: null });
    expect(refused.output()).toMatch(
      /^kaas: kaas dev --kube needs the kubelab binaries: kubelab binary \S+ is missing: run bash test\/kubelab\/build\.sh/m,
    );
    expect(existsSync(join(project, '.kaas'))).toBe(false);
  });

  it('gives a cluster a control plane kubectl reaches with a kaas API token, across a restart, until delete', async () => {
    running = startDevProcess(['--kube']);
    const envFile = await running.ready;
    expect(running.output()).toContain("clusters' Kubernetes API: a control plane each on 127.0.0.1");
    const { env, kaas, secret } = await devAdminCli(envFile, home, 'kubectl');

    // The CLI waits for the job, which waits for the API and then for every Node to be Ready.
    const created = await kaas(['cluster', 'create', '--name', 'kube', '--workers', '2']);
    expect(created.code, created.stderr + created.stdout).toBe(0);
    const clusterId = /^kube (c[0-9a-f]{12}) succeeded$/m.exec(created.stdout)?.[1] as string;
    expect(clusterId, created.stdout).toBeTruthy();
    const shown = await kaas(['cluster', 'show', 'kube', '-o', 'json']);
    const view = JSON.parse(shown.stdout) as {
      cluster: { status: string; observed: { noApi?: boolean; nodes: { ready: number; total: number } } };
      operations: { steps: { stepId: string; output: unknown }[] }[];
    };
    expect(view.cluster.status).toBe('ready');
    // Readiness is observed from the cluster's own Nodes, not said to be absent.
    expect(view.cluster.observed.noApi).toBeUndefined();
    expect(view.cluster.observed.nodes).toEqual({ ready: 3, total: 3 });

    // The kubeconfig a user downloads with one of their API tokens (the panel's token mode).
    const res = await fetch(`${env.KAAS_URL}/api/v1/clusters/${clusterId}/kubeconfig`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ token: secret }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const kubeconfig = join(home, 'kube.yaml');
    writeFileSync(kubeconfig, await res.text(), { mode: 0o600 });
    expect(readFileSync(kubeconfig, 'utf8')).toMatch(/server: https:\/\/127\.0\.0\.1:\d+/);
    const expected: [string, boolean][] = [
      ['kaas-kube-default-0', true],
      ['kaas-kube-default-1', true],
      ['kaas-kube-master-0', true],
    ];
    expect(await nodes(kubeconfig)).toEqual(expected);
    // kubectl is admin, as kaas's TokenReview says (the cluster-admin group is the admin role's).
    expect(
      (await kubectl(kubeconfig, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'])).trim(),
    ).toBe('admin');
    expect(controlPlaneOf(running)).toEqual([
      'etcd',
      'kube-apiserver',
      'kube-controller',
      'kube-scheduler',
      'kwok',
    ]);

    // SIGTERM: kaas dev stops every control-plane process it started, then restarts them from .kaas/kube.
    await stop(running);
    expect([...seen].filter(alive)).toEqual([]);
    running = startDevProcess(['--kube']);
    expect(await running.ready).toBe(envFile);
    expect(running.output()).not.toContain('did not restart');
    expect(await nodes(kubeconfig)).toEqual(expected);
    const restarted = childrenOf(running.pid).map((c) => c.pid);
    expect(controlPlaneOf(running)).toHaveLength(5);

    // Killed outright, kaas dev cannot stop them: the next start does, before it restarts them.
    running.kill('SIGKILL');
    await running.exited;
    expect(restarted.filter(alive)).toHaveLength(5);
    running = startDevProcess(['--kube']);
    await running.ready;
    expect(restarted.filter(alive)).toEqual([]);
    expect(await nodes(kubeconfig)).toEqual(expected);
    expect(controlPlaneOf(running)).toHaveLength(5);

    // Delete stops the cluster's control plane and removes its data.
    const deleted = await kaas(['cluster', 'delete', 'kube', '--yes']);
    expect(deleted.code, deleted.stderr).toBe(0);
    await waitFor(
      'the control plane to stop',
      async () => (controlPlaneOf(running as ServiceProcess).length === 0 ? true : undefined),
      30_000,
    );
    expect(existsSync(join(project, '.kaas', 'kube', clusterId))).toBe(false);
    await stop(running);
    running = undefined;
    expect([...seen].filter(alive)).toEqual([]);
  }, 400_000);
});
