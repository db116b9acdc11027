import { Migrator } from 'kysely';
import type { Db } from './db.ts';
import { migrationProvider } from './migrate.ts';

/**
 * Names of the migrations this build knows that the database has not run; empty when its schema is
 * current. Migrations a newer replica ran do not count: this build's schema is still there.
 */
export async function listPendingMigrations({ db }: { db: Db }): Promise<string[]> {
  const migrations = await new Migrator({ db, provider: migrationProvider }).getMigrations();
  return migrations.filter((m) => m.executedAt === undefined).map((m) => m.name);
}
