import type { Db } from './db.ts';
import type { KeystoneUserRecord } from './replaceKeystoneUsers.ts';

/** Inserts or updates one mirrored user (a login just proved it exists), without waiting for the next sync. */
export async function upsertKeystoneUser({
  db,
  user,
  syncedAt,
}: {
  db: Db;
  user: KeystoneUserRecord;
  syncedAt: string;
}): Promise<void> {
  const row = {
    name: user.name,
    domain_id: user.domainId,
    domain_name: user.domainName,
    enabled: user.enabled ? 1 : 0,
    synced_at: syncedAt,
  };
  await db
    .insertInto('keystone_users')
    .values({ id: user.id, ...row })
    .onConflict((oc) => oc.column('id').doUpdateSet(row))
    .execute();
}
