import { expect, it } from 'vitest';
import { describeOnEngines } from '../../test/support/databases.ts';
import { deleteProvisionedCluster } from './deleteProvisionedCluster.ts';
import { findHealStatus } from './findHealStatus.ts';
import { listNodeHealth } from './listNodeHealth.ts';
import { replaceNodeHealth } from './replaceNodeHealth.ts';
import { upsertHealStatus } from './upsertHealStatus.ts';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

describeOnEngines('auto-healing records', ({ store }) => {
  it('keeps the first time a Node was seen unhealthy, and forgets Nodes no longer listed', async () => {
    const { db } = store();
    await replaceNodeHealth({ db, clusterId: 'c1', since: { n1: at(0), n2: at(1) } });
    await replaceNodeHealth({ db, clusterId: 'c2', since: { n1: at(5) } });
    // A second writer (another replica, a later round) keeps the earlier time.
    await replaceNodeHealth({ db, clusterId: 'c1', since: { n1: at(9), n3: at(9) } });
    expect(await listNodeHealth({ db, clusterId: 'c1' })).toEqual({ n1: at(0), n3: at(9) });
    await replaceNodeHealth({ db, clusterId: 'c1', since: {} });
    expect(await listNodeHealth({ db, clusterId: 'c1' })).toEqual({});
    expect(await listNodeHealth({ db, clusterId: 'c2' })).toEqual({ n1: at(5) });
  });

  it('writes the AutoHeal condition whole, and deleting the cluster forgets it', async () => {
    const { db } = store();
    expect(await findHealStatus({ db, clusterId: 'c1' })).toBeUndefined();
    const condition = {
      type: 'AutoHeal',
      status: 'False',
      reason: 'TooManyUnhealthy',
      message: 'm',
    } as const;
    await upsertHealStatus({
      db,
      clusterId: 'c1',
      status: { condition, changedAt: at(1), checkedAt: at(1), retriedJob: null },
    });
    const healthy = { type: 'AutoHeal', status: 'True', reason: 'Healthy', message: 'ok' } as const;
    await upsertHealStatus({
      db,
      clusterId: 'c1',
      status: { condition: healthy, changedAt: at(2), checkedAt: at(3), retriedJob: 'job-1' },
    });
    expect(await findHealStatus({ db, clusterId: 'c1' })).toEqual({
      condition: healthy,
      changedAt: at(2),
      checkedAt: at(3),
      retriedJob: 'job-1',
    });
    await replaceNodeHealth({ db, clusterId: 'c1', since: { n1: at(0) } });
    await deleteProvisionedCluster({ db, id: 'c1' });
    expect(await findHealStatus({ db, clusterId: 'c1' })).toBeUndefined();
    expect(await listNodeHealth({ db, clusterId: 'c1' })).toEqual({});
  });
});
