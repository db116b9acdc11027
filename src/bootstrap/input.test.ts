import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.ts';
import { bootstrapInput, WEBHOOK_KUBECONFIG } from '../../test/bootstrap/fixtures.ts';
import { KUBERNETES_RELEASES } from '../versions/index.ts';
import { kubernetesRelease, validateBootstrapInput, type BootstrapInput } from './input.ts';

type Change = (i: BootstrapInput) => Partial<BootstrapInput> & Record<string, unknown>;

describe('validateBootstrapInput', () => {
  it('accepts the fixtures for every role', () => {
    for (const role of ['init', 'join-control-plane', 'worker'] as const) {
      expect(() => validateBootstrapInput(bootstrapInput(role))).not.toThrow();
    }
  });

  const kc = (text: string) => (i: BootstrapInput) => ({ webhook: { ...i.webhook!, kubeconfig: text } });
  const cases: [string, Change, string, RegExp][] = [
    ['unknown role', () => ({ role: 'boss' as never }), 'role', /must be init, join-control-plane or worker/],
    ['bad node name', () => ({ nodeName: 'Node_1' }), 'nodeName', /must be a DNS label, got "Node_1"/],
    [
      'endpoint without port',
      () => ({ controlPlaneEndpoint: '10.0.0.1' }),
      'controlPlaneEndpoint',
      /host:port/,
    ],
    [
      'endpoint port out of range',
      () => ({ controlPlaneEndpoint: 'api:70000' }),
      'controlPlaneEndpoint',
      /host:port/,
    ],
    [
      'bad SAN',
      () => ({ certSANs: ['bad name'] }),
      'certSANs',
      /DNS names or IPv4 addresses, got "bad name"/,
    ],
    [
      'quote in URL',
      (i) => ({ release: { ...i.release, url: "https://x/'y" } }),
      'release.url',
      /without spaces or quotes/,
    ],
    ['ftp URL', (i) => ({ release: { ...i.release, url: 'ftp://x/y' } }), 'release.url', /http\(s\) URL/],
    [
      'bad sha256',
      (i) => ({ release: { ...i.release, sha256: 'abc' } }),
      'release.sha256',
      /64 lowercase hex/,
    ],
    [
      'bad token',
      (i) => ({ join: { ...i.join, token: 'abc.def' } }),
      'join.token',
      /kubeadm bootstrap token/,
    ],
    [
      'bad CA hash',
      (i) => ({ join: { ...i.join, caCertHash: 'md5:00' } }),
      'join.caCertHash',
      /sha256:<64 hex/,
    ],
    [
      'master without certificate key',
      (i) => ({ join: { token: i.join.token, caCertHash: i.join.caCertHash } }),
      'join.certificateKey',
      /^join\.certificateKey must be 64 lowercase hex characters for a control-plane node$/,
    ],
    [
      'master without webhook',
      () => ({ webhook: undefined }),
      'webhook',
      /required for a control-plane node/,
    ],
    ['webhook not YAML', kc('a: [b'), 'webhook.kubeconfig', /is not valid YAML/],
    ['webhook without clusters', kc('kind: Config\n'), 'webhook.kubeconfig', /clusters\[0\]\.cluster/],
    [
      'webhook over http',
      kc(WEBHOOK_KUBECONFIG.replace('https://', 'http://')),
      'webhook.kubeconfig',
      /https:\/\/ TokenReview URL/,
    ],
    [
      'webhook without CA',
      kc(WEBHOOK_KUBECONFIG.replace(/ +certificate-authority-data:.*\n/, '')),
      'webhook.kubeconfig',
      /certificate-authority-data/,
    ],
    [
      'webhook skipping TLS verification',
      kc(
        WEBHOOK_KUBECONFIG.replace(
          'certificate-authority-data',
          'insecure-skip-tls-verify: true\n      certificate-authority-data',
        ),
      ),
      'webhook.kubeconfig',
      /must not use insecure-skip-tls-verify/,
    ],
    [
      'bad cache TTL',
      (i) => ({ webhook: { ...i.webhook!, cacheTtl: '30 seconds' } }),
      'webhook.cacheTtl',
      /duration such as 30s/,
    ],
    ['bad ssh key', () => ({ sshAuthorizedKeys: ['hello'] }), 'sshAuthorizedKeys', /one OpenSSH public key/],
  ];

  it.each(cases)('rejects %s', (_label, change, field, message) => {
    const input = bootstrapInput('init');
    try {
      validateBootstrapInput({ ...input, ...change(input) } as BootstrapInput);
      throw new Error('expected a throw');
    } catch (error) {
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).field).toBe(field);
      expect((error as InputError).message).toMatch(message);
    }
  });

  it('accepts plain http to a kaas on the same machine (kaas dev), without a CA', () => {
    const input = bootstrapInput('init');
    const local = WEBHOOK_KUBECONFIG.replace(/https:\/\/[^/\s]+/, 'http://127.0.0.1:8080').replace(
      / +certificate-authority-data:.*\n/,
      '',
    );
    expect(() => validateBootstrapInput({ ...input, ...kc(local)(input) })).not.toThrow();
  });

  it('does not need master material on workers', () => {
    const input = bootstrapInput('worker');
    expect(input.webhook).toBeUndefined();
    expect(input.join.certificateKey).toBeUndefined();
    expect(() => validateBootstrapInput(input)).not.toThrow();
  });
});

describe('version catalogue', () => {
  it('renders every supported minor, and refuses one the catalogue does not offer', () => {
    for (const release of KUBERNETES_RELEASES) {
      expect(kubernetesRelease({ kubernetesVersion: release.patch })).toBe(release);
    }
    const input = bootstrapInput('worker');
    const stale = { ...input, spec: { ...input.spec, kubernetesVersion: '1.20.4' } };
    expect(() => validateBootstrapInput(stale)).toThrow(
      expect.objectContaining({ code: 'version_unsupported', field: 'spec.kubernetesVersion' }),
    );
  });
});
