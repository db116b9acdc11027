import type { Db } from './db.ts';

/** An API token's stored record (never the secret itself). */
export interface ApiTokenRecord {
  id: string;
  userId: string;
  userName: string;
  domainName: string;
  name: string;
  tokenHash: string;
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
  /** The only clusters TokenReview accepts the token for; undefined = every cluster. */
  clusterIds?: string[];
}

/** Stores a new API token record; the hash is unique. */
export async function insertApiToken({ db, token }: { db: Db; token: ApiTokenRecord }): Promise<void> {
  await db
    .insertInto('api_tokens')
    .values({
      id: token.id,
      user_id: token.userId,
      user_name: token.userName,
      domain_name: token.domainName,
      name: token.name,
      token_hash: token.tokenHash,
      created_at: token.createdAt,
      expires_at: token.expiresAt,
      last_used_at: token.lastUsedAt,
      cluster_ids: token.clusterIds ? JSON.stringify(token.clusterIds) : null,
    })
    .execute();
}
