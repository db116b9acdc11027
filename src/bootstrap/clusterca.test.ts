import { describe, expect, it } from 'vitest';
import { bootstrapInput } from '../../test/bootstrap/fixtures.ts';
import { InputError } from '../errors.ts';
import { validateBootstrapInput } from './input.ts';
import { nodeContent } from './node.ts';

const ca = {
  certPem: '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n',
  keyPem: '-----BEGIN PRIVATE KEY-----\nMIGHfake\n-----END PRIVATE KEY-----\n',
};

describe('cluster CA on the first master', () => {
  it.each([
    ['cluster', 'ca', { clusterCa: ca }],
    ['etcd', 'etcd/ca', { clusterCa: ca, etcdCa: ca }],
  ] as const)(
    'writes the %s CA (0644) and its key (0600, enrolled) where kubeadm init looks for one',
    (_, base, cas) => {
      const files = nodeContent({ ...bootstrapInput('init'), ...cas }).files;
      expect(files.find((f) => f.path === `/etc/kubernetes/pki/${base}.crt`)).toEqual({
        path: `/etc/kubernetes/pki/${base}.crt`,
        content: ca.certPem,
        mode: 0o644,
      });
      expect(files.find((f) => f.path === `/etc/kubernetes/pki/${base}.key`)).toMatchObject({
        mode: 0o600,
        secret: true,
      });
    },
  );

  it('writes the front-proxy CA and the service-account key pair where kubeadm init keeps existing ones', () => {
    const sa = {
      publicKeyPem: '-----BEGIN PUBLIC KEY-----\nMFkfake\n-----END PUBLIC KEY-----\n',
      keyPem: ca.keyPem,
    };
    const files = nodeContent({ ...bootstrapInput('init'), frontProxyCa: ca, serviceAccountKey: sa }).files;
    const mode = (path: string) => files.find((f) => f.path === path)?.mode;
    expect(mode('/etc/kubernetes/pki/front-proxy-ca.crt')).toBe(0o644);
    expect(mode('/etc/kubernetes/pki/front-proxy-ca.key')).toBe(0o600);
    expect(files.find((f) => f.path === '/etc/kubernetes/pki/sa.pub')).toEqual({
      path: '/etc/kubernetes/pki/sa.pub',
      content: sa.publicKeyPem,
      mode: 0o644,
    });
    expect(mode('/etc/kubernetes/pki/sa.key')).toBe(0o600);
  });

  it('writes no CA file without one (kubeadm generates its own)', () => {
    expect(
      nodeContent(bootstrapInput('init')).files.some((f) => f.path.startsWith('/etc/kubernetes/pki/')),
    ).toBe(false);
  });

  it.each([
    ['a joining master', { ...bootstrapInput('join-control-plane'), clusterCa: ca }, 'clusterCa'],
    [
      'a bad certificate',
      { ...bootstrapInput('init'), clusterCa: { ...ca, certPem: 'nope' } },
      'clusterCa.certPem',
    ],
    ['a bad key', { ...bootstrapInput('init'), clusterCa: { ...ca, keyPem: 'nope' } }, 'clusterCa.keyPem'],
    ['an etcd CA on a joining master', { ...bootstrapInput('join-control-plane'), etcdCa: ca }, 'etcdCa'],
    ['an etcd CA on a worker', { ...bootstrapInput('worker'), etcdCa: ca }, 'etcdCa'],
    ['a front-proxy CA on a worker', { ...bootstrapInput('worker'), frontProxyCa: ca }, 'frontProxyCa'],
    [
      'a service-account key on a joining master',
      {
        ...bootstrapInput('join-control-plane'),
        serviceAccountKey: { publicKeyPem: 'x', keyPem: ca.keyPem },
      },
      'serviceAccountKey',
    ],
    [
      'a bad service-account public key',
      { ...bootstrapInput('init'), serviceAccountKey: { publicKeyPem: 'nope', keyPem: ca.keyPem } },
      'serviceAccountKey.publicKeyPem',
    ],
    ['a bad etcd key', { ...bootstrapInput('init'), etcdCa: { ...ca, keyPem: 'nope' } }, 'etcdCa.keyPem'],
  ])('refuses %s, naming the field without echoing the secret', (_name, input, field) => {
    try {
      validateBootstrapInput(input);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).field).toBe(field);
      expect((error as Error).message).not.toContain('MIGH');
    }
  });
});
