import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa } from '../../src/auth/pki.ts';
import { renderCloudConfig } from '../../src/bootstrap/cloudinit.ts';
import { renderIgnition } from '../../src/bootstrap/ignition.ts';
import type { BootstrapInput } from '../../src/bootstrap/input.ts';
import { firstBootContent, SCRIPT_PATH } from '../../src/bootstrap/node.ts';
import { tagsFor } from '../../src/cluster/names.ts';
import { bootstrapInput } from '../bootstrap/fixtures.ts';
import { startHarness, targets, testFlavor, testImage, type Harness } from '../contract/targets.ts';
import { startKubelab, type Kubelab } from '../../src/dev/kube/kubelab.ts';
import { getNode, isReady, waitForReadyNodes } from './nodes.ts';
import {
  CONTROL_PLANE_ROLE,
  bootedNode,
  startNodeStandIn,
  userDataFiles,
  type NodeStandIn,
} from '../../src/dev/kube/nodes.ts';
import { labCluster } from './support.ts';

let lab: Kubelab;

beforeAll(async () => {
  const kaasCa = await createCa({ commonName: 'kaas-test' });
  const { master0 } = await labCluster({ kaasUrl: 'https://127.0.0.1:1', kaasCaPem: kaasCa.certPem });
  lab = await startKubelab({ master0, scheduler: false });
}, 120_000);

afterAll(async () => {
  await lab?.stop();
});

/** What each user data rendered here would get from its enrollment, as kaas keeps it. */
const answers = new Map<string, string>();

/** A node's user data as kaas renders it for `input` (cloud-init, or Ignition on Flatcar). */
function userDataOf(input: BootstrapInput): string {
  const userData = input.spec.os === 'flatcar' ? renderIgnition(input) : renderCloudConfig(input);
  answers.set(userData, firstBootContent(input).enrolled);
  return userData;
}

/** What a server booted with `input`'s user data registers once it enrolled. */
function booted(input: BootstrapInput) {
  const userData = userDataOf(input);
  return bootedNode(userData, answers.get(userData));
}

