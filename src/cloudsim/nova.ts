import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Ctx, Env, Reply, Route, Service } from './http.ts';
import { bodyOf, discoveryRoute, HttpError, isAdmin, projectOf, quotaOf, requireCaller } from './http.ts';
import { afterMarker, deleteRoute, FAULT_KEYS, showRoute, str, unauthorizedReply } from './http.ts';
import { createPort, deletePortById } from './neutron.ts';
import { isoSeconds, uuid, type Flavor, type Keypair, type Server, type ServerGroup } from './state.ts';

/** Nova 26 (Zed) accepts microversions 2.1 … 2.93. */
const MIN = [2, 1] as const;
const MAX = [2, 93] as const;

const KEYS: Record<number, string> = { ...FAULT_KEYS, 405: 'HTTPMethodNotAllowed', 429: 'overLimit' };

function novaError(err: HttpError): Reply {
  if (err.status === 401) return unauthorizedReply(err.message);
  const key = err.type ?? KEYS[err.status] ?? 'computeFault';
  return { status: err.status, json: { [key]: { code: err.status, message: err.message } } };
}

/** Parses the requested compute microversion into [major, minor]; 2.1 when absent. */
function microversion(headers: Ctx['headers']): [number, number] {
  const h = headers['openstack-api-version'];
  let text = typeof h === 'string' ? (/compute\s+(\S+)/i.exec(h)?.[1] ?? undefined) : undefined;
  text ??=
    typeof headers['x-openstack-nova-api-version'] === 'string'
      ? headers['x-openstack-nova-api-version']
      : undefined;
  if (!text) return [MIN[0], MIN[1]];
  if (text === 'latest') return [MAX[0], MAX[1]];
  const m = /^(\d+)\.(\d+)$/.exec(text);
  if (!m) throw new HttpError(400, `Invalid format: ${text}`);
  const v: [number, number] = [Number(m[1]), Number(m[2])];
  if (cmp(v, MIN) < 0 || cmp(v, MAX) > 0) {
    throw new HttpError(
      406,
      `Version ${text} is not supported by the API. Minimum is ${MIN.join('.')} and maximum is ${MAX.join('.')}.`,
    );
  }
  return v;
}

