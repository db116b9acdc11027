import { UpstreamError } from '../errors.ts';
import { isOpenStackError } from './errors.ts';
import type { Session } from './session.ts';
import { pollUntil, type WaitDeps, type WaitOptions } from './wait.ts';

/** A Cinder v3 volume. */
export interface Volume {
  id: string;
  name: string | null;
  status: string;
  size: number;
  volume_type?: string | null;
  metadata: Record<string, string>;
  attachments: { server_id: string; device?: string }[];
  created_at: string;
}

/** Cinder calls kaas makes (etcd and persistent volumes). Service type volumev3 / block-storage. */
export function createCinder(session: Session, deps: WaitDeps = {}) {
  const e = encodeURIComponent;
  const service = 'volumev3';
  async function getVolume(id: string): Promise<Volume> {
    return (await session.request<{ volume: Volume }>(service, 'GET', `/volumes/${e(id)}`)).body.volume;
  }
  return {
    async createVolume(input: {
      name: string;
      size: number;
      volumeType?: string;
      metadata?: Record<string, string>;
    }) {
      const volume = {
        name: input.name,
        size: input.size,
        ...(input.volumeType ? { volume_type: input.volumeType } : {}),
        ...(input.metadata ? { metadata: input.metadata } : {}),
      };
      return (await session.request<{ volume: Volume }>(service, 'POST', '/volumes', { json: { volume } }))
        .body.volume;
    },
    getVolume,
    async listVolumes(filter: { name?: string; status?: string } = {}): Promise<Volume[]> {
      const out: Volume[] = [];
      for await (const v of session.paginate<Volume>(service, '/volumes/detail', {
        itemsKey: 'volumes',
        query: { name: filter.name, status: filter.status },
      }))
        out.push(v);
      return out;
    },
    async deleteVolume(id: string, options: { ignoreMissing?: boolean } = {}): Promise<void> {
      await session.request(
        service,
        'DELETE',
        `/volumes/${e(id)}`,
        options.ignoreMissing ? { okStatuses: [404] } : {},
      );
    },
    /** Waits for a status (default `available`); fails at once on `error`. */
    async waitForVolumeStatus(id: string, status = 'available', options: WaitOptions = {}): Promise<Volume> {
      return pollUntil(
        `volume ${id} to become ${status}`,
        async () => {
          const v = await getVolume(id);
          if (v.status === status) return { done: true, value: v };
          if (v.status === 'error')
            throw new UpstreamError(`Volume ${v.name ?? id} went into error`, {
              code: 'openstack_resource_failed',
            });
          return { done: false, state: v.status };
        },
        deps,
        options,
      );
    },
    async waitForVolumeDeleted(id: string, options: WaitOptions = {}): Promise<void> {
      await pollUntil(
        `volume ${id} to be deleted`,
        async () => {
          try {
            return { done: false, state: (await getVolume(id)).status };
          } catch (err) {
            if (isOpenStackError(err, 'openstack_not_found')) return { done: true, value: undefined };
            throw err;
          }
        },
        deps,
        options,
      );
    },
  };
}

/** The Cinder client returned by {@link createCinder}. */
export type Cinder = ReturnType<typeof createCinder>;
