import type { Db } from './db.ts';
import type { SessionRecord } from './insertSession.ts';

/**
 * The session whose secret hashes to `idHash` (expired ones included; the caller checks), with
 * whether its user is enabled in the Keystone mirror (false when the last sync did not see the
 * user), or undefined. One query: every authenticated panel request reads it.
 */
export async function findSession({
  db,
  idHash,
}: {
  db: Db;
  idHash: string;
}): Promise<(SessionRecord & { userEnabled: boolean }) | undefined> {
  const row = await db
    .selectFrom('sessions')
    .leftJoin('keystone_users', 'keystone_users.id', 'sessions.user_id')
    .selectAll('sessions')
    .select('keystone_users.enabled as user_enabled')
    .where('sessions.id_hash', '=', idHash)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    idHash: row.id_hash,
    userId: row.user_id,
    userName: row.user_name,
    domainName: row.domain_name,
    csrfToken: row.csrf_token,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
    userEnabled: Number(row.user_enabled) === 1,
  };
}
