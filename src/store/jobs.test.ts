import { expect, it } from 'vitest';
import { describeOnEngines } from '../../test/support/databases.ts';
import { deleteProvisionedCluster } from './deleteProvisionedCluster.ts';
import { findProvisionedCluster } from './findProvisionedCluster.ts';
import { insertCluster } from './insertCluster.ts';
import { insertJob } from './insertJob.ts';
import { insertJobEvent } from './insertJobEvent.ts';
import { insertProvisionedCluster } from './insertProvisionedCluster.ts';
import { listJobEvents } from './listJobEvents.ts';
import { listJobs } from './listJobs.ts';
import { listProvisionedClusters } from './listProvisionedClusters.ts';
import { updateProvisionedCluster } from './updateProvisionedCluster.ts';
import { findCluster } from './findCluster.ts';

const at = (s: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, s)).toISOString();
const record = (id: string, name: string) => ({
  id,
  name,
  spec: { name },
  options: { waitForApi: false },
  status: 'creating',
  createdAt: at(0),
  updatedAt: at(0),
});

describeOnEngines('provisioner store', ({ store }) => {
  it('records, finds by id or name, updates and forgets provisioned clusters', async () => {
    const db = store().db;
    await insertProvisionedCluster({ db, cluster: record('c1', 'one') });
    await insertCluster({
      db,
      cluster: {
        id: 'c1',
        name: 'one',
        projectId: 'p',
        projectName: 'p',
        adminRoleIds: ['r'],
        createdAt: at(0),
      },
    });
    await expect(insertProvisionedCluster({ db, cluster: record('c2', 'one') })).rejects.toMatchObject({
      code: 'cluster_exists',
    });
    expect((await findProvisionedCluster({ db, ref: 'one' }))?.id).toBe('c1');
    await updateProvisionedCluster({
      db,
      id: 'c1',
      status: 'ready',
      spec: { name: 'one', v: 2 },
      now: at(5),
    });
    expect(await findProvisionedCluster({ db, ref: 'c1' })).toMatchObject({
      status: 'ready',
      spec: { v: 2 },
      updatedAt: at(5),
    });
    expect(await listProvisionedClusters({ db })).toHaveLength(1);
    await deleteProvisionedCluster({ db, id: 'c1' });
    expect(await findProvisionedCluster({ db, ref: 'c1' })).toBeUndefined();
    expect(await findCluster({ db, id: 'c1' })).toBeUndefined();
  });

  it('lists jobs newest first and events in order, optionally after a time', async () => {
    const db = store().db;
    await insertJob({
      db,
      job: { id: 'j1', clusterId: 'c', kind: 'create', input: {}, stepIds: [], createdAt: at(1) },
    });
    await db.updateTable('jobs').set({ state: 'succeeded' }).where('id', '=', 'j1').execute();
    await insertJob({
      db,
      job: { id: 'j2', clusterId: 'c', kind: 'delete', input: {}, stepIds: ['a'], createdAt: at(2) },
    });
    expect((await listJobs({ db, clusterId: 'c' })).map((j) => j.id)).toEqual(['j2', 'j1']);
    for (const s of [3, 1, 2])
      await insertJobEvent({
        db,
        jobId: 'j2',
        event: { at: at(s), stepId: null, level: 'info', message: `m${s}` },
      });
    expect((await listJobEvents({ db, jobId: 'j2' })).map((e) => e.message)).toEqual(['m1', 'm2', 'm3']);
    expect((await listJobEvents({ db, jobId: 'j2', after: at(2) })).map((e) => e.message)).toEqual(['m3']);
  });
});
