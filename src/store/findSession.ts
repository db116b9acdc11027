import type { Db } from './db.ts';
import type { SessionRecord } from './insertSession.ts';

/** The session whose secret hashes to `idHash` (expired ones included; the caller checks), or undefined. */
export async function findSession({
  db,
  idHash,
}: {
  db: Db;
  idHash: string;
}): Promise<SessionRecord | undefined> {
  const row = await db.selectFrom('sessions').selectAll().where('id_hash', '=', idHash).executeTakeFirst();
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
  };
}
