import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type Transaction } from 'kysely';
import pg from 'pg';
import { InputError } from '../errors.ts';
import type { Database } from './schema.ts';

/** The kaas database handle; store operations accept it or a transaction (`Db`). */
export type Db = Kysely<Database> | Transaction<Database>;

/** Which SQL engine a handle talks to; the few dialect-specific queries branch on it. */
export type Dialect = 'sqlite' | 'postgres';

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  close(): Promise<void>;
}

/**
 * Opens the database named by a URL: `sqlite:<path>` (or `sqlite::memory:`) for the embedded
 * default, `postgres://…` / `postgresql://…` for HA. SQLite runs in WAL mode so readers never
 * wait for the single writer.
 */
export function openStore(url: string, options: { poolSize?: number } = {}): Store {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path === '')
      throw new InputError('sqlite database URL needs a path, e.g. sqlite:.kaas/kaas.db', {
        field: 'database',
      });
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const sqlite = new SQLite(path);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
    return { db, dialect: 'sqlite', close: () => db.destroy() };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10 });
    // A PostgreSQL restart or failover ends every connection: pg reports it as an 'error' event on
    // the pool for idle connections and on the client for one checked out between two queries, and
    // an unheard 'error' event ends the process. The query in flight fails on its own; the pool drops
    // the broken connections and opens new ones for the next queries; /readyz reports the outage.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, dialect: 'postgres', close: () => db.destroy() };
  }
  throw new InputError(
    `unsupported database URL "${url.split(':')[0]}:…": use sqlite:<path> or postgres://…`,
    {
      field: 'database',
    },
  );
}
