import type { Db } from './db.ts';

/** A login session as stored (the cookie secret only as its hash). */
export interface SessionRecord {
  idHash: string;
  userId: string;
  userName: string;
  domainName: string;
  csrfToken: string;
  createdAt: string;
  lastSeenAt: string;
  /** Absolute expiry; the idle limit is checked against `lastSeenAt`. */
  expiresAt: string;
}

/** Stores a new session. */
export async function insertSession({ db, session }: { db: Db; session: SessionRecord }): Promise<void> {
  await db
    .insertInto('sessions')
    .values({
      id_hash: session.idHash,
      user_id: session.userId,
      user_name: session.userName,
      domain_name: session.domainName,
      csrf_token: session.csrfToken,
      created_at: session.createdAt,
      last_seen_at: session.lastSeenAt,
      expires_at: session.expiresAt,
    })
    .execute();
}
