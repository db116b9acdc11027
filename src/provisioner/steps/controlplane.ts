/**
 * Executors of a master's replacement (planUpgrade): find the cluster's network, subnet, load
 * balancer and server group as they are (an upgrade never re-creates them), point kubeadm-config at
 * the new version, hand joining masters the shared certificates (kubeadm-certs), wait for a new
 * master's etcd member, and take the old master out of the load balancer, etcd and Neutron.
 *
 * Unlike drains and waits these never skip when the API cannot be reached: a master whose etcd
 * member stays behind would cost the cluster its quorum a few replacements later, so every step
 * here either did its work or fails the job with the reason (`retry` continues from it).
 */
import { parse, stringify } from 'yaml';
import type { PlanResource } from '../../cluster/plan.ts';
import { UpstreamError } from '../../errors.ts';
import type { KubernetesObject } from '../../addons/index.ts';
import type { ClusterApi } from '../addons/client.ts';
import type { EtcdClient, EtcdMemberHealth } from '../etcd.ts';
import { KUBEADM_CERTS } from '../kubeadmcerts.ts';
import { single, withRetries, type ExecDeps, type ResourceOutput } from './context.ts';

type Res<T extends PlanResource['type']> = Extract<PlanResource, { type: T }>;

function missing(kind: string, name: string): UpstreamError {
  return new UpstreamError(
    `${kind} ${name} of the cluster is missing; an upgrade does not re-create it (delete and re-create the cluster)`,
    { code: 'resource_missing' },
  );
}

/**
 * An existing network, subnet, load balancer or server group, with the output its `ensure` step
 * gives at create, so the executors after it (ports, members, masters) run unchanged.
 */
export async function verifyExisting(
  deps: ExecDeps,
  r: Res<'network'> | Res<'subnet'> | Res<'load-balancer'> | Res<'server-group'>,
): Promise<ResourceOutput> {
  const { neutron, octavia, nova } = deps.cloud;
  if (r.type === 'network') {
    const net = single(await neutron.networks.list({ name: r.name }), 'network', r.name);
    if (!net) throw missing('network', r.name);
    return { id: net.id };
  }
  if (r.type === 'subnet') {
    const subnet = single(await neutron.subnets.list({ name: r.name }), 'subnet', r.name);
    if (!subnet) throw missing('subnet', r.name);
    return { id: subnet.id, cidr: subnet.cidr };
  }
  if (r.type === 'server-group') {
    const group = single(
      (await nova.listServerGroups()).filter((g) => g.name === r.name),
      'server group',
      r.name,
    );
    if (!group) throw missing('server group', r.name);
    return { id: group.id };
  }
  const lb = single(await octavia.listLoadBalancers({ name: r.name }), 'load balancer', r.name);
  const poolId = lb?.pools[0]?.id;
  if (!lb || !poolId) throw missing('API load balancer (with its pool)', r.name);
  return { id: lb.id, vipPortId: lb.vip_port_id, vipAddress: lb.vip_address, poolId };
}

/**
 * The cluster's API as its break-glass admin, through the addons' client (server-side apply); an
 * API that does not answer fails the step at once (`api_unreachable`), naming what was not done.
 */
async function clusterApiOf(deps: ExecDeps, what: string): Promise<ClusterApi> {
  const kube = deps.kube;
  if (!kube || !deps.addons) {
    throw new UpstreamError(`cannot ${what}: kaas has no API endpoint or no credentials for this cluster`, {
      code: 'cluster_secrets_missing',
    });
  }
  if (!(await kube.client.healthy(deps.ctx.signal))) {
    throw new UpstreamError(
      `cannot ${what}: the cluster API at ${kube.url} does not answer /healthz; retry the job once it does`,
      { code: 'api_unreachable' },
    );
  }
  return deps.addons.clusterApi({ server: kube.url, ...deps.addons.access });
}

const KUBEADM_CONFIG = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  namespace: 'kube-system',
  name: 'kubeadm-config',
} as const;

/**
 * Sets `kubernetesVersion` in the ClusterConfiguration kubeadm keeps in kube-system/kubeadm-config:
 * `kubeadm join --control-plane` writes its static pods from it, so without this a replacement
 * master would run the old control plane under a new kubelet (Cluster API does the same).
 */
export async function updateKubeadmConfig(deps: ExecDeps, r: Res<'kubeadm-config'>) {
  const api = await clusterApiOf(deps, 'update kubeadm-config');
  const live = await api.read(KUBEADM_CONFIG);
  const text = (live?.['data'] as Record<string, string> | undefined)?.['ClusterConfiguration'];
  if (!live || text === undefined) {
    throw new UpstreamError(
      'kube-system/kubeadm-config has no ClusterConfiguration: the cluster was not set up by kubeadm init as kaas configures it',
      { code: 'kubeadm_config_missing' },
    );
  }
  const config = parse(text) as Record<string, unknown>;
  const from = String(config['kubernetesVersion'] ?? '');
  const to = `v${r.params.kubernetesVersion}`;
  if (from !== to) {
    await api.apply({
      apiVersion: KUBEADM_CONFIG.apiVersion,
      kind: KUBEADM_CONFIG.kind,
      metadata: { name: KUBEADM_CONFIG.name, namespace: KUBEADM_CONFIG.namespace },
      data: { ClusterConfiguration: stringify({ ...config, kubernetesVersion: to }) },
    });
  }
  return { from, to, changed: from !== to };
}

