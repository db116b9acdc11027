/** Row type of migration 0006_cluster_secrets; listed in schema.ts's Database. */

/** A cluster's secret material, sealed (see src/provisioner/secretbox.ts); never plain text. */
export interface ClusterSecretsTable {
  cluster_id: string;
  /**
   * `v2.<key id>.<iv>.<tag>.<ciphertext>` (or `v1.<iv>.<tag>.<ciphertext>`, sealed before key ids),
   * AES-256-GCM with a 16-byte tag and the cluster id as associated data.
   */
  sealed: string;
  created_at: string;
}
