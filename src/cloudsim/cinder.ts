import type { Ctx, Env, Reply, Route, Service } from './http.ts';
import { bodyOf, discoveryRoute, HttpError, isAdmin, projectOf, quotaOf, requireCaller } from './http.ts';
import { deleteRoute, FAULT_KEYS, showRoute, str, unauthorizedReply } from './http.ts';
import { uuid, type Snapshot, type Volume, type VolumeType } from './state.ts';

function cinderError(err: HttpError): Reply {
  if (err.status === 401) return unauthorizedReply(err.message);
  const key = err.type ?? FAULT_KEYS[err.status] ?? 'computeFault';
  // Cinder's over-quota answer (413) says when to retry: at once, after freeing something.
  if (err.status === 413)
    return {
      status: 413,
      headers: { 'Retry-After': '0' },
      json: { [key]: { code: 413, message: err.message, retryAfter: '0' } },
    };
  return { status: err.status, json: { [key]: { code: err.status, message: err.message } } };
}

function links(ctx: Ctx, v: Volume) {
  return [
    { rel: 'self', href: `${ctx.env.url}/volume/v3/${v.projectId}/volumes/${v.id}` },
    { rel: 'bookmark', href: `${ctx.env.url}/volume/${v.projectId}/volumes/${v.id}` },
  ];
}

function status(env: Env, v: { readyAt: number; deletedAt?: number; extendedAt?: number }): string {
  if (v.deletedAt !== undefined) return 'deleting';
  if (v.extendedAt !== undefined && env.now() < v.extendedAt) return 'extending';
  return env.now() >= v.readyAt ? 'available' : 'creating';
}

/** Volumes of the cloud; a deleted one stays `deleting` for the provisioning delay, as on Cinder. */
function volumes(env: Env): Volume[] {
  for (const v of env.state.volumes.values())
    if (v.deletedAt !== undefined && env.now() >= v.deletedAt) env.state.volumes.delete(v.id);
  return [...env.state.volumes.values()];
}

function detail(ctx: Ctx, v: Volume, override?: string) {
  return {
    id: v.id,
    name: v.name,
    status: override ?? status(ctx.env, v),
    size: v.size,
    description: v.description,
    metadata: v.metadata,
    volume_type: v.volumeType,
    availability_zone: 'nova',
    bootable: 'false',
    encrypted: false,
    multiattach: false,
    attachments: [],
    created_at: new Date(v.createdAt).toISOString().replace('Z', '000'),
    updated_at: null,
    links: links(ctx, v),
    user_id: v.userId,
    snapshot_id: null,
    source_volid: null,
    consistencygroup_id: null,
    replication_status: null,
    group_id: null,
    provider_id: null,
    service_uuid: null,
    shared_targets: true,
    cluster_name: null,
    volume_type_id: null,
    consumes_quota: true,
    'os-vol-tenant-attr:tenant_id': v.projectId,
    'os-vol-mig-status-attr:migstat': null,
    'os-vol-mig-status-attr:name_id': null,
    'os-vol-host-attr:host': isAdmin(ctx) ? 'cloudsim@lvmdriver-1#lvmdriver-1' : undefined,
  };
}

function checkProject(ctx: Ctx): string {
  const project = projectOf(ctx);
  if (ctx.params.project !== project && !isAdmin(ctx))
    throw new HttpError(403, 'Policy does not allow this action.');
  return ctx.params.project as string;
}

function getVolume(ctx: Ctx): Volume {
  const project = checkProject(ctx);
  const v = volumes(ctx.env).find((x) => x.id === ctx.params.id);
  if (!v || v.projectId !== project) throw new HttpError(404, `Volume ${ctx.params.id} could not be found.`);
  return v;
}

/** Cinder 21 (Zed) accepts volume microversions 3.0 … 3.70. */
const MAX_MINOR = 70;

/** The requested volume microversion's minor number; 406 when out of range, as Cinder answers. */
function microversion(headers: Ctx['headers']): number {
  const h = headers['openstack-api-version'];
  const text = typeof h === 'string' ? /volume\s+(\S+)/i.exec(h)?.[1] : undefined;
  if (!text) return 0;
  if (text === 'latest') return MAX_MINOR;
  const m = /^3\.(\d+)$/.exec(text);
  if (!m || Number(m[1]) > MAX_MINOR)
    throw new HttpError(
      m || /^\d+\.\d+$/.test(text) ? 406 : 400,
      m || /^\d+\.\d+$/.test(text)
        ? `Version ${text} is not supported by the API. Minimum is 3.0 and maximum is 3.${MAX_MINOR}.`
        : `Invalid API version request string: ${text}`,
    );
  return Number(m[1]);
}

