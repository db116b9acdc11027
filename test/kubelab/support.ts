/**
 * What a kubelab test needs from kaas itself: a cluster's real material (CA, join secrets, webhook
 * kubeconfig from generateClusterMaterial) and master-0's bootstrap input built by the
 * provisioner's own bootstrapInputFor, so the lab's control plane is configured as a real master-0.
 */
import type { BootstrapInput } from '../../src/bootstrap/input.ts';
import { validateSpec } from '../../src/cluster/validate.ts';
import { bootstrapInputFor } from '../../src/provisioner/bootstrap.ts';
import {
  generateClusterMaterial,
  joinMaterialOf,
  type ClusterMaterial,
} from '../../src/provisioner/material.ts';
import { testSpec } from '../provisioner/support.ts';
import { defaultPatch } from '../../src/dev/kube/binaries.ts';

/** The Keystone role id whose holders are cluster-admin in lab clusters (tests may override). */
export const LAB_ADMIN_ROLE_ID = '9fe2ff9ee4384b1894a90878d3e92bab';

/** A cluster's material and master-0's bootstrap input, for a kaas at `kaasUrl` (https). */
export async function labCluster(input: {
  kaasUrl: string;
  kaasCaPem: string;
  clusterId?: string;
  adminRoleId?: string;
  version?: string;
}): Promise<{ clusterId: string; material: ClusterMaterial; master0: BootstrapInput }> {
  const clusterId = input.clusterId ?? 'lab';
  const spec = validateSpec(
    testSpec(clusterId, 1, {
      kubernetesVersion: input.version ?? defaultPatch(),
      adminRoleId: input.adminRoleId ?? LAB_ADMIN_ROLE_ID,
    }),
  );
  const material = await generateClusterMaterial({
    clusterId,
    clusterName: spec.name,
    webhook: { kaasUrl: input.kaasUrl, caPem: input.kaasCaPem },
  });
  const master0 = bootstrapInputFor(
    {
      spec,
      clusterId,
      role: 'init',
      nodeName: `kaas-${spec.name}-master-0`,
      labels: {},
      controlPlaneEndpoint: '10.240.0.5:6443',
      release: { url: 'https://swift.invalid/v1/AUTH_lab/release.tar.gz', sha256: '0'.repeat(64) },
      certSANs: ['127.0.0.1'],
    },
    joinMaterialOf(material),
  );
  return { clusterId, material, master0 };
}