function cmp(a: readonly [number, number], b: readonly [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}

const atLeast = (ctx: Ctx, minor: number) => cmp(microversion(ctx.headers), [2, minor]) >= 0;

function flavorLinks(env: Env, id: string) {
  return [
    { rel: 'self', href: `${env.url}/compute/v2.1/flavors/${id}` },
    { rel: 'bookmark', href: `${env.url}/compute/flavors/${id}` },
  ];
}

function flavorView(ctx: Ctx, f: Flavor, detail: boolean) {
  const base: Record<string, unknown> = { id: f.id, name: f.name, links: flavorLinks(ctx.env, f.id) };
  if (atLeast(ctx, 55)) base.description = null;
  if (!detail) return base;
  return {
    ...base,
    ram: f.ram,
    disk: f.disk,
    swap: atLeast(ctx, 75) ? 0 : '',
    'OS-FLV-EXT-DATA:ephemeral': 0,
    'OS-FLV-DISABLED:disabled': false,
    vcpus: f.vcpus,
    'os-flavor-access:is_public': true,
    rxtx_factor: 1.0,
    ...(atLeast(ctx, 61) ? { extra_specs: {} } : {}),
  };
}

function statusOf(env: Env, s: Server): string {
  if (s.fault !== undefined) return 'ERROR';
  return env.now() >= s.activeAt ? 'ACTIVE' : 'BUILD';
}

function addresses(env: Env, s: Server) {
  const out: Record<string, unknown[]> = {};
  for (const portId of s.portIds) {
    const port = env.state.ports.get(portId);
    if (!port) continue;
    const net = env.state.networks.get(port.networkId);
    const list = (out[net?.name ?? port.networkId] ??= []);
    for (const ip of port.fixedIps) {
      list.push({
        version: 4,
        addr: ip.ip_address,
        'OS-EXT-IPS:type': 'fixed',
        'OS-EXT-IPS-MAC:mac_addr': port.macAddress,
      });
    }
    for (const f of env.state.floatingIps.values()) {
      if (f.portId === port.id)
        list.push({
          version: 4,
          addr: f.floatingIpAddress,
          'OS-EXT-IPS:type': 'floating',
          'OS-EXT-IPS-MAC:mac_addr': port.macAddress,
        });
    }
  }
  return out;
}

function serverLinks(env: Env, id: string) {
  return [
    { rel: 'self', href: `${env.url}/compute/v2.1/servers/${id}` },
    { rel: 'bookmark', href: `${env.url}/compute/servers/${id}` },
  ];
}

function serverView(ctx: Ctx, s: Server) {
  const { env } = ctx;
  const status = statusOf(env, s);
  const active = status === 'ACTIVE';
  const flavor = env.state.flavors.get(s.flavorId);
  const admin = isAdmin(ctx);
  const view: Record<string, unknown> = {
    id: s.id,
    name: s.name,
    status,
    tenant_id: s.projectId,
    user_id: s.userId,
    metadata: s.metadata,
    hostId: createHash('sha224')
      .update(s.projectId + s.host)
      .digest('hex'),
    image: { id: s.imageId, links: [{ rel: 'bookmark', href: `${env.url}/compute/images/${s.imageId}` }] },
    flavor: atLeast(ctx, 47)
      ? {
          vcpus: flavor?.vcpus,
          ram: flavor?.ram,
          disk: flavor?.disk,
          ephemeral: 0,
          swap: 0,
          original_name: flavor?.name,
          extra_specs: {},
        }
      : { id: s.flavorId, links: [{ rel: 'bookmark', href: `${env.url}/compute/flavors/${s.flavorId}` }] },
    created: isoSeconds(s.createdAt),
    updated: isoSeconds(active ? s.activeAt : s.createdAt),
    addresses: addresses(env, s),
    accessIPv4: '',
    accessIPv6: '',
    links: serverLinks(env, s.id),
    'OS-DCF:diskConfig': 'MANUAL',
    progress: 0,
    'OS-EXT-AZ:availability_zone': 'nova',
    config_drive: s.configDrive ? 'True' : '',
    key_name: s.keyName,
    'OS-SRV-USG:launched_at': active
      ? new Date(s.activeAt)
          .toISOString()
          .replace('Z', '000')
          .replace(/\.(\d{6})\d*$/, '.$1')
      : null,
    'OS-SRV-USG:terminated_at': null,
    'OS-EXT-STS:task_state': s.deleting ? 'deleting' : active || s.fault ? null : 'spawning',
    'OS-EXT-STS:vm_state': s.fault ? 'error' : active ? 'active' : 'building',
    ...(s.fault === undefined ? {} : { fault: { code: 500, message: s.fault } }),
    'OS-EXT-STS:power_state': active ? 1 : 0,
    'os-extended-volumes:volumes_attached': [],
    security_groups: s.securityGroups.map((name) => ({ name })),
  };
  if (admin) {
    Object.assign(view, {
      'OS-EXT-SRV-ATTR:host': s.host,
      'OS-EXT-SRV-ATTR:instance_name': `instance-${s.seq.toString(16).padStart(8, '0')}`,
      'OS-EXT-SRV-ATTR:hypervisor_hostname': s.host,
    });
    if (atLeast(ctx, 3)) {
      Object.assign(view, {
        'OS-EXT-SRV-ATTR:reservation_id': s.reservationId,
        'OS-EXT-SRV-ATTR:launch_index': 0,
        'OS-EXT-SRV-ATTR:hostname': s.name.toLowerCase().replace(/[^a-z0-9-]/g, '-'),
        'OS-EXT-SRV-ATTR:kernel_id': '',
        'OS-EXT-SRV-ATTR:ramdisk_id': '',
        'OS-EXT-SRV-ATTR:root_device_name': '/dev/vda',
        'OS-EXT-SRV-ATTR:user_data': s.userData,
      });
    }
  }
  if (atLeast(ctx, 9)) view.locked = false;
  if (atLeast(ctx, 19)) view.description = s.description;
  if (atLeast(ctx, 26)) view.tags = s.tags;
  if (atLeast(ctx, 63)) view.trusted_image_certificates = null;
  if (atLeast(ctx, 73)) view.locked_reason = null;
  if (atLeast(ctx, 16)) view.host_status = admin ? 'UP' : undefined;
  return view;
}

function getServer(ctx: Ctx, id: string): Server {
  const s = ctx.env.state.servers.get(id);
  if (!s || (!isAdmin(ctx) && s.projectId !== projectOf(ctx)))
    throw new HttpError(404, `Instance ${id} could not be found.`);
  return s;
}

function quotaCheck(ctx: Ctx, projectId: string, flavor: Flavor, count: number): void {
  const servers = [...ctx.env.state.servers.values()].filter((s) => s.projectId === projectId);
  const used = { instances: servers.length, cores: 0, ram: 0 };
  for (const s of servers) {
    const f = ctx.env.state.flavors.get(s.flavorId);
    used.cores += f?.vcpus ?? 0;
    used.ram += f?.ram ?? 0;
  }
  const want = { instances: count, cores: flavor.vcpus * count, ram: flavor.ram * count };
  const over = (['instances', 'cores', 'ram'] as const).filter((k) => {
    const limit = quotaOf(ctx.env, projectId, k);
    return limit >= 0 && used[k] + want[k] > limit;
  });
  if (over.length > 0) {
    const detail = over
      .map(
        (k) => `Requested ${want[k]}, but already used ${used[k]} of ${quotaOf(ctx.env, projectId, k)} ${k}`,
      )
      .join(', ');
    throw new HttpError(403, `Quota exceeded for ${over.join(', ')}: ${detail}`);
  }
}

function isBase64(text: string): boolean {
  return /^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(text) && text.replace(/\s/g, '').length % 4 === 0;
}

/** Nova's 400 for a request body without a property it requires. */
function required(object: string, property: string): HttpError {
  return new HttpError(
    400,
    `Invalid input for field/attribute ${object}. Value: {}. '${property}' is a required property`,
  );
}

function createServer(ctx: Ctx): Reply {
  const { env } = ctx;
  const { state } = env;
  const caller = requireCaller(ctx);
  const projectId = projectOf(ctx);
  const b = bodyOf(ctx, 'server');
  const name = str(b.name);
  if (!name) throw required('server', 'name');
  const flavorRef = String(b.flavorRef ?? '');
  const flavor = state.flavors.get(flavorRef.split('/').pop() ?? '');
  if (!flavor) throw new HttpError(400, `Flavor ${flavorRef} could not be found.`);
  const imageRef = str(b.imageRef) ?? '';
  const image = state.images.get(imageRef);
  if (!image) throw new HttpError(400, `Image ${imageRef} could not be found.`);
  if (image.status !== 'active') throw new HttpError(400, `Image ${imageRef} is not active.`);
  const keyName = str(b.key_name) ?? null;
  if (keyName && !state.keypairs.has(state.keypairKey(caller.user.id, keyName)))
    throw new HttpError(400, 'Invalid key_name provided.');
  const userData = str(b.user_data) ?? null;
  if (userData !== null && (!isBase64(userData) || userData.length > 65535))
    throw new HttpError(400, 'User data needs to be valid base 64.');
  const hints = (ctx.body as Record<string, unknown>)['os:scheduler_hints'] as
    Record<string, unknown> | undefined;
  const groupId = str(hints?.group) ?? null;
  const group = groupId ? state.serverGroups.get(groupId) : undefined;
  if (groupId && !group) throw new HttpError(400, `Invalid server group ${groupId}`);
  const sgNames = Array.isArray(b.security_groups)
    ? (b.security_groups as { name: string }[]).map((g) => String(g.name))
    : ['default'];
  const sgIds = sgNames.map((n) => {
    const g = [...state.securityGroups.values()].find(
      (x) => (x.name === n || x.id === n) && x.projectId === projectId,
    );
    if (!g && n !== 'default')
      throw new HttpError(400, `Security group ${n} not found for project ${projectId}.`);
    return g?.id;
  });
  const requested = resolveNetworks(ctx, b.networks, projectId);
  quotaCheck(ctx, projectId, flavor, 1);
  const tags = Array.isArray(b.tags) ? (b.tags as unknown[]).map(String) : [];
  if (tags.length > 50) throw new HttpError(400, 'Invalid input: too many tags (max 50).');

  // validation done: from here on the request changes state.
  const now = env.now();
  const seq = state.nextSeq();
  const server: Server = {
    id: uuid(),
    name,
    projectId,
    userId: caller.user.id,
    flavorId: flavor.id,
    imageId: image.id,
    keyName,
    userData,
    metadata: (b.metadata as Record<string, string>) ?? {},
    tags,
    securityGroups: sgNames,
    configDrive: b.config_drive === true,
    portIds: [],
    createdPortIds: [],
    createdAt: now,
    activeAt: now + env.knobs.bootTimeMs,
    host: `cloudsim-compute-${(seq % 3) + 1}`,
    seq,
    groupId,
    reservationId: `r-${randomBytes(4).toString('hex')}`,
    description: str(b.description) ?? null,
  };
  for (const r of requested) {
    if (r.portId) {
      const port = state.ports.get(r.portId) as NonNullable<ReturnType<typeof state.ports.get>>;
      Object.assign(port, {
        deviceId: server.id,
        deviceOwner: 'compute:nova',
        status: 'ACTIVE',
        hostId: server.host,
      });
      server.portIds.push(port.id);
    } else {
      const ids = sgIds.filter((x): x is string => x !== undefined);
      const port = createPort(ctx, {
        projectId,
        networkId: r.networkId,
        deviceId: server.id,
        deviceOwner: 'compute:nova',
        status: 'ACTIVE',
        hostId: server.host,
        securityGroups: ids.length ? ids : undefined,
        fixedIps: r.fixedIp ? [{ ip_address: r.fixedIp }] : undefined,
      });
      server.portIds.push(port.id);
      server.createdPortIds.push(port.id);
    }
  }
  group?.members.push(server.id);
  state.servers.set(server.id, server);
  const adminPass = randomBytes(9).toString('base64url');
  return {
    status: 202,
    headers: { location: `${env.url}/compute/v2.1/servers/${server.id}` },
    json: {
      server: {
        id: server.id,
        links: serverLinks(env, server.id),
        'OS-DCF:diskConfig': 'MANUAL',
        security_groups: sgNames.map((n) => ({ name: n })),
        adminPass,
      },
    },
  };
}

function resolveNetworks(
  ctx: Ctx,
  networks: unknown,
  projectId: string,
): { networkId: string; portId?: string; fixedIp?: string }[] {
  const { state } = ctx.env;
  if (networks === 'none') return [];
  if (networks === undefined || networks === 'auto') {
    if (networks === undefined && atLeast(ctx, 37)) throw required('server', 'networks');
    const own = [...state.networks.values()].filter((n) => n.projectId === projectId && !n.external);
    if (own.length > 1)
      throw new HttpError(409, 'Multiple possible networks found, use a Network ID to be more specific.');
    const net = own[0];
    if (!net) return [];
    return [{ networkId: net.id }];
  }
  if (!Array.isArray(networks)) throw new HttpError(400, 'Bad networks format');
  return (networks as Record<string, unknown>[]).map((n) => {
    const portId = str(n.port);
    if (portId) {
      const port = state.ports.get(portId);
      if (!port || (port.projectId !== projectId && !isAdmin(ctx)))
        throw new HttpError(400, `Port id ${portId} could not be found.`);
      if (port.deviceId) throw new HttpError(409, `Port ${portId} is still in use.`);
      return { networkId: port.networkId, portId };
    }
    const uuidRef = str(n.uuid) ?? '';
    const net = state.networks.get(uuidRef);
    if (!net) throw new HttpError(400, `Network ${uuidRef} could not be found.`);
    if (net.projectId !== projectId && !net.shared && !isAdmin(ctx))
      throw new HttpError(400, `Network ${uuidRef} could not be found.`);
    return { networkId: net.id, fixedIp: str(n.fixed_ip) };
  });
}

function deleteServer(ctx: Ctx): Reply {
  const s = getServer(ctx, ctx.params.id as string);
  const destroy = ctx.env.knobs.serverDeletion;
  if (!destroy) {
    removeServer(ctx.env, s);
    return { status: 204 };
  }
  if (s.deleting) return { status: 204 };
  s.deleting = true;
  delete s.fault;
  destroy({ id: s.id, name: s.name }).then(
    () => removeServer(ctx.env, s),
    (error: unknown) => {
      s.deleting = false;
      s.fault = `deleting the instance failed: ${(error as Error).message}`;
    },
  );
  return { status: 204 };
}

/** Takes a deleted server out of the cloud: its own ports go, the others it had are freed. */
function removeServer(env: Env, s: Server): void {
  const { state } = env;
  for (const id of s.portIds) {
    const port = state.ports.get(id);
    if (!port) continue;
    if (s.createdPortIds.includes(id)) deletePortById(env, id);
    else Object.assign(port, { deviceId: '', deviceOwner: '', status: 'DOWN', hostId: '' });
  }
  for (const g of state.serverGroups.values()) g.members = g.members.filter((m) => m !== s.id);
  state.servers.delete(s.id);
}

function listServers(ctx: Ctx, detail: boolean): Reply {
  const q = ctx.query;
  const all = isAdmin(ctx) && ['1', 'true', 'True'].includes(q.get('all_tenants') ?? '');
  const project = projectOf(ctx);
  const tagList = (k: string) => (q.get(k) ?? '').split(',').filter(Boolean);
  let servers = [...ctx.env.state.servers.values()]
    .filter(
      (s) =>
        all ||
        s.projectId === (isAdmin(ctx) ? (q.get('project_id') ?? q.get('tenant_id') ?? project) : project),
    )
    .filter((s) => !q.has('name') || new RegExp(q.get('name') as string).test(s.name))
    .filter((s) => !q.has('status') || statusOf(ctx.env, s) === (q.get('status') as string).toUpperCase())
    .filter((s) => !q.has('tags') || tagList('tags').every((t) => s.tags.includes(t)))
    .filter((s) => !q.has('tags-any') || tagList('tags-any').some((t) => s.tags.includes(t)))
    .filter((s) => !q.has('not-tags') || !tagList('not-tags').every((t) => s.tags.includes(t)))
    .filter((s) => !q.has('not-tags-any') || !tagList('not-tags-any').some((t) => s.tags.includes(t)))
    .filter((s) => !q.has('flavor') || s.flavorId === q.get('flavor'))
    .filter((s) => !q.has('image') || s.imageId === q.get('image'))
    .sort((a, b) => b.seq - a.seq);
  servers = afterMarker(servers, q.get('marker'));
  const body: Record<string, unknown> = {};
  const limit = Number(q.get('limit') ?? 0);
  if (limit > 0 && servers.length > limit) {
    servers = servers.slice(0, limit);
    const next = new URLSearchParams(q);
    next.set('marker', servers[servers.length - 1]?.id ?? '');
    body.servers_links = [{ rel: 'next', href: `${ctx.env.url}${ctx.rawPath}?${next}` }];
  }
  body.servers = servers.map((s) =>
    detail ? serverView(ctx, s) : { id: s.id, name: s.name, links: serverLinks(ctx.env, s.id) },
  );
  const links = body.servers_links;
  delete body.servers_links;
  if (links) body.servers_links = links;
  return { status: 200, json: body };
}

// ---- keypairs ----

function sshString(buf: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length);
  return Buffer.concat([len, buf]);
}

