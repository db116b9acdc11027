import type { Db } from './db.ts';
import type { KeystoneUserRecord } from './replaceKeystoneUsers.ts';

/** The mirrored Keystone user, or undefined when the last sync did not see it. */
export async function findKeystoneUser({
  db,
  id,
}: {
  db: Db;
  id: string;
}): Promise<KeystoneUserRecord | undefined> {
  const row = await db.selectFrom('keystone_users').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    name: row.name,
    domainId: row.domain_id,
    domainName: row.domain_name,
    enabled: Number(row.enabled) === 1,
  };
}
