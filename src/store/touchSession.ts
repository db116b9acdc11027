import type { Db } from './db.ts';

/** Moves a session's last-seen time forward (extends its idle window, never its absolute expiry). */
export async function touchSession({
  db,
  idHash,
  lastSeenAt,
}: {
  db: Db;
  idHash: string;
  lastSeenAt: string;
}) {
  await db
    .updateTable('sessions')
    .set({ last_seen_at: lastSeenAt })
    .where('id_hash', '=', idHash)
    .where('last_seen_at', '<', lastSeenAt)
    .execute();
}
