import { startPostgres } from '../support/postgres.ts';

/**
 * Starts one private PostgreSQL server for the whole run; each test file makes its own
 * database in it (test/support/databases.ts). Workers inherit KAAS_TEST_PG_URL.
 */
export default async function setup(): Promise<() => Promise<void>> {
  if (process.env.KAAS_TEST_PG_URL) return async () => undefined;
  const postgres = await startPostgres();
  process.env.KAAS_TEST_PG_URL = postgres.url;
  return () => postgres.stop();
}
