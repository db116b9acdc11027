import type { Kysely } from 'kysely';
import { createTable } from './table.ts';

/** Installation facts table. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await createTable(db, 'kaas_meta', { key: ['varchar(200)', 'key'], value: ['text'] });
}
