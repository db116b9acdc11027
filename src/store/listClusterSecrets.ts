import type { Db } from './db.ts';

/** One page of sealed cluster secrets, by cluster id after `after` (exclusive), at most `limit`. */
export async function listClusterSecrets({
  db,
  after,
  limit,
}: {
  db: Db;
  after: string | undefined;
  limit: number;
}): Promise<{ clusterId: string; sealed: string }[]> {
  let query = db.selectFrom('cluster_secrets').select(['cluster_id', 'sealed']);
  if (after !== undefined) query = query.where('cluster_id', '>', after);
  const rows = await query.orderBy('cluster_id').limit(limit).execute();
  return rows.map((r) => ({ clusterId: r.cluster_id, sealed: r.sealed }));
}
