import type { Kysely } from 'kysely';

/** Installation facts table. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('kaas_meta')
    .addColumn('key', 'varchar(200)', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
}
