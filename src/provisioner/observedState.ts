/**
 * A cluster's Nodes as its own API reports them (observe.ts reads them). No imports: the control
 * panel shares these types.
 */

/** One node group's Nodes (masters first). */
export interface ObservedGroup {
  name: string;
  ready: number;
  total: number;
  kubeletVersions: string[];
}

/** What `GET /api/v1/clusters/:id` shows as `observed`. */
export interface ObservedState {
  checkedAt: string;
  reachable: boolean;
  /** Why the API could not be read (no endpoint yet, connection refused, TLS, timeout, 401…). */
  reason?: string;
  /** The cluster has no Kubernetes API at all (its cloud never boots Kubernetes: kaas dev's); `reason` says why. */
  noApi?: true;
  /** The cluster has no API endpoint yet (it is still being created, or its create failed); `reason` says so. */
  notYet?: true;
  nodes: { ready: number; total: number };
  groups: ObservedGroup[];
}
