import type { Ctx, Env, Reply, Route, Service } from './http.ts';
import {
  bodyOf,
  discoveryRoute,
  HttpError,
  isAdmin,
  projectOf,
  quotaOf,
  requireCaller,
  str,
} from './http.ts';
import { unauthorizedReply } from './http.ts';
import { createPort, deletePortById } from './neutron.ts';
import { isoSeconds, uuid, type LbObject } from './state.ts';

type Kind = LbObject['kind'];
const NAMES: Record<Kind, string> = {
  loadbalancer: 'Load Balancer',
  listener: 'Listener',
  pool: 'Pool',
  member: 'Member',
  healthmonitor: 'Health Monitor',
};

function octaviaError(err: HttpError): Reply {
  if (err.status === 401) return unauthorizedReply(err.message);
  return {
    status: err.status,
    json: { faultcode: err.status >= 500 ? 'Server' : 'Client', faultstring: err.message, debuginfo: null },
  };
}

function provisioning(env: Env, o: LbObject): string {
  if (o.deletedAt !== undefined) return 'PENDING_DELETE';
  return env.now() >= o.readyAt ? 'ACTIVE' : o.pendingStatus;
}

/** Removes what a delete has finished with; the VIP port stays in Neutron until then, as with Octavia's worker. */
function reap(env: Env): void {
  for (const o of [...env.state.lb.values()]) {
    if (o.deletedAt === undefined || env.now() < o.deletedAt) continue;
    env.state.lb.delete(o.id);
    if (o.kind === 'loadbalancer') deletePortById(env, String(o.fields.vip_port_id));
  }
}

function children(env: Env, parentId: string, kind?: Kind): LbObject[] {
  return [...env.state.lb.values()].filter((o) => o.parentId === parentId && (!kind || o.kind === kind));
}

/** Octavia's timestamps: UTC to the second, without a zone (`2024-05-01T12:00:00`), as clients parse them. */
function octaviaTime(ms: number): string {
  return isoSeconds(ms).replace(/Z$/, '');
}

function view(env: Env, o: LbObject): Record<string, unknown> {
  const status = provisioning(env, o);
  const refs = (kind: Kind, filter: (x: LbObject) => boolean) =>
    [...env.state.lb.values()].filter((x) => x.kind === kind && filter(x)).map((x) => ({ id: x.id }));
  const base: Record<string, unknown> = {
    id: o.id,
    ...o.fields,
    provisioning_status: status,
    operating_status: status === 'ACTIVE' ? 'ONLINE' : 'OFFLINE',
    project_id: o.projectId,
    created_at: octaviaTime(o.createdAt),
    updated_at: o.updatedAt === o.createdAt ? null : octaviaTime(o.updatedAt),
    tags: o.tags,
  };
  if (o.kind !== 'member') base.tenant_id = o.projectId;
  switch (o.kind) {
    case 'loadbalancer':
      base.listeners = refs('listener', (x) => x.lbId === o.id);
      base.pools = refs('pool', (x) => x.lbId === o.id);
      break;
    case 'listener':
      base.loadbalancers = [{ id: o.lbId }];
      break;
    case 'pool':
      base.loadbalancers = [{ id: o.lbId }];
      base.listeners = refs('listener', (x) => x.fields.default_pool_id === o.id);
      base.members = refs('member', (x) => x.parentId === o.id);
      base.healthmonitor_id = children(env, o.id, 'healthmonitor')[0]?.id ?? null;
      break;
    case 'healthmonitor':
      base.pools = [{ id: o.parentId }];
      break;
  }
  return base;
}

function find(ctx: Ctx, kind: Kind, id: string): LbObject {
  const o = ctx.env.state.lb.get(id);
  if (!o || o.kind !== kind || (!isAdmin(ctx) && o.projectId !== projectOf(ctx)))
    throw new HttpError(404, `${NAMES[kind]} ${id} not found.`);
  return o;
}

/**
 * Marks the load balancer busy for a change to one of its children, or refuses when it already is;
 * Octavia names the parent the change goes through (`Pool <id>` for a member).
 */
function lockLb(ctx: Ctx, lbId: string, parent = `Load Balancer ${lbId}`): LbObject {
  const lb = find(ctx, 'loadbalancer', lbId);
  if (provisioning(ctx.env, lb) !== 'ACTIVE')
    throw new HttpError(409, `${parent} is immutable and cannot be updated.`);
  return lb;
}

