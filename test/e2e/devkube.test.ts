/**
 * `kaas dev --kube` from an empty directory, as real processes: kaas dev (test/support/devProcess.ts)
 * gives the cluster the kaas CLI creates a real control plane on 127.0.0.1 (kubelab), its servers
 * join as Nodes through the node stand-in, and the kubeconfig a user downloads with one of their
 * API tokens works with the real kubectl, authenticated by kaas dev's TokenReview. Restarting kaas
 * dev brings the control plane back at the same address; deleting the cluster stops it. Every
 * control-plane process is stopped by kaas dev, and what a killed kaas dev left by the next one.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/dev/kube/ports.ts';
import { waitFor } from '../ha/support.ts';
import { devAdminCli, spawnDev } from '../support/dev.ts';
import {
  alive,
  controlPlaneChildren,
  controlPlaneOf as controlPlaneOfPid,
  kubectl,
  kubelabCache,
  killWorkingIn,
  nodes,
} from '../support/devKube.ts';
import type { ServiceProcess } from '../support/process.ts';

let home: string;
let project: string;
let port: number;
let running: ServiceProcess | undefined;
/** Every control-plane process kaas dev started in this test, to prove none is left. */
const seen = new Set<number>();

function startDevProcess(args: string[], env: Record<string, string> = {}): ServiceProcess {
  return spawnDev({ cwd: project, home, port, args, env: { KUBELAB_CACHE: kubelabCache(), ...env } });
}

/** kaas dev's control-plane children now, noted in `seen`. */
const controlPlaneOf = (dev: ServiceProcess) => controlPlaneOfPid(dev.pid, seen);

async function stop(dev: ServiceProcess): Promise<void> {
  dev.kill('SIGTERM');
  expect(await dev.exited, dev.output()).toEqual({ code: 0, signal: null });
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
  if (home) killWorkingIn(join(home, 'project', '.kaas', 'kube'));
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
    // Its control-plane children only: kaas dev may have another child for a moment (a kubectl, a probe).
    const restarted = controlPlaneChildren(running.pid).map((c) => c.pid);
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
    // The sweep stops the processes, then removes the data: wait for both.
    await waitFor(
      'the control plane to stop and its data to go',
      async () =>
        controlPlaneOf(running as ServiceProcess).length === 0 &&
        !existsSync(join(project, '.kaas', 'kube', clusterId))
          ? true
          : undefined,
      30_000,
    );
    await stop(running);
    running = undefined;
    expect([...seen].filter(alive)).toEqual([]);
  }, 400_000);
});
