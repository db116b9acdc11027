import type { Db } from './db.ts';

/** Records last-used times in one batch; a time never moves backwards. */
export async function touchApiTokens({
  db,
  usedAt,
}: {
  db: Db;
  usedAt: ReadonlyMap<string, string>;
}): Promise<void> {
  for (const [id, at] of usedAt) {
    await db
      .updateTable('api_tokens')
      .set({ last_used_at: at })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)]))
      .execute();
  }
}