/** The v3 API as Cinder describes it at `/volume/` (300) and `/volume/v3/` (200). */
function versions(env: Env) {
  return {
    versions: [
      {
        id: 'v3.0',
        status: 'CURRENT',
        version: `3.${MAX_MINOR}`,
        min_version: '3.0',
        updated: '2022-08-31T00:00:00Z',
        links: [
          { rel: 'describedby', type: 'text/html', href: 'https://docs.openstack.org/' },
          { rel: 'self', href: `${env.url}/volume/v3/` },
        ],
        'media-types': [
          { base: 'application/json', type: 'application/vnd.openstack.volume+json;version=3' },
        ],
      },
    ],
  };
}

/** The volume type a name or id refers to (Cinder accepts either in `volume_type`). */
function findType(ctx: Ctx, ref: string): VolumeType | undefined {
  const types = ctx.env.state.volumeTypes;
  return types.get(ref) ?? [...types.values()].find((t) => t.name === ref);
}

function typeView(ctx: Ctx, t: VolumeType) {
  return {
    id: t.id,
    name: t.name,
    is_public: true,
    description: t.description,
    // Only an admin sees a type's extra specs with the default policy.
    ...(isAdmin(ctx) ? { extra_specs: t.extraSpecs } : {}),
    qos_specs_id: null,
    'os-volume-type-access:is_public': true,
  };
}

function getType(ctx: Ctx): Reply {
  checkProject(ctx);
  const id = ctx.params.id as string;
  const t = id === 'default' ? findType(ctx, DEFAULT_TYPE) : ctx.env.state.volumeTypes.get(id);
  if (!t) throw new HttpError(404, `Volume type ${id} could not be found.`);
  return { status: 200, json: { volume_type: typeView(ctx, t) } };
}

const DEFAULT_TYPE = '__DEFAULT__';

/** A project's volume quotas, with `usage=true` each as limit, in use and reserved, as Cinder shows them. */
function quotaSet(ctx: Ctx): Reply {
  const project = checkProject(ctx);
  const target = ctx.params.target as string;
  if (target !== project && !isAdmin(ctx)) throw new HttpError(403, 'Policy does not allow this action.');
  const own = volumes(ctx.env).filter((v) => v.projectId === target);
  const snaps = [...ctx.env.state.snapshots.values()].filter((sn) => sn.projectId === target);
  const limits: [string, number, number][] = [
    ['volumes', quotaOf(ctx.env, target, 'volumes'), own.length],
    ['snapshots', 10, snaps.length],
    ['gigabytes', 1000, own.reduce((a, v) => a + v.size, 0) + snaps.reduce((a, sn) => a + sn.size, 0)],
    ['backups', 10, 0],
    ['backup_gigabytes', 1000, 0],
    ['groups', 10, 0],
    ['per_volume_gigabytes', -1, 0],
    ...[...ctx.env.state.volumeTypes.values()].flatMap((t): [string, number, number][] => {
      const typed = own.filter((v) => findType(ctx, v.volumeType)?.id === t.id);
      return [
        [`volumes_${t.name}`, -1, typed.length],
        [`gigabytes_${t.name}`, -1, typed.reduce((a, v) => a + v.size, 0)],
        [`snapshots_${t.name}`, -1, snaps.filter((sn) => typed.some((v) => v.id === sn.volumeId)).length],
      ];
    }),
  ];
  const usage = ['true', 'True', '1'].includes(ctx.query.get('usage') ?? '');
  const set = Object.fromEntries(
    limits.map(([k, limit, inUse]) => [k, usage ? { limit, in_use: inUse, reserved: 0 } : limit]),
  );
  return { status: 200, json: { quota_set: { id: target, ...set } } };
}

