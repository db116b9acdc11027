/**
 * Pushes the Keystone-role → Kubernetes-role bindings an administrator edits in the control panel
 * to the cluster: renders them with the rbac addon's renderer (same names, labels and Group
 * subject = Keystone role id, which is what the TokenReview webhook puts in user.groups),
 * server-side applies them, deletes kaas bindings no longer wanted, and marks the revision applied.
 */
import { labels } from '../../addons/objects.ts';
import { ADMIN_BINDING, roleBinding } from '../../addons/rbac.ts';
import { checkRoleBinding, type RoleBindingSpec } from '../../addons/context.ts';
import { InputError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Db } from '../../store/db.ts';
import { getRoleBindings, type RoleBinding } from '../../store/getRoleBindings.ts';
import { markRoleBindingsApplied } from '../../store/markRoleBindingsApplied.ts';
import type { ObjectRef } from '../../store/listAddonStatus.ts';
import { refOf, type ClusterApi } from './client.ts';

/** What the role-binding applier needs. */
export interface ApplyRoleBindingsDeps {
  db: Db;
  logger: Logger;
  now: () => Date;
  kube: ClusterApi;
}

/** What one run did. */
export interface RoleBindingsResult {
  revision: number;
  applied: number;
  pruned: number;
  /** False when the revision was already marked (or none was ever saved). */
  marked: boolean;
}

const RBAC = 'rbac.authorization.k8s.io/v1';
/** The rbac addon's labels: the objects this applier may prune. */
const SELECTOR = Object.entries(labels('rbac'))
  .map(([k, v]) => `${k}=${v}`)
  .join(',');

/**
 * The panel's shape → the addon's RoleBindingSpec, refusing what the cluster must never get. The
 * one rule for both the applier and the route that saves bindings (which names its `list` "items"),
 * so a binding the applier would refuse is refused when saved.
 */
export function toSpec(rb: RoleBinding, index: number, list = 'bindings'): RoleBindingSpec {
  if (rb.keystoneRoleId.trim() === '' || rb.roleName.trim() === '') {
    throw new InputError('a role binding needs a Keystone role id and a role name', {
      field: `${list}[${index}]`,
    });
  }
  const spec: RoleBindingSpec = {
    keystoneRoleId: rb.keystoneRoleId,
    ...(rb.kind === 'ClusterRole' ? { clusterRole: rb.roleName } : { role: rb.roleName }),
    ...(rb.namespace === undefined ? {} : { namespace: rb.namespace }),
  };
  checkRoleBinding(spec, `${list}[${index}]`);
  return spec;
}

const key = (r: ObjectRef) => `${r.kind}/${r.namespace ?? ''}/${r.name}`;

/**
 * Brings the cluster's tenant bindings to the stored revision. The admin binding of the rbac
 * addon is never pruned here. Throws (without marking) if any apply or delete fails, so the
 * panel keeps showing the revision as pending.
 */
export async function applyRoleBindings(
  deps: ApplyRoleBindingsDeps,
  { clusterId }: { clusterId: string },
): Promise<RoleBindingsResult> {
  const set = await getRoleBindings({ db: deps.db, clusterId });
  const objects = set.bindings.map((b, i) => roleBinding(toSpec(b, i)));
  const wanted = new Set(objects.map((o) => key(refOf(o))));
  for (const o of objects) await deps.kube.apply(o);

  let pruned = 0;
  for (const kind of ['RoleBinding', 'ClusterRoleBinding']) {
    for (const live of await deps.kube.list(RBAC, kind, SELECTOR)) {
      const name = live.metadata?.name ?? '';
      const namespace = live.metadata?.namespace;
      const ref: ObjectRef = { apiVersion: RBAC, kind, name, ...(namespace ? { namespace } : {}) };
      if (name === ADMIN_BINDING || wanted.has(key(ref))) continue;
      if ((await deps.kube.remove(ref)) === 'deleted') pruned += 1;
    }
  }
  const marked =
    set.revision > 0 &&
    (await markRoleBindingsApplied({ db: deps.db, clusterId, revision: set.revision, now: deps.now() }));
  deps.logger.info(
    { clusterId, revision: set.revision, applied: objects.length, pruned },
    'role bindings applied',
  );
  return { revision: set.revision, applied: objects.length, pruned, marked };
}
