import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { UpstreamError } from '../errors.ts';
import * as m0001 from './migrations/0001_meta.ts';

/** Every migration, in order. Names are permanent once released: add, never rename. */
const migrations: Record<string, Migration> = {
  '0001_meta': m0001,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Brings the schema up to date; safe to run concurrently from several replicas on PostgreSQL. */
export async function migrateToLatest(db: Kysely<never>): Promise<void> {
  const { error } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) throw new UpstreamError('database migration failed', { code: 'migration_failed', cause: error });
}
