import type { ColumnDataType, CreateTableBuilder, Kysely } from 'kysely';

/** An id, a hash or another short key. */
export const ID = 'varchar(64)';
/** A point in time: kaas stores ISO-8601 strings, which sort and compare alike on SQLite and PostgreSQL. */
export const TIME = 'varchar(32)';
/** A name as Keystone or Kubernetes spells it (users, domains, nodes). */
export const NAME = 'varchar(255)';

/**
 * A column: its SQL type and what it is beside NOT NULL (the default): `key` (the primary key),
 * `unique`, `null` (NULL allowed) or `zero` (NOT NULL DEFAULT 0).
 */
export type Column = readonly [type: ColumnDataType, flag?: 'key' | 'unique' | 'null' | 'zero'];

/**
 * Creates table `name` with `columns` in their order and, for a composite primary key, the
 * constraint `<name>_pk` over `primaryKey`; `ifNotExists` makes the step safe to repeat.
 */
export async function createTable(
  db: Kysely<unknown>,
  name: string,
  columns: Record<string, Column>,
  options: { primaryKey?: string[]; ifNotExists?: boolean } = {},
): Promise<void> {
  let table: CreateTableBuilder<string, string> = db.schema.createTable(name);
  if (options.ifNotExists) table = table.ifNotExists();
  for (const [column, [type, flag]] of Object.entries(columns)) {
    table = table.addColumn(column, type, (c) => {
      if (flag === 'key') return c.primaryKey();
      if (flag === 'unique') return c.notNull().unique();
      if (flag === 'null') return c;
      if (flag === 'zero') return c.notNull().defaultTo(0);
      return c.notNull();
    });
  }
  if (options.primaryKey) table = table.addPrimaryKeyConstraint(`${name}_pk`, options.primaryKey);
  await table.execute();
}
