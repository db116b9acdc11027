/** Row type of migration 0006_cluster_secrets; listed in schema.ts's Database. */

/** A cluster's secret material, sealed (see src/provisioner/secretbox.ts); never plain text. */
export interface ClusterSecretsTable {
  cluster_id: string;
  /** `v1.<iv>.<tag>.<ciphertext>`, AES-256-GCM with the cluster id as associated data. */
  sealed: string;
  created_at: string;
}
