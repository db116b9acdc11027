/** Row type of node enrollments (migration 0013_enrollment); listed in schema.ts's Database. */
export interface EnrollmentsTable {
  /** SHA-256 (hex) of the node's credential. */
  secret_hash: string;
  cluster_id: string;
  /** The node (server) name the enrollment was rendered for. */
  node: string;
  /** The enrollment answer, sealed with a key derived from the credential. */
  files: string;
  created_at: string;
  expires_at: string;
}
