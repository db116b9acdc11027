import type { Db } from './db.ts';
import type { AddonStatus } from './listAddonStatus.ts';

/** Writes one service's status whole (insert or overwrite), as the applier observes it. */
export async function upsertAddonStatus({ db, status }: { db: Db; status: AddonStatus }): Promise<void> {
  const values = {
    state: status.state,
    message: status.message,
    objects: JSON.stringify(status.objects),
    observed_at: status.observedAt,
  };
  await db
    .insertInto('addon_status')
    .values({ cluster_id: status.clusterId, addon: status.addon, ...values })
    .onConflict((oc) => oc.columns(['cluster_id', 'addon']).doUpdateSet(values))
    .execute();
}
