import type { Readable } from 'node:stream';
import type { Session } from './session.ts';

/** A Glance v2 image. */
export interface Image {
  id: string;
  name: string | null;
  status: string;
  disk_format: string | null;
  container_format: string | null;
  visibility: string;
  size: number | null;
  tags: string[];
  created_at: string;
  updated_at: string;
}

/** Glance calls kaas makes: finding node images (and creating tiny ones in labs and tests). */
export function createGlance(session: Session) {
  const e = encodeURIComponent;

  async function listImages(filter: { name?: string; status?: string; tag?: string } = {}): Promise<Image[]> {
    const out: Image[] = [];
    const query = { name: filter.name, status: filter.status, tag: filter.tag };
    for await (const img of session.paginate<Image>('image', '/v2/images', { itemsKey: 'images', query }))
      out.push(img);
    return out;
  }

  return {
    listImages,
    /** The newest active image with this exact name, or undefined. */
    async findImageByName(name: string): Promise<Image | undefined> {
      const images = (await listImages({ name, status: 'active' })).filter((i) => i.name === name);
      images.sort((a, b) => b.created_at.localeCompare(a.created_at));
      return images[0];
    },
    async getImage(id: string): Promise<Image> {
      return (await session.request<Image>('image', 'GET', `/v2/images/${e(id)}`)).body;
    },
    /** Creates the image record (status `queued`); upload the bits with {@link uploadImage}. */
    async createImage(input: {
      name: string;
      diskFormat?: string;
      containerFormat?: string;
      visibility?: 'public' | 'private' | 'shared' | 'community';
      tags?: string[];
    }): Promise<Image> {
      const json = {
        name: input.name,
        disk_format: input.diskFormat ?? 'raw',
        container_format: input.containerFormat ?? 'bare',
        visibility: input.visibility ?? 'private',
        ...(input.tags ? { tags: input.tags } : {}),
      };
      return (await session.request<Image>('image', 'POST', '/v2/images', { json })).body;
    },
    /** Uploads the image data; the image becomes `active`. */
    async uploadImage(id: string, data: Buffer | Readable): Promise<void> {
      await session.request('image', 'PUT', `/v2/images/${e(id)}/file`, {
        body: data,
        headers: {
          'content-type': 'application/octet-stream',
          ...(Buffer.isBuffer(data) ? { 'content-length': String(data.length) } : {}),
        },
      });
    },
    async deleteImage(id: string, options: { ignoreMissing?: boolean } = {}): Promise<void> {
      await session.request(
        'image',
        'DELETE',
        `/v2/images/${e(id)}`,
        options.ignoreMissing ? { okStatuses: [404] } : {},
      );
    },
  };
}

/** The Glance client returned by {@link createGlance}. */
export type Glance = ReturnType<typeof createGlance>;
