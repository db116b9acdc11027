import type { Db } from './db.ts';

/** The sealed secrets of a cluster, or undefined when it has none (created before 0006, or deleted). */
export async function findClusterSecret({
  db,
  clusterId,
}: {
  db: Db;
  clusterId: string;
}): Promise<string | undefined> {
  const row = await db
    .selectFrom('cluster_secrets')
    .select('sealed')
    .where('cluster_id', '=', clusterId)
    .executeTakeFirst();
  return row?.sealed;
}
