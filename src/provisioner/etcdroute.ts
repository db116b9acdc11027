/**
 * An EtcdClient (etcd.ts) that reaches each member through the cluster's own API: a port-forward
 * (pods/portforward) to port 2379 of the etcd static pod `kube-system/etcd-<node>` on that master,
 * the way Cluster API's control-plane provider reaches etcd. kaas needs no network path to 2379:
 * only the API address it already uses, with the break-glass certificate. TLS to etcd runs inside
 * the forwarded stream, end to end between kaas and the member.
 */
import { Agent } from 'undici';
import type { KeyPair } from '../auth/pki.ts';
import { InputError } from '../errors.ts';
import { createEtcdClient, type EtcdClient } from './etcd.ts';
import type { KubeAccess } from './kubeclient.ts';
import { openPortForward } from './portforward.ts';

/** etcd's client port inside the etcd pod (kubeadm's static pod listens there). */
const ETCD_CLIENT_PORT = 2379;

const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The mirror pod of kubeadm's etcd static pod on master `node`. */
export function etcdPodOf(node: string): string {
  return `etcd-${node}`;
}

export function etcdThroughApi(options: {
  /** How kaas reaches the API (break-glass certificate). */
  access: KubeAccess;
  /** The cluster's etcd CA from material.ts. */
  etcdCa: KeyPair;
  /** Node names (= etcd member names, as kubeadm names them) kaas may dial. */
  masters: readonly string[];
  /** Per request, and per stream opening; default 10 s (a port-forward adds round trips). */
  timeoutMs?: number;
}): EtcdClient {
  for (const name of options.masters) {
    // A Node name is a DNS subdomain; it also names the member's TLS server and connection pool.
    if (!NODE_NAME.test(name)) {
      throw new InputError(`"${name}" is not a Node name`, { field: 'masters' });
    }
  }
  if (options.masters.length === 0) {
    throw new InputError('etcd through the API needs at least one master to dial', { field: 'masters' });
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const { access } = options;
  const api = new Agent({ connect: { ca: access.caPem, cert: access.certPem, key: access.keyPem } });
  const client = createEtcdClient({
    etcdCa: options.etcdCa,
    timeoutMs,
    tunnel: {
      members: options.masters,
      open: (node) =>
        openPortForward({
          server: access.server,
          dispatcher: api,
          namespace: 'kube-system',
          pod: etcdPodOf(node),
          port: ETCD_CLIENT_PORT,
          timeoutMs,
        }),
    },
  });
  return {
    ...client,
    async close() {
      await client.close();
      // destroy: a stream the API never opened must not hold close() until it times out.
      await api.destroy();
    },
  };
}