function createVolume(ctx: Ctx): Reply {
  const project = checkProject(ctx);
  const caller = requireCaller(ctx);
  const b = bodyOf(ctx, 'volume');
  const size = Number(b.size);
  if (!Number.isInteger(size) || size < 1)
    throw new HttpError(
      400,
      `Invalid input received: Volume size '${String(b.size)}' must be an integer and greater than 0.`,
    );
  const limit = quotaOf(ctx.env, project, 'volumes');
  const used = volumes(ctx.env).filter((v) => v.projectId === project).length;
  if (limit >= 0 && used + 1 > limit) {
    throw new HttpError(
      413,
      `VolumeLimitExceeded: Maximum number of volumes allowed (${limit}) exceeded for quota 'volumes'.`,
    );
  }
  const typeRef = str(b.volume_type) ?? DEFAULT_TYPE;
  const type = findType(ctx, typeRef);
  if (!type) throw new HttpError(404, `Volume type with name ${typeRef} could not be found.`);
  const now = ctx.env.now();
  const v: Volume = {
    id: uuid(),
    name: str(b.name) ?? null,
    projectId: project,
    userId: caller.user.id,
    size,
    description: str(b.description) ?? null,
    metadata: (b.metadata as Record<string, string>) ?? {},
    createdAt: now,
    readyAt: now + ctx.env.knobs.provisionDelayMs,
    volumeType: type.name,
    seq: ctx.env.state.nextSeq(),
  };
  ctx.env.state.volumes.set(v.id, v);
  return { status: 202, json: { volume: detail(ctx, v, 'creating') } };
}

/**
 * The `metadata` filter of a list: Cinder reads it as a Python literal (`{'k':'v'}`, as gophercloud
 * sends it) or JSON; anything else is 400.
 */