function touch(ctx: Ctx, lb: LbObject): void {
  lb.readyAt = ctx.env.now() + ctx.env.knobs.provisionDelayMs;
  lb.pendingStatus = 'PENDING_UPDATE';
  lb.updatedAt = ctx.env.now();
}

function add(
  ctx: Ctx,
  kind: Kind,
  lbId: string,
  parentId: string | null,
  fields: Record<string, unknown>,
  b: Record<string, unknown>,
  id = uuid(),
): LbObject {
  const now = ctx.env.now();
  const o: LbObject = {
    kind,
    id,
    projectId: projectOf(ctx),
    lbId,
    parentId,
    tags: Array.isArray(b.tags) ? (b.tags as unknown[]).map(String) : [],
    fields: {
      name: str(b.name) ?? '',
      description: str(b.description) ?? '',
      admin_state_up: b.admin_state_up !== false,
      ...fields,
    },
    createdAt: now,
    updatedAt: now,
    readyAt: now + ctx.env.knobs.provisionDelayMs,
    pendingStatus: 'PENDING_CREATE',
    seq: ctx.env.state.nextSeq(),
  };
  if (kind === 'loadbalancer') o.lbId = o.id;
  ctx.env.state.lb.set(o.id, o);
  return o;
}

function created(ctx: Ctx, key: string, o: LbObject): Reply {
  return {
    status: 201,
    json: {
      [key]: { ...view(ctx.env, o), provisioning_status: 'PENDING_CREATE', operating_status: 'OFFLINE' },
    },
  };
}

function required(b: Record<string, unknown>, key: string): unknown {
  if (b[key] === undefined || b[key] === null)
    throw new HttpError(
      400,
      `Invalid input for field/attribute ${key}. Value: 'None'. Mandatory field missing.`,
    );
  return b[key];
}

function createLb(ctx: Ctx): Reply {
  const projectId = projectOf(ctx);
  const b = bodyOf(ctx, 'loadbalancer');
  const limit = quotaOf(ctx.env, projectId, 'loadbalancers');
  const used = [...ctx.env.state.lb.values()].filter(
    (o) => o.kind === 'loadbalancer' && o.projectId === projectId,
  ).length;
  if (limit >= 0 && used + 1 > limit)
    throw new HttpError(403, 'Quota has been met for resources: Load Balancer');
  const subnetId = str(b.vip_subnet_id);
  const networkId = str(b.vip_network_id);
  if (!subnetId && !networkId)
    throw new HttpError(
      400,
      'Validation failure: VIP must contain one of: vip_port_id, vip_network_id, vip_subnet_id.',
    );
  const subnet = subnetId
    ? ctx.env.state.subnets.get(subnetId)
    : [...ctx.env.state.subnets.values()].find((s) => s.networkId === networkId);
  if (!subnet) throw new HttpError(400, `Validation failure: Subnet ${subnetId ?? networkId} not found.`);
  const id = uuid();
  const port = createPort(ctx, {
    projectId,
    networkId: subnet.networkId,
    name: `octavia-lb-${id}`,
    deviceOwner: 'Octavia',
    deviceId: `lb-${id}`,
    status: 'DOWN',
    fixedIps: [{ subnet_id: subnet.id, ...(str(b.vip_address) ? { ip_address: str(b.vip_address) } : {}) }],
    securityGroups: [],
    internal: true,
  });
  const lb = add(
    ctx,
    'loadbalancer',
    '',
    null,
    {
      vip_address: port.fixedIps[0]?.ip_address,
      vip_port_id: port.id,
      vip_subnet_id: subnet.id,
      vip_network_id: subnet.networkId,
      vip_qos_policy_id: null,
      provider: str(b.provider) ?? 'amphora',
      flavor_id: null,
      availability_zone: null,
      additional_vips: [],
    },
    b,
    id,
  );
  return created(ctx, 'loadbalancer', lb);
}

function removeTree(ctx: Ctx, o: LbObject): void {
  for (const child of [...ctx.env.state.lb.values()].filter((x) => x.parentId === o.id))
    removeTree(ctx, child);
  ctx.env.state.lb.delete(o.id);
}

