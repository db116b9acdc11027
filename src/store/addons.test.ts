import { expect, it } from 'vitest';
import { describeOnEngines } from '../../test/support/databases.ts';
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

describeOnEngines('addon status store', ({ store }) => {
  it('inserts, overwrites and lists statuses per cluster in name order', async () => {
    const { db } = store();
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
    const { db } = store();
    await upsertAddonStatus({ db, status: status() });
    expect(await deleteAddonStatus({ db, clusterId: 'c1', addon: 'ingress' })).toBe(true);
    expect(await deleteAddonStatus({ db, clusterId: 'c1', addon: 'ingress' })).toBe(false);
    expect(await listAddonStatus({ db, clusterId: 'c1' })).toEqual([]);
  });
});
