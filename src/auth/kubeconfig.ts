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