function mpint(b64url: string): Buffer {
  let buf = Buffer.from(b64url, 'base64url');
  if ((buf[0] ?? 0) & 0x80) buf = Buffer.concat([Buffer.from([0]), buf]);
  return sshString(buf);
}

function fingerprint(publicKey: string): string | undefined {
  const [type, data] = publicKey.trim().split(/\s+/);
  if (!type || !data || !/^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521))$/.test(type))
    return undefined;
  const blob = Buffer.from(data, 'base64');
  if (blob.length < 16 || blob.toString('base64').replace(/=+$/, '') !== data.replace(/=+$/, ''))
    return undefined;
  const md5 = createHash('md5').update(blob).digest('hex');
  return md5.match(/../g)?.join(':');
}

function generateKeypair(): { publicKey: string; privateKey: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  const blob = Buffer.concat([
    sshString(Buffer.from('ssh-rsa')),
    mpint(jwk.e as string),
    mpint(jwk.n as string),
  ]);
  return {
    publicKey: `ssh-rsa ${blob.toString('base64')} Generated-by-Nova`,
    privateKey: privateKey.export({ format: 'pem', type: 'pkcs1' }).toString(),
  };
}

function keypairView(k: Keypair, full: boolean) {
  const base = { name: k.name, public_key: k.publicKey, fingerprint: k.fingerprint, type: k.type };
  return full
    ? {
        ...base,
        user_id: k.userId,
        created_at: isoSeconds(k.createdAt).replace('Z', '.000000'),
        deleted: false,
        deleted_at: null,
        updated_at: null,
        id: k.id,
      }
    : base;
}

