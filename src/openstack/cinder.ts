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

/** A Cinder v3 snapshot of a volume. */
export interface Snapshot {
  id: string;
  name: string | null;
  status: string;
  size: number;
  volume_id: string;
  created_at: string;
}

/** Cinder calls kaas makes (etcd and persistent volumes). Service type volumev3 / block-storage. */
export function createCinder(session: Session, deps: WaitDeps = {}) {
  const e = encodeURIComponent;
  const service = 'volumev3';
  async function getVolume(id: string): Promise<Volume> {
    return (await session.request<{ volume: Volume }>(service, 'GET', `/volumes/${e(id)}`)).body.volume;
  }
  async function getSnapshot(id: string): Promise<Snapshot> {
    return (await session.request<{ snapshot: Snapshot }>(service, 'GET', `/snapshots/${e(id)}`)).body
      .snapshot;
  }
  /** Polls `get` until `status`; fails at once on `error`. */
  function waitForStatus<T extends { status: string; name: string | null }>(
    kind: string,
    get: (id: string) => Promise<T>,
    id: string,
    status: string,
    options: WaitOptions,
  ): Promise<T> {
    return pollUntil(
      `${kind} ${id} to become ${status}`,
      async () => {
        const v = await get(id);
        if (v.status === status) return { done: true, value: v };
        if (v.status === 'error')
          throw new UpstreamError(
            `${kind[0]!.toUpperCase()}${kind.slice(1)} ${v.name ?? id} went into error`,
            {
              code: 'openstack_resource_failed',
            },
          );
        return { done: false, state: v.status };
      },
      deps,
      options,
    );
  }
  /** Polls `get` until it answers 404. */
  function waitForDeleted(
    kind: string,
    get: (id: string) => Promise<{ status: string }>,
    id: string,
    options: WaitOptions,
  ) {
    return pollUntil(
      `${kind} ${id} to be deleted`,
      async () => {
        try {
          return { done: false as const, state: (await get(id)).status };
        } catch (err) {
          if (isOpenStackError(err, 'openstack_not_found')) return { done: true as const, value: undefined };
          throw err;
        }
      },
      deps,
      options,
    );
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
    /** `cascade` also deletes the volume's snapshots; without it Cinder refuses a volume that has some. */
    async deleteVolume(
      id: string,
      options: { ignoreMissing?: boolean; cascade?: boolean } = {},
    ): Promise<void> {
      await session.request(service, 'DELETE', `/volumes/${e(id)}`, {
        ...(options.cascade ? { query: { cascade: 'true' } } : {}),
        ...(options.ignoreMissing ? { okStatuses: [404] } : {}),
      });
    },
    /** Waits for a status (default `available`); fails at once on `error`. */
    waitForVolumeStatus(id: string, status = 'available', options: WaitOptions = {}): Promise<Volume> {
      return waitForStatus('volume', getVolume, id, status, options);
    },
    waitForVolumeDeleted(id: string, options: WaitOptions = {}): Promise<void> {
      return waitForDeleted('volume', getVolume, id, options);
    },
    async createSnapshot(input: { volumeId: string; name: string }): Promise<Snapshot> {
      const snapshot = { volume_id: input.volumeId, name: input.name };
      return (
        await session.request<{ snapshot: Snapshot }>(service, 'POST', '/snapshots', { json: { snapshot } })
      ).body.snapshot;
    },
    getSnapshot,
    async listSnapshots(filter: { volumeId?: string } = {}): Promise<Snapshot[]> {
      const out: Snapshot[] = [];
      for await (const s of session.paginate<Snapshot>(service, '/snapshots/detail', {
        itemsKey: 'snapshots',
        query: { volume_id: filter.volumeId },
      }))
        out.push(s);
      return out;
    },
    async deleteSnapshot(id: string, options: { ignoreMissing?: boolean } = {}): Promise<void> {
      await session.request(
        service,
        'DELETE',
        `/snapshots/${e(id)}`,
        options.ignoreMissing ? { okStatuses: [404] } : {},
      );
    },
    /** Waits for a status (default `available`); fails at once on `error`. */
    waitForSnapshotStatus(id: string, status = 'available', options: WaitOptions = {}): Promise<Snapshot> {
      return waitForStatus('snapshot', getSnapshot, id, status, options);
    },
    waitForSnapshotDeleted(id: string, options: WaitOptions = {}): Promise<void> {
      return waitForDeleted('snapshot', getSnapshot, id, options);
    },
  };
}

/** The Cinder client returned by {@link createCinder}. */
export type Cinder = ReturnType<typeof createCinder>;
