import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign, verify, X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createCa, issueClientCert } from '../auth/pki.ts';
import { validateBootstrapInput } from '../bootstrap/input.ts';
import { bootstrapInput } from '../../test/bootstrap/fixtures.ts';
import {
  adminKubeconfigYaml,
  caCertHashOf,
  generateClusterMaterial,
  joinMaterialOf,
  type ClusterMaterial,
} from './material.ts';
import { IDENTITY_DAYS, KAAS_GROUP, KAAS_USER, kaasIdentity, mastersCertificate } from './identity.ts';

describe('cluster material', () => {
  let m: ClusterMaterial;
  beforeAll(async () => {
    const kaasCa = await createCa({ commonName: 'kaas-test' });
    m = await generateClusterMaterial({
      clusterId: 'c0123',
      clusterName: 'prod',
      webhook: { kaasUrl: 'https://kaas.example.com', caPem: kaasCa.certPem },
    });
  });

  it('has kubeadm-shaped join secrets that pass the bootstrap validation', () => {
    expect(m.token).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    expect(m.certificateKey).toMatch(/^[a-f0-9]{64}$/);
    const j = joinMaterialOf(m);
    expect(() =>
      validateBootstrapInput({
        ...bootstrapInput('init'),
        join: j.join,
        webhook: j.webhook,
        clusterCa: j.clusterCa!,
        etcdCa: j.etcdCa!,
        frontProxyCa: j.frontProxyCa!,
        serviceAccountKey: j.serviceAccountKey!,
      }),
    ).not.toThrow();
    // The etcd CA is a CA of its own: a cluster-CA certificate must not pass as an etcd peer.
    expect(j.etcdCa).toBe(m.etcdCa);
    const etcdCa = new X509Certificate(m.etcdCa!.certPem);
    expect(etcdCa.ca).toBe(true);
    expect(etcdCa.subject).toContain('CN=etcd-ca-prod');
    expect(etcdCa.publicKey.equals(new X509Certificate(m.ca.certPem).publicKey)).toBe(false);
    expect(new X509Certificate(m.frontProxyCa!.certPem).subject).toContain('CN=front-proxy-ca-prod');
    // The service-account key pair matches: a token signed with the key verifies with the public key.
    const signature = sign('sha256', Buffer.from('token'), m.serviceAccountKey!.keyPem);
    expect(verify('sha256', Buffer.from('token'), m.serviceAccountKey!.publicKeyPem, signature)).toBe(true);
    expect(parse(m.webhookKubeconfig).clusters[0].cluster.server).toBe(
      'https://kaas.example.com/tokenreview/c0123',
    );
  });

  it('pins the CA the way openssl computes the kubeadm discovery hash', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kaas-pin-'));
    writeFileSync(join(dir, 'ca.crt'), m.ca.certPem);
    const der = execFileSync(
      'sh',
      ['-c', 'openssl x509 -pubkey -noout -in ca.crt | openssl pkey -pubin -outform der | sha256sum'],
      {
        cwd: dir,
      },
    )
      .toString()
      .split(' ')[0];
    expect(m.caCertHash).toBe(`sha256:${der}`);
    expect(caCertHashOf(m.ca.certPem)).toBe(m.caCertHash);
  });

  it('stores no long-lived system:masters certificate', () => {
    expect(m.admin).toBeUndefined();
    expect(JSON.stringify(m)).not.toContain('system:masters');
  });

  it("issues kaas's own certificate from the cluster CA: user kaas in kaas:cluster-admins, 30 days, renewed when 10 are left", async () => {
    const signedByCa = (pem: string) =>
      new X509Certificate(pem).verify(new X509Certificate(m.ca.certPem).publicKey);
    const first = await kaasIdentity(m.ca);
    const cert = new X509Certificate(first.certPem);
    expect(signedByCa(first.certPem)).toBe(true);
    expect(cert.subject).toBe(`O=${KAAS_GROUP}\nCN=${KAAS_USER}`);
    const lifetime = Date.parse(cert.validTo) - Date.parse(cert.validFrom);
    expect(lifetime / 86_400_000).toBeCloseTo(IDENTITY_DAYS, 0);
    expect(lifetime).toBeLessThanOrEqual(90 * 86_400_000);
    // Held in memory while fresh, reissued once less than 10 days remain.
    expect(await kaasIdentity(m.ca)).toBe(first);
    const in21Days = new Date(Date.now() + 21 * 86_400_000);
    const renewed = await kaasIdentity(m.ca, () => in21Days);
    expect(renewed.certPem).not.toBe(first.certPem);
    expect(signedByCa(renewed.certPem)).toBe(true);
  });

  it('writes the break-glass kubeconfig with a one-day system:masters certificate issued now', async () => {
    const cert = await mastersCertificate(m.ca, 'kaas-break-glass');
    const x509 = new X509Certificate(cert.certPem);
    expect(x509.verify(new X509Certificate(m.ca.certPem).publicKey)).toBe(true);
    expect(x509.subject).toBe('O=system:masters\nCN=kaas-break-glass');
    expect(Date.parse(x509.validTo) - Date.parse(x509.validFrom)).toBe(86_400_000);
    const kc = parse(
      adminKubeconfigYaml({ clusterName: 'prod', server: 'https://1.2.3.4:6443', caPem: m.ca.certPem, cert }),
    );
    expect(kc.clusters[0].cluster.server).toBe('https://1.2.3.4:6443');
    expect(Buffer.from(kc.users[0].user['client-certificate-data'], 'base64').toString()).toBe(cert.certPem);
  });

  it('reports openssl failures as UpstreamError', async () => {
    await expect(
      issueClientCert({
        ca: { certPem: 'broken', keyPem: 'broken' },
        commonName: 'x',
        organization: 'y',
        days: 1,
      }),
    ).rejects.toMatchObject({ code: 'openssl_failed' });
  });
});