function deleteLb(ctx: Ctx): Reply {
  const lb = find(ctx, 'loadbalancer', ctx.params.id as string);
  const cascade = ['true', 'True', '1'].includes(ctx.query.get('cascade') ?? '');
  const kids = [...ctx.env.state.lb.values()].filter((o) => o.lbId === lb.id && o.id !== lb.id);
  if (kids.length > 0 && !cascade)
    throw new HttpError(400, `Validation failure: Cannot delete Load Balancer ${lb.id} - it has children`);
  // Octavia deletes only an ACTIVE (or ERROR) load balancer; PENDING_* is refused, PENDING_CREATE too.
  const state = provisioning(ctx.env, lb);
  if (state !== 'ACTIVE')
    throw new HttpError(409, `Invalid state ${state} of loadbalancer resource ${lb.id}`);
  const deletedAt = ctx.env.now() + ctx.env.knobs.provisionDelayMs;
  for (const o of [...kids, lb]) o.deletedAt = deletedAt;
  reap(ctx.env);
  return { status: 204 };
}

/** `protocol_port`, which Octavia's API types bound to 1 … 65535. */
function portNumber(b: Record<string, unknown>): number {
  const port = Number(required(b, 'protocol_port'));
  if (!Number.isInteger(port) || port < 1)
    throw new HttpError(
      400,
      `Invalid input for field/attribute protocol_port. Value: '${String(b.protocol_port)}'. Value should be greater or equal to 1`,
    );
  if (port > 65535)
    throw new HttpError(
      400,
      `Invalid input for field/attribute protocol_port. Value: '${port}'. Value should be lower or equal to 65535`,
    );
  return port;
}

function createListener(ctx: Ctx): Reply {
  const b = bodyOf(ctx, 'listener');
  const lb = lockLb(ctx, String(required(b, 'loadbalancer_id')));
  const protocol = String(required(b, 'protocol'));
  const port = portNumber(b);
  const clash = children(ctx.env, lb.id, 'listener').find((l) => l.fields.protocol_port === port);
  if (clash)
    throw new HttpError(409, `Another Listener on this Load Balancer is already using protocol_port ${port}`);
  const poolId = str(b.default_pool_id) ?? null;
  if (poolId) find(ctx, 'pool', poolId);
  const o = add(
    ctx,
    'listener',
    lb.id,
    lb.id,
    {
      protocol,
      protocol_port: port,
      connection_limit: Number(b.connection_limit ?? -1),
      default_pool_id: poolId,
      default_tls_container_ref: null,
      sni_container_refs: [],
      l7policies: [],
      insert_headers: b.insert_headers ?? {},
      timeout_client_data: Number(b.timeout_client_data ?? 50000),
      timeout_member_connect: 5000,
      timeout_member_data: Number(b.timeout_member_data ?? 50000),
      timeout_tcp_inspect: 0,
      allowed_cidrs: b.allowed_cidrs ?? null,
      tls_ciphers: null,
      tls_versions: null,
      alpn_protocols: null,
    },
    b,
  );
  touch(ctx, lb);
  return created(ctx, 'listener', o);
}

function createPool(ctx: Ctx): Reply {
  const b = bodyOf(ctx, 'pool');
  const listenerId = str(b.listener_id);
  const listener = listenerId ? find(ctx, 'listener', listenerId) : undefined;
  const lb = lockLb(ctx, listener?.lbId ?? String(required(b, 'loadbalancer_id')));
  const o = add(
    ctx,
    'pool',
    lb.id,
    lb.id,
    {
      lb_algorithm: String(required(b, 'lb_algorithm')),
      protocol: String(required(b, 'protocol')),
      session_persistence: b.session_persistence ?? null,
      tls_enabled: false,
      tls_ciphers: null,
      tls_versions: null,
      alpn_protocols: null,
    },
    b,
  );
  if (listener) {
    if (listener.fields.default_pool_id)
      throw new HttpError(409, `Listener ${listener.id} already has a default pool.`);
    listener.fields.default_pool_id = o.id;
  }
  touch(ctx, lb);
  return created(ctx, 'pool', o);
}

function createMember(ctx: Ctx): Reply {
  const pool = find(ctx, 'pool', ctx.params.pool as string);
  const b = bodyOf(ctx, 'member');
  const lb = lockLb(ctx, pool.lbId, `Pool ${pool.id}`);
  const address = String(required(b, 'address'));
  const port = portNumber(b);
  if (
    children(ctx.env, pool.id, 'member').some(
      (m) => m.fields.address === address && m.fields.protocol_port === port,
    )
  ) {
    throw new HttpError(
      409,
      `Another member on this pool is already using ip ${address} on protocol_port ${port}`,
    );
  }
  const o = add(ctx, 'member', lb.id, pool.id, memberFields(b, address, port), b);
  touch(ctx, lb);
  return created(ctx, 'member', o);
}

