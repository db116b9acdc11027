import { stringify } from 'yaml';
import { InputError } from '../errors.ts';

/**
 * The kubeconfig kube-apiserver reads via `--authentication-token-webhook-config-file`: the
 * per-cluster TokenReview URL and the CA that signed kaas' certificate. Never
 * insecure-skip-tls-verify. Pure: same input, same object.
 */
export function webhookKubeconfig(input: { kaasUrl: string; clusterId: string; caPem: string }) {
  const base = new URL(input.kaasUrl);
  if (base.protocol !== 'https:') throw new InputError('the kaas URL must use https', { field: 'kaasUrl' });
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(input.clusterId))
    throw new InputError('invalid cluster id', { field: 'clusterId' });
  const server = `${base.origin}${base.pathname.replace(/\/+$/, '')}/tokenreview/${input.clusterId}`;
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'kaas',
        cluster: { server, 'certificate-authority-data': Buffer.from(input.caPem).toString('base64') },
      },
    ],
    users: [{ name: 'kube-apiserver', user: {} }],
    contexts: [{ name: 'webhook', context: { cluster: 'kaas', user: 'kube-apiserver' } }],
    'current-context': 'webhook',
  };
}

/** The same kubeconfig as YAML text, ready to write next to kube-apiserver. */
export function webhookKubeconfigYaml(input: { kaasUrl: string; clusterId: string; caPem: string }): string {
  return stringify(webhookKubeconfig(input));
}

/**
 * Binds `cluster-admin` to the Groups named by the admin role IDs: TokenReview puts the IDs of the
 * user's Keystone roles into `groups`, so holding that role on the project makes one cluster-admin.
 */
export function clusterAdminBinding(input: { adminRoleIds: string[] }) {
  if (input.adminRoleIds.length === 0)
    throw new InputError('at least one admin role id is required', { field: 'adminRoleIds' });
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'kaas-keystone-cluster-admin', labels: { 'app.kubernetes.io/managed-by': 'kaas' } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [...new Set(input.adminRoleIds)]
      .sort()
      .map((id) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: id })),
  };
}
