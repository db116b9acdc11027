import { expect, it } from 'vitest';
import { sql } from 'kysely';
import { describeOnEngines } from '../../test/support/databases.ts';
import { claimJob } from './claimJob.ts';
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
import { insertReconcileRows } from './insertReconcileRows.ts';

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
    await insertReconcileRows({ db });
    const reconcileRows = () => db.selectFrom('cluster_reconcile').select('cluster_id').execute();
    expect(await reconcileRows()).toEqual([{ cluster_id: 'c1' }]);
    await deleteProvisionedCluster({ db, id: 'c1' });
    expect(await findProvisionedCluster({ db, ref: 'c1' })).toBeUndefined();
    expect(await findCluster({ db, id: 'c1' })).toBeUndefined();
    expect(await reconcileRows()).toEqual([]);
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

  it('claims the oldest runnable job, never one of a cluster with a job running under a live lease', async () => {
    const { db, dialect } = store();
    // Jobs written around insertJob's one-active-per-cluster index: the claim must still keep one
    // runner per cluster.
    await sql`DROP INDEX jobs_one_active_per_cluster`.execute(db);
    for (const [id, clusterId, s] of [
      ['j1', 'c1', 1],
      ['j2', 'c1', 2],
      ['j3', 'c2', 3],
    ] as const) {
      await insertJob({
        db,
        job: { id, clusterId, kind: 'create', input: {}, stepIds: [], createdAt: at(s) },
      });
    }
    const claim = (owner: string, now: string, jobId?: string) =>
      claimJob({
        db,
        dialect,
        owner,
        now,
        leaseExpiresAt: new Date(Date.parse(now) + 10_000).toISOString(),
        ...(jobId === undefined ? {} : { jobId }),
      });
    expect(await claim('a', at(10))).toMatchObject({
      id: 'j1',
      state: 'running',
      leaseOwner: 'a',
      attempt: 1,
    });
    expect((await claim('b', at(10)))?.id).toBe('j3');
    expect(await claim('b', at(10))).toBeUndefined();
    expect(await claim('b', at(10), 'j2')).toBeUndefined();
    // j1's lease (until 00:00:20) runs out: j1 itself is taken over first, and j2 stays blocked.
    expect(await claim('c', at(25))).toMatchObject({ id: 'j1', leaseOwner: 'c', attempt: 2 });
    expect(await claim('c', at(25), 'j2')).toBeUndefined();
    await db.updateTable('jobs').set({ state: 'succeeded' }).where('id', '=', 'j1').execute();
    expect(await claim('c', at(26), 'j2')).toMatchObject({ id: 'j2', leaseOwner: 'c' });
  });

  it('gives concurrent claimers different jobs', async () => {
    const { db, dialect } = store();
    for (let i = 0; i < 4; i++) {
      await insertJob({
        db,
        job: { id: `j${i}`, clusterId: `c${i}`, kind: 'create', input: {}, stepIds: [], createdAt: at(i) },
      });
    }
    const claims = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        claimJob({ db, dialect, owner: `o${i}`, now: at(10), leaseExpiresAt: at(40) }),
      ),
    );
    const ids = claims.flatMap((c) => (c ? [c.id] : []));
    expect(ids.sort()).toEqual(['j0', 'j1', 'j2', 'j3']);
  });
});
