import type { Kysely, Transaction } from 'kysely';
import type { Db } from './db.ts';
import type { Database } from './schema.ts';

/** A user's control-panel preferences (today: the remembered active cluster). */
export interface PanelPreferencesTable {
  user_id: string;
  active_cluster_id: string | null;
  updated_at: string;
}

/** Keystone-role → Kubernetes-role bindings of one cluster as a JSON document with a revision. */
export interface ClusterRoleBindingsTable {
  cluster_id: string;
  /** JSON array of RoleBinding (see getRoleBindings.ts). */
  bindings: string;
  revision: number;
  /** The revision the applier last pushed to the cluster; null until first applied. */
  applied_revision: number | null;
  updated_at: string;
  updated_by: string;
  applied_at: string | null;
}

/** Where a cluster's API and ingress are and what state it is in, as the provisioner last reported. */
export interface ClusterEndpointsTable {
  cluster_id: string;
  api_url: string | null;
  ca_cert_pem: string | null;
  ingress_domain: string | null;
  kubernetes_version: string | null;
  node_count: number | null;
  provisioning_state: string | null;
  updated_at: string;
}

/** The kaas schema plus the control-panel tables of migration 0005_panel. */
export type PanelDatabase = Database & {
  panel_preferences: PanelPreferencesTable;
  cluster_role_bindings: ClusterRoleBindingsTable;
  cluster_endpoints: ClusterEndpointsTable;
};

/** Views a kaas handle with the panel tables typed (same connection, types only). */
export function panelDb(db: Db): Kysely<PanelDatabase> | Transaction<PanelDatabase> {
  return db as unknown as Kysely<PanelDatabase>;
}