/** The fields of a member Octavia takes from a create or batch-update body. */
function memberFields(b: Record<string, unknown>, address: string, port: number): Record<string, unknown> {
  return {
    address,
    protocol_port: port,
    subnet_id: str(b.subnet_id) ?? null,
    weight: Number(b.weight ?? 1),
    backup: b.backup === true,
    monitor_address: b.monitor_address ?? null,
    monitor_port: b.monitor_port ?? null,
  };
}

/**
 * `PUT /pools/{pool}/members`: the pool's members become the list given (OCCM's way of following a
 * Service's nodes): a member matched by address and port is updated, the others are created, and a
 * member not in the list is deleted; 202 without a body.
 */
function batchMembers(ctx: Ctx): Reply {
  const pool = find(ctx, 'pool', ctx.params.pool as string);
  const list = (ctx.body as { members?: unknown } | undefined)?.members;
  if (!Array.isArray(list))
    throw new HttpError(
      400,
      "Invalid input for field/attribute members. Value: 'None'. Mandatory field missing.",
    );
  const wanted = list.map((item) => {
    const b = (item ?? {}) as Record<string, unknown>;
    return { b, address: String(required(b, 'address')), port: portNumber(b) };
  });
  const lb = lockLb(ctx, pool.lbId, `Pool ${pool.id}`);
  const existing = children(ctx.env, pool.id, 'member');
  const same = (m: LbObject, w: (typeof wanted)[number]) =>
    m.fields.address === w.address && m.fields.protocol_port === w.port;
  for (const m of existing) if (!wanted.some((w) => same(m, w))) removeTree(ctx, m);
  for (const w of wanted) {
    const m = existing.find((x) => same(x, w));
    if (!m) {
      add(ctx, 'member', lb.id, pool.id, memberFields(w.b, w.address, w.port), w.b);
      continue;
    }
    Object.assign(m.fields, memberFields(w.b, w.address, w.port), { name: str(w.b.name) ?? m.fields.name });
    if (Array.isArray(w.b.tags)) m.tags = w.b.tags.map(String);
    m.updatedAt = ctx.env.now();
  }
  touch(ctx, lb);
  return { status: 202 };
}

function createHm(ctx: Ctx): Reply {
  const b = bodyOf(ctx, 'healthmonitor');
  const pool = find(ctx, 'pool', String(required(b, 'pool_id')));
  const lb = lockLb(ctx, pool.lbId);
  if (children(ctx.env, pool.id, 'healthmonitor').length > 0)
    throw new HttpError(409, `This pool already has a health monitor`);
  const type = String(required(b, 'type'));
  const http = type === 'HTTP' || type === 'HTTPS';
  const o = add(
    ctx,
    'healthmonitor',
    lb.id,
    pool.id,
    {
      type,
      delay: Number(required(b, 'delay')),
      timeout: Number(required(b, 'timeout')),
      max_retries: Number(required(b, 'max_retries')),
      max_retries_down: Number(b.max_retries_down ?? 3),
      http_method: http ? (str(b.http_method) ?? 'GET') : null,
      url_path: http ? (str(b.url_path) ?? '/') : null,
      expected_codes: http ? (str(b.expected_codes) ?? '200') : null,
      http_version: null,
      domain_name: null,
    },
    b,
  );
  touch(ctx, lb);
  return created(ctx, 'healthmonitor', o);
}

function listOf(ctx: Ctx, kind: Kind, key: string, filter: (o: LbObject) => boolean = () => true): Reply {
  const q = ctx.query;
  const tags = (k: string) => (q.get(k) ?? '').split(',').filter(Boolean);
  const items = [...ctx.env.state.lb.values()]
    .filter((o) => o.kind === kind && (isAdmin(ctx) || o.projectId === projectOf(ctx)) && filter(o))
    .filter((o) => !q.has('tags') || tags('tags').every((t) => o.tags.includes(t)))
    .filter((o) => !q.has('tags-any') || tags('tags-any').some((t) => o.tags.includes(t)))
    .filter((o) => !q.has('not-tags') || !tags('not-tags').every((t) => o.tags.includes(t)))
    .map((o) => view(ctx.env, o))
    .filter((v) =>
      [...q.keys()].every(
        (k) =>
          ['tags', 'tags-any', 'not-tags', 'limit', 'marker', 'fields'].includes(k) ||
          !(k in v) ||
          String(v[k]) === q.get(k),
      ),
    );
  return { status: 200, json: { [key]: items, [`${key}_links`]: [] } };
}