describe('what a booted server registers, read from its user data', () => {
  it('takes the kubelet version from the bootstrap script and labels and role from kubeadm config', () => {
    expect(booted(bootstrapInput('worker', 'debian', '1.36.3'))).toEqual({
      kubeletVersion: '1.36.3',
      labels: { 'node.kubernetes.io/pool': 'a', tier: 'web' },
      controlPlane: false,
    });
    const joining = bootstrapInput('join-control-plane', 'flatcar', '1.35.4');
    expect(booted(joining)).toEqual({
      kubeletVersion: '1.35.4',
      labels: {},
      controlPlane: true,
      // What its kubeadm opens the kubeadm-certs Secret with.
      certificateKey: joining.join.certificateKey,
    });
    expect(booted(bootstrapInput('init')).controlPlane).toBe(true);
    // Without its enrollment, the user data alone names no kubeadm configuration.
    expect(() => bootedNode(userDataOf(bootstrapInput('worker')))).toThrow(
      'neither user data nor enrollment has a kubeadm',
    );
  });

  it('decodes every write_files encoding and data: URL form', () => {
    const text = 'a,b c\n';
    const cloudInit = [
      '#cloud-config',
      'write_files:',
      `  - {path: /plain, content: "${text.trim()}"}`,
      `  - {path: /b64, encoding: b64, content: ${Buffer.from(text).toString('base64')}}`,
      `  - {path: /gz, encoding: gz+b64, content: ${gzipSync(text).toString('base64')}}`,
    ].join('\n');
    expect(Object.fromEntries(userDataFiles(cloudInit))).toEqual({
      '/plain': 'a,b c',
      '/b64': text,
      '/gz': text,
    });
    const ignition = JSON.stringify({
      ignition: { version: '3.3.0' },
      storage: {
        files: [
          { path: '/pct', contents: { source: `data:,${encodeURIComponent(text)}` } },
          {
            path: '/gz',
            contents: { compression: 'gzip', source: `data:;base64,${gzipSync(text).toString('base64')}` },
          },
        ],
      },
    });
    expect(Object.fromEntries(userDataFiles(ignition))).toEqual({ '/pct': text, '/gz': text });
  });

  it('fails clearly on user data without a version or in another format', () => {
    const script = renderCloudConfig(bootstrapInput('worker'));
    expect(() => bootedNode(script.replace(/KUBE_VERSION='[^']*'/, ''))).toThrow(
      `${SCRIPT_PATH} in the user data names no KUBE_VERSION`,
    );
    expect(() => bootedNode('#!/bin/sh\necho hi\n')).toThrow('neither #cloud-config nor Ignition');
  });
});

describe.each(targets.filter((t) => t.services.includes('compute')))(
  'the booting-node stand-in on $name',
  (target) => {
    let h: Harness;
    let standIn: NodeStandIn | undefined;
    const r: { flavor?: string; image?: string } = {};

    beforeAll(async () => {
      h = await startHarness(target, 'nodes');
      r.flavor = await testFlavor(h);
      r.image = await testImage(h);
    }, 60_000);
    afterAll(async () => {
      await standIn?.stop();
      await h?.close();
    }, 60_000);

    /** Boots a server with `userData`, tagged as a server of `clusterId`; deleted after the suite. */
    async function boot(name: string, clusterId: string, userData: string): Promise<string> {
      const { nova } = h.cloud;
      const { id } = await nova.createServer({
        name,
        flavorRef: r.flavor as string,
        imageRef: r.image as string,
        networks: 'none',
        userData,
        tags: tagsFor(clusterId),
      });
      h.defer(async () => {
        await nova.deleteServer(id, { ignoreMissing: true });
        await nova.waitForServerDeleted(id, { timeoutMs: 30_000, intervalMs: 200 });
      });
      return id;
    }

    it('registers a Ready Node per ACTIVE server of the cluster with its kubelet version, removes it when the server goes', async () => {
      const clusterId = h.prefix;
      const worker = `${h.prefix}-default-0`;
      const master = `${h.prefix}-master-1`;
      const stranger = `${h.prefix}-other-0`;
      const workerId = await boot(
        worker,
        clusterId,
        userDataOf(bootstrapInput('worker', 'debian', '1.36.3')),
      );
      await boot(master, clusterId, userDataOf(bootstrapInput('join-control-plane', 'flatcar', '1.37.2')));
      const strangerId = await boot(stranger, `${clusterId}-x`, userDataOf(bootstrapInput('worker')));
      const enroll = async (userData: string) => answers.get(userData) ?? '';
      standIn = startNodeStandIn({ cloud: h.cloud, lab, clusterId, enroll });

      await waitForReadyNodes(lab, [worker, master], 60_000);
      await h.cloud.nova.waitForServerStatus(strangerId, 'ACTIVE', { timeoutMs: 45_000, intervalMs: 200 });
      // kubeadm taints a control-plane Node just after it registers; a round finishes that.
      await standIn.sync();
      const w = await getNode(lab, worker);
      expect(w?.status?.nodeInfo?.kubeletVersion).toBe('v1.36.3');
      expect(w?.metadata.labels).toMatchObject({ tier: 'web', 'kubernetes.io/hostname': worker });
      expect(w?.spec?.taints ?? []).not.toContainEqual(expect.objectContaining({ key: CONTROL_PLANE_ROLE }));
      const m = await getNode(lab, master);
      expect(m?.status?.nodeInfo?.kubeletVersion).toBe('v1.37.2');
      expect(m?.metadata.labels).toHaveProperty(CONTROL_PLANE_ROLE, '');
      expect(m?.spec?.taints).toContainEqual(
        expect.objectContaining({ key: CONTROL_PLANE_ROLE, effect: 'NoSchedule' }),
      );
      expect(await getNode(lab, stranger)).toBeUndefined();

      // Like a kubelet, the node registers again when its Node is deleted while the server runs.
      const uid = w?.metadata.uid;
      expect((await lab.request('DELETE', `/api/v1/nodes/${worker}`)).status).toBe(200);
      await lab.waitFor('worker registered again', async () => {
        const again = await getNode(lab, worker);
        return again !== undefined && again.metadata.uid !== uid && isReady(again);
      });

      await h.cloud.nova.deleteServer(workerId);
      await lab.waitFor(
        'worker Node removed',
        async () => (await getNode(lab, worker)) === undefined,
        45_000,
      );
      expect(isReady(await getNode(lab, master))).toBe(true);
      await standIn.stop();
      standIn = undefined;
    }, 120_000);
  },
);
