import type { Db } from './db.ts';
import type { ProvisionedClustersTable } from './jobsSchema.ts';

/** A cluster kaas provisions, with its current spec and options as JSON values. */
export interface ProvisionedClusterRecord {
  id: string;
  name: string;
  spec: unknown;
  options: unknown;
  status: string;
  createdAt: string;
  updatedAt: string;
}

/** Maps a provisioned_clusters row to its record. */
export function provisionedClusterFromRow(row: ProvisionedClustersTable): ProvisionedClusterRecord {
  return {
    id: row.id,
    name: row.name,
    spec: JSON.parse(row.spec) as unknown,
    options: JSON.parse(row.options) as unknown,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The provisioned cluster whose id or name is `ref`, or undefined. */
export async function findProvisionedCluster({
  db,
  ref,
}: {
  db: Db;
  ref: string;
}): Promise<ProvisionedClusterRecord | undefined> {
  const row = await db
    .selectFrom('provisioned_clusters')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
    .executeTakeFirst();
  return row ? provisionedClusterFromRow(row) : undefined;
}
