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

function status(env: Env, v: { readyAt: number; deletedAt?: number }): string {
  if (v.deletedAt !== undefined) return 'deleting';
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

function list(ctx: Ctx, full: boolean): Reply {
  const project = checkProject(ctx);
  const q = ctx.query;
  const found = volumes(ctx.env)
    .filter((v) => v.projectId === project)
    .filter((v) => !q.has('name') || v.name === q.get('name'))
    .filter((v) => !q.has('status') || status(ctx.env, v) === q.get('status'))
    .sort((a, b) => b.seq - a.seq);
  return {
    status: 200,
    json: {
      volumes: found.map((v) => (full ? detail(ctx, v) : { id: v.id, name: v.name, links: links(ctx, v) })),
    },
  };
}

function snapshotDetail(ctx: Ctx, sn: Snapshot, override?: string) {
  return {
    id: sn.id,
    name: sn.name,
    description: null,
    volume_id: sn.volumeId,
    status: override ?? status(ctx.env, sn),
    size: sn.size,
    metadata: {},
    created_at: new Date(sn.createdAt).toISOString().replace('Z', '000'),
    updated_at: null,
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
    .sort((a, b) => b.seq - a.seq);
  return {
    status: 200,
    json: {
      snapshots: snapshots.map((sn) =>
        full ? snapshotDetail(ctx, sn) : { id: sn.id, name: sn.name, volume_id: sn.volumeId },
      ),
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
