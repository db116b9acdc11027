import type { Db } from './db.ts';

/**
 * Makes the cluster's unhealthy Nodes exactly `since`'s: forgets the others, adds the new ones and
 * keeps an existing row's time (two replicas recording one Node keep the earlier writer's).
 */
export async function replaceNodeHealth({
  db,
  clusterId,
  since,
}: {
  db: Db;
  clusterId: string;
  since: Readonly<Record<string, string>>;
}): Promise<void> {
  const nodes = Object.keys(since);
  let stale = db.deleteFrom('node_health').where('cluster_id', '=', clusterId);
  if (nodes.length > 0) stale = stale.where('node', 'not in', nodes);
  await stale.execute();
  if (nodes.length === 0) return;
  await db
    .insertInto('node_health')
    .values(Object.entries(since).map(([node, at]) => ({ cluster_id: clusterId, node, unhealthy_since: at })))
    .onConflict((oc) => oc.columns(['cluster_id', 'node']).doNothing())
    .execute();
}
