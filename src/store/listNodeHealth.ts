import type { Db } from './db.ts';

/** Since when (ISO time) each Node of the cluster has been seen not Ready, by Node name. */
export async function listNodeHealth({
  db,
  clusterId,
}: {
  db: Db;
  clusterId: string;
}): Promise<Record<string, string>> {
  const rows = await db
    .selectFrom('node_health')
    .select(['node', 'unhealthy_since'])
    .where('cluster_id', '=', clusterId)
    .execute();
  return Object.fromEntries(rows.map((r) => [r.node, r.unhealthy_since]));
}