function createKeypair(ctx: Ctx): Reply {
  const { state } = ctx.env;
  const caller = requireCaller(ctx);
  const b = bodyOf(ctx, 'keypair');
  const name = str(b.name);
  if (!name || !/^[a-zA-Z0-9 _.@-]{1,255}$/.test(name)) {
    throw new HttpError(400, 'Keypair data is invalid: Keypair name contains unsafe characters');
  }
  const key = state.keypairKey(caller.user.id, name);
  if (state.keypairs.has(key)) throw new HttpError(409, `Key pair '${name}' already exists.`);
  let publicKey = str(b.public_key);
  let privateKey: string | undefined;
  if (publicKey === undefined) {
    if (atLeast(ctx, 92)) throw required('keypair', 'public_key');
    ({ publicKey, privateKey } = generateKeypair());
  }
  const fp = fingerprint(publicKey);
  if (!fp) throw new HttpError(400, 'Keypair data is invalid: failed to generate fingerprint');
  const kp: Keypair = {
    id: ctx.env.state.nextSeq(),
    name,
    userId: caller.user.id,
    publicKey: publicKey.trim(),
    fingerprint: fp,
    type: str(b.type) ?? 'ssh',
    createdAt: ctx.env.now(),
  };
  state.keypairs.set(key, kp);
  const view: Record<string, unknown> = { ...keypairView(kp, false), user_id: kp.userId };
  if (privateKey) view.private_key = privateKey;
  if (!atLeast(ctx, 2)) delete view.type;
  return { status: atLeast(ctx, 2) ? 201 : 200, json: { keypair: view } };
}

