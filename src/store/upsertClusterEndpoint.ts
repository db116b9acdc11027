import type { Db } from './db.ts';
import type { ClusterEndpoint } from './findClusterEndpoint.ts';
import { panelDb } from './panelSchema.ts';

/** Writes the cluster's endpoint record whole (insert or overwrite); the provisioner's report. */
export async function upsertClusterEndpoint({
  db,
  endpoint,
}: {
  db: Db;
  endpoint: ClusterEndpoint;
}): Promise<void> {
  const values = {
    api_url: endpoint.apiUrl,
    ca_cert_pem: endpoint.caCertPem,
    ingress_domain: endpoint.ingressDomain,
    kubernetes_version: endpoint.kubernetesVersion,
    node_count: endpoint.nodeCount,
    provisioning_state: endpoint.provisioningState,
    updated_at: endpoint.updatedAt,
  };
  await panelDb(db)
    .insertInto('cluster_endpoints')
    .values({ cluster_id: endpoint.clusterId, ...values })
    .onConflict((oc) => oc.column('cluster_id').doUpdateSet(values))
    .execute();
}
