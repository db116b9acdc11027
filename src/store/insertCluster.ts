import type { Db } from './db.ts';

/** A cluster as the auth service sees it. */
export interface ClusterRecord {
  id: string;
  name: string;
  projectId: string;
  projectName: string;
  /** Keystone role IDs whose holders get cluster-admin. */
  adminRoleIds: string[];
  createdAt: string;
}

/** Registers a cluster; fails on a duplicate id or name (unique constraints). */
export async function insertCluster({ db, cluster }: { db: Db; cluster: ClusterRecord }): Promise<void> {
  await db
    .insertInto('clusters')
    .values({
      id: cluster.id,
      name: cluster.name,
      project_id: cluster.projectId,
      project_name: cluster.projectName,
      admin_role_ids: JSON.stringify(cluster.adminRoleIds),
      created_at: cluster.createdAt,
    })
    .execute();
}
