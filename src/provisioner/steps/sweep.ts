/**
 * Garbage collection for delete: every resource carrying `kaas-cluster=<id>` (plus load balancers
 * the cloud controller made for Services, matched by name, and ports left on the cluster network),
 * removed in dependency order, each step reporting how many it removed and their IDs. A re-run finds
 * nothing and removes nothing, so a failed delete is just retried.
 */
import { CINDER_CLUSTER_METADATA } from '../../addons/storage.ts';
import type { PlanResource } from '../../cluster/plan.ts';
import { isOpenStackError } from '../../openstack/index.ts';
import { poll, withRetries, type ExecDeps } from './context.ts';

type Res<T extends PlanResource['type']> = Extract<PlanResource, { type: T }>;

/** Runs a delete; false when the resource was already gone (someone else removed it). */
const gone = async (work: () => Promise<unknown>): Promise<boolean> => {
  try {
    await work();
    return true;
  } catch (error) {
    if (!isOpenStackError(error, 'openstack_not_found')) throw error;
    return false;
  }
};

/** What a delete step removed: how many, and their IDs (names for what the cloud names only). */
export interface SweepOutput {
  removed: number;
  ids: string[];
  /** Why nothing was looked for (e.g. the cloud has no load-balancer service). */
  skipped?: string;
}

const removedOf = (ids: string[]): SweepOutput => ({ removed: ids.length, ids });

/** Deletes each of `items` (ignoring ones already gone) and reports the IDs it removed. */
async function each<T>(
  items: T[],
  idOf: (t: T) => string,
  del: (t: T) => Promise<unknown>,
): Promise<SweepOutput> {
  const ids: string[] = [];
  for (const item of items) if (await gone(() => del(item))) ids.push(idOf(item));
  return removedOf(ids);
}

/** Why a sweep of `service`'s resources looks for nothing: the cloud has no such service. */
async function missingService(
  deps: ExecDeps,
  service: string,
  what: string,
): Promise<SweepOutput | undefined> {
  try {
    await deps.cloud.session.endpoint(service);
    return undefined;
  } catch {
    return { removed: 0, ids: [], skipped: `the cloud has no ${what} service` };
  }
}

/** Volume states Cinder refuses a delete in: attached, or changing. */
const VOLUME_BUSY = new Set(['in-use', 'attaching', 'detaching', 'creating', 'extending', 'reserved']);

/** The cloud controller's description of a floating IP it made for a Service of cluster `clusterId`. */
const serviceFloatingIp = (clusterId: string) =>
  new RegExp(
    `^Floating IP for Kubernetes external service .* from cluster ${clusterId.replace(/\W/g, '\\$&')}$`,
  );

