import type { Db } from './db.ts';

/**
 * Replaces a provisioned cluster's spec (and, when given, its status) only if the stored spec is
 * still `previous` (so a concurrent change is never overwritten); returns whether it was replaced.
 */
export async function replaceProvisionedClusterSpec({
  db,
  id,
  previous,
  spec,
  status,
  now,
}: {
  db: Db;
  id: string;
  previous: unknown;
  spec: unknown;
  status?: string;
  now: string;
}): Promise<boolean> {
  const result = await db
    .updateTable('provisioned_clusters')
    .set({ spec: JSON.stringify(spec), updated_at: now, ...(status === undefined ? {} : { status }) })
    .where('id', '=', id)
    .where('spec', '=', JSON.stringify(previous))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
