/** Row type of the addon applier's table (migration 0007_addons); listed in schema.ts's Database. */

/** What the applier last saw of one managed service on one cluster. */
export interface AddonStatusTable {
  cluster_id: string;
  addon: string;
  /** pending | applying | ready | failed */
  state: string;
  message: string;
  /** JSON array of ObjectRef ({ apiVersion, kind, namespace?, name }) applied for this service. */
  objects: string;
  observed_at: string;
}
