/**
 * Garbage collection for delete: every resource carrying `kaas-cluster=<id>` (plus load balancers
 * the cloud controller made for Services, matched by name, and ports left on the cluster network),
 * removed in dependency order, each step reporting how many it removed. A re-run finds nothing and
 * removes nothing, so a failed delete is just retried.
 */
import type { PlanResource } from '../../cluster/plan.ts';
import { isOpenStackError } from '../../openstack/index.ts';
import { poll, withRetries, type ExecDeps } from './context.ts';

type Res<T extends PlanResource['type']> = Extract<PlanResource, { type: T }>;

const gone = async (work: () => Promise<unknown>) => {
  try {
    await work();
  } catch (error) {
    if (!isOpenStackError(error, 'openstack_not_found')) throw error;
  }
};

/** Removes every resource of one type that belongs to the cluster; returns how many. */
export async function sweep(deps: ExecDeps, r: Res<'cluster-resources'>): Promise<{ removed: number }> {
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
      return { removed: servers.length };
    }
    case 'floating-ip': {
      const fips = await neutron.floatingIps.list({ tags });
      for (const f of fips) await gone(() => neutron.floatingIps.delete(f.id));
      return { removed: fips.length };
    }
    case 'port': {
      const tagged = await neutron.ports.list({ tags });
      const ids = new Set(tagged.map((p) => p.id));
      for (const net of await networks()) {
        for (const p of await neutron.ports.list({ network_id: net.id })) {
          if (!p.device_owner.startsWith('network:')) ids.add(p.id);
        }
      }
      for (const id of ids) await gone(() => neutron.ports.delete(id));
      return { removed: ids.size };
    }
    case 'load-balancer': {
      let endpointMissing = false;
      try {
        await deps.cloud.session.endpoint('load-balancer');
      } catch {
        endpointMissing = true;
      }
      if (endpointMissing) return { removed: 0 };
      const all = await octavia.listLoadBalancers();
      const prefix = `kube_service_${deps.spec.name}_`;
      const ours = all.filter((lb) => tags.every((t) => lb.tags?.includes(t)) || lb.name.startsWith(prefix));
      for (const lb of ours) {
        await gone(() => octavia.deleteLoadBalancer(lb.id, { cascade: true }));
        await octavia.waitForLoadBalancerDeleted(lb.id, { intervalMs: deps.pollIntervalMs });
      }
      return { removed: ours.length };
    }
    case 'router-interface': {
      let removed = 0;
      for (const router of await neutron.routers.list({ tags })) {
        for (const p of await neutron.ports.list({
          device_id: router.id,
          device_owner: 'network:router_interface',
        })) {
          for (const ip of p.fixed_ips) {
            await gone(() => neutron.removeRouterInterface(router.id, { subnetId: ip.subnet_id }));
            removed++;
          }
        }
      }
      return { removed };
    }
    case 'router': {
      const routers = await neutron.routers.list({ tags });
      for (const router of routers) {
        if (router.external_gateway_info) await gone(() => neutron.setRouterGateway(router.id, null));
        await gone(() => neutron.routers.delete(router.id));
      }
      return { removed: routers.length };
    }
    case 'subnet': {
      const subnets = await neutron.subnets.list({ tags });
      for (const s of subnets) await gone(() => neutron.subnets.delete(s.id));
      return { removed: subnets.length };
    }
    case 'network': {
      const nets = await networks();
      for (const n of nets) await gone(() => neutron.networks.delete(n.id));
      return { removed: nets.length };
    }
    case 'security-group': {
      const sgs = await neutron.securityGroups.list({ tags });
      for (const sg of sgs) await gone(() => neutron.securityGroups.delete(sg.id));
      return { removed: sgs.length };
    }
  }
}

/** Deletes a named untaggable resource: kaas's keypair, the server group, the artifacts container. */
export async function deleteNamed(
  deps: ExecDeps,
  r: Res<'keypair'> | Res<'server-group'> | Res<'container'>,
): Promise<{ removed: number }> {
  const { nova, swift } = deps.cloud;
  if (r.type === 'keypair') {
    try {
      await nova.getKeypair(r.name);
    } catch (error) {
      if (isOpenStackError(error, 'openstack_not_found')) return { removed: 0 };
      throw error;
    }
    await nova.deleteKeypair(r.name, { ignoreMissing: true });
    return { removed: 1 };
  }
  if (r.type === 'server-group') {
    const groups = (await nova.listServerGroups()).filter((g) => g.name === r.name);
    for (const g of groups) await nova.deleteServerGroup(g.id, { ignoreMissing: true });
    return { removed: groups.length };
  }
  let objects: { name: string }[];
  try {
    objects = await swift.listObjects(r.name);
  } catch (error) {
    if (isOpenStackError(error, 'openstack_not_found')) return { removed: 0 };
    throw error;
  }
  for (const o of objects) await swift.deleteObject(r.name, o.name, { ignoreMissing: true });
  await swift.deleteContainer(r.name, { ignoreMissing: true });
  return { removed: objects.length + 1 };
}
