import { randomBytes, randomUUID } from 'node:crypto';
import { AuthError, ForbiddenError, InputError, NotFoundError, UpstreamError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/db.ts';
import { deleteApiToken } from '../store/deleteApiToken.ts';
import { deleteExpiredSessions } from '../store/deleteExpiredSessions.ts';
import { deleteSession } from '../store/deleteSession.ts';
import { findApiTokenByHash } from '../store/findApiTokenByHash.ts';
import { findCluster } from '../store/findCluster.ts';
import { findKeystoneUser } from '../store/findKeystoneUser.ts';
import { findSession } from '../store/findSession.ts';
import { insertApiToken, type ApiTokenRecord } from '../store/insertApiToken.ts';
import type { ClusterRecord } from '../store/insertCluster.ts';
import { insertSession, type SessionRecord } from '../store/insertSession.ts';
import { listApiTokens } from '../store/listApiTokens.ts';
import { listClusters } from '../store/listClusters.ts';
import { listSyncResults } from '../store/listSyncResults.ts';
import { listTokensWithOwners, type TokenWithOwner } from '../store/listTokensWithOwners.ts';
import { listUserProjectRoles } from '../store/listUserProjectRoles.ts';
import { listUsersProjectRoles } from '../store/listUsersProjectRoles.ts';
import { touchApiTokens } from '../store/touchApiTokens.ts';
import { touchSession } from '../store/touchSession.ts';
import { upsertKeystoneUser } from '../store/upsertKeystoneUser.ts';
import { LRUCache } from 'lru-cache';
import { deleteWhere, sharedReads, ttlCache } from './cache.ts';
import { countingDirectory } from './counting.ts';
import type { KeystoneDirectory } from './directory.ts';
import { createAuthMetrics, type AuthMetrics, type ReviewResultLabel } from './metrics.ts';
import { syncKeystone, type SyncOutcome } from './sync.ts';
import {
  createLoginThrottle,
  defaultThrottlePolicy,
  loginThrottleKey,
  type ThrottlePolicy,
} from './throttle.ts';
import { matchAudiences, type ReviewedUser } from './tokenreview.ts';
import { kubernetesUsername, type UsernameFormat } from './username.ts';
import {
  defaultExpiryPolicy,
  generateToken,
  hashSecret,
  isWellFormedToken,
  safeEqual,
  tokenExpiry,
  type ExpiryPolicy,
} from './tokens.ts';

/** Who is calling the kaas API: the contract control-panel routes build on. */
export interface Principal {
  userId: string;
  userName: string;
  domainName: string;
  via: 'session' | 'token';
  /** For a token restricted to chosen clusters: their ids (the API then serves only those). */
  clusters?: string[];
}

/** Tunables of the auth service; every field has a default. */
export interface AuthOptions {
  /** How TokenReview names users (see username.ts); `auto` keeps users of different domains apart. */
  usernameFormat: UsernameFormat;
  /** Audiences kaas accepts in TokenReview `spec.audiences`. */
  audiences: string[];
  syncIntervalMs: number;
  /**
   * TokenReview fails closed when the last successful sync of the users or of the cluster's project
   * is older than this: a Keystone outage must not keep disabled users in forever.
   */
  syncMaxAgeMs: number;
  cacheTtlMs: number;
  cacheMaxEntries: number;
  tokenExpiry: ExpiryPolicy;
  /** Minimum time between two last-used writes of one token. */
  lastUsedWriteIntervalMs: number;
  sessionIdleMs: number;
  sessionAbsoluteMs: number;
  throttle: ThrottlePolicy;
}

export const defaultAuthOptions: AuthOptions = {
  usernameFormat: 'auto',
  audiences: ['https://kubernetes.default.svc.cluster.local', 'https://kubernetes.default.svc'],
  syncIntervalMs: 60_000,
  syncMaxAgeMs: 10 * 60_000,
  cacheTtlMs: 10_000,
  cacheMaxEntries: 10_000,
  tokenExpiry: defaultExpiryPolicy,
  lastUsedWriteIntervalMs: 60_000,
  sessionIdleMs: 2 * 60 * 60_000,
  sessionAbsoluteMs: 12 * 60 * 60_000,
  throttle: defaultThrottlePolicy,
};

/** Dependencies of {@link createAuthService}. */
export interface AuthServiceDeps {
  store: Store;
  directory: KeystoneDirectory;
  logger: Logger;
  now: () => Date;
  options?: Partial<AuthOptions>;
}

/** A token as listed to its owner: never the secret or its hash. */
export interface TokenInfo {
  id: string;
  name: string;
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
  /** The only clusters (ids) the token is valid on; absent = every cluster. */
  clusters?: string[];
}

/** Result of a TokenReview decision. */
export type ReviewResult = { user: ReviewedUser; audiences?: string[] } | { error: string };

interface CachedIdentity {
  tokenId: string;
  clusterIds?: string[];
  tokenHash: string;
  userId: string;
  expiresAt: number;
  user: ReviewedUser;
  /** When the store was read for it (ms): its age decides both expiry and the re-read ahead of it. */
  readAt: number;
}

const NAME_MAX = 100;
/**
 * Share of the cache TTL left when a review re-reads its identity in the background: half, so a
 * token reviewed at least every half TTL never misses (a quarter let a slowed-down working set of
 * a thousand tokens skip the window, miss, and slow down further on the store reads).
 */
const REFRESH_AHEAD = 0.5;
/**
 * How long identities due for a re-read are gathered, and how many are re-read at once: on SQLite a
 * batch blocks the event loop while it runs (about 2 ms for 16 of 1,000,000 stored tokens on the
 * 2-core test machine; a batch of 50 took 7.5 ms, each review arriving meanwhile waited as long).
 */
const REFRESH_BATCH_MS = 50;
const REFRESH_BATCH_MAX = 16;
const TOKEN_UNKNOWN = 'token is unknown or was deleted';
const OWNER_GONE = 'the token owner no longer exists in Keystone';
const noRoleOn = (c: ClusterRecord) => `user has no role on the project of cluster ${c.name}`;
/** Most clusters one token may be restricted to. */
const CLUSTERS_MAX = 50;

function tokenInfo(t: ApiTokenRecord): TokenInfo {
  return {
    id: t.id,
    name: t.name,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    lastUsedAt: t.lastUsedAt,
    ...(t.clusterIds ? { clusters: t.clusterIds } : {}),
  };
}

/**
 * The Kubernetes authentication service: API tokens, login sessions, the Keystone mirror and
 * TokenReview decisions. Keystone is only called at login and by the background sync.
 */
export function createAuthService(deps: AuthServiceDeps) {
  const { store, logger } = deps;
  const options: AuthOptions = { ...defaultAuthOptions, ...deps.options };
  const nowMs = () => deps.now().getTime();
  let lastSyncAt: Date | undefined;
  const metrics: AuthMetrics = createAuthMetrics({ now: deps.now, lastSyncAt: () => lastSyncAt });
  const directory = countingDirectory(deps.directory, metrics);
  const throttle = createLoginThrottle({ db: store.db, now: deps.now, policy: options.throttle });
  /**
   * Identities by cluster and token hash, and API principals by token hash. An entry's age is its
   * `readAt` against the review's one clock reading: lru-cache's own TTL would read the clock on every
   * lookup, and deciding the re-read ahead of expiry would take a second lookup.
   */
  const identities = new LRUCache<string, CachedIdentity>({ max: options.cacheMaxEntries });
  const tokenPrincipals = new LRUCache<string, CachedIdentity>({ max: options.cacheMaxEntries });
  const fresh = (entry: CachedIdentity | undefined, t: number): entry is CachedIdentity =>
    entry !== undefined && t - entry.readAt < options.cacheTtlMs && entry.expiresAt > t;
  const clusters = ttlCache<ClusterRecord>({ max: 1000, ttlMs: options.cacheTtlMs, now: nowMs });
  /** When each sync subject last succeeded (ms), read once per TTL: staleness() runs on every review. */
  let syncStates: { lastSuccess: Map<string, number>; readAt: number } | undefined;
  const clusterReads = sharedReads<ClusterRecord>();
  const syncStateReads = sharedReads<Map<string, number>>();
  /** Tokens whose last-used time was written within the interval (an evicted one is merely written again). */
  const recentlyWritten = ttlCache<true>({
    max: options.cacheMaxEntries,
    ttlMs: options.lastUsedWriteIntervalMs,
    now: nowMs,
  });
  const pendingUse = new Map<string, string>();
  /** Bumped by every invalidation: a store read that started before one must not re-cache its result. */
  let invalidations = 0;
  /** Cache keys whose identity is due for a re-read ahead of expiry, or being re-read. */
  const refreshing = new Set<string>();
  /** Identities due for a re-read, by cluster: cache key to token hash. */
  const dueRefresh = new Map<string, { c: ClusterRecord; keys: Map<string, string> }>();
  let refreshTimer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  function invalidate(predicate: (e: CachedIdentity) => boolean): void {
    invalidations++;
    deleteWhere(identities, (_k, v) => predicate(v));
    deleteWhere(tokenPrincipals, (_k, v) => predicate(v));
  }

  /** Records a use; writes at most once per interval per token, after the response (never awaited by it). */
  function noteUse(tokenId: string): void {
    if (recentlyWritten.has(tokenId)) return;
    const t = nowMs();
    recentlyWritten.set(tokenId, true);
    pendingUse.set(tokenId, new Date(t).toISOString());
    if (!flushing) setImmediate(() => void flushLastUsed());
  }

  async function flushLastUsed(): Promise<void> {
    while (flushing) await flushing;
    if (pendingUse.size === 0) return;
    const batch = new Map(pendingUse);
    pendingUse.clear();
    flushing = touchApiTokens({ db: store.db, usedAt: batch })
      .catch((error: unknown) => logger.warn({ err: error }, 'could not record token last-used times'))
      .finally(() => {
        flushing = undefined;
      });
    await flushing;
  }

  async function cluster(id: string): Promise<ClusterRecord> {
    return (
      clusters.get(id) ??
      clusterReads(id, async () => {
        const found = await findCluster({ db: store.db, id });
        if (!found)
          throw new NotFoundError(`no cluster "${id}" is registered with kaas`, {
            code: 'cluster_not_found',
          });
        clusters.set(id, found);
        return found;
      })
    );
  }

  async function hasSynced(subject: string): Promise<boolean> {
    const results = await listSyncResults({ db: store.db });
    return results.some((r) => r.subject === subject && r.lastSuccessAt !== null);
  }

  /** When each sync subject last succeeded (ms), read from the database (shared by replicas) into syncStates. */
  function readSyncStates(): Promise<Map<string, number>> {
    return syncStateReads('all', async () => {
      const results = await listSyncResults({ db: store.db });
      const lastSuccess = new Map(
        results.flatMap((r) => (r.lastSuccessAt ? [[r.subject, Date.parse(r.lastSuccessAt)] as const] : [])),
      );
      syncStates = { lastSuccess, readAt: nowMs() };
      return lastSuccess;
    });
  }

  /**
   * Why the mirror is too old to vouch for anyone on this project at `t`, or undefined when it is
   * fresh; a subject never synced is left to the `not_synced` path.
   */
  function staleness(lastSuccess: Map<string, number>, projectId: string, t: number): string | undefined {
    for (const subject of ['users', `project:${projectId}`]) {
      const last = lastSuccess.get(subject);
      if (last === undefined) continue;
      const ageMs = t - last;
      if (ageMs > options.syncMaxAgeMs) {
        return (
          `kaas cannot vouch for anyone: its last successful Keystone sync (${subject}) was ` +
          `${Math.round(ageMs / 1000)} s ago, over the ${Math.round(options.syncMaxAgeMs / 1000)} s limit`
        );
      }
    }
    return undefined;
  }

  /** Looks a well-formed token up; a string describes why it is refused. */
  async function lookupToken(token: string): Promise<ApiTokenRecord | string> {
    if (!isWellFormedToken(token)) return 'token is not a valid kaas token';
    const hash = hashSecret(token);
    const record = await findApiTokenByHash({ db: store.db, tokenHash: hash });
    if (!record || !safeEqual(record.tokenHash, hash)) return TOKEN_UNKNOWN;
    if (Date.parse(record.expiresAt) <= nowMs()) return 'token has expired';
    const user = await findKeystoneUser({ db: store.db, id: record.userId });
    if (!user) {
      if (!(await hasSynced('users')))
        throw new UpstreamError('kaas has not synced Keystone users yet', { code: 'not_synced' });
      return OWNER_GONE;
    }
    if (!user.enabled) return 'the token owner is disabled in Keystone';
    return { ...record, userName: user.name, domainName: user.domainName };
  }

  /**
   * The identity a stored token (with its owner as mirrored, and the owner's roles on the cluster's
   * project) gives on cluster `c` at `t`; a string says why none.
   */
  function identityFrom(
    c: ClusterRecord,
    hash: string,
    { token: record, owner }: TokenWithOwner,
    roles: { roleId: string; roleName: string }[],
    t: number,
  ): CachedIdentity | string {
    if (!safeEqual(record.tokenHash, hash)) return TOKEN_UNKNOWN;
    if (Date.parse(record.expiresAt) <= t) return 'token has expired';
    if (!owner) return OWNER_GONE;
    if (!owner.enabled) return 'the token owner is disabled in Keystone';
    if (record.clusterIds && !record.clusterIds.includes(c.id))
      return `token is restricted to other clusters than ${c.name}`;
    if (roles.length === 0) return noRoleOn(c);
    const username = kubernetesUsername(
      { name: owner.name, domainName: owner.domainName },
      options.usernameFormat,
    );
    // Kubernetes binds its own components by `system:` names (system:kube-scheduler…): a Keystone
    // user so named would get their rights.
    if (username.startsWith('system:'))
      return `the Kubernetes name ${username} is reserved for Kubernetes's own components; rename the Keystone user`;
    return {
      tokenId: record.id,
      tokenHash: hash,
      userId: record.userId,
      expiresAt: Date.parse(record.expiresAt),
      readAt: t,
      user: {
        username,
        uid: record.userId,
        groups: roles.map((r) => r.roleId),
        extra: {
          'kaas.io/role-names': roles.map((r) => r.roleName),
          'kaas.io/project-id': [c.projectId],
          'kaas.io/project-name': [c.projectName],
          'kaas.io/user-domain': [owner.domainName],
        },
      },
    };
  }

  /**
   * The identity the token hashed `hash` has on cluster `c`, read from the store (two statements);
   * a string says why none. Missing mirror data before the first sync is no refusal: it throws.
   */
  async function identityOf(c: ClusterRecord, hash: string): Promise<CachedIdentity | string> {
    const [found] = await listTokensWithOwners({ db: store.db, tokenHashes: [hash] });
    if (!found) return TOKEN_UNKNOWN;
    const { userId } = found.token;
    const roles = await listUsersProjectRoles({ db: store.db, projectId: c.projectId, userIds: [userId] });
    const identity = identityFrom(c, hash, found, roles.get(userId) ?? [], nowMs());
    if (identity === OWNER_GONE && !(await hasSynced('users')))
      throw new UpstreamError('kaas has not synced Keystone users yet', { code: 'not_synced' });
    if (identity === noRoleOn(c) && !(await hasSynced(`project:${c.projectId}`))) {
      throw new UpstreamError(`kaas has not synced the role assignments of cluster ${c.id} yet`, {
        code: 'not_synced',
      });
    }
    return identity;
  }

  /**
   * Re-reads a cached identity in the background while it is still served, so a token in steady use
   * never misses the cache: without it, every identity cached in one burst expires in one burst, and
   * each of those reviews waits on the store (the p99 at scale). Identities due are gathered for
   * REFRESH_BATCH_MS and re-read together, two statements per cluster for up to REFRESH_BATCH_MAX
   * of them, with the event loop served between two batches: one read per identity made the
   * re-reads of a busy working set most of the store's load (three statements each, a few hundred
   * a second), and on PostgreSQL most of kaas's CPU.
   * An entry is still never served past its TTL; a batch that an invalidation overtook is dropped,
   * and one that finds a token refused drops its entry, so the next review reads it again and gets
   * the refusal.
   */
  function refreshAhead(c: ClusterRecord, hash: string, key: string): void {
    if (refreshing.has(key)) return;
    refreshing.add(key);
    const due = dueRefresh.get(c.id) ?? { c, keys: new Map<string, string>() };
    due.keys.set(key, hash);
    dueRefresh.set(c.id, due);
    refreshTimer ??= setTimeout(() => void refreshDue(), REFRESH_BATCH_MS).unref();
  }

  async function refreshDue(): Promise<void> {
    refreshTimer = undefined;
    const due = [...dueRefresh.values()];
    dueRefresh.clear();
    for (const { c, keys } of due) {
      const all = [...keys];
      for (let i = 0; i < all.length; i += REFRESH_BATCH_MAX) {
        await refreshBatch(c, all.slice(i, i + REFRESH_BATCH_MAX));
        // SQLite answers synchronously: the reviews that came in meanwhile are served first.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }

  async function refreshBatch(c: ClusterRecord, batch: [key: string, hash: string][]): Promise<void> {
    const generation = invalidations;
    try {
      const found = await listTokensWithOwners({ db: store.db, tokenHashes: batch.map(([, hash]) => hash) });
      const byHash = new Map(found.map((f) => [f.token.tokenHash, f]));
      const userIds = [...new Set(found.map((f) => f.token.userId))];
      const roles = await listUsersProjectRoles({ db: store.db, projectId: c.projectId, userIds });
      if (generation !== invalidations || stopped) return;
      const t = nowMs();
      for (const [key, hash] of batch) {
        const stored = byHash.get(hash);
        const identity = stored && identityFrom(c, hash, stored, roles.get(stored.token.userId) ?? [], t);
        if (identity === undefined || typeof identity === 'string') identities.delete(key);
        else identities.set(key, identity);
      }
    } catch (error) {
      logger.warn({ err: error }, 'could not refresh cached identities');
    } finally {
      for (const [key] of batch) refreshing.delete(key);
    }
  }

  async function review(input: {
    clusterId: string;
    token: string;
    audiences: string[] | undefined;
  }): Promise<ReviewResult> {
    // First, before the cluster lookup: a foreign or mistyped token must cost no database read.
    if (input.token === '') return { error: 'token is empty' };
    if (!isWellFormedToken(input.token)) return { error: 'token is not a valid kaas token' };
    // Cache hits are not awaited: a review served from the caches runs in one go.
    const c = clusters.get(input.clusterId) ?? (await cluster(input.clusterId));
    // Fail closed before any cache: a cached identity is as stale as the mirror it came from.
    const t = nowMs();
    const lastSuccess =
      syncStates && t - syncStates.readAt < options.cacheTtlMs
        ? syncStates.lastSuccess
        : await readSyncStates();
    const stale = staleness(lastSuccess, c.projectId, t);
    if (stale) {
      metrics.staleSyncRefusals.inc();
      return { error: stale };
    }
    const audiences = matchAudiences(input.audiences, options.audiences);
    if (audiences && audiences.length === 0)
      return { error: 'none of the requested audiences is served by kaas' };
    const hash = hashSecret(input.token);
    const key = `${c.id}\u0000${hash}`;
    let entry = identities.get(key);
    if (!fresh(entry, t)) {
      const generation = invalidations;
      const found = await identityOf(c, hash);
      if (typeof found === 'string') return { error: found };
      entry = found;
      if (generation === invalidations) identities.set(key, entry);
    } else if (t - entry.readAt >= options.cacheTtlMs * REFRESH_AHEAD) {
      refreshAhead(c, hash, key);
    }
    noteUse(entry.tokenId);
    return audiences ? { user: entry.user, audiences } : { user: entry.user };
  }

  async function applySync(): Promise<SyncOutcome> {
    const outcome = await syncKeystone({ store, directory, logger, now: deps.now });
    if (outcome.changedUserIds.length > 0) {
      const changed = new Set(outcome.changedUserIds);
      invalidate((e) => changed.has(e.userId));
    }
    if (outcome.failed.length === 0) lastSyncAt = deps.now();
    else metrics.syncFailures.inc();
    clusters.clear();
    syncStates = undefined;
    const t = deps.now();
    await deleteExpiredSessions({
      db: store.db,
      now: t.toISOString(),
      idleBefore: new Date(t.getTime() - options.sessionIdleMs).toISOString(),
    }).catch((error: unknown) => logger.warn({ err: error }, 'could not delete expired sessions'));
    await throttle
      .prune()
      .catch((error: unknown) => logger.warn({ err: error }, 'could not prune the login throttle'));
    return outcome;
  }

  /**
   * The cluster ids a new token is restricted to (ids or names accepted), or undefined for none.
   * Only clusters the user holds a role on may be named; others read as unknown (no existence leak).
   */
  async function restrictionOf(principal: Principal, clusters: unknown): Promise<string[] | undefined> {
    if (clusters === undefined || clusters === null) return undefined;
    if (
      !Array.isArray(clusters) ||
      clusters.length === 0 ||
      clusters.length > CLUSTERS_MAX ||
      !clusters.every((c) => typeof c === 'string' && c !== '' && c.length <= 200)
    ) {
      throw new InputError(`clusters must be a list of 1 to ${CLUSTERS_MAX} cluster ids or names`, {
        field: 'clusters',
      });
    }
    const all = await listClusters({ db: store.db });
    const ids = new Set<string>();
    for (const wanted of clusters as string[]) {
      const c = all.find((x) => x.id === wanted) ?? all.find((x) => x.name === wanted);
      const roles = c
        ? await listUserProjectRoles({ db: store.db, userId: principal.userId, projectId: c.projectId })
        : [];
      if (!c || roles.length === 0)
        throw new InputError(`no cluster "${wanted}" that you have access to`, {
          field: 'clusters',
          code: 'cluster_not_found',
        });
      ids.add(c.id);
    }
    return [...ids].sort();
  }

  return {
    options,
    metrics,

    /** Decides a TokenReview for a cluster; throws NotFoundError for an unknown cluster, UpstreamError if undecidable. */
    async reviewToken(input: {
      clusterId: string;
      token: string;
      audiences: string[] | undefined;
    }): Promise<ReviewResult> {
      const started = performance.now();
      let result: ReviewResultLabel = 'error';
      try {
        const answer = await review(input);
        result = 'user' in answer ? 'authenticated' : 'rejected';
        return answer;
      } finally {
        metrics.observeReview(result, (performance.now() - started) / 1000);
      }
    },

    /** The principal of an API token (`Authorization: Bearer`), or undefined when it is not valid. */
    async principalOfToken(token: string): Promise<Principal | undefined> {
      if (!isWellFormedToken(token)) return undefined;
      const hash = hashSecret(token);
      const t = nowMs();
      let entry = tokenPrincipals.get(hash);
      if (!fresh(entry, t)) {
        const record = await lookupToken(token);
        if (typeof record === 'string') return undefined;
        entry = {
          tokenId: record.id,
          ...(record.clusterIds ? { clusterIds: record.clusterIds } : {}),
          tokenHash: hash,
          userId: record.userId,
          expiresAt: Date.parse(record.expiresAt),
          readAt: t,
          user: {
            username: record.userName,
            uid: record.userId,
            groups: [],
            extra: { domain: [record.domainName] },
          },
        };
        tokenPrincipals.set(hash, entry);
      }
      noteUse(entry.tokenId);
      return {
        userId: entry.userId,
        userName: entry.user.username,
        domainName: entry.user.extra.domain?.[0] ?? '',
        via: 'token',
        ...(entry.clusterIds ? { clusters: entry.clusterIds } : {}),
      };
    },

    /**
     * Creates a token for the principal; the returned `token` is the only time the secret exists
     * outside the client. Only a password login (a session) mints tokens: a token that could mint
     * tokens would let a short-lived or restricted token outlive or outgrow itself.
     */
    async createToken(
      principal: Principal,
      input: { name: unknown; expiresInDays?: unknown; clusters?: unknown },
    ) {
      if (principal.via !== 'session') {
        throw new ForbiddenError(
          'API tokens cannot create tokens: sign in with your password (the panel, or `kaas token create`, which asks for it)',
          { code: 'session_required' },
        );
      }
      if (typeof input.name !== 'string' || input.name.trim() === '' || input.name.length > NAME_MAX) {
        throw new InputError(`name must be a non-empty string of at most ${NAME_MAX} characters`, {
          field: 'name',
        });
      }
      const created = deps.now();
      const expires = tokenExpiry(created, input.expiresInDays, options.tokenExpiry);
      const clusterIds = await restrictionOf(principal, input.clusters);
      const token = generateToken();
      const record: ApiTokenRecord = {
        id: randomUUID(),
        userId: principal.userId,
        userName: principal.userName,
        domainName: principal.domainName,
        name: input.name.trim(),
        tokenHash: hashSecret(token),
        createdAt: created.toISOString(),
        expiresAt: expires.toISOString(),
        lastUsedAt: null,
        ...(clusterIds ? { clusterIds } : {}),
      };
      await insertApiToken({ db: store.db, token: record });
      return { ...tokenInfo(record), token };
    },

    async listTokens(principal: Pick<Principal, 'userId'>): Promise<TokenInfo[]> {
      return (await listApiTokens({ db: store.db, userId: principal.userId })).map(tokenInfo);
    },

    /** Deletes one of the principal's tokens; NotFoundError for others' tokens too (no existence leak). */
    async deleteToken(principal: Pick<Principal, 'userId'>, id: string): Promise<void> {
      const deleted = await deleteApiToken({ db: store.db, id, userId: principal.userId });
      if (!deleted) throw new NotFoundError(`no token "${id}"`, { code: 'token_not_found' });
      invalidate((e) => e.tokenId === deleted.id);
    },

    /** Administrative delete of any user's token (no owner check); callers must have authorised the admin. */
    async adminDeleteToken(id: string): Promise<void> {
      const deleted = await deleteApiToken({ db: store.db, id });
      if (!deleted) throw new NotFoundError(`no token "${id}"`, { code: 'token_not_found' });
      invalidate((e) => e.tokenId === deleted.id);
    },

    /** Checks the password with Keystone and opens a session; throttled per username + domain + IP, across replicas. */
    async login(input: { username: unknown; password: unknown; domain?: unknown; ip: string }) {
      if (typeof input.username !== 'string' || input.username === '' || input.username.length > 255) {
        throw new InputError('username must be a non-empty string', { field: 'username' });
      }
      if (typeof input.password !== 'string' || input.password === '' || input.password.length > 4096) {
        throw new InputError('password must be a non-empty string', { field: 'password' });
      }
      if (input.domain !== undefined && (typeof input.domain !== 'string' || input.domain === '')) {
        throw new InputError('domain must be a non-empty string', { field: 'domain' });
      }
      const domain = (input.domain as string | undefined) ?? 'Default';
      const attempt = await throttle.reserve(
        loginThrottleKey({ domain, username: input.username, ip: input.ip }),
      );
      let identity;
      try {
        identity = await directory.authenticate({
          username: input.username,
          password: input.password,
          domain,
        });
      } catch (error) {
        if (!(error instanceof AuthError)) await throttle.refund(attempt);
        throw error;
      }
      await throttle.succeeded(attempt);
      const t = deps.now();
      await upsertKeystoneUser({
        db: store.db,
        user: {
          id: identity.userId,
          name: identity.userName,
          domainId: identity.domainId,
          domainName: identity.domainName,
          enabled: true,
        },
        syncedAt: t.toISOString(),
      });
      const secret = randomBytes(32).toString('base64url');
      const session: SessionRecord = {
        idHash: hashSecret(secret),
        userId: identity.userId,
        userName: identity.userName,
        domainName: identity.domainName,
        csrfToken: randomBytes(24).toString('base64url'),
        createdAt: t.toISOString(),
        lastSeenAt: t.toISOString(),
        expiresAt: new Date(t.getTime() + options.sessionAbsoluteMs).toISOString(),
      };
      await insertSession({ db: store.db, session });
      return { secret, session };
    },

    /**
     * The live session for a cookie secret, or undefined: idle and absolute limits applied, and the
     * user must still be enabled in the Keystone mirror, so disabling or deleting a user in Keystone
     * ends their sessions at the next sync (login put them in the mirror).
     */
    async sessionOf(secret: string): Promise<SessionRecord | undefined> {
      if (secret.length === 0 || secret.length > 200) return undefined;
      const idHash = hashSecret(secret);
      const s = await findSession({ db: store.db, idHash });
      if (!s) return undefined;
      const t = nowMs();
      if (
        Date.parse(s.expiresAt) <= t ||
        Date.parse(s.lastSeenAt) + options.sessionIdleMs <= t ||
        !s.userEnabled
      ) {
        await deleteSession({ db: store.db, idHash });
        return undefined;
      }
      if (t - Date.parse(s.lastSeenAt) >= 60_000) {
        await touchSession({ db: store.db, idHash, lastSeenAt: new Date(t).toISOString() });
      }
      const { userEnabled: _enabled, ...session } = s;
      return session;
    },

    /** Ends a session (logout). */
    async logout(secret: string): Promise<void> {
      await deleteSession({ db: store.db, idHash: hashSecret(secret) });
    },

    /** Roles (id + name) the user holds on the cluster's project, from the last sync. */
    async clusterRolesOf(input: { userId: string; clusterId: string }) {
      const c = await cluster(input.clusterId);
      return listUserProjectRoles({ db: store.db, userId: input.userId, projectId: c.projectId });
    },

    /** True when the user holds one of the cluster's admin roles (per the last sync). */
    async isClusterAdmin(input: { userId: string; clusterId: string }): Promise<boolean> {
      const c = await cluster(input.clusterId);
      const roles = await listUserProjectRoles({
        db: store.db,
        userId: input.userId,
        projectId: c.projectId,
      });
      return roles.some((r) => c.adminRoleIds.includes(r.roleId));
    },

    /** One sync round now (tests and `kaas dev` call it directly); invalidates affected cache entries. */
    sync: applySync,

    /** Starts the background sync: one round now, then every `syncIntervalMs`. Never throws. */
    start(): void {
      stopped = false;
      const round = async () => {
        try {
          await applySync();
        } catch (error) {
          metrics.syncFailures.inc();
          logger.error({ err: error }, 'keystone sync round failed');
        }
        if (!stopped) timer = setTimeout(() => void round(), options.syncIntervalMs);
      };
      void round();
    },

    /** Writes pending last-used times now. */
    flushLastUsed,

    /** Stops the sync loop and writes pending last-used times. */
    async close(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (refreshTimer) clearTimeout(refreshTimer);
      refreshTimer = undefined;
      for (const { keys } of dueRefresh.values()) for (const key of keys.keys()) refreshing.delete(key);
      dueRefresh.clear();
      await flushLastUsed();
    },
  };
}

/** The auth service returned by {@link createAuthService}. */
export type AuthService = ReturnType<typeof createAuthService>;
