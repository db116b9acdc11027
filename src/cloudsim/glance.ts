import { createHash } from 'node:crypto';
import type { Ctx, Env, Reply, Route, Service } from './http.ts';
import {
  afterMarker,
  discoveryRoute,
  HttpError,
  isAdmin,
  projectOf,
  str,
  unauthorizedReply,
} from './http.ts';
import { isoSeconds, uuid, type Image } from './state.ts';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Request Entity Too Large',
};

/** Glance answers errors as small HTML pages, as the lab does. */
function glanceError(err: HttpError): Reply {
  if (err.status === 401) return unauthorizedReply(err.message);
  const title = `${err.status} ${TITLES[err.status] ?? 'Error'}`;
  return {
    status: err.status,
    headers: { 'content-type': 'text/html; charset=UTF-8' },
    text: `<html>\n <head>\n  <title>${title}</title>\n </head>\n <body>\n  <h1>${title}</h1>\n  ${err.message}<br /><br />\n\n\n\n </body>\n</html>`,
  };
}

function imageView(i: Image) {
  return {
    ...i.properties,
    id: i.id,
    name: i.name,
    status: i.status,
    visibility: i.visibility,
    protected: false,
    os_hidden: false,
    checksum: i.checksum,
    os_hash_algo: i.hashValue ? 'sha512' : null,
    os_hash_value: i.hashValue,
    owner: i.owner,
    size: i.size,
    virtual_size: null,
    min_ram: i.minRam,
    min_disk: i.minDisk,
    disk_format: i.diskFormat,
    container_format: i.containerFormat,
    created_at: isoSeconds(i.createdAt),
    updated_at: isoSeconds(i.updatedAt),
    tags: i.tags,
    self: `/v2/images/${i.id}`,
    file: `/v2/images/${i.id}/file`,
    schema: '/v2/schemas/image',
  };
}

function canSee(ctx: Ctx, i: Image): boolean {
  return (
    i.visibility === 'public' || i.visibility === 'community' || isAdmin(ctx) || i.owner === projectOf(ctx)
  );
}

function getImage(ctx: Ctx): Image {
  const i = ctx.env.state.images.get(ctx.params.id as string);
  if (!i || !canSee(ctx, i)) throw new HttpError(404, `No image found with ID ${ctx.params.id}`);
  return i;
}

const CORE = new Set([
  'id',
  'name',
  'visibility',
  'disk_format',
  'container_format',
  'min_disk',
  'min_ram',
  'tags',
  'protected',
  'os_hidden',
]);

// Glance's image schema: the id pattern and the disk formats of its default configuration.
const UUID = /^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$/;
const DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'];

function createImage(ctx: Ctx): Reply {
  const owner = projectOf(ctx);
  const b = (ctx.body ?? {}) as Record<string, unknown>;
  const visibility = str(b.visibility) ?? 'shared';
  if (!['public', 'private', 'shared', 'community'].includes(visibility))
    throw new HttpError(400, `Invalid visibility value: ${visibility}`);
  if (visibility === 'public' && !isAdmin(ctx))
    throw new HttpError(403, 'You are not authorized to complete publicize_image action.');
  const id = str(b.id) ?? uuid();
  if (!UUID.test(id))
    throw new HttpError(
      400,
      `Provided object does not match schema 'image': '${id}' does not match '${UUID.source}'`,
    );
  const diskFormat = str(b.disk_format) ?? null;
  if (diskFormat !== null && !DISK_FORMATS.includes(diskFormat))
    throw new HttpError(
      400,
      `Provided object does not match schema 'image': '${diskFormat}' is not one of [None, ${DISK_FORMATS.map((f) => `'${f}'`).join(', ')}]`,
    );
  if (ctx.env.state.images.has(id)) throw new HttpError(409, `Image with identifier ${id} already exists!`);
  const now = ctx.env.now();
  const properties = Object.fromEntries(Object.entries(b).filter(([k]) => !CORE.has(k)));
  const image: Image = {
    id,
    name: str(b.name) ?? '',
    status: 'queued',
    visibility,
    owner,
    diskFormat,
    containerFormat: str(b.container_format) ?? null,
    size: null,
    checksum: null,
    hashValue: null,
    createdAt: now,
    updatedAt: now,
    tags: Array.isArray(b.tags) ? (b.tags as unknown[]).map(String) : [],
    minDisk: Number(b.min_disk ?? 0),
    minRam: Number(b.min_ram ?? 0),
    properties,
  };
  ctx.env.state.images.set(id, image);
  return {
    status: 201,
    headers: { location: `${ctx.env.url}/image/v2/images/${id}` },
    json: imageView(image),
  };
}

