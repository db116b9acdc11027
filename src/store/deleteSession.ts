import type { Db } from './db.ts';

/** Deletes a session (logout); deleting a missing one is a no-op. */
export async function deleteSession({ db, idHash }: { db: Db; idHash: string }): Promise<void> {
  await db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
}
