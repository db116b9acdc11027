/**
 * Nova executors: keypair, server group, masters and worker groups. Servers are found by name and
 * tag before being created, created with bounded concurrency (the session honours 429 Retry-After;
 * quota errors fail the step with Nova's message), then polled in one listing per round rather
 * than one GET per server, which keeps API calls flat as clusters grow.
 */
import type { PlanResource, ServerParams } from '../../cluster/plan.ts';
import { clusterNames } from '../../cluster/names.ts';
import { InputError, UpstreamError } from '../../errors.ts';
import { isOpenStackError, type Server } from '../../openstack/index.ts';
import { releaseTempUrl, type StagedRelease } from './artifacts.ts';
import {
  mapLimit,
  outputOf,
  poll,
  single,
  withRetries,
  type ExecDeps,
  type ResourceOutput,
} from './context.ts';

type Res<T extends PlanResource['type']> = Extract<PlanResource, { type: T }>;

/** Uploads the operator's public key (or checks a named existing key). */
export async function ensureKeypair(
  deps: ExecDeps,
  r: Res<'keypair'>,
  verifyOnly: boolean,
): Promise<ResourceOutput> {
  try {
    const kp = await deps.cloud.nova.getKeypair(r.name);
    return { id: kp.name, fingerprint: kp.fingerprint };
  } catch (error) {
    if (!isOpenStackError(error, 'openstack_not_found')) throw error;
    if (verifyOnly) {
      throw new InputError(
        `keypair ${r.name} does not exist in the project; create it or pass a public key`,
        {
          code: 'keypair_not_found',
          field: 'sshKeyName',
        },
      );
    }
  }
  const kp = await withRetries(deps, `keypair ${r.name}`, async () => {
    try {
      return await deps.cloud.nova.createKeypair({
        name: r.name,
        ...(r.params.publicKey ? { publicKey: r.params.publicKey } : {}),
      });
    } catch (error) {
      if (isOpenStackError(error, 'openstack_conflict')) return deps.cloud.nova.getKeypair(r.name);
      throw error;
    }
  });
  return { id: kp.name, fingerprint: kp.fingerprint };
}

/** Anti-affinity server group for the masters (Nova cannot tag these; found by name). */
export async function ensureServerGroup(deps: ExecDeps, r: Res<'server-group'>): Promise<ResourceOutput> {
  return withRetries(deps, `server group ${r.name}`, async () => {
    const found = single(
      (await deps.cloud.nova.listServerGroups()).filter((g) => g.name === r.name),
      'server group',
      r.name,
    );
    const group =
      found ?? (await deps.cloud.nova.createServerGroup({ name: r.name, policy: r.params.policy }));
    return { id: group.id };
  });
}

interface Resolved {
  flavorId: string;
  imageId: string;
}

async function resolve(deps: ExecDeps, params: ServerParams): Promise<Resolved> {
  const flavors = await deps.cloud.nova.listFlavors();
  const flavor = flavors.find((f) => f.id === params.flavor || f.name === params.flavor);
  if (!flavor)
    throw new InputError(`flavor ${params.flavor} does not exist`, {
      code: 'flavor_not_found',
      field: 'flavor',
    });
  const image = await deps.cloud.glance.findImageByName(params.image);
  const imageId =
    image?.id ??
    (await deps.cloud.glance
      .getImage(params.image)
      .then((i) => i.id)
      .catch(() => undefined));
  if (!imageId)
    throw new InputError(`image ${params.image} does not exist`, { code: 'image_not_found', field: 'image' });
  return { flavorId: flavor.id, imageId };
}

/**
 * `host:6443` of the API: from this job's output of `stepId` when it ran here, else looked up by
 * name (resize and upgrade jobs run long after the create job recorded it).
 */
async function endpointOf(deps: ExecDeps, stepId: string): Promise<string> {
  let out = deps.ctx.outputs.get(stepId) as
    { address?: string | null; vipAddress?: string | null } | undefined;
  const names = clusterNames(deps.spec.name);
  if (!out && stepId === 'load-balancer') {
    const [lb] = await deps.cloud.octavia.listLoadBalancers({ name: names.apiLoadBalancer }).catch(() => []);
    if (lb) out = { vipAddress: lb.vip_address };
  }
  if (!out) {
    const [port] = await deps.cloud.neutron.ports.list({ name: names.masterPort(0) });
    out = { address: port?.fixed_ips[0]?.ip_address ?? null };
  }
  const host = out.vipAddress ?? out.address;
  if (!host)
    throw new UpstreamError(`step ${stepId} recorded no address for the API endpoint`, {
      code: 'invalid_plan',
    });
  return `${host}:6443`;
}

/** The staged release with a TempURL signed now, for user data only (outputs never hold one). */
async function releaseOf(deps: ExecDeps): Promise<{ url: string; sha256: string }> {
  const staged = outputOf<StagedRelease>(deps, 'release-tarball');
  return { url: await releaseTempUrl(deps, staged), sha256: staged.sha256 };
}

async function networkIdOf(deps: ExecDeps, name: string): Promise<string> {
  const out = deps.ctx.outputs.get('network') as ResourceOutput | undefined;
  if (out) return out.id;
  const net = single(await deps.cloud.neutron.networks.list({ name }), 'network', name);
  if (!net)
    throw new UpstreamError(`network ${name} of the cluster is missing; delete and re-create the cluster`, {
      code: 'network_missing',
    });
  return net.id;
}

