/**
 * Octavia executors for 3-master clusters: the API load balancer (listener + pool + HTTPS health
 * monitor on /readyz) and one member per master port. When the catalog has no load-balancer
 * service the step records a fallback instead of failing: the API endpoint is master-0's address
 * (recorded as `fallback: 'master-0'` and a warning event), which loses HA but keeps the cluster usable.
 */
import type { PlanResource } from '../../cluster/plan.ts';
import { UpstreamError } from '../../errors.ts';
import { isOpenStackError, type Cloud } from '../../openstack/index.ts';
import { withRetries, outputOf, single, type ExecDeps, type ResourceOutput } from './context.ts';

type Res<T extends PlanResource['type']> = Extract<PlanResource, { type: T }>;

/** Whether the catalog `cloud` sees has a load-balancer service (Octavia). */
export async function hasOctavia(cloud: Pick<Cloud, 'session'>): Promise<boolean> {
  try {
    await cloud.session.endpoint('load-balancer');
    return true;
  } catch {
    return false;
  }
}

/** The API load balancer, or the master-0 fallback when Octavia is absent. */
export async function ensureLoadBalancer(deps: ExecDeps, r: Res<'load-balancer'>) {
  if (!(await hasOctavia(deps.cloud))) {
    const port = outputOf<ResourceOutput & { address: string | null }>(deps, 'master-port-0');
    await deps.ctx.event(
      'no Octavia in the catalog: the API endpoint is master-0 (no load balancing)',
      'warn',
    );
    return { id: port.id, vipPortId: port.id, vipAddress: port.address, fallback: 'master-0' };
  }
  const subnet = outputOf<ResourceOutput>(deps, 'subnet');
  const octavia = deps.cloud.octavia;
  const lb = await withRetries(deps, `load balancer ${r.name}`, async () => {
    const found = single(await octavia.listLoadBalancers({ name: r.name }), 'load balancer', r.name);
    return (
      found ?? (await octavia.createLoadBalancer({ name: r.name, vipSubnetId: subnet.id, tags: r.tags }))
    );
  });
  let ready = await octavia.waitForLoadBalancer(lb.id, 'ACTIVE', { intervalMs: deps.pollIntervalMs });
  let listenerId = ready.listeners[0]?.id;
  if (!listenerId) {
    listenerId = (
      await octavia.createListener({
        loadBalancerId: lb.id,
        name: r.name,
        protocol: r.params.protocol,
        protocolPort: r.params.port,
        tags: r.tags,
      })
    ).id;
    ready = await octavia.waitForLoadBalancer(lb.id, 'ACTIVE', { intervalMs: deps.pollIntervalMs });
  }
  let poolId = ready.pools[0]?.id;
  if (!poolId) {
    poolId = (
      await octavia.createPool({ name: r.name, protocol: r.params.protocol, listenerId, tags: r.tags })
    ).id;
    await octavia.waitForLoadBalancer(lb.id, 'ACTIVE', { intervalMs: deps.pollIntervalMs });
  }
  const pool = await octavia.getPool(poolId);
  if (!pool.healthmonitor_id) {
    await octavia.createHealthMonitor({
      poolId,
      type: r.params.healthMonitor.type,
      delay: 5,
      timeout: 5,
      maxRetries: 3,
      urlPath: r.params.healthMonitor.urlPath,
      name: r.name,
    });
    await octavia.waitForLoadBalancer(lb.id, 'ACTIVE', { intervalMs: deps.pollIntervalMs });
  }
  return { id: lb.id, vipPortId: ready.vip_port_id, vipAddress: ready.vip_address, poolId };
}

/** Adds a master port's address to the pool (skipped under the no-Octavia fallback). */
export async function ensureLbMember(deps: ExecDeps, stepId: string, r: Res<'lb-member'>) {
  const lb = outputOf<{ poolId?: string; id: string; fallback?: string }>(deps, 'load-balancer');
  if (lb.fallback || !lb.poolId) return { skipped: 'no load balancer' };
  const index = stepId.replace('lb-member-', '');
  const port = outputOf<ResourceOutput & { address: string }>(deps, `master-port-${index}`);
  const subnet = outputOf<ResourceOutput>(deps, 'subnet');
  const { octavia } = deps.cloud;
  const active = () => octavia.waitForLoadBalancer(lb.id, 'ACTIVE', { intervalMs: deps.pollIntervalMs });
  // Member steps run side by side, and Octavia refuses (409, "immutable") any change while another
  // one keeps the load balancer PENDING_UPDATE: wait for ACTIVE before each attempt, retry a 409.
  for (let attempt = 1; ; attempt++) {
    await active();
    const existing = (await octavia.listMembers(lb.poolId)).find((m) => m.address === port.address);
    // A member Octavia's worker failed to set up stays ERROR: no traffic would reach that master.
    if (existing?.provisioning_status === 'ERROR') {
      throw new UpstreamError(
        `Octavia failed to add load-balancer member ${r.name} (${existing.id} is in ERROR); see its worker's log, delete the member and retry`,
        { code: 'lb_member_failed' },
      );
    }
    if (existing) return { id: existing.id };
    try {
      await octavia.createMember(lb.poolId, {
        name: r.name,
        address: port.address,
        protocolPort: 6443,
        subnetId: subnet.id,
      });
      // The next round finds it once the load balancer is ACTIVE again, and says if Octavia failed it.
    } catch (error) {
      if (attempt >= 10 || !isOpenStackError(error, 'openstack_conflict')) throw error;
    }
  }
}
