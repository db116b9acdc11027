import type { AddonContext } from '../../src/addons/index.ts';

/** The cluster whose manifests the addon snapshots pin. */
export function defaultContext(overrides: Partial<AddonContext> = {}): AddonContext {
  return {
    clusterName: 'demo',
    clusterId: '6f1c2a9e-0d4b-4a53-9a51-3c1f0e7b2d11',
    dnsDomain: 'kaas.example.org',
    kubernetesVersion: '1.31.4',
    adminRoleId: '9fe2ff9ee4384b1894a90878d3e92bab',
    roleBindings: [
      { keystoneRoleId: '4c2b9b2c6a9e4b4f8f0c1d2e3f405162', clusterRole: 'view' },
      { keystoneRoleId: '7d8e9fa0b1c24d3e8f5a6b7c8d9e0f12', clusterRole: 'edit', namespace: 'team-a' },
      { keystoneRoleId: '7d8e9fa0b1c24d3e8f5a6b7c8d9e0f12', role: 'deployer', namespace: 'team-a' },
    ],
    swift: {
      authUrl: 'https://keystone.example.org:5000/v3',
      region: 'RegionOne',
      containerPrefix: 'kaas-demo',
      credentialSecretName: 'kaas-swift-credentials',
    },
    storageClass: {},
    ...overrides,
  };
}
