import type { Db } from './db.ts';

/** Forgets a deleted cluster's secrets (its CA and admin certificate die with it); no-op if absent. */
export async function deleteClusterSecret({ db, clusterId }: { db: Db; clusterId: string }): Promise<void> {
  await db.deleteFrom('cluster_secrets').where('cluster_id', '=', clusterId).execute();
}
