/**
 * A cluster recorded as a create job leaves it — `ready`, its material sealed with the provisioner's
 * key, its endpoint — whose API is a kubelab: what the reconciler's suites and benchmark start from.
 */
import { WILDCARD_TLS_SECRET } from '../../src/addons/objects.ts';
import { createCa } from '../../src/auth/pki.ts';
import type { ClusterSpec } from '../../src/cluster/spec.ts';
import { validateSpec } from '../../src/cluster/validate.ts';
import type { ClusterMaterial } from '../../src/provisioner/material.ts';
import { parseOptions } from '../../src/provisioner/options.ts';
import { seal } from '../../src/provisioner/secretbox.ts';
import type { Db } from '../../src/store/db.ts';
import { insertClusterSecret } from '../../src/store/insertClusterSecret.ts';
import { insertProvisionedCluster } from '../../src/store/insertProvisionedCluster.ts';
import { upsertClusterEndpoint } from '../../src/store/upsertClusterEndpoint.ts';
import { testSpec } from '../provisioner/support.ts';
import { defaultPatch } from '../../src/dev/kube/binaries.ts';
import type { Kubelab } from '../../src/dev/kube/kubelab.ts';
import { LAB_ADMIN_ROLE_ID } from './support.ts';

/** The spec of lab cluster `clusterId` (one worker, the lab's version and admin role). */
export function labSpec(clusterId: string): ClusterSpec {
  return validateSpec(
    testSpec(clusterId, 1, { kubernetesVersion: defaultPatch(), adminRoleId: LAB_ADMIN_ROLE_ID }),
  );
}

/** Records cluster `clusterId` as ready, reached at `apiUrl` with `material` sealed by `secretKey`. */
export async function recordReadyCluster(input: {
  db: Db;
  clusterId: string;
  material: ClusterMaterial;
  secretKey: Buffer;
  apiUrl: string;
}): Promise<ClusterSpec> {
  const { db, clusterId, material } = input;
  const now = new Date().toISOString();
  const spec = labSpec(clusterId);
  await insertProvisionedCluster({
    db,
    cluster: {
      id: clusterId,
      name: spec.name,
      spec,
      options: parseOptions({ waitForApi: true }, false),
      status: 'ready',
      createdAt: now,
      updatedAt: now,
    },
  });
  await insertClusterSecret({
    db,
    clusterId,
    sealed: seal(input.secretKey, JSON.stringify(material), clusterId),
    now,
  });
  await upsertClusterEndpoint({
    db,
    endpoint: {
      clusterId,
      apiUrl: input.apiUrl,
      caCertPem: material.ca.certPem,
      ingressDomain: spec.dnsDomain,
      kubernetesVersion: spec.kubernetesVersion,
      nodeCount: 2,
      provisioningState: 'ready',
      updatedAt: now,
    },
  });
  return spec;
}

/** What an operator does before kaas runs the ingress: the wildcard certificate, in kaas-system. */
export async function createWildcardTls(lab: Kubelab): Promise<void> {
  const tls = await createCa({ commonName: '*.lab.apps.example.com' });
  await lab.kubectl(['apply', '--filename=-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: WILDCARD_TLS_SECRET, namespace: 'kaas-system' },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': tls.certPem, 'tls.key': tls.keyPem },
    }),
  });
}
