import type { Logger } from '../log.ts';
import type { Store } from '../store/db.ts';
import { listClusters } from '../store/listClusters.ts';
import { recordSyncResult } from '../store/recordSyncResult.ts';
import { replaceKeystoneUsers } from '../store/replaceKeystoneUsers.ts';
import { replaceProjectAssignments } from '../store/replaceProjectAssignments.ts';
import type { KeystoneDirectory } from './directory.ts';

/** What one sync round did. */
export interface SyncOutcome {
  /** Users whose enabled flag, names or roles on some cluster project changed. */
  changedUserIds: string[];
  /** Subjects (`users`, `project:<id>`) that failed; their previous data was kept. */
  failed: string[];
}

/** Dependencies of {@link syncKeystone}. */
export interface SyncDeps {
  store: Store;
  directory: KeystoneDirectory;
  logger: Logger;
  now: () => Date;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Copies Keystone users and the effective role assignments of every cluster project into the
 * store, so TokenReview never calls Keystone. Each subject is replaced in its own transaction; a
 * failing subject keeps its last good data and is recorded in sync_state. Never throws for
 * Keystone failures.
 */
export async function syncKeystone(deps: SyncDeps): Promise<SyncOutcome> {
  const { store, directory, logger } = deps;
  const changed = new Set<string>();
  const failed: string[] = [];

  async function subject(name: string, work: () => Promise<string[]>): Promise<void> {
    try {
      for (const id of await work()) changed.add(id);
      await recordSyncResult({ db: store.db, subject: name, at: deps.now().toISOString() });
    } catch (error) {
      failed.push(name);
      logger.warn({ err: error, subject: name }, 'keystone sync failed; keeping the last good data');
      await recordSyncResult({
        db: store.db,
        subject: name,
        at: deps.now().toISOString(),
        error: describe(error),
      }).catch((recordError: unknown) =>
        logger.error({ err: recordError }, 'could not record the sync failure'),
      );
    }
  }

  await subject('users', async () => {
    const users = await directory.listUsers();
    const syncedAt = deps.now().toISOString();
    return store.db.transaction().execute((trx) => replaceKeystoneUsers({ db: trx, users, syncedAt }));
  });

  let projectIds: string[] = [];
  try {
    projectIds = [...new Set((await listClusters({ db: store.db })).map((c) => c.projectId))];
  } catch (error) {
    failed.push('clusters');
    logger.warn({ err: error }, 'keystone sync could not list clusters');
  }
  for (const projectId of projectIds) {
    await subject(`project:${projectId}`, async () => {
      const assignments = await directory.listRoleAssignments(projectId);
      return store.db
        .transaction()
        .execute((trx) => replaceProjectAssignments({ db: trx, projectId, assignments }));
    });
  }
  return { changedUserIds: [...changed], failed };
}
