/**
 * Neutron executors: network, subnet, router (gateway + interface), security groups and rules,
 * ports and floating IPs. Each finds its resource by name first and (re)applies the cluster tag,
 * so a crash between "create" and "tag" is repaired by the re-run.
 */
import type { PlanResource } from '../../cluster/plan.ts';
import { InputError } from '../../errors.ts';
import type { NeutronCollection, NeutronResource } from '../../openstack/index.ts';
import { outputOf, single, withRetries, type ExecDeps, type ResourceOutput } from './context.ts';

type Res<T extends PlanResource['type']> = Extract<PlanResource, { type: T }>;

async function ensureNamed<T extends NeutronResource>(
  deps: ExecDeps,
  collection: NeutronCollection<T>,
  kind: string,
  name: string,
  tags: string[],
  fields: Record<string, unknown>,
): Promise<T> {
  return withRetries(deps, `${kind} ${name}`, async () => {
    let found = single(await collection.list({ name }), kind, name);
    if (!found) found = await collection.create({ name, ...fields });
    if (!tags.every((t) => found.tags?.includes(t))) {
      await collection.setTags(found.id, [...new Set([...(found.tags ?? []), ...tags])]);
    }
    return found;
  });
}

/** Resolves an external network by id or name; undefined when absent. */
export async function findExternalNetwork(
  deps: Pick<ExecDeps, 'cloud'>,
  ref: string,
): Promise<{ id: string } | undefined> {
  const nets = await deps.cloud.neutron.networks.list({ 'router:external': true });
  return nets.find((n) => n.id === ref || n.name === ref);
}

/** Network of the cluster. */
export async function ensureNetwork(deps: ExecDeps, r: Res<'network'>): Promise<ResourceOutput> {
  const net = await ensureNamed(deps, deps.cloud.neutron.networks, 'network', r.name, r.tags, {});
  return { id: net.id };
}

/** Subnet on the cluster network. */
export async function ensureSubnet(deps: ExecDeps, r: Res<'subnet'>): Promise<ResourceOutput> {
  const network = outputOf<ResourceOutput>(deps, 'network');
  const subnet = await ensureNamed(deps, deps.cloud.neutron.subnets, 'subnet', r.name, r.tags, {
    network_id: network.id,
    cidr: r.params.cidr,
    ip_version: r.params.ipVersion,
  });
  return { id: subnet.id, cidr: subnet.cidr };
}

/** Router with a gateway to the external network (optional, see ProvisionOptions) and the subnet plugged in. */
export async function ensureRouter(deps: ExecDeps, r: Res<'router'>): Promise<ResourceOutput> {
  const subnet = outputOf<ResourceOutput>(deps, 'subnet');
  const external = await findExternalNetwork(deps, r.params.externalNetwork);
  if (!external && deps.options.requireExternalNetwork) {
    throw new InputError(
      `external network ${r.params.externalNetwork} not found: set externalNetwork to an existing router:external network (or requireExternalNetwork=false to provision without a gateway)`,
      { code: 'external_network_not_found', field: 'externalNetwork' },
    );
  }
  const router = await ensureNamed(deps, deps.cloud.neutron.routers, 'router', r.name, r.tags, {});
  if (external && router.external_gateway_info?.network_id !== external.id) {
    await withRetries(deps, `router gateway`, () =>
      deps.cloud.neutron.setRouterGateway(router.id, external.id),
    );
  }
  const ports = await deps.cloud.neutron.ports.list({ device_id: router.id });
  const plugged = ports.some((p) => p.fixed_ips.some((ip) => ip.subnet_id === subnet.id));
  if (!plugged) {
    await withRetries(deps, 'router interface', async () => {
      const again = await deps.cloud.neutron.ports.list({ device_id: router.id });
      if (!again.some((p) => p.fixed_ips.some((ip) => ip.subnet_id === subnet.id))) {
        await deps.cloud.neutron.addRouterInterface(router.id, { subnetId: subnet.id });
      }
    });
  }
  return { id: router.id, externalNetworkId: external?.id ?? null };
}

/** An empty security group (rules come in the security-groups step). */
export async function ensureSecurityGroup(deps: ExecDeps, r: Res<'security-group'>): Promise<ResourceOutput> {
  const sg = await ensureNamed(deps, deps.cloud.neutron.securityGroups, 'security group', r.name, r.tags, {
    description: 'kaas cluster',
  });
  return { id: sg.id };
}

