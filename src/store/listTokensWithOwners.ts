import type { Db } from './db.ts';
import { apiTokenFromRow } from './findApiTokenByHash.ts';
import type { ApiTokenRecord } from './insertApiToken.ts';

/** A stored token and its owner as the last sync mirrored them (undefined: the mirror lacks them). */
export interface TokenWithOwner {
  token: ApiTokenRecord;
  owner?: { name: string; domainName: string; enabled: boolean };
}

/**
 * The tokens whose SHA-256 hashes are `tokenHashes` (expired ones included), each with its owner,
 * in one statement: the identity cache re-reads many tokens at once with it. At most a few
 * hundred hashes per call (bound parameters).
 */
export async function listTokensWithOwners({
  db,
  tokenHashes,
}: {
  db: Db;
  tokenHashes: string[];
}): Promise<TokenWithOwner[]> {
  if (tokenHashes.length === 0) return [];
  const rows = await db
    .selectFrom('api_tokens')
    .leftJoin('keystone_users', 'keystone_users.id', 'api_tokens.user_id')
    .selectAll('api_tokens')
    .select([
      'keystone_users.name as owner_name',
      'keystone_users.domain_name as owner_domain_name',
      'keystone_users.enabled as owner_enabled',
    ])
    .where('api_tokens.token_hash', 'in', tokenHashes)
    .execute();
  return rows.map(({ owner_name, owner_domain_name, owner_enabled, ...row }) => ({
    token: apiTokenFromRow(row),
    ...(owner_name === null || owner_domain_name === null
      ? {}
      : { owner: { name: owner_name, domainName: owner_domain_name, enabled: Number(owner_enabled) === 1 } }),
  }));
}
