import type { Db } from './db.ts';
import { panelDb, type ClusterEndpointsTable } from './panelSchema.ts';

/** What the panel knows about how to reach a cluster; every field may still be unknown (null). */
export interface ClusterEndpoint {
  clusterId: string;
  apiUrl: string | null;
  caCertPem: string | null;
  ingressDomain: string | null;
  kubernetesVersion: string | null;
  nodeCount: number | null;
  provisioningState: string | null;
  updatedAt: string;
}

function endpointFromRow(row: ClusterEndpointsTable): ClusterEndpoint {
  return {
    clusterId: row.cluster_id,
    apiUrl: row.api_url,
    caCertPem: row.ca_cert_pem,
    ingressDomain: row.ingress_domain,
    kubernetesVersion: row.kubernetes_version,
    nodeCount: row.node_count === null ? null : Number(row.node_count),
    provisioningState: row.provisioning_state,
    updatedAt: row.updated_at,
  };
}

/** The cluster's endpoint record, or undefined when the provisioner never reported one. */
export async function findClusterEndpoint({
  db,
  clusterId,
}: {
  db: Db;
  clusterId: string;
}): Promise<ClusterEndpoint | undefined> {
  const row = await panelDb(db)
    .selectFrom('cluster_endpoints')
    .selectAll()
    .where('cluster_id', '=', clusterId)
    .executeTakeFirst();
  return row ? endpointFromRow(row) : undefined;
}