function metadataFilter(text: string | null): Record<string, string> | undefined {
  if (text === null) return undefined;
  for (const candidate of [text, text.replace(/'/g, '"')]) {
    try {
      const parsed = JSON.parse(candidate) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
        return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
    } catch {
      // tried as a Python literal next
    }
  }
  throw new HttpError(400, `Invalid input received: Invalid filter metadata: ${text}.`);
}

/**
 * One page of `items` as Cinder pages lists: after `marker` (404 when it names none), at most `limit`,
 * and a `next` link (the same query with the page's last id as marker) whenever the page is full.
 */
function page<T extends { id: string }>(
  ctx: Ctx,
  items: T[],
  what: string,
): { items: T[]; links: { rel: string; href: string }[] } {
  const marker = ctx.query.get('marker');
  let rest = items;
  if (marker) {
    const at = items.findIndex((i) => i.id === marker);
    if (at < 0) throw new HttpError(404, `${what} ${marker} could not be found.`);
    rest = items.slice(at + 1);
  }
  const limitText = ctx.query.get('limit');
  const limit = limitText === null ? 1000 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 0)
    throw new HttpError(400, 'Invalid input received: limit must be a non-negative integer.');
  const shown = rest.slice(0, limit);
  const last = shown.at(-1);
  if (!last || shown.length < limit) return { items: shown, links: [] };
  const query = new URLSearchParams(ctx.query);
  query.set('marker', last.id);
  const path = ctx.rawPath.split('?')[0] as string;
  return { items: shown, links: [{ rel: 'next', href: `${ctx.env.url}${path}?${query.toString()}` }] };
}

function list(ctx: Ctx, full: boolean): Reply {
  const project = checkProject(ctx);
  const q = ctx.query;
  const metadata = metadataFilter(q.get('metadata'));
  const found = volumes(ctx.env)
    .filter((v) => v.projectId === project)
    .filter((v) => !q.has('name') || v.name === q.get('name'))
    .filter((v) => !q.has('status') || status(ctx.env, v) === q.get('status'))
    .filter((v) => !metadata || Object.entries(metadata).every(([k, value]) => v.metadata[k] === value))
    .sort((a, b) => b.seq - a.seq);
  const shown = page(ctx, found, 'Volume');
  return {
    status: 200,
    json: {
      volumes: shown.items.map((v) =>
        full ? detail(ctx, v) : { id: v.id, name: v.name, links: links(ctx, v) },
      ),
      ...(shown.links.length > 0 ? { volumes_links: shown.links } : {}),
    },
  };
}

/**
 * `POST /volumes/{id}/action`: `os-extend` grows an available volume (`extending` for the provisioning
 * delay); other actions are not simulated and answer as Cinder does for an unknown one.
 */
function volumeAction(ctx: Ctx): Reply {
  const body = (ctx.body ?? {}) as Record<string, unknown>;
  const [action] = Object.keys(body);
  if (action !== 'os-extend') throw new HttpError(400, `There is no such action: ${action ?? ''}`);
  const b = bodyOf(ctx, 'os-extend');
  const size = Number(b.new_size);
  if (!Number.isInteger(size) || size < 1)
    throw new HttpError(400, `Invalid input for field/attribute new_size. Value: ${String(b.new_size)}.`);
  const v = getVolume(ctx);
  const current = status(ctx.env, v);
  if (current !== 'available')
    throw new HttpError(
      400,
      `Invalid volume: Volume ${v.id} status must be 'available' or 'in-use' to extend, currently ${current}.`,
    );
  if (size <= v.size)
    throw new HttpError(
      400,
      `Invalid input received: New size for extend must be greater than current size. (current: ${v.size}, extended: ${size}).`,
    );
  v.size = size;
  v.extendedAt = ctx.env.now() + ctx.env.knobs.provisionDelayMs;
  return { status: 202 };
}

/** A snapshot as Cinder's list (summary) shows it; CSI reads its size, status, volume and time from there. */
function snapshotSummary(ctx: Ctx, sn: Snapshot, override?: string) {
  return {
    id: sn.id,
    name: sn.name,
    description: sn.description ?? null,
    volume_id: sn.volumeId,
    status: override ?? status(ctx.env, sn),
    size: sn.size,
    metadata: sn.metadata ?? {},
    created_at: new Date(sn.createdAt).toISOString().replace('Z', '000'),
    updated_at: null,
  };
}

function snapshotDetail(ctx: Ctx, sn: Snapshot, override?: string) {
  return {
    ...snapshotSummary(ctx, sn, override),
    'os-extended-snapshot-attributes:project_id': sn.projectId,
    'os-extended-snapshot-attributes:progress': status(ctx.env, sn) === 'available' ? '100%' : '0%',
  };
}

function getSnapshot(ctx: Ctx): Snapshot {
  const project = checkProject(ctx);
  const sn = ctx.env.state.snapshots.get(ctx.params.id as string);
  if (!sn || sn.projectId !== project)
    throw new HttpError(404, `Snapshot ${ctx.params.id} could not be found.`);
  return sn;
}

function snapshotsOf(env: Env, volumeId: string): Snapshot[] {
  return [...env.state.snapshots.values()].filter((sn) => sn.volumeId === volumeId);
}

// As Cinder 21 words it when a volume is not in a state to be deleted.
const NOT_DELETABLE =
  'Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.';

function deleteVolume(ctx: Ctx): Reply {
  const v = getVolume(ctx);
  const cascade = ['true', 'True', '1'].includes(ctx.query.get('cascade') ?? '');
  const snapshots = snapshotsOf(ctx.env, v.id);
  if (status(ctx.env, v) !== 'available' || (snapshots.length > 0 && !cascade))
    throw new HttpError(400, NOT_DELETABLE, 'badRequest');
  for (const sn of snapshots) ctx.env.state.snapshots.delete(sn.id);
  v.deletedAt = ctx.env.now() + ctx.env.knobs.provisionDelayMs;
  return { status: 202 };
}

function createSnapshot(ctx: Ctx): Reply {
  const project = checkProject(ctx);
  const b = bodyOf(ctx, 'snapshot');
  const volumeId = str(b.volume_id);
  const v = volumeId ? volumes(ctx.env).find((x) => x.id === volumeId) : undefined;
  if (!v || v.projectId !== project) throw new HttpError(404, `Volume ${volumeId ?? ''} could not be found.`);
  const vs = status(ctx.env, v);
  if (vs !== 'available')
    throw new HttpError(
      400,
      `Invalid volume: Volume ${v.id} status must be available, but current status is: ${vs}.`,
    );
  const now = ctx.env.now();
  const sn: Snapshot = {
    id: uuid(),
    name: str(b.name) ?? null,
    projectId: project,
    volumeId: v.id,
    size: v.size,
    metadata: (b.metadata as Record<string, string> | undefined) ?? {},
    description: str(b.description) ?? null,
    createdAt: now,
    readyAt: now + ctx.env.knobs.provisionDelayMs,
    seq: ctx.env.state.nextSeq(),
  };
  ctx.env.state.snapshots.set(sn.id, sn);
  return { status: 202, json: { snapshot: snapshotDetail(ctx, sn, 'creating') } };
}

function listSnapshots(ctx: Ctx, full: boolean): Reply {
  const project = checkProject(ctx);
  const q = ctx.query;
  const snapshots = [...ctx.env.state.snapshots.values()]
    .filter((sn) => sn.projectId === project)
    .filter((sn) => !q.has('volume_id') || sn.volumeId === q.get('volume_id'))
    .filter((sn) => !q.has('name') || sn.name === q.get('name'))
    .filter((sn) => !q.has('status') || status(ctx.env, sn) === q.get('status'))
    .sort((a, b) => b.seq - a.seq);
  const shown = page(ctx, snapshots, 'Snapshot');
  return {
    status: 200,
    json: {
      snapshots: shown.items.map((sn) => (full ? snapshotDetail(ctx, sn) : snapshotSummary(ctx, sn))),
      ...(shown.links.length > 0 ? { snapshots_links: shown.links } : {}),
    },
  };
}

/** Sets a project's volume quota (admin only). */
function setQuota(ctx: Ctx): Reply {
  if (!isAdmin(ctx)) throw new HttpError(403, 'Policy does not allow this action.');
  const b = bodyOf(ctx, 'quota_set');
  const target = ctx.params.target as string;
  if (b.volumes !== undefined) {
    const value = Number(b.volumes);
    if (!Number.isInteger(value) || value < -1)
      throw new HttpError(400, `Invalid input received: Quota volumes must be an integer >= -1.`);
    ctx.env.knobs.quotas.projects[target] = { ...ctx.env.knobs.quotas.projects[target], volumes: value };
  }
  return { status: 200, json: { quota_set: { volumes: quotaOf(ctx.env, target, 'volumes') } } };
}

const routes: Route[] = [
  discoveryRoute('/volume', versions, { status: 300, absolute: true }),
  // Unlike its root, Cinder's versioned root wants a token.
  {
    method: 'GET',
    path: '/volume/v3',
    absolute: true,
    handler: (ctx) => ({ status: 200, json: versions(ctx.env) }),
  },
  { method: 'GET', path: '/os-quota-sets/{target}', handler: quotaSet },
  { method: 'PUT', path: '/os-quota-sets/{target}', handler: setQuota },
  {
    method: 'GET',
    path: '/types',
    handler: (ctx) => (
      checkProject(ctx),
      {
        status: 200,
        json: { volume_types: [...ctx.env.state.volumeTypes.values()].map((t) => typeView(ctx, t)) },
      }
    ),
  },
  { method: 'GET', path: '/types/{id}', handler: getType },
  { method: 'GET', path: '/volumes', handler: (ctx) => list(ctx, false) },
  { method: 'GET', path: '/volumes/detail', handler: (ctx) => list(ctx, true) },
  { method: 'POST', path: '/volumes', handler: createVolume },
  showRoute('/volumes/{id}', 'volume', (ctx) => detail(ctx, getVolume(ctx))),
  { method: 'DELETE', path: '/volumes/{id}', handler: deleteVolume },
  { method: 'POST', path: '/volumes/{id}/action', handler: volumeAction },
  { method: 'GET', path: '/snapshots', handler: (ctx) => listSnapshots(ctx, false) },
  { method: 'GET', path: '/snapshots/detail', handler: (ctx) => listSnapshots(ctx, true) },
  { method: 'POST', path: '/snapshots', handler: createSnapshot },
  showRoute('/snapshots/{id}', 'snapshot', (ctx) => snapshotDetail(ctx, getSnapshot(ctx))),
  deleteRoute('/snapshots/{id}', 202, (ctx) => {
    ctx.env.state.snapshots.delete(getSnapshot(ctx).id);
  }),
];

/** Cinder v3 under `/volume/v3/{project_id}`. */
export const cinder: Service = {
  name: 'volume',
  prefix: '/volume/v3/{project}',
  // Cinder refuses a microversion out of range on every call, before looking at the resource.
  routes: routes.map((r) => ({ ...r, handler: (ctx: Ctx) => (microversion(ctx.headers), r.handler(ctx)) })),
  errorReply: cinderError,
  decorate: (reply, { req }) => {
    let minor = 0;
    try {
      minor = microversion(req.headers);
    } catch {
      // an invalid version is answered with its own error; the headers then name the minimum
    }
    reply.headers = {
      'openstack-api-version': `volume 3.${minor}`,
      vary: 'OpenStack-API-Version',
      ...reply.headers,
    };
  },
};