interface Workload {
  spec?: { template?: { spec?: { containers?: { name: string; image?: string }[] } } };
}

/**
 * Moves kubeadm's own add-ons to the new version's images, as `kubeadm upgrade apply` does: the
 * kube-proxy DaemonSet to `v<version>` and the CoreDNS Deployment to the catalogue's CoreDNS tag,
 * keeping each image's repository. Only the image field is applied. A cluster without one of them
 * (kube-proxy replaced by its network plugin) says `absent` for it.
 */
export async function updateKubeadmAddons(deps: ExecDeps, r: Res<'kubeadm-addons'>) {
  const api = await clusterApiOf(deps, 'update kube-proxy and CoreDNS');
  const targets = [
    { kind: 'DaemonSet', name: 'kube-proxy', tag: `v${r.params.kubernetesVersion}` },
    { kind: 'Deployment', name: 'coredns', tag: r.params.coreDns },
  ];
  const out: Record<string, { from: string; to: string } | 'absent'> = {};
  for (const t of targets) {
    const ref = { apiVersion: 'apps/v1', kind: t.kind, namespace: 'kube-system', name: t.name };
    const live = (await api.read(ref)) as Workload | undefined;
    const container = live?.spec?.template?.spec?.containers?.find((c) => c.name === t.name);
    if (!live || !container?.image) {
      out[t.name] = 'absent';
      continue;
    }
    const to = container.image.replace(/:[^:/]+$/, '') + `:${t.tag}`;
    if (to !== container.image) {
      await api.apply({
        apiVersion: ref.apiVersion,
        kind: ref.kind,
        metadata: { name: ref.name, namespace: ref.namespace },
        spec: { template: { spec: { containers: [{ name: t.name, image: to }] } } },
      });
    }
    out[t.name] = { from: container.image, to };
  }
  return out;
}

/**
 * Uploads the kubeadm-certs Secret (with its Role and RoleBinding), sealed with this job's own
 * certificate key, which only the replacement masters' user data carries.
 */
export async function uploadKubeadmCerts(deps: ExecDeps, _r: Res<'kubeadm-certs'>) {
  if (!deps.kubeadmCerts) {
    throw new UpstreamError('cannot upload kubeadm-certs: the cluster has no stored material', {
      code: 'cluster_secrets_missing',
    });
  }
  const objects = deps.kubeadmCerts() as KubernetesObject[];
  const api = await clusterApiOf(deps, 'upload kubeadm-certs');
  for (const object of objects) await api.apply(object);
  return { uploaded: objects.map((o) => `${o.kind} ${KUBEADM_CERTS.namespace}/${o.metadata.name}`) };
}

/** Removes the kubeadm-certs Secret, Role and RoleBinding once the masters that needed them joined. */
export async function deleteKubeadmCerts(deps: ExecDeps, _r: Res<'kubeadm-certs'>) {
  const api = await clusterApiOf(deps, 'delete kubeadm-certs');
  const refs = [
    { apiVersion: 'v1', kind: 'Secret', name: KUBEADM_CERTS.name },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', name: KUBEADM_CERTS.role },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', name: KUBEADM_CERTS.role },
  ];
  const ids: string[] = [];
  for (const ref of refs) {
    if ((await api.remove({ ...ref, namespace: KUBEADM_CERTS.namespace })) === 'deleted') {
      ids.push(`${ref.kind} ${KUBEADM_CERTS.namespace}/${ref.name}`);
    }
  }
  return { removed: ids.length, ids };
}

function etcdOf(deps: ExecDeps, masters: readonly string[]): EtcdClient {
  if (!deps.etcd) {
    throw new UpstreamError(
      'kaas cannot reach this cluster’s etcd: it has no etcd CA (created by an older kaas) or no API endpoint',
      { code: 'control_plane_certs_missing' },
    );
  }
  return deps.etcd(masters);
}

const describe = (members: readonly EtcdMemberHealth[]) =>
  members.map((m) => `${m.name || m.id}${m.healthy ? '' : ` (${m.reason ?? 'unhealthy'})`}`).join(', ');

/**
 * Polls etcd's members until `settled` says the membership is as wanted and every member answers
 * healthy; `etcd_member_not_ready` naming each member's state when that does not happen in time.
 */
async function untilHealthy(
  deps: ExecDeps,
  etcd: EtcdClient,
  what: string,
  settled: (health: EtcdMemberHealth[]) => string | undefined,
): Promise<EtcdMemberHealth[]> {
  const deadline = deps.now().getTime() + deps.waitTimeoutMs;
  for (;;) {
    let why: string;
    try {
      const health = await etcd.health();
      const pending = settled(health);
      if (pending === undefined && health.every((m) => m.healthy)) return health;
      why = `${pending === undefined ? '' : `${pending}; `}members: ${describe(health)}`;
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      if (!['etcd_unreachable', 'etcd_error', 'etcd_not_ready'].includes(code)) throw error;
      why = (error as Error).message;
    }
    if (deps.now().getTime() > deadline || deps.ctx.signal.aborted) {
      throw new UpstreamError(`${what} not seen after ${Math.round(deps.waitTimeoutMs / 1000)} s: ${why}`, {
        code: 'etcd_member_not_ready',
      });
    }
    await deps.sleep(deps.pollIntervalMs);
  }
}

