import type { Db } from './db.ts';
import type { ApiTokenRecord } from './insertApiToken.ts';
import type { ApiTokensTable } from './schema.ts';

/** Maps an api_tokens row to its record. */
export function apiTokenFromRow(row: ApiTokensTable): ApiTokenRecord {
  return {
    id: row.id,
    userId: row.user_id,
    userName: row.user_name,
    domainName: row.domain_name,
    name: row.name,
    tokenHash: row.token_hash,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    ...(row.cluster_ids === null ? {} : { clusterIds: JSON.parse(row.cluster_ids) as string[] }),
  };
}

/** The token whose SHA-256 hash is `tokenHash` (expired ones included; the caller checks expiry), or undefined. */
export async function findApiTokenByHash({
  db,
  tokenHash,
}: {
  db: Db;
  tokenHash: string;
}): Promise<ApiTokenRecord | undefined> {
  const row = await db
    .selectFrom('api_tokens')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .executeTakeFirst();
  return row ? apiTokenFromRow(row) : undefined;
}
