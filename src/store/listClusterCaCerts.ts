import type { Db } from './db.ts';
import { panelDb } from './panelSchema.ts';

/** The CA certificate (PEM, public) of each cluster that reported one, by cluster id. */
export async function listClusterCaCerts({ db }: { db: Db }): Promise<Map<string, string>> {
  const rows = await panelDb(db)
    .selectFrom('cluster_endpoints')
    .select(['cluster_id', 'ca_cert_pem'])
    .where('ca_cert_pem', 'is not', null)
    .orderBy('cluster_id')
    .execute();
  return new Map(rows.map((r) => [r.cluster_id, r.ca_cert_pem!]));
}