function deleteChild(ctx: Ctx, kind: Kind, id: string): Reply {
  const o = find(ctx, kind, id);
  const lb = lockLb(ctx, o.lbId);
  if (kind === 'pool') {
    for (const l of children(ctx.env, lb.id, 'listener'))
      if (l.fields.default_pool_id === o.id) l.fields.default_pool_id = null;
  }
  removeTree(ctx, o);
  touch(ctx, lb);
  return { status: 204 };
}

function updateLb(ctx: Ctx, kind: Kind, key: string, id: string): Reply {
  const o = find(ctx, kind, id);
  const lb = lockLb(ctx, o.lbId);
  const b = bodyOf(ctx, key);
  for (const [k, v] of Object.entries(b)) {
    if (k === 'tags' && Array.isArray(v)) o.tags = v.map(String);
    else if (
      k in o.fields &&
      ![
        'vip_address',
        'vip_port_id',
        'vip_subnet_id',
        'vip_network_id',
        'protocol',
        'protocol_port',
      ].includes(k)
    )
      o.fields[k] = v;
  }
  o.updatedAt = ctx.env.now();
  touch(ctx, lb);
  return { status: 200, json: { [key]: { ...view(ctx.env, o), provisioning_status: 'PENDING_UPDATE' } } };
}

/** Sets a project's load-balancer quota (admin only); the other Octavia quotas stay unlimited. */
function setQuota(ctx: Ctx): Reply {
  if (!isAdmin(ctx)) throw new HttpError(403, 'Policy does not allow this request to be performed.');
  const b = bodyOf(ctx, 'quota');
  const value = b.load_balancer ?? b.loadbalancer;
  if (value !== undefined) {
    if (!Number.isInteger(value) || (value as number) < -1)
      throw new HttpError(400, `Invalid input for field/attribute load_balancer. Value: '${String(value)}'.`);
    const project = ctx.params.project as string;
    ctx.env.knobs.quotas.projects[project] = {
      ...ctx.env.knobs.quotas.projects[project],
      loadbalancers: value as number,
    };
  }
  const unlimited = { listener: -1, member: -1, pool: -1, health_monitor: -1, l7policy: -1, l7rule: -1 };
  const lbs = quotaOf(ctx.env, ctx.params.project as string, 'loadbalancers');
  return { status: 202, json: { quota: { load_balancer: lbs, ...unlimited } } };
}

function resourceRoutes(base: string): Route[] {
  const simple = (kind: Kind, key: string, plural: string, create: (ctx: Ctx) => Reply): Route[] => [
    { method: 'GET', path: `${base}/${plural}`, handler: (ctx) => listOf(ctx, kind, `${key}s`) },
    { method: 'POST', path: `${base}/${plural}`, handler: create },
    {
      method: 'GET',
      path: `${base}/${plural}/{id}`,
      handler: (ctx) => ({
        status: 200,
        json: { [key]: view(ctx.env, find(ctx, kind, ctx.params.id as string)) },
      }),
    },
    {
      method: 'PUT',
      path: `${base}/${plural}/{id}`,
      handler: (ctx) => updateLb(ctx, kind, key, ctx.params.id as string),
    },
    {
      method: 'DELETE',
      path: `${base}/${plural}/{id}`,
      handler: (ctx) =>
        kind === 'loadbalancer' ? deleteLb(ctx) : deleteChild(ctx, kind, ctx.params.id as string),
    },
  ];
  return [
    ...simple('loadbalancer', 'loadbalancer', 'loadbalancers', createLb),
    ...simple('listener', 'listener', 'listeners', createListener),
    ...simple('pool', 'pool', 'pools', createPool),
    ...simple('healthmonitor', 'healthmonitor', 'healthmonitors', createHm),
    {
      method: 'GET',
      path: `${base}/pools/{pool}/members`,
      handler: (ctx) => {
        const pool = find(ctx, 'pool', ctx.params.pool as string);
        return listOf(ctx, 'member', 'members', (o) => o.parentId === pool.id);
      },
    },
    { method: 'POST', path: `${base}/pools/{pool}/members`, handler: createMember },
    { method: 'PUT', path: `${base}/pools/{pool}/members`, handler: batchMembers },
    { method: 'PUT', path: `${base}/quotas/{project}`, handler: setQuota },
    {
      method: 'GET',
      path: `${base}/pools/{pool}/members/{id}`,
      handler: (ctx) => {
        const m = find(ctx, 'member', ctx.params.id as string);
        if (m.parentId !== ctx.params.pool) throw new HttpError(404, `Member ${ctx.params.id} not found.`);
        return { status: 200, json: { member: view(ctx.env, m) } };
      },
    },
    {
      method: 'PUT',
      path: `${base}/pools/{pool}/members/{id}`,
      handler: (ctx) => updateLb(ctx, 'member', 'member', ctx.params.id as string),
    },
    {
      method: 'DELETE',
      path: `${base}/pools/{pool}/members/{id}`,
      handler: (ctx) => deleteChild(ctx, 'member', ctx.params.id as string),
    },
  ];
}

