import { stringify } from 'yaml';
import { InputError } from '../errors.ts';
import { plainHttpAllowed } from './loopback.ts';

/**
 * The kubeconfig kube-apiserver reads via `--authentication-token-webhook-config-file`: the
 * per-cluster TokenReview URL and the CA that signed kaas' certificate. Never
 * insecure-skip-tls-verify; plain http only to a kaas on the same machine (`kaas dev`), without a
 * CA. Pure: same input, same object.
 */
export function webhookKubeconfig(input: { kaasUrl: string; clusterId: string; caPem?: string | undefined }) {
  const base = new URL(input.kaasUrl);
  if (base.protocol !== 'https:' && !plainHttpAllowed(base))
    throw new InputError('the kaas URL must use https (http only on 127.0.0.1 or localhost)', {
      field: 'kaasUrl',
    });
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(input.clusterId))
    throw new InputError('invalid cluster id', { field: 'clusterId' });
  if (base.protocol === 'https:' && !input.caPem)
    throw new InputError('an https kaas URL needs the CA of its certificate', { field: 'caPem' });
  const server = `${base.origin}${base.pathname.replace(/\/+$/, '')}/tokenreview/${input.clusterId}`;
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'kaas',
        cluster: {
          server,
          ...(base.protocol === 'https:'
            ? { 'certificate-authority-data': Buffer.from(input.caPem ?? '').toString('base64') }
            : {}),
        },
      },
    ],
    users: [{ name: 'kube-apiserver', user: {} }],
    contexts: [{ name: 'webhook', context: { cluster: 'kaas', user: 'kube-apiserver' } }],
    'current-context': 'webhook',
  };
}

/** The same kubeconfig as YAML text, ready to write next to kube-apiserver. */
export function webhookKubeconfigYaml(input: {
  kaasUrl: string;
  clusterId: string;
  caPem?: string | undefined;
}): string {
  return stringify(webhookKubeconfig(input));
}