interface Wanted {
  name: string;
  index: number;
  role: 'init' | 'join-control-plane' | 'worker';
}

/** Creates the missing servers of `wanted`, then waits until all are ACTIVE. */
async function ensureServers(
  deps: ExecDeps,
  params: ServerParams,
  tags: string[],
  wanted: Wanted[],
  extra: { serverGroupId?: string; portId?: string },
) {
  const existing = new Map<string, Server>();
  for (const s of await deps.cloud.nova.listServers({ tags })) existing.set(s.name, s);
  const resolved = await resolve(deps, params);
  const endpoint = await endpointOf(deps, params.bootstrap.apiEndpointFrom);
  const release = await releaseOf(deps);
  const networkId = params.network === undefined ? undefined : await networkIdOf(deps, params.network);
  // The API certificate must name the floating IP, or clients verifying it (kubectl, kaas' drains) fail.
  const fip = (deps.ctx.outputs.get('api-floating-ip') as { address?: string | null } | undefined)?.address;
  const missing = wanted.filter((w) => !existing.has(w.name));
  if (missing.length > 0)
    await deps.ctx.event(
      `creating ${missing.length} server(s), ${wanted.length - missing.length} already exist`,
    );
  await mapLimit(missing, deps.serverConcurrency, (w) => {
    // The listing above is fresh for the first attempt; only a retry after a failed POST (which
    // may have gone through) must look again, which keeps creation at one call per server.
    let retry = false;
    return withRetries(deps, `server ${w.name}`, async () => {
      if (retry) {
        const again = (await deps.cloud.nova.listServers({ name: `^${w.name}$`, tags })).find(
          (s) => s.name === w.name,
        );
        if (again) return;
      }
      retry = true;
      const userData = await deps.renderUserData({
        spec: deps.spec,
        clusterId: deps.clusterId,
        role: w.role,
        nodeName: w.name,
        labels: params.labels,
        controlPlaneEndpoint: endpoint,
        release,
        ...(w.role !== 'worker' && fip ? { certSANs: [fip] } : {}),
      });
      await deps.cloud.nova.createServer({
        name: w.name,
        flavorRef: resolved.flavorId,
        imageRef: resolved.imageId,
        networks: extra.portId ? [{ port: extra.portId }] : [{ uuid: networkId as string }],
        ...(params.keypair ? { keyName: params.keypair } : {}),
        userData,
        metadata: { ...params.metadata, 'kaas-index': String(w.index) },
        tags,
        ...(extra.portId ? {} : { securityGroups: [...params.securityGroups] }),
        ...(extra.serverGroupId ? { serverGroupId: extra.serverGroupId } : {}),
      });
    });
  });
  const names = new Set(wanted.map((w) => w.name));
  const active = await poll(deps, `${wanted.length} server(s) to become ACTIVE`, async () => {
    const servers = (await deps.cloud.nova.listServers({ tags })).filter((s) => names.has(s.name));
    const failed = servers.find((s) => s.status === 'ERROR');
    if (failed) {
      throw new UpstreamError(
        `server ${failed.name} failed to build: ${failed.fault?.message ?? 'no fault reported'}`,
        {
          code: 'server_build_failed',
        },
      );
    }
    return servers.length === names.size && servers.every((s) => s.status === 'ACTIVE') ? servers : undefined;
  });
  return active.map((s) => ({ name: s.name, id: s.id }));
}

/** One master on its pre-created port, in the anti-affinity group. */
export async function ensureMaster(
  deps: ExecDeps,
  stepId: string,
  r: Res<'server'>,
): Promise<ResourceOutput> {
  const index = Number(r.params.metadata['kaas-index'] ?? 0);
  const port = outputOf<ResourceOutput>(deps, `master-port-${index}`);
  const group = outputOf<ResourceOutput>(deps, 'server-group');
  const [server] = await ensureServers(
    deps,
    r.params,
    r.tags,
    [{ name: r.name, index, role: r.params.bootstrap.role }],
    {
      serverGroupId: group.id,
      portId: port.id,
    },
  );
  if (!server)
    throw new UpstreamError(`master ${r.name} vanished while booting (${stepId})`, {
      code: 'server_build_failed',
    });
  return { id: server.id };
}

/** A worker group (or the added part of one), created in parallel with bounded concurrency. */
export async function ensureWorkers(
  deps: ExecDeps,
  r: Res<'servers'>,
): Promise<{ servers: { name: string; id: string }[] }> {
  const wanted = r.params.names.map((name, i) => ({
    name,
    index: r.params.indexes[i] as number,
    role: 'worker' as const,
  }));
  return { servers: await ensureServers(deps, r.params, r.tags, wanted, {}) };
}

/** Deletes one named server of the cluster (resize down) and waits until it is gone. */
export async function deleteServer(
  deps: ExecDeps,
  r: Res<'server'>,
): Promise<{ deleted: number; ids: string[] }> {
  const found = (await deps.cloud.nova.listServers({ tags: r.tags })).filter((s) => s.name === r.name);
  for (const s of found) await deps.cloud.nova.deleteServer(s.id, { ignoreMissing: true });
  await poll(deps, `server ${r.name} to be deleted`, async () =>
    (await deps.cloud.nova.listServers({ tags: r.tags })).some((s) => s.name === r.name) ? undefined : true,
  );
  return { deleted: found.length, ids: found.map((s) => s.id) };
}
