import type { Kysely } from 'kysely';

/**
 * API tokens may be restricted to chosen clusters: `cluster_ids` holds a JSON array of cluster ids,
 * NULL for a token valid on every cluster its owner has a role on (all tokens created before).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('api_tokens').addColumn('cluster_ids', 'text').execute();
}
