import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { UpstreamError } from '../errors.ts';
import * as m0001 from './migrations/0001_meta.ts';
import * as m0002 from './migrations/0002_auth.ts';
import * as m0003 from './migrations/0003_jobs.ts';
import * as m0005 from './migrations/0005_panel.ts';
import * as m0006 from './migrations/0006_cluster_secrets.ts';
import * as m0007 from './migrations/0007_addons.ts';
import * as m0008 from './migrations/0008_audit.ts';
import * as m0009 from './migrations/0009_token_clusters.ts';
import * as m0010 from './migrations/0010_login_throttle.ts';
import * as m0011 from './migrations/0011_reconcile.ts';
import * as m0012 from './migrations/0012_heal.ts';
import * as m0013 from './migrations/0013_enrollment.ts';

/** Every migration, in order. Names are permanent once released: add, never rename. */
const migrations: Record<string, Migration> = {
  '0001_meta': m0001,
  '0002_auth': m0002,
  '0003_jobs': m0003,
  '0005_panel': m0005,
  '0006_cluster_secrets': m0006,
  '0007_addons': m0007,
  '0008_audit': m0008,
  '0009_token_clusters': m0009,
  '0010_login_throttle': m0010,
  '0011_reconcile': m0011,
  '0012_heal': m0012,
  '0013_enrollment': m0013,
};

/** Every migration this build knows, for Kysely's Migrator. */
export const migrationProvider: MigrationProvider = { getMigrations: async () => migrations };

/** Brings the schema up to date; safe to run concurrently from several replicas on PostgreSQL. */
// Migrations run before the typed schema exists, so Kysely's own convention (Kysely<any>) applies here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function migrateToLatest(db: Kysely<any>): Promise<void> {
  const { error } = await new Migrator({
    db,
    provider: migrationProvider,
    allowUnorderedMigrations: true,
  }).migrateToLatest();
  if (error) throw new UpstreamError('database migration failed', { code: 'migration_failed', cause: error });
}