function getKeypair(ctx: Ctx): Keypair {
  const caller = requireCaller(ctx);
  const kp = ctx.env.state.keypairs.get(ctx.env.state.keypairKey(caller.user.id, ctx.params.name as string));
  if (!kp) throw new HttpError(404, `Keypair ${ctx.params.name} not found for user ${caller.user.id}`);
  return kp;
}

// ---- server groups ----

function serverGroupView(ctx: Ctx, g: ServerGroup) {
  const base: Record<string, unknown> = { id: g.id, name: g.name, members: g.members };
  if (atLeast(ctx, 64)) Object.assign(base, { policy: g.policy, rules: {} });
  else Object.assign(base, { policies: [g.policy], metadata: {} });
  if (atLeast(ctx, 13)) Object.assign(base, { project_id: g.projectId, user_id: g.userId });
  return base;
}

function createServerGroup(ctx: Ctx): Reply {
  const caller = requireCaller(ctx);
  const projectId = projectOf(ctx);
  const b = bodyOf(ctx, 'server_group');
  const name = str(b.name);
  if (!name) throw required('server_group', 'name');
  const policy = str(b.policy) ?? (Array.isArray(b.policies) ? String(b.policies[0]) : undefined);
  if (!policy || !['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity'].includes(policy)) {
    throw new HttpError(
      400,
      `Invalid input for field/attribute policy. Value: ${policy}. '${policy}' is not one of ['anti-affinity', 'affinity', 'soft-anti-affinity', 'soft-affinity']`,
    );
  }
  const g: ServerGroup = { id: uuid(), name, policy, projectId, userId: caller.user.id, members: [] };
  ctx.env.state.serverGroups.set(g.id, g);
  return { status: 200, json: { server_group: serverGroupView(ctx, g) } };
}

