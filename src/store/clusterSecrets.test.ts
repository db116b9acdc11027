import { afterEach, describe, expect, it } from 'vitest';
import { engines, freshStore } from '../../test/support/databases.ts';
import type { Store } from './db.ts';
import { deleteClusterSecret } from './deleteClusterSecret.ts';
import { findClusterSecret } from './findClusterSecret.ts';
import { insertClusterSecret } from './insertClusterSecret.ts';

describe.each(engines)('cluster secrets store on %s', (engine) => {
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  it('stores once, finds, refuses a second insert and forgets', async () => {
    store = await freshStore(engine);
    const { db } = store;
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
