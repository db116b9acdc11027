import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { openStore, type Store } from '../../src/store/db.ts';
import { insertCluster } from '../../src/store/insertCluster.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';

/**
 * A migrated SQLite store (in memory unless `url` names a file) holding cluster c1 "prod" of
 * project p1 "proj", administered by the holders of `adminRoleIds`: the cluster the server's auth
 * tests and the TokenReview bench review tokens for.
 */
export async function prodClusterStore({
  createdAt,
  adminRoleIds = ['r-admin'],
  url = 'sqlite::memory:',
}: {
  createdAt: string;
  adminRoleIds?: string[];
  url?: string;
}): Promise<Store> {
  const store = openStore(url);
  await migrateToLatest(store.db as never);
  await insertCluster({
    db: store.db,
    cluster: { id: 'c1', name: 'prod', projectId: 'p1', projectName: 'proj', adminRoleIds, createdAt },
  });
  return store;
}

/** POSTs `payload` exactly as given under `contentType`: for bodies no well-behaved client sends. */
export function postRaw(
  app: FastifyInstance,
  url: string,
  payload: string,
  contentType = 'application/json',
): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url, headers: { 'content-type': contentType }, payload });
}