function getServerGroup(ctx: Ctx): ServerGroup {
  const g = ctx.env.state.serverGroups.get(ctx.params.id as string);
  if (!g || (!isAdmin(ctx) && g.projectId !== projectOf(ctx)))
    throw new HttpError(404, `Instance group ${ctx.params.id} could not be found.`);
  return g;
}

function limits(ctx: Ctx): Reply {
  const projectId = projectOf(ctx);
  const servers = [...ctx.env.state.servers.values()].filter((s) => s.projectId === projectId);
  const flavors = servers.map((s) => ctx.env.state.flavors.get(s.flavorId));
  const q = (k: 'instances' | 'cores' | 'ram') => quotaOf(ctx.env, projectId, k);
  return {
    status: 200,
    json: {
      limits: {
        rate: [],
        absolute: {
          maxTotalInstances: q('instances'),
          maxTotalCores: q('cores'),
          maxTotalRAMSize: q('ram'),
          maxServerMeta: 128,
          maxImageMeta: 128,
          maxPersonality: 5,
          maxPersonalitySize: 10240,
          maxTotalKeypairs: 100,
          maxServerGroups: 10,
          maxServerGroupMembers: 10,
          totalRAMUsed: flavors.reduce((a, f) => a + (f?.ram ?? 0), 0),
          totalCoresUsed: flavors.reduce((a, f) => a + (f?.vcpus ?? 0), 0),
          totalInstancesUsed: servers.length,
          totalServerGroupsUsed: [...ctx.env.state.serverGroups.values()].filter(
            (g) => g.projectId === projectId,
          ).length,
        },
      },
    },
  };
}

/**
 * The one key and value of a `PUT /servers/{id}/metadata/{key}` body, validated as Nova does: the body's
 * `meta` holds exactly the key of the path, keys 1–255 characters, values at most 255.
 */
function metadatum(ctx: Ctx): [string, string] {
  const meta = bodyOf(ctx, 'meta');
  const entries = Object.entries(meta);
  for (const [k, v] of entries) {
    if (k.length < 1 || k.length > 255 || typeof v !== 'string' || v.length > 255)
      throw new HttpError(400, `Invalid input for field/attribute meta. Value: ${JSON.stringify(meta)}.`);
  }
  if (entries.length > 1) throw new HttpError(400, 'Request body contains too many items');
  const [entry] = entries;
  if (!entry || entry[0] !== ctx.params.key) throw new HttpError(400, 'Request body and URI mismatch');
  return entry as [string, string];
}

function tagRoute(method: string, path: string, fn: (s: Server, ctx: Ctx) => Reply): Route {
  return { method, path, handler: (ctx) => fn(getServer(ctx, ctx.params.id as string), ctx) };
}

/** The v2.1 API as Nova describes it at `/compute/` and `/compute/v2.1/`. */
function v21(env: Env) {
  return {
    id: 'v2.1',
    status: 'CURRENT',
    version: MAX.join('.'),
    min_version: MIN.join('.'),
    updated: '2013-07-23T11:33:21Z',
    links: [{ rel: 'self', href: `${env.url}/compute/v2.1/` }],
  };
}

/** Nova's quota set; the network and file-injection quotas leave it at 2.36 and 2.57, as on Nova. */
function quotaSet(ctx: Ctx): Reply {
  const target = ctx.params.project as string;
  if (target !== projectOf(ctx) && !isAdmin(ctx))
    throw new HttpError(403, `Policy doesn't allow os_compute_api:os-quota-sets:show to be performed.`);
  const q = (k: 'instances' | 'cores' | 'ram') => quotaOf(ctx.env, target, k);
  const set: Record<string, unknown> = {
    id: target,
    cores: q('cores'),
    instances: q('instances'),
    ram: q('ram'),
    key_pairs: 100,
    metadata_items: 128,
    server_groups: 10,
    server_group_members: 10,
  };
  if (!atLeast(ctx, 57))
    Object.assign(set, {
      injected_files: 5,
      injected_file_content_bytes: 10240,
      injected_file_path_bytes: 255,
    });
  if (!atLeast(ctx, 36))
    Object.assign(set, { fixed_ips: -1, floating_ips: -1, security_groups: -1, security_group_rules: -1 });
  return { status: 200, json: { quota_set: set } };
}

