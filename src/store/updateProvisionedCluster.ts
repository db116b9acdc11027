import type { Db } from './db.ts';

/** Sets a provisioned cluster's status and, when given, its spec and options. */
export async function updateProvisionedCluster({
  db,
  id,
  status,
  spec,
  options,
  now,
}: {
  db: Db;
  id: string;
  status: string;
  spec?: unknown;
  options?: unknown;
  now: string;
}): Promise<void> {
  await db
    .updateTable('provisioned_clusters')
    .set({
      status,
      updated_at: now,
      ...(spec === undefined ? {} : { spec: JSON.stringify(spec) }),
      ...(options === undefined ? {} : { options: JSON.stringify(options) }),
    })
    .where('id', '=', id)
    .execute();
}
