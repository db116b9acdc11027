import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.ts';
import { defaultContext } from '../../test/addons/default-context.ts';
import { resolveContext, type AddonContext } from './context.ts';
import { DEFAULT_IMAGES, fromRepository } from './images.ts';

function fails(overrides: Partial<AddonContext>, field: string): void {
  let caught: unknown;
  try {
    resolveContext(defaultContext(overrides));
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(InputError);
  expect((caught as InputError).field).toBe(field);
}

describe('resolveContext', () => {
  it('fills defaults', () => {
    const r = resolveContext(defaultContext());
    expect(r.network).toEqual({ overlayInterface: 'eth2', podCidr: '10.244.0.0/16' });
    expect(r.replicas.ingress).toBe(2);
    expect(r.images).toEqual(DEFAULT_IMAGES);
  });

  it('accepts overrides', () => {
    const r = resolveContext(
      defaultContext({
        replicas: { grafana: 3 },
        images: { grafana: 'docker.io/grafana/grafana:11.4.0' },
        network: { overlayInterface: 'ens4', podCidr: '10.100.0.0/16' },
      }),
    );
    expect(r.replicas.grafana).toBe(3);
    expect(r.images.grafana).toBe('docker.io/grafana/grafana:11.4.0');
    expect(r.network.overlayInterface).toBe('ens4');
  });

  it('takes every default image from the image repository, a per-key override as given', () => {
    expect(fromRepository('docker.io/grafana/grafana:11.3.1', 'registry.example:5000/mirror')).toBe(
      'registry.example:5000/mirror/grafana/grafana:11.3.1',
    );
    expect(fromRepository('registry.k8s.io/etcd:3.5.15-0', 'localhost:5000')).toBe(
      'localhost:5000/etcd:3.5.15-0',
    );
    const r = resolveContext(
      defaultContext({
        imageRepository: 'registry.example:5000/mirror',
        images: { grafana: 'docker.io/grafana/grafana:11.4.0' },
      }),
    );
    expect(r.images.grafana).toBe('docker.io/grafana/grafana:11.4.0');
    const { grafana: _grafana, ...rest } = r.images;
    for (const [key, image] of Object.entries(rest)) {
      const upstream = DEFAULT_IMAGES[key as keyof typeof DEFAULT_IMAGES];
      expect(image).toBe(`registry.example:5000/mirror/${upstream.slice(upstream.indexOf('/') + 1)}`);
    }
    expect(r.images.flannel).toBe('registry.example:5000/mirror/flannel-io/flannel:v0.26.4');
    fails({ imageRepository: 'https://registry.example/mirror' }, 'imageRepository');
  });

  it('rejects bad names and domains', () => {
    fails({ clusterName: 'Demo_1' }, 'clusterName');
    fails({ dnsDomain: 'Example..org' }, 'dnsDomain');
    fails({ adminRoleId: ' ' }, 'adminRoleId');
  });

  it('rejects bad swift settings', () => {
    const swift = defaultContext().swift;
    fails({ swift: { ...swift, credentialSecretName: 'Bad_Name' } }, 'swift.credentialSecretName');
    fails({ swift: { ...swift, containerPrefix: 'x'.repeat(60) } }, 'swift.containerPrefix');
  });

  it('rejects bad replicas', () => {
    fails({ replicas: { ingress: 0 } }, 'replicas.ingress');
    fails({ replicas: { grafana: 1.5 } }, 'replicas.grafana');
    fails({ replicas: { nope: 1 } as never }, 'replicas.nope');
  });

  it('rejects unpinned or unknown images', () => {
    fails({ images: { grafana: 'docker.io/grafana/grafana:latest' } }, 'images.grafana');
    fails({ images: { grafana: 'grafana' } }, 'images.grafana');
    fails({ images: { nope: 'docker.io/x/y:1' } as never }, 'images.nope');
  });

  it('rejects bad network settings', () => {
    fails({ network: { overlayInterface: 'eth2; rm -rf /' } }, 'network.overlayInterface');
    fails({ network: { podCidr: '10.300.0.0/16' } }, 'network.podCidr');
    fails({ network: { podCidr: '10.0.0.0' } }, 'network.podCidr');
  });

  it('rejects malformed role bindings', () => {
    fails({ roleBindings: [{ keystoneRoleId: '', clusterRole: 'view' }] }, 'roleBindings[0].keystoneRoleId');
    fails({ roleBindings: [{ keystoneRoleId: 'r' }] }, 'roleBindings[0]');
    fails(
      { roleBindings: [{ keystoneRoleId: 'r', clusterRole: 'view', role: 'x', namespace: 'a' }] },
      'roleBindings[0]',
    );
    fails({ roleBindings: [{ keystoneRoleId: 'r', role: 'x' }] }, 'roleBindings[0].namespace');
    fails(
      { roleBindings: [{ keystoneRoleId: 'r', role: 'x', namespace: 'Bad' }] },
      'roleBindings[0].namespace',
    );
  });

  it('refuses tenant bindings into protected namespaces', () => {
    for (const namespace of ['kube-system', 'kaas-system']) {
      expect(() =>
        resolveContext(
          defaultContext({ roleBindings: [{ keystoneRoleId: 'r', clusterRole: 'admin', namespace }] }),
        ),
      ).toThrow(expect.objectContaining({ code: 'protected_namespace', field: 'roleBindings[0].namespace' }));
    }
  });
});