function getFlavor(ctx: Ctx): Flavor {
  const f = ctx.env.state.flavors.get(ctx.params.id as string);
  if (!f) throw new HttpError(404, `Flavor ${ctx.params.id} could not be found.`);
  return f;
}

const routes: Route[] = [
  discoveryRoute(
    '/compute',
    (env) => ({
      versions: [
        {
          id: 'v2.0',
          status: 'SUPPORTED',
          version: '',
          min_version: '',
          updated: '2011-01-21T11:33:21Z',
          links: [{ rel: 'self', href: `${env.url}/compute/v2/` }],
        },
        v21(env),
      ],
    }),
    { absolute: true },
  ),
  discoveryRoute('', (env) => ({
    version: {
      ...v21(env),
      links: [
        { rel: 'self', href: `${env.url}/compute/v2.1/` },
        { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' },
      ],
      'media-types': [
        { base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' },
      ],
    },
  })),
  { method: 'GET', path: '/os-quota-sets/{project}', handler: quotaSet },
  { method: 'GET', path: '/servers', handler: (ctx) => listServers(ctx, false) },
  { method: 'GET', path: '/servers/detail', handler: (ctx) => listServers(ctx, true) },
  { method: 'POST', path: '/servers', handler: createServer },
  {
    method: 'GET',
    path: '/servers/{id}',
    handler: (ctx) => ({
      status: 200,
      json: { server: serverView(ctx, getServer(ctx, ctx.params.id as string)) },
    }),
  },
  {
    method: 'PUT',
    path: '/servers/{id}',
    handler: (ctx) => {
      const s = getServer(ctx, ctx.params.id as string);
      const b = bodyOf(ctx, 'server');
      if (str(b.name)) s.name = str(b.name) as string;
      if (b.description !== undefined) s.description = str(b.description) ?? null;
      return { status: 200, json: { server: serverView(ctx, s) } };
    },
  },
  { method: 'DELETE', path: '/servers/{id}', handler: deleteServer },
  tagRoute('GET', '/servers/{id}/tags', (s) => ({ status: 200, json: { tags: s.tags } })),
  tagRoute('PUT', '/servers/{id}/tags', (s, ctx) => {
    const tags = (ctx.body as { tags?: unknown } | undefined)?.tags;
    if (!Array.isArray(tags))
      throw new HttpError(400, "Invalid input for field/attribute tags. 'tags' is a required property");
    s.tags = [...new Set(tags.map(String))];
    return { status: 200, json: { tags: s.tags } };
  }),
  tagRoute('PUT', '/servers/{id}/tags/{tag}', (s, ctx) => {
    const created = !s.tags.includes(ctx.params.tag as string);
    if (created) s.tags.push(ctx.params.tag as string);
    return {
      status: created ? 201 : 204,
      headers: { location: `${ctx.env.url}/compute/v2.1/servers/${s.id}/tags/${ctx.params.tag}` },
    };
  }),
  tagRoute('GET', '/servers/{id}/tags/{tag}', (s, ctx) => {
    if (!s.tags.includes(ctx.params.tag as string))
      throw new HttpError(404, `Tag '${ctx.params.tag}' could not be found.`);
    return { status: 204 };
  }),
  tagRoute('DELETE', '/servers/{id}/tags/{tag}', (s, ctx) => {
    if (!s.tags.includes(ctx.params.tag as string))
      throw new HttpError(404, `Tag '${ctx.params.tag}' could not be found.`);
    s.tags = s.tags.filter((t) => t !== ctx.params.tag);
    return { status: 204 };
  }),
  tagRoute('DELETE', '/servers/{id}/tags', (s) => ((s.tags = []), { status: 204 })),
  tagRoute('GET', '/servers/{id}/metadata', (s) => ({ status: 200, json: { metadata: s.metadata } })),
  tagRoute('GET', '/servers/{id}/metadata/{key}', (s, ctx) => {
    const key = ctx.params.key as string;
    if (!(key in s.metadata)) throw new HttpError(404, 'Metadata item was not found');
    return { status: 200, json: { meta: { [key]: s.metadata[key] } } };
  }),
  {
    method: 'PUT',
    path: '/servers/{id}/metadata/{key}',
    // Nova validates the body before it looks the server up.
    handler: (ctx) => {
      const [key, value] = metadatum(ctx);
      getServer(ctx, ctx.params.id as string).metadata[key] = value;
      return { status: 200, json: { meta: { [key]: value } } };
    },
  },
  tagRoute('DELETE', '/servers/{id}/metadata/{key}', (s, ctx) => {
    const key = ctx.params.key as string;
    if (!(key in s.metadata)) throw new HttpError(404, 'Metadata item was not found');
    delete s.metadata[key];
    return { status: 204 };
  }),
  // Nova's /ips view holds only each address's version and addr.
  tagRoute('GET', '/servers/{id}/ips', (s, ctx) => ({
    status: 200,
    json: {
      addresses: Object.fromEntries(
        Object.entries(addresses(ctx.env, s)).map(([net, list]) => [
          net,
          (list as { version: number; addr: string }[]).map(({ version, addr }) => ({ version, addr })),
        ]),
      ),
    },
  })),
  {
    method: 'GET',
    path: '/servers/{id}/os-interface',
    handler: (ctx) => {
      const s = getServer(ctx, ctx.params.id as string);
      const ports = s.portIds.map((id) => ctx.env.state.ports.get(id)).filter((p) => p !== undefined);
      return {
        status: 200,
        json: {
          interfaceAttachments: ports.map((p) => ({
            port_state: p.status,
            fixed_ips: p.fixedIps,
            port_id: p.id,
            net_id: p.networkId,
            mac_addr: p.macAddress,
          })),
        },
      };
    },
  },
  {
    method: 'GET',
    path: '/flavors',
    handler: (ctx) => ({
      status: 200,
      json: { flavors: [...ctx.env.state.flavors.values()].map((f) => flavorView(ctx, f, false)) },
    }),
  },
  {
    method: 'GET',
    path: '/flavors/detail',
    handler: (ctx) => ({
      status: 200,
      json: { flavors: [...ctx.env.state.flavors.values()].map((f) => flavorView(ctx, f, true)) },
    }),
  },
  showRoute('/flavors/{id}', 'flavor', (ctx) => flavorView(ctx, getFlavor(ctx), true)),
  // cloudsim's flavors carry no extra specs; the calls answer as Nova does for such a flavor.
  {
    method: 'GET',
    path: '/flavors/{id}/os-extra_specs',
    handler: (ctx) => (getFlavor(ctx), { status: 200, json: { extra_specs: {} } }),
  },
  {
    method: 'GET',
    path: '/flavors/{id}/os-extra_specs/{key}',
    handler: (ctx) => {
      const f = getFlavor(ctx);
      throw new HttpError(404, `Flavor ${f.id} has no extra specs with key ${ctx.params.key}.`);
    },
  },
  {
    method: 'GET',
    path: '/os-keypairs',
    handler: (ctx) => {
      const caller = requireCaller(ctx);
      const own = [...ctx.env.state.keypairs.values()].filter((k) => k.userId === caller.user.id);
      return { status: 200, json: { keypairs: own.map((k) => ({ keypair: keypairView(k, false) })) } };
    },
  },
  { method: 'POST', path: '/os-keypairs', handler: createKeypair },
  showRoute('/os-keypairs/{name}', 'keypair', (ctx) => keypairView(getKeypair(ctx), true)),
  {
    method: 'DELETE',
    path: '/os-keypairs/{name}',
    handler: (ctx) => {
      const kp = getKeypair(ctx);
      ctx.env.state.keypairs.delete(ctx.env.state.keypairKey(kp.userId, kp.name));
      return { status: atLeast(ctx, 2) ? 204 : 202 };
    },
  },
  {
    method: 'GET',
    path: '/os-server-groups',
    handler: (ctx) => {
      const project = projectOf(ctx);
      const groups = [...ctx.env.state.serverGroups.values()].filter((g) => g.projectId === project);
      return { status: 200, json: { server_groups: groups.map((g) => serverGroupView(ctx, g)) } };
    },
  },
  { method: 'POST', path: '/os-server-groups', handler: createServerGroup },
  showRoute('/os-server-groups/{id}', 'server_group', (ctx) => serverGroupView(ctx, getServerGroup(ctx))),
  deleteRoute('/os-server-groups/{id}', 204, (ctx) => {
    ctx.env.state.serverGroups.delete(getServerGroup(ctx).id);
  }),
  { method: 'GET', path: '/limits', handler: limits },
];

/** Nova v2.1 under `/compute/v2.1`, with microversion negotiation echoed in the headers. */
export const nova: Service = {
  name: 'compute',
  prefix: '/compute/v2.1',
  // Nova refuses a microversion out of range on every call, before looking at the path's resource.
  routes: routes.map((r) => ({ ...r, handler: (ctx: Ctx) => (microversion(ctx.headers), r.handler(ctx)) })),
  errorReply: novaError,
  decorate: (reply, { req, requestId }) => {
    let version = `${MIN[0]}.${MIN[1]}`;
    try {
      version = microversion(req.headers).join('.');
    } catch {
      // an invalid version is answered with its own error; the headers then name the minimum
    }
    reply.headers = {
      'openstack-api-version': `compute ${version}`,
      'x-openstack-nova-api-version': version,
      vary: 'OpenStack-API-Version, X-OpenStack-Nova-API-Version',
      'x-compute-request-id': requestId,
      'content-type': 'application/json; charset=UTF-8',
      ...reply.headers,
    };
  },
};
