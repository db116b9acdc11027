import { afterEach, describe, expect, it } from 'vitest';
import { engines, freshStore } from '../../test/support/databases.ts';
import type { Store } from './db.ts';
import { deleteAddonStatus } from './deleteAddonStatus.ts';
import { listAddonStatus, type AddonStatus } from './listAddonStatus.ts';
import { upsertAddonStatus } from './upsertAddonStatus.ts';

const status = (over: Partial<AddonStatus> = {}): AddonStatus => ({
  clusterId: 'c1',
  addon: 'ingress',
  state: 'applying',
  message: 'applying 10 objects',
  objects: [
    { apiVersion: 'v1', kind: 'Service', namespace: 'kaas-system', name: 'ingress-nginx' },
    { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', name: 'nginx' },
  ],
  observedAt: '2030-01-01T00:00:00.000Z',
  ...over,
});

describe.each(engines)('addon status store on %s', (engine) => {
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  it('inserts, overwrites and lists statuses per cluster in name order', async () => {
    store = await freshStore(engine);
    const { db } = store;
    expect(await listAddonStatus({ db, clusterId: 'c1' })).toEqual([]);
    await upsertAddonStatus({ db, status: status() });
    await upsertAddonStatus({ db, status: status({ addon: 'backups', state: 'pending', objects: [] }) });
    await upsertAddonStatus({ db, status: status({ clusterId: 'c2' }) });
    const ready = status({
      state: 'ready',
      message: 'ready',
      objects: [],
      observedAt: '2030-01-02T00:00:00.000Z',
    });
    await upsertAddonStatus({ db, status: ready });
    const listed = await listAddonStatus({ db, clusterId: 'c1' });
    expect(listed.map((s) => s.addon)).toEqual(['backups', 'ingress']);
    expect(listed[1]).toEqual(ready);
    expect(await listAddonStatus({ db, clusterId: 'c2' })).toEqual([status({ clusterId: 'c2' })]);
  });

  it('deletes one service status and reports whether it existed', async () => {
    store = await freshStore(engine);
    const { db } = store;
    await upsertAddonStatus({ db, status: status() });
    expect(await deleteAddonStatus({ db, clusterId: 'c1', addon: 'ingress' })).toBe(true);
    expect(await deleteAddonStatus({ db, clusterId: 'c1', addon: 'ingress' })).toBe(false);
    expect(await listAddonStatus({ db, clusterId: 'c1' })).toEqual([]);
  });
});
