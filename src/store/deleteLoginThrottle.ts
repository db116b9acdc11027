import type { Db } from './db.ts';

/** Forgets the attempts of one key (after a successful login). */
export async function deleteLoginThrottle({ db, key }: { db: Db; key: string }): Promise<void> {
  await db.deleteFrom('login_throttle').where('key', '=', key).execute();
}
