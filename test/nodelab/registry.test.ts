/**
 * nodelab's registry on its own, without nodes: Debian's docker-registry on loopback, filled from
 * build.sh's cache under the names kubeadm and src/addons give a cluster with its repository,
 * reachable only by a client that trusts the test CA; a cache lacking an image kubeadm deploys and
 * a registry that cannot listen are clear errors.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_IMAGES, fromRepository } from '../../src/addons/images.ts';
import { createCa } from '../../src/auth/pki.ts';
import { defaultPatch, previousPatch } from '../../src/dev/kube/binaries.ts';
import { KUBERNETES_RELEASES } from '../../src/versions/index.ts';
import { nodelabCache } from './node.ts';
import { pushImages, startRegistry, type LabRegistry } from './registry.ts';

const run = promisify(execFile);

describe('nodelab registry', () => {
  let dir = '';
  let registry: LabRegistry | undefined;
  afterAll(async () => {
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves every cached image under the names a cluster with its repository pulls, to clients trusting its CA', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kaas-nodelab-registry-'));
    const ca = await createCa({ commonName: 'kaas-nodelab-registry-test' });
    registry = await startRegistry({ host: '127.0.0.1', ca, dir: join(dir, 'registry') });
    const { repository } = registry;
    expect(repository).toMatch(/^127\.0\.0\.1:\d+\/nodelab$/);
    const pushed = await pushImages({
      registry,
      caPem: ca.certPem,
      images: join(nodelabCache(), 'images'),
      dir: join(dir, 'push'),
    });
    const release = (patch: string) => KUBERNETES_RELEASES.find((r) => r.patch === patch)!;
    const [now, before] = [release(defaultPatch()), release(previousPatch())];
    // kubeadm's names under a repository (CoreDNS loses its upstream `coredns/` path); the
    // managed services' re-rooted.
    expect(pushed).toEqual(
      expect.arrayContaining([
        `${repository}/kube-apiserver:v${now.patch}`,
        `${repository}/kube-proxy:v${before.patch}`,
        `${repository}/etcd:${now.images.etcd}`,
        `${repository}/etcd:${before.images.etcd}`,
        `${repository}/coredns:${now.images.coredns}`,
        `${repository}/coredns:${before.images.coredns}`,
        `${repository}/pause:${now.images.pause}`,
        fromRepository(DEFAULT_IMAGES.flannel, repository),
        fromRepository(DEFAULT_IMAGES.flannelCniPlugin, repository),
        fromRepository('docker.io/library/busybox:stable', repository),
      ]),
    );
    expect(new Set(pushed).size).toBe(pushed.length);

    const certDir = join(dir, 'client-certs');
    await mkdir(certDir);
    await writeFile(join(certDir, 'ca.crt'), ca.certPem);
    const inspect = (...flags: string[]) =>
      run('skopeo', ['inspect', ...flags, `docker://${repository}/kube-apiserver:v${now.patch}`]);
    const { stdout } = await inspect('--cert-dir', certDir);
    expect(JSON.parse(stdout)).toMatchObject({ Architecture: 'amd64', Os: 'linux' });
    await expect(inspect()).rejects.toThrow(/certificate signed by unknown authority/);

    await registry.stop();
    registry = undefined;
    await expect(inspect('--cert-dir', certDir)).rejects.toThrow(/connection refused/);
  }, 120_000);

  it('refuses a cache lacking an image kubeadm deploys, and a registry that cannot listen', async () => {
    dir ||= await mkdtemp(join(tmpdir(), 'kaas-nodelab-registry-'));
    const ca = await createCa({ commonName: 'kaas-nodelab-registry-test' });
    // An address no interface of this machine holds (TEST-NET-1).
    await expect(startRegistry({ host: '192.0.2.1', ca, dir: join(dir, 'unbound') })).rejects.toThrow(
      /docker-registry exited before it served 192\.0\.2\.1:\d+/,
    );

    registry = await startRegistry({ host: '127.0.0.1', ca, dir: join(dir, 'partial') });
    const images = join(dir, 'images');
    const version = defaultPatch();
    await mkdir(join(images, version), { recursive: true });
    await symlink(join(nodelabCache(), 'images', version, 'pause.tar'), join(images, version, 'pause.tar'));
    await expect(
      pushImages({ registry, caPem: ca.certPem, images, dir: join(dir, 'partial-push') }),
    ).rejects.toThrow(
      `kubeadm ${version} deploys ${registry.repository}/kube-apiserver:v${version}, ${registry.repository}/kube-controller-manager:v${version}`,
    );
  }, 60_000);
});
