import type { Db } from './db.ts';
import type { ClusterRecord } from './insertCluster.ts';
import type { ClustersTable } from './schema.ts';

/** Maps a clusters row to its record (admin role ids parsed from JSON). */
export function clusterFromRow(row: ClustersTable): ClusterRecord {
  return {
    id: row.id,
    name: row.name,
    projectId: row.project_id,
    projectName: row.project_name,
    adminRoleIds: JSON.parse(row.admin_role_ids) as string[],
    createdAt: row.created_at,
  };
}

/** The cluster with this id, or undefined. */
export async function findCluster({ db, id }: { db: Db; id: string }): Promise<ClusterRecord | undefined> {
  const row = await db.selectFrom('clusters').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? clusterFromRow(row) : undefined;
}
