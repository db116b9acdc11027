import type { Db } from './db.ts';

/** Per-subject sync outcome. */
export interface SyncResultRecord {
  subject: string;
  lastSuccessAt: string | null;
  lastErrorAt: string | null;
  lastError: string | null;
}

/** Every recorded sync outcome, by subject. */
export async function listSyncResults({ db }: { db: Db }): Promise<SyncResultRecord[]> {
  const rows = await db.selectFrom('sync_state').selectAll().orderBy('subject').execute();
  return rows.map((r) => ({
    subject: r.subject,
    lastSuccessAt: r.last_success_at,
    lastErrorAt: r.last_error_at,
    lastError: r.last_error,
  }));
}