/** Removes every resource of one type that belongs to the cluster; says which it removed. */
export async function sweep(deps: ExecDeps, r: Res<'cluster-resources'>): Promise<SweepOutput> {
  const { nova, neutron, octavia } = deps.cloud;
  const tags = r.tags;
  const networks = () => neutron.networks.list({ tags });
  switch (r.params.resourceType) {
    case 'server': {
      const servers = await nova.listServers({ tags });
      for (const s of servers)
        await withRetries(deps, `delete server ${s.name}`, () =>
          nova.deleteServer(s.id, { ignoreMissing: true }),
        );
      if (servers.length > 0) {
        await poll(deps, `${servers.length} server(s) to be deleted`, async () =>
          (await nova.listServers({ tags })).length === 0 ? true : undefined,
        );
      }
      return removedOf(servers.map((s) => s.id));
    }
    case 'volume': {
      const missing = await missingService(deps, 'volumev3', 'block-storage');
      if (missing) return missing;
      const { cinder } = deps.cloud;
      const ours = async () =>
        (await cinder.listVolumes()).filter((v) => v.metadata[CINDER_CLUSTER_METADATA] === deps.clusterId);
      const volumes = await ours();
      // The servers are gone; their volumes detach on their own, after which Cinder accepts a delete.
      for (const v of volumes.filter((x) => VOLUME_BUSY.has(x.status))) {
        await poll(deps, `volume ${v.id} to be detached`, async () => {
          const now = await cinder.getVolume(v.id).catch((error: unknown) => {
            if (isOpenStackError(error, 'openstack_not_found')) return undefined;
            throw error;
          });
          return now === undefined || !VOLUME_BUSY.has(now.status) ? true : undefined;
        });
      }
      const out = await each(
        volumes,
        (v) => v.id,
        (v) => cinder.deleteVolume(v.id, { cascade: true }),
      );
      if (out.removed > 0)
        await poll(deps, `${out.removed} volume(s) to be deleted`, async () =>
          (await ours()).length === 0 ? true : undefined,
        );
      return out;
    }
    case 'floating-ip': {
      // Kaas's own (tagged), and those the cloud controller made for Services (by description).
      const made = serviceFloatingIp(deps.clusterId);
      const services = (await neutron.floatingIps.list()).filter((f) => made.test(f.description ?? ''));
      const tagged = await neutron.floatingIps.list({ tags });
      const all = [...new Map([...tagged, ...services].map((f) => [f.id, f])).values()];
      return each(
        all,
        (f) => f.id,
        (f) => neutron.floatingIps.delete(f.id),
      );
    }
    case 'port': {
      const tagged = await neutron.ports.list({ tags });
      const ids = new Set(tagged.map((p) => p.id));
      for (const net of await networks()) {
        for (const p of await neutron.ports.list({ network_id: net.id })) {
          if (!p.device_owner.startsWith('network:')) ids.add(p.id);
        }
      }
      return each(
        [...ids],
        (id) => id,
        (id) => neutron.ports.delete(id),
      );
    }
    case 'load-balancer': {
      const missing = await missingService(deps, 'load-balancer', 'load-balancer');
      if (missing) return missing;
      const all = await octavia.listLoadBalancers();
      // The cloud controller runs with --cluster-name=<cluster id> (src/addons/cloudcontroller.ts).
      const prefix = `kube_service_${deps.clusterId}_`;
      const ours = all.filter((lb) => tags.every((t) => lb.tags?.includes(t)) || lb.name.startsWith(prefix));
      const ids: string[] = [];
      for (const lb of ours) {
        // Octavia refuses (409) to delete a load balancer it is still creating or changing, e.g. one
        // the cloud controller asked for just before the delete began: let it settle first.
        if (lb.provisioning_status === 'PENDING_CREATE' || lb.provisioning_status === 'PENDING_UPDATE') {
          await poll(deps, `load balancer ${lb.name} to settle before it is deleted`, async () => {
            const settled = await octavia.getLoadBalancer(lb.id).then(
              (now) => !now.provisioning_status.startsWith('PENDING_'),
              (error: unknown) => {
                if (isOpenStackError(error, 'openstack_not_found')) return true;
                throw error;
              },
            );
            return settled ? true : undefined;
          });
        }
        if (await gone(() => octavia.deleteLoadBalancer(lb.id, { cascade: true }))) ids.push(lb.id);
        await octavia.waitForLoadBalancerDeleted(lb.id, { intervalMs: deps.pollIntervalMs });
      }
      return removedOf(ids);
    }
    case 'router-interface': {
      const ids: string[] = [];
      for (const router of await neutron.routers.list({ tags })) {
        for (const p of await neutron.ports.list({
          device_id: router.id,
          device_owner: 'network:router_interface',
        })) {
          for (const ip of p.fixed_ips) {
            // The interface is the router's port on that subnet.
            if (await gone(() => neutron.removeRouterInterface(router.id, { subnetId: ip.subnet_id })))
              ids.push(p.id);
          }
        }
      }
      return removedOf([...new Set(ids)]);
    }
    case 'router': {
      const routers = await neutron.routers.list({ tags });
      const ids: string[] = [];
      for (const router of routers) {
        if (router.external_gateway_info) await gone(() => neutron.setRouterGateway(router.id, null));
        if (await gone(() => neutron.routers.delete(router.id))) ids.push(router.id);
      }
      return removedOf(ids);
    }
    case 'subnet':
      return each(
        await neutron.subnets.list({ tags }),
        (s) => s.id,
        (s) => neutron.subnets.delete(s.id),
      );
    case 'network':
      return each(
        await networks(),
        (n) => n.id,
        (n) => neutron.networks.delete(n.id),
      );
    case 'security-group':
      return each(
        await neutron.securityGroups.list({ tags }),
        (sg) => sg.id,
        (sg) => neutron.securityGroups.delete(sg.id),
      );
  }
}

/**
 * Deletes a named untaggable resource: kaas's keypair (ID: its name), the server group, the
 * artifacts container (IDs: the container and each `container/object`).
 */
export async function deleteNamed(
  deps: ExecDeps,
  r: Res<'keypair'> | Res<'server-group'> | Res<'container'>,
): Promise<SweepOutput> {
  const { nova, swift } = deps.cloud;
  if (r.type === 'keypair') {
    try {
      await nova.getKeypair(r.name);
    } catch (error) {
      if (isOpenStackError(error, 'openstack_not_found')) return removedOf([]);
      throw error;
    }
    await nova.deleteKeypair(r.name, { ignoreMissing: true });
    return removedOf([r.name]);
  }
  if (r.type === 'server-group') {
    const groups = (await nova.listServerGroups()).filter((g) => g.name === r.name);
    for (const g of groups) await nova.deleteServerGroup(g.id, { ignoreMissing: true });
    return removedOf(groups.map((g) => g.id));
  }
  let objects: { name: string }[];
  try {
    objects = await swift.listObjects(r.name);
  } catch (error) {
    if (isOpenStackError(error, 'openstack_not_found')) return removedOf([]);
    throw error;
  }
  for (const o of objects) await swift.deleteObject(r.name, o.name, { ignoreMissing: true });
  await swift.deleteContainer(r.name, { ignoreMissing: true });
  return removedOf([r.name, ...objects.map((o) => `${r.name}/${o.name}`)]);
}