/** Waits until etcd lists a started member named after the new master (kubeadm join added it) and every member is healthy. */
export async function waitEtcdMember(deps: ExecDeps, r: Res<'etcd-member'>) {
  const { member, masters } = r.params;
  const etcd = etcdOf(deps, masters);
  try {
    const health = await untilHealthy(deps, etcd, `etcd member ${member} joined and healthy`, (h) =>
      h.some((m) => m.name === member) ? undefined : `no member named ${member} yet`,
    );
    const mine = health.find((m) => m.name === member) as EtcdMemberHealth;
    return { member, id: mine.id, members: health.map((m) => m.name).sort() };
  } finally {
    await etcd.close();
  }
}

/**
 * Removes the old master's etcd member (by name) when that keeps quorum (etcd.ts refuses otherwise),
 * then waits until every remaining member is healthy again (a removed leader leaves the others to
 * elect a new one), so the old master is drained and deleted only from a healthy etcd.
 */
export async function removeEtcdMember(deps: ExecDeps, r: Res<'etcd-member'>) {
  const { member, masters } = r.params;
  // The member itself last: membership calls go to the others (it stops as it applies its own
  // removal and answers 503); only its leadership hand-over is asked of it.
  const etcd = etcdOf(deps, [...masters.filter((m) => m !== member), member]);
  try {
    const found = (await etcd.members()).find((m) => m.name === member);
    const outcome = found ? await etcd.removeMember(found.id) : { removed: false };
    const { removed } = outcome;
    if (outcome.leaderMovedTo) {
      await deps.ctx.event(
        `etcd leadership moved from ${member} to ${outcome.leaderMovedTo} before its removal`,
      );
    }
    const after = await untilHealthy(deps, etcd, `etcd healthy without ${member}`, (h) =>
      h.some((m) => m.name === member) ? `${member} still listed` : undefined,
    );
    await deps.ctx.event(
      `${removed ? `removed etcd member ${member}` : `etcd member ${member} already gone`}; members now: ${describe(after)}`,
    );
    return {
      member,
      removed,
      ...(found ? { id: found.id } : {}),
      ...(outcome.leaderMovedTo ? { leaderMovedTo: outcome.leaderMovedTo } : {}),
      members: after.map((m) => m.name).sort(),
      healthy: after.length,
    };
  } finally {
    await etcd.close();
  }
}

/** Takes an old master out of the API load balancer's pool (found by member name or port address). */
export async function deleteLbMember(deps: ExecDeps, r: Res<'lb-member'>) {
  const { octavia, neutron } = deps.cloud;
  const lb = single(
    await octavia.listLoadBalancers({ name: r.params.loadBalancer }),
    'load balancer',
    r.params.loadBalancer,
  );
  const poolId = lb?.pools[0]?.id;
  if (!lb || !poolId) throw missing('API load balancer (with its pool)', r.params.loadBalancer);
  const [port] = await neutron.ports.list({ name: r.params.port });
  const address = port?.fixed_ips[0]?.ip_address;
  const gone = (await octavia.listMembers(poolId)).filter(
    (m) => m.name === r.name || (address !== undefined && m.address === address),
  );
  for (const m of gone) {
    await withRetries(deps, `load-balancer member ${r.name}`, () =>
      octavia.deleteMember(poolId, m.id, { ignoreMissing: true }),
    );
    await octavia.waitForLoadBalancer(lb.id, 'ACTIVE', { intervalMs: deps.pollIntervalMs });
  }
  // Octavia accepts a deletion its worker may fail (the member then stays, in ERROR): check.
  const left = (await octavia.listMembers(poolId)).filter((m) => gone.some((g) => g.id === m.id));
  if (left.length > 0) {
    throw new UpstreamError(
      `Octavia did not remove load-balancer member ${r.name} (${left.map((m) => `${m.id}: ${m.provisioning_status}`).join(', ')}); see its worker's log`,
      { code: 'lb_member_not_removed' },
    );
  }
  return { removed: gone.length, ids: gone.map((m) => m.id) };
}

/** Deletes an old master's pre-created port (Nova leaves ports it did not create). */
export async function deletePort(deps: ExecDeps, r: Res<'port'>) {
  const ports = (await deps.cloud.neutron.ports.list({ name: r.name })).filter((p) =>
    r.tags.every((t) => p.tags?.includes(t)),
  );
  for (const p of ports) {
    await withRetries(deps, `port ${r.name}`, () =>
      deps.cloud.neutron.ports.delete(p.id, { ignoreMissing: true }),
    );
  }
  return { removed: ports.length, ids: ports.map((p) => p.id) };
}
