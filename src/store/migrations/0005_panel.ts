import type { Kysely } from 'kysely';
import { createTable, ID, NAME, TIME } from './table.ts';

/**
 * Control-panel tables: each user's remembered active cluster, the Keystone-role → Kubernetes-role
 * bindings an administrator edits (one versioned document per cluster, so "pending" is simply
 * revision ≠ applied revision), and what the panel shows about a cluster's endpoint and state.
 * `ifNotExists` keeps the step safe to repeat.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const ifNotExists = true;
  await createTable(
    db,
    'panel_preferences',
    { user_id: [ID, 'key'], active_cluster_id: [ID, 'null'], updated_at: [TIME] },
    { ifNotExists },
  );

  await createTable(
    db,
    'cluster_role_bindings',
    {
      cluster_id: [ID, 'key'],
      bindings: ['text'],
      revision: ['integer'],
      applied_revision: ['integer', 'null'],
      updated_at: [TIME],
      updated_by: [NAME],
      applied_at: [TIME, 'null'],
    },
    { ifNotExists },
  );

  await createTable(
    db,
    'cluster_endpoints',
    {
      cluster_id: [ID, 'key'],
      api_url: ['text', 'null'],
      ca_cert_pem: ['text', 'null'],
      ingress_domain: [NAME, 'null'],
      kubernetes_version: [ID, 'null'],
      node_count: ['integer', 'null'],
      provisioning_state: [ID, 'null'],
      updated_at: [TIME],
    },
    { ifNotExists },
  );
}
