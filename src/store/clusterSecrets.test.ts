import { expect, it } from 'vitest';
import { describeOnEngines } from '../../test/support/databases.ts';
import { deleteClusterSecret } from './deleteClusterSecret.ts';
import { findClusterSecret } from './findClusterSecret.ts';
import { insertClusterSecret } from './insertClusterSecret.ts';

describeOnEngines('cluster secrets store', ({ store }) => {
  it('stores once, finds, refuses a second insert and forgets', async () => {
    const { db } = store();
    expect(await findClusterSecret({ db, clusterId: 'c1' })).toBeUndefined();
    await insertClusterSecret({ db, clusterId: 'c1', sealed: 'v1.a.b.c', now: '2030-01-01T00:00:00.000Z' });
    expect(await findClusterSecret({ db, clusterId: 'c1' })).toBe('v1.a.b.c');
    await expect(
      insertClusterSecret({ db, clusterId: 'c1', sealed: 'v1.x.y.z', now: '2030-01-01T00:00:00.000Z' }),
    ).rejects.toMatchObject({ code: 'cluster_secret_exists' });
    await deleteClusterSecret({ db, clusterId: 'c1' });
    await deleteClusterSecret({ db, clusterId: 'c1' });
    expect(await findClusterSecret({ db, clusterId: 'c1' })).toBeUndefined();
  });
});
