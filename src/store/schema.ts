import type { AddonStatusTable } from './addonsSchema.ts';
import type { AuditEventsTable } from './auditSchema.ts';
import type { ClusterSecretsTable } from './clusterSecretsSchema.ts';
import type { JobEventsTable, JobStepsTable, JobsTable, ProvisionedClustersTable } from './jobsSchema.ts';
import type { EnrollmentsTable } from './enrollmentSchema.ts';
import type { ClusterHealTable, NodeHealthTable } from './healSchema.ts';
import type { LoginThrottleTable } from './loginThrottleSchema.ts';
import type { ClusterReconcileTable } from './reconcileSchema.ts';

/**
 * Table types of the kaas database, one interface per table. Times are ISO-8601 UTC text
 * (same format everywhere, so they compare as strings on both engines); booleans are 0/1
 * integers; JSON documents are text.
 */
export interface Database {
  kaas_meta: KaasMetaTable;
  clusters: ClustersTable;
  api_tokens: ApiTokensTable;
  sessions: SessionsTable;
  keystone_users: KeystoneUsersTable;
  role_assignments: RoleAssignmentsTable;
  sync_state: SyncStateTable;
  provisioned_clusters: ProvisionedClustersTable;
  jobs: JobsTable;
  job_steps: JobStepsTable;
  job_events: JobEventsTable;
  cluster_secrets: ClusterSecretsTable;
  audit_events: AuditEventsTable;
  addon_status: AddonStatusTable;
  login_throttle: LoginThrottleTable;
  cluster_reconcile: ClusterReconcileTable;
  node_health: NodeHealthTable;
  cluster_heal: ClusterHealTable;
  enrollments: EnrollmentsTable;
}

/** Key/value facts about the installation itself (e.g. when it was first set up). */
export interface KaasMetaTable {
  key: string;
  value: string;
}

/** A cluster the auth service answers TokenReviews for; the provisioner adds its own columns later. */
export interface ClustersTable {
  id: string;
  name: string;
  project_id: string;
  project_name: string;
  /** JSON array of Keystone role IDs whose holders are cluster-admin. */
  admin_role_ids: string;
  created_at: string;
}

/** An API token: only the SHA-256 hash of the secret is kept. */
export interface ApiTokensTable {
  id: string;
  user_id: string;
  user_name: string;
  domain_name: string;
  name: string;
  /** Hex SHA-256 of the whole token string. */
  token_hash: string;
  created_at: string;
  expires_at: string;
  last_used_at: string | null;
  /** JSON array of the cluster ids the token is restricted to; NULL = every cluster. */
  cluster_ids: string | null;
}

/** A control-panel login session (cookie `kaas_session` holds the secret; only its hash is stored). */
export interface SessionsTable {
  id_hash: string;
  user_id: string;
  user_name: string;
  domain_name: string;
  csrf_token: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
}

/** Keystone users as last synced: the enabled flag and names, so TokenReview needs no Keystone call. */
export interface KeystoneUsersTable {
  id: string;
  name: string;
  domain_id: string;
  domain_name: string;
  enabled: number;
  synced_at: string;
}

/** Effective Keystone role assignments on a project, as last synced. */
export interface RoleAssignmentsTable {
  project_id: string;
  user_id: string;
  role_id: string;
  role_name: string;
}

/** When a sync last succeeded or failed, per subject (`users` or `project:<id>`). */
export interface SyncStateTable {
  subject: string;
  last_success_at: string | null;
  last_error_at: string | null;
  last_error: string | null;
}
