/**
 * The kubeadm-certs Secret kaas renders (src/provisioner/kubeadmcerts.ts) read back by the real
 * kubeadm: on kubelab, `kubeadm join phase control-plane-prepare download-certs` with the cluster's
 * join token, CA pin and certificate key writes the shared control-plane certificates and keys of
 * kaas's material, as a master joining later would. A wrong certificate key cannot decrypt them.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { kubeadmCertsObjects, sealForKubeadm } from '../../src/provisioner/kubeadmcerts.ts';
import { kubeBinary } from '../../src/dev/kube/binaries.ts';
import { provisionOnKubelab, type ClusterLab } from './clusterlab.ts';
import { cloudsimSuite } from './support.ts';

const suite = cloudsimSuite();
let c: ClusterLab;
let dir: string;

beforeAll(async () => {
  c = await provisionOnKubelab(suite, { name: 'kc', workers: 0 });
  dir = await mkdtemp(join(tmpdir(), 'kaas-certs-'));
  // A joining master writes the certificates to the cluster's certificatesDir: here a fresh one.
  // kaas's clusters run stacked etcd (the lab swapped in an external one), so the joining master
  // expects the etcd CA in the Secret too.
  const path = '/api/v1/namespaces/kube-system/configmaps/kubeadm-config';
  const cm = (await c.lab.request('GET', path)).body as { data: Record<string, string> };
  const cluster = parse(cm.data['ClusterConfiguration'] ?? '') as Record<string, unknown>;
  cm.data['ClusterConfiguration'] = stringify({
    ...cluster,
    certificatesDir: dir,
    etcd: { local: { dataDir: '/var/lib/etcd' } },
  });
  expect((await c.lab.request('PUT', path, cm)).status).toBe(200);
}, 180_000);

afterAll(async () => {
  await c?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function downloadCerts(certificateKey: string) {
  const m = c.master0;
  return promisify(execFile)(
    kubeBinary('kubeadm'),
    [
      'join',
      'phase',
      'control-plane-prepare',
      'download-certs',
      new URL(c.lab.url).host,
      '--control-plane',
      '--token',
      m.join.token,
      '--discovery-token-ca-cert-hash',
      m.join.caCertHash,
      '--certificate-key',
      certificateKey,
    ],
    { timeout: 60_000 },
  );
}

describe('kubeadm-certs rendered by kaas', () => {
  it('is what kubeadm join downloads: the cluster material, decrypted with the certificate key', async () => {
    const m = c.master0;
    for (const object of kubeadmCertsObjects({
      ca: m.clusterCa!,
      etcdCa: m.etcdCa!,
      frontProxyCa: m.frontProxyCa!,
      serviceAccountKey: m.serviceAccountKey!,
      certificateKey: m.join.certificateKey!,
    })) {
      await c.lab.kubectl(['apply', '-f', '-'], { input: JSON.stringify(object) });
    }
    await downloadCerts(m.join.certificateKey!);
    const read = (name: string) => readFile(join(dir, name), 'utf8');
    expect(await read('ca.crt')).toBe(m.clusterCa!.certPem);
    expect(await read('ca.key')).toBe(m.clusterCa!.keyPem);
    expect(await read('front-proxy-ca.crt')).toBe(m.frontProxyCa!.certPem);
    expect(await read('front-proxy-ca.key')).toBe(m.frontProxyCa!.keyPem);
    expect(await read('sa.pub')).toBe(m.serviceAccountKey!.publicKeyPem);
    expect(await read('sa.key')).toBe(m.serviceAccountKey!.keyPem);
    expect(await read('etcd/ca.crt')).toBe(m.etcdCa!.certPem);
    expect(await read('etcd/ca.key')).toBe(m.etcdCa!.keyPem);
  }, 90_000);

  it('cannot be decrypted with another certificate key', async () => {
    await expect(downloadCerts('00'.repeat(32))).rejects.toMatchObject({
      stderr: expect.stringMatching(/decrypt|authentication failed/i),
    });
  }, 90_000);

  it('is refused for a cluster whose material predates the shared secrets, or with a malformed key', () => {
    expect(() => sealForKubeadm('x', 'zz')).toThrow(
      expect.objectContaining({ code: 'invalid_certificate_key' }),
    );
    const m = c.master0;
    expect(() => kubeadmCertsObjects({ ca: m.clusterCa!, certificateKey: m.join.certificateKey! })).toThrow(
      expect.objectContaining({ code: 'control_plane_certs_missing' }),
    );
  });
});
