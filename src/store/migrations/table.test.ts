import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import { expect, it } from 'vitest';
import { createTable, ID, TIME } from './table.ts';

/** The statements `run` sends, compiled for PostgreSQL without a server. */
async function ddlOf(run: (db: Kysely<unknown>) => Promise<void>): Promise<string[]> {
  const sent: string[] = [];
  const db = new Kysely<unknown>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (d) => new PostgresIntrospector(d),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
    log: (event) => void sent.push(event.query.sql),
  });
  await run(db);
  return sent;
}

it('makes columns NOT NULL unless flagged, in the order given', async () => {
  expect(
    await ddlOf((db) =>
      createTable(db, 't', {
        id: [ID, 'key'],
        name: ['varchar(200)', 'unique'],
        at: [TIME],
        note: ['text', 'null'],
        runs: ['integer', 'zero'],
      }),
    ),
  ).toEqual([
    'create table "t" ("id" varchar(64) primary key, "name" varchar(200) not null unique, ' +
      '"at" varchar(32) not null, "note" text, "runs" integer default 0 not null)',
  ]);
});

it('names a composite primary key after the table and can skip an existing table', async () => {
  expect(
    await ddlOf((db) =>
      createTable(db, 'pair', { a: [ID], b: [ID] }, { primaryKey: ['a', 'b'], ifNotExists: true }),
    ),
  ).toEqual([
    'create table if not exists "pair" ("a" varchar(64) not null, "b" varchar(64) not null, ' +
      'constraint "pair_pk" primary key ("a", "b"))',
  ]);
});