/** Adds each plan rule missing from its group (matched on protocol, ports and remote). */
export async function ensureSecurityRules(
  deps: ExecDeps,
  r: Res<'security-group-rules'>,
): Promise<{ rules: number; created: number }> {
  const ids = new Map<string, string>();
  for (const stepId of ['sg-master', 'sg-node']) {
    const out = outputOf<ResourceOutput>(deps, stepId);
    const sg = await deps.cloud.neutron.securityGroups.get(out.id);
    ids.set(sg.name, sg.id);
  }
  const groupId = (name: string) => {
    const id = ids.get(name);
    if (!id) throw new InputError(`security group ${name} is not part of the plan`, { code: 'invalid_plan' });
    return id;
  };
  let created = 0;
  const byGroup = new Map<string, typeof r.params.rules>();
  for (const rule of r.params.rules)
    byGroup.set(rule.securityGroup, [...(byGroup.get(rule.securityGroup) ?? []), rule]);
  for (const [groupName, rules] of byGroup) {
    const sgId = groupId(groupName);
    const existing = await deps.cloud.neutron.securityGroupRules.list({ security_group_id: sgId });
    for (const rule of rules) {
      const remoteGroupId = rule.remoteGroup === undefined ? null : groupId(rule.remoteGroup);
      const present = existing.some(
        (e) =>
          e.direction === 'ingress' &&
          e.protocol === rule.protocol &&
          e.port_range_min === rule.portMin &&
          e.port_range_max === rule.portMax &&
          (e.remote_group_id ?? null) === remoteGroupId &&
          (e.remote_ip_prefix ?? null) === (rule.remoteCidr ?? null),
      );
      if (present) continue;
      await withRetries(deps, `security group rule ${rule.description}`, () =>
        deps.cloud.neutron.securityGroupRules.create({
          security_group_id: sgId,
          direction: 'ingress',
          ethertype: 'IPv4',
          protocol: rule.protocol,
          port_range_min: rule.portMin,
          port_range_max: rule.portMax,
          ...(remoteGroupId ? { remote_group_id: remoteGroupId } : { remote_ip_prefix: rule.remoteCidr }),
          description: rule.description,
        }),
      );
      created++;
    }
  }
  return { rules: r.params.rules.length, created };
}

/** A pre-created master port (its fixed IP is known before the server boots). */
export async function ensurePort(deps: ExecDeps, r: Res<'port'>): Promise<ResourceOutput> {
  const network = outputOf<ResourceOutput>(deps, 'network');
  const subnet = outputOf<ResourceOutput>(deps, 'subnet');
  const sgs = await deps.cloud.neutron.securityGroups.list({ tags: r.tags });
  const sgIds = r.params.securityGroups.map((name) => {
    const sg = sgs.find((s) => s.name === name);
    if (!sg) throw new InputError(`security group ${name} not found`, { code: 'invalid_plan' });
    return sg.id;
  });
  const port = await ensureNamed(deps, deps.cloud.neutron.ports, 'port', r.name, r.tags, {
    network_id: network.id,
    fixed_ips: [{ subnet_id: subnet.id }],
    security_groups: sgIds,
  });
  return { id: port.id, address: port.fixed_ips[0]?.ip_address ?? null };
}

/** Floating IP for the API, bound to the load balancer's VIP port or master-0's port. */
export async function ensureFloatingIp(
  deps: ExecDeps,
  r: Res<'floating-ip'>,
): Promise<ResourceOutput | { skipped: string }> {
  const router = outputOf<{ externalNetworkId: string | null }>(deps, 'router');
  if (router.externalNetworkId === null)
    return { skipped: 'no external network: the API is reached on its fixed IP' };
  const target = outputOf<{ id: string; portId?: string; vipPortId?: string }>(
    deps,
    r.params.target.type === 'load-balancer' ? 'load-balancer' : 'master-port-0',
  );
  const portId = target.vipPortId ?? target.id;
  return withRetries(deps, `floating IP ${r.name}`, async () => {
    const all = await deps.cloud.neutron.floatingIps.list({ tags: r.tags });
    let fip = all.find((f) => f.description === r.name);
    if (!fip) {
      fip = await deps.cloud.neutron.floatingIps.create({
        floating_network_id: router.externalNetworkId,
        port_id: portId,
        description: r.name,
      });
      await deps.cloud.neutron.floatingIps.setTags(fip.id, r.tags);
    } else if (fip.port_id !== portId) {
      fip = await deps.cloud.neutron.floatingIps.update(fip.id, { port_id: portId });
    }
    return { id: fip.id, address: fip.floating_ip_address };
  });
}
