import type { Db } from './db.ts';
import { panelDb } from './panelSchema.ts';

/** One mapping: holders of a Keystone role get a Kubernetes ClusterRole or Role. */
export interface RoleBinding {
  keystoneRoleId: string;
  kind: 'ClusterRole' | 'Role';
  roleName: string;
  /** Namespace of the RoleBinding; required for a Role, absent for a cluster-wide ClusterRoleBinding. */
  namespace?: string;
}

/** A cluster's bindings document; revision 0 means nothing was ever saved. */
export interface RoleBindingSet {
  clusterId: string;
  bindings: RoleBinding[];
  revision: number;
  appliedRevision: number | null;
  updatedAt: string | null;
  updatedBy: string | null;
  appliedAt: string | null;
}

/** The cluster's role bindings, or an empty revision-0 set when none were saved. */
export async function getRoleBindings({
  db,
  clusterId,
}: {
  db: Db;
  clusterId: string;
}): Promise<RoleBindingSet> {
  const row = await panelDb(db)
    .selectFrom('cluster_role_bindings')
    .selectAll()
    .where('cluster_id', '=', clusterId)
    .executeTakeFirst();
  if (!row)
    return {
      clusterId,
      bindings: [],
      revision: 0,
      appliedRevision: null,
      updatedAt: null,
      updatedBy: null,
      appliedAt: null,
    };
  return {
    clusterId,
    bindings: JSON.parse(row.bindings) as RoleBinding[],
    revision: Number(row.revision),
    appliedRevision: row.applied_revision === null ? null : Number(row.applied_revision),
    updatedAt: row.updated_at,
    updatedBy: row.updated_by,
    appliedAt: row.applied_at,
  };
}
