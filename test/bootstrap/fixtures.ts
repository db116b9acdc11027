/** Fixed bootstrap inputs shared by the bootstrap unit, snapshot and validator tests. */
import { validateSpec } from '../../src/cluster/validate.ts';
import type { BootstrapInput, NodeRole } from '../../src/bootstrap/input.ts';
import type { OsFamily } from '../../src/cluster/spec.ts';
import { DEFAULT_RELEASE } from '../../src/versions/index.ts';
import { CLUSTER_DEFAULTS } from '../../src/cluster/defaults.ts';

export const WEBHOOK_KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
  - name: kaas
    cluster:
      server: https://kaas.example.com/api/v1/tokenreview
      certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
users:
  - name: kube-apiserver
    user: {}
contexts:
  - name: webhook
    context:
      cluster: kaas
      user: kube-apiserver
current-context: webhook
`;

const IMAGES: Record<OsFamily, string> = {
  debian: 'debian-12-genericcloud-amd64',
  ubuntu: 'ubuntu-24.04-server-cloudimg-amd64',
  flatcar: 'flatcar-stable-amd64',
};

/** A bootstrap input for `role` on `os` running `version` (default: the catalogue's); deterministic. */
export function bootstrapInput(
  role: NodeRole,
  os: OsFamily = 'debian',
  version: string = DEFAULT_RELEASE.patch,
): BootstrapInput {
  const spec = validateSpec({
    name: 'prod',
    kubernetesVersion: version,
    masters: 3,
    masterFlavor: 'm1.large',
    image: IMAGES[os],
    nodeGroups: [
      {
        name: 'default',
        count: 2,
        flavor: 'm1.large',
        labels: { tier: 'web', 'node.kubernetes.io/pool': 'a' },
      },
    ],
    network: { ...CLUSTER_DEFAULTS.network },
    externalNetwork: 'public',
    dnsDomain: 'apps.example.com',
    adminRoleId: '9fe2ff9ee4384b1894a90878d3e92bab',
  });
  const master = role !== 'worker';
  return {
    spec,
    role,
    nodeName:
      role === 'worker'
        ? 'kaas-prod-default-0'
        : role === 'init'
          ? 'kaas-prod-master-0'
          : 'kaas-prod-master-1',
    ...(master ? {} : { labels: spec.nodeGroups[0]!.labels }),
    controlPlaneEndpoint: '10.240.0.5:6443',
    ...(master ? { certSANs: ['203.0.113.10', 'api.prod.example.com'] } : {}),
    release: {
      url: `https://swift.example.com/v1/AUTH_abc/kaas-prod-artifacts/kubernetes/v${version}/kubernetes-server-linux-amd64.tar.gz?temp_url_sig=sha256:00ff&temp_url_expires=1767225600`,
      sha256: 'a'.repeat(64),
    },
    join: {
      token: 'abcdef.0123456789abcdef',
      caCertHash: `sha256:${'b'.repeat(64)}`,
      ...(master ? { certificateKey: 'c'.repeat(64) } : {}),
    },
    ...(master ? { webhook: { kubeconfig: WEBHOOK_KUBECONFIG } } : {}),
    enrollment: {
      url: 'https://kaas.example.com/enroll/c0ffee',
      credential: 'e'.repeat(43),
    },
    sshAuthorizedKeys: [
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBqkYq0lT0r8o2QhJ2x1Yv6c4cQfYzrZ2l3m4n5o6p7q ops@example',
    ],
  };
}