/** Octavia 11 (Zed)'s API versions with the dates its root lists them with; the last is CURRENT. */
const VERSIONS: [string, string][] = [
  ['2.0', '2016-12-11T00:00:00Z'],
  ['2.1', '2018-04-20T00:00:00Z'],
  ['2.2', '2018-07-31T00:00:00Z'],
  ['2.3', '2018-12-18T00:00:00Z'],
  ['2.4', '2018-12-19T00:00:00Z'],
  ['2.5', '2019-01-21T00:00:00Z'],
  ['2.6', '2019-01-25T00:00:00Z'],
  ['2.7', '2018-01-25T12:00:00Z'],
  ['2.8', '2019-02-12T00:00:00Z'],
  ['2.9', '2019-03-04T00:00:00Z'],
  ['2.10', '2019-03-05T00:00:00Z'],
  ['2.11', '2019-06-24T00:00:00Z'],
  ['2.12', '2019-09-11T00:00:00Z'],
  ['2.13', '2019-09-13T00:00:00Z'],
  ['2.14', '2019-11-10T00:00:00Z'],
  ['2.15', '2020-03-10T00:00:00Z'],
  ['2.16', '2020-03-15T00:00:00Z'],
  ['2.17', '2020-04-29T00:00:00Z'],
  ['2.18', '2020-04-29T01:00:00Z'],
  ['2.19', '2020-05-12T00:00:00Z'],
  ['2.20', '2020-08-02T00:00:00Z'],
  ['2.21', '2020-09-03T00:00:00Z'],
  ['2.22', '2020-09-04T00:00:00Z'],
  ['2.23', '2020-09-07T00:00:00Z'],
  ['2.24', '2020-10-15T00:00:00Z'],
  ['2.25', '2021-10-02T00:00:00Z'],
  ['2.26', '2022-08-29T00:00:00Z'],
];

const discovery: Route[] = [
  discoveryRoute('', (env) => ({
    versions: VERSIONS.map(([id, updated], i) => ({
      id: `v${id}`,
      status: i === VERSIONS.length - 1 ? 'CURRENT' : 'SUPPORTED',
      updated,
      links: [{ href: `${env.url}/load-balancer/v2`, rel: 'self' }],
    })),
  })),
  // Octavia's v2 controllers answer their own GET with the bare version string.
  { method: 'GET', path: '/v2', handler: () => ({ status: 200, json: 'v2.0' }) },
  { method: 'GET', path: '/v2.0', handler: () => ({ status: 200, json: 'v2.0' }) },
];

/**
 * Octavia's default policy: admin (or load-balancer_admin) may do anything; anyone else needs
 * load-balancer_member with member on the project, or for reads load-balancer_observer with
 * reader. Plain `member`, enough for Neutron, Cinder and Swift, is refused, as on a real cloud.
 */
function authorize(ctx: Ctx): void {
  const roles = requireCaller(ctx).roleNames;
  const has = (...all: string[]) => all.every((r) => roles.includes(r));
  const allowed =
    has('admin') ||
    has('load-balancer_admin') ||
    has('load-balancer_member', 'member') ||
    (ctx.method === 'GET' && has('load-balancer_observer', 'reader'));
  if (!allowed) throw new HttpError(403, 'Policy does not allow this request to be performed.');
}

/** Octavia v2 under `/load-balancer` (both `/v2/lbaas` and `/v2.0/lbaas`). */
export const octavia: Service = {
  name: 'load-balancer',
  prefix: '/load-balancer',
  // Every call first removes what finished deleting, so none sees it.
  routes: [
    ...discovery,
    ...[...resourceRoutes('/v2/lbaas'), ...resourceRoutes('/v2.0/lbaas')].map((r) => ({
      ...r,
      handler: (ctx: Ctx) => {
        authorize(ctx);
        reap(ctx.env);
        return r.handler(ctx);
      },
    })),
  ],
  errorReply: octaviaError,
};
