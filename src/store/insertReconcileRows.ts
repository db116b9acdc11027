import type { Db } from './db.ts';

/** Gives every ready cluster without one a reconcile row (never synced); existing rows are kept. */
export async function insertReconcileRows({ db }: { db: Db }): Promise<void> {
  await db
    .insertInto('cluster_reconcile')
    .columns(['cluster_id'])
    .expression((eb) =>
      eb
        .selectFrom('provisioned_clusters as c')
        .select('c.id')
        .where('c.status', '=', 'ready')
        .where((w) =>
          w.not(
            w.exists(
              w
                .selectFrom('cluster_reconcile as r')
                .select('r.cluster_id')
                .whereRef('r.cluster_id', '=', 'c.id'),
            ),
          ),
        ),
    )
    .onConflict((oc) => oc.column('cluster_id').doNothing())
    .execute();
}
