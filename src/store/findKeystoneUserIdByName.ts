import type { Db } from './db.ts';

/**
 * The id of the mirrored Keystone user with this name in this domain (by domain name), or
 * undefined when the last sync did not see one. Lets the audit log tie a failed login to a user.
 */
export async function findKeystoneUserIdByName({
  db,
  name,
  domainName,
}: {
  db: Db;
  name: string;
  domainName: string;
}): Promise<string | undefined> {
  const row = await db
    .selectFrom('keystone_users')
    .select('id')
    .where('name', '=', name)
    .where('domain_name', '=', domainName)
    .executeTakeFirst();
  return row?.id;
}
