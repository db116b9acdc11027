import type { ObjectRef } from '../addons/objects.ts';
import type { Db } from './db.ts';

export type { ObjectRef };

/** The applier's lifecycle of a managed service on a cluster. */
export type AddonState = 'pending' | 'applying' | 'ready' | 'failed';

/** One managed service's status as last observed, with the objects applied for it. */
export interface AddonStatus {
  clusterId: string;
  addon: string;
  state: AddonState;
  message: string;
  objects: ObjectRef[];
  observedAt: string;
}

/** Every service status recorded for the cluster, ordered by service name. */
export async function listAddonStatus({
  db,
  clusterId,
}: {
  db: Db;
  clusterId: string;
}): Promise<AddonStatus[]> {
  const rows = await db
    .selectFrom('addon_status')
    .selectAll()
    .where('cluster_id', '=', clusterId)
    .orderBy('addon')
    .execute();
  return rows.map((r) => ({
    clusterId: r.cluster_id,
    addon: r.addon,
    state: r.state as AddonState,
    message: r.message,
    objects: JSON.parse(r.objects) as ObjectRef[],
    observedAt: r.observed_at,
  }));
}