async function upload(ctx: Ctx): Promise<Reply> {
  const image = getImage(ctx);
  if (image.owner !== projectOf(ctx) && !isAdmin(ctx))
    throw new HttpError(403, 'Forbidden to upload image data.');
  if (image.status !== 'queued')
    throw new HttpError(409, `Image status transition from ${image.status} to saving is not allowed`);
  const md5 = createHash('md5');
  const sha = createHash('sha512');
  let size = 0;
  for await (const chunk of ctx.req) {
    md5.update(chunk as Buffer);
    sha.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  Object.assign(image, {
    status: 'active',
    size,
    checksum: md5.digest('hex'),
    hashValue: sha.digest('hex'),
    updatedAt: ctx.env.now(),
  });
  return { status: 204 };
}

/**
 * The versions the lab's Glance 25 (Zed, multiple stores, no image cache) lists; it answers them
 * with 300 at its root and with 200 at `/versions`.
 */
function versions(env: Env) {
  const ids = [
    '2.15',
    '2.13',
    '2.12',
    '2.11',
    '2.10',
    '2.9',
    '2.8',
    '2.7',
    '2.6',
    '2.5',
    '2.4',
    '2.3',
    '2.2',
    '2.1',
    '2.0',
  ];
  return {
    versions: ids.map((id, i) => ({
      id: `v${id}`,
      status: i === 0 ? 'CURRENT' : 'SUPPORTED',
      links: [{ rel: 'self', href: `${env.url}/image/v2/` }],
    })),
  };
}

const routes: Route[] = [
  discoveryRoute('', versions, { status: 300 }),
  discoveryRoute('/versions', versions),
  {
    method: 'GET',
    path: '/v2/images',
    handler: (ctx) => {
      const q = ctx.query;
      let images = [...ctx.env.state.images.values()]
        .filter((i) => canSee(ctx, i))
        .filter((i) => !q.has('name') || i.name === q.get('name'))
        .filter((i) => !q.has('status') || i.status === q.get('status'))
        .filter((i) => !q.has('visibility') || i.visibility === q.get('visibility'))
        .filter((i) => q.getAll('tag').every((t) => i.tags.includes(t)));
      images = afterMarker(images, q.get('marker'));
      const body: Record<string, unknown> = {};
      const limit = Number(q.get('limit') ?? 0);
      const search = ctx.req.url?.includes('?') ? ctx.req.url.slice(ctx.req.url.indexOf('?')) : '';
      if (limit > 0 && images.length > limit) {
        images = images.slice(0, limit);
        const next = new URLSearchParams(q);
        next.set('marker', images[images.length - 1]?.id ?? '');
        body.next = `/v2/images?${next}`;
      }
      return {
        status: 200,
        json: {
          images: images.map(imageView),
          first: `/v2/images${search}`,
          schema: '/v2/schemas/images',
          ...body,
        },
      };
    },
  },
  { method: 'POST', path: '/v2/images', handler: createImage },
  {
    method: 'GET',
    path: '/v2/images/{id}',
    handler: (ctx) => ({ status: 200, json: imageView(getImage(ctx)) }),
  },
  {
    method: 'DELETE',
    path: '/v2/images/{id}',
    handler: (ctx) => {
      const image = getImage(ctx);
      if (image.owner !== projectOf(ctx) && !isAdmin(ctx))
        throw new HttpError(403, 'Forbidden to delete image.');
      ctx.env.state.images.delete(image.id);
      return { status: 204 };
    },
  },
  { method: 'PUT', path: '/v2/images/{id}/file', raw: true, handler: upload },
  {
    method: 'GET',
    path: '/v2/images/{id}/file',
    handler: (ctx) => {
      const image = getImage(ctx);
      if (image.status !== 'active') return { status: 204 };
      return {
        status: 200,
        headers: { 'content-type': 'application/octet-stream' },
        text: Buffer.alloc(image.size ?? 0),
      };
    },
  },
];

/** Glance v2 under `/image`. Uploaded bytes are hashed and counted, not kept. */
export const glance: Service = { name: 'image', prefix: '/image', routes, errorReply: glanceError };
