import type { Db } from './db.ts';

/** Records a sync outcome for a subject (`users` or `project:<id>`); a failure keeps the last success time. */
export async function recordSyncResult({
  db,
  subject,
  at,
  error,
}: {
  db: Db;
  subject: string;
  at: string;
  error?: string;
}): Promise<void> {
  const values =
    error === undefined
      ? { subject, last_success_at: at, last_error_at: null, last_error: null }
      : { subject, last_success_at: null, last_error_at: at, last_error: error };
  const update =
    error === undefined
      ? { last_success_at: at, last_error_at: null, last_error: null }
      : { last_error_at: at, last_error: error };
  await db
    .insertInto('sync_state')
    .values(values)
    .onConflict((oc) => oc.column('subject').doUpdateSet(update))
    .execute();
}
