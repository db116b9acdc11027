import type { Db } from './db.ts';

/** A Keystone user as mirrored by the sync. */
export interface KeystoneUserRecord {
  id: string;
  name: string;
  domainId: string;
  domainName: string;
  enabled: boolean;
}

/**
 * Makes the mirror equal to `users` (the full list from Keystone): inserts new, updates changed,
 * deletes vanished users. Returns the ids whose state changed, so caches can drop them. Run it in
 * a transaction so readers never see a half-replaced list.
 */
export async function replaceKeystoneUsers({
  db,
  users,
  syncedAt,
}: {
  db: Db;
  users: readonly KeystoneUserRecord[];
  syncedAt: string;
}): Promise<string[]> {
  const existing = new Map(
    (await db.selectFrom('keystone_users').selectAll().execute()).map((row) => [row.id, row]),
  );
  const changed: string[] = [];
  const seen = new Set<string>();
  for (const u of users) {
    seen.add(u.id);
    const row = {
      id: u.id,
      name: u.name,
      domain_id: u.domainId,
      domain_name: u.domainName,
      enabled: u.enabled ? 1 : 0,
      synced_at: syncedAt,
    };
    const old = existing.get(u.id);
    if (!old) {
      await db.insertInto('keystone_users').values(row).execute();
      changed.push(u.id);
    } else if (
      old.name !== row.name ||
      old.domain_id !== row.domain_id ||
      old.domain_name !== row.domain_name ||
      Number(old.enabled) !== row.enabled
    ) {
      await db.updateTable('keystone_users').set(row).where('id', '=', u.id).execute();
      changed.push(u.id);
    }
  }
  const gone = [...existing.keys()].filter((id) => !seen.has(id));
  for (const id of gone) await db.deleteFrom('keystone_users').where('id', '=', id).execute();
  return [...changed, ...gone];
}
