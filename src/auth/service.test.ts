import { describe, expect, it } from 'vitest';
import { memoryDirectory } from '../../test/auth/memoryDirectory.ts';
import { prodClusterStore } from '../../test/support/server.ts';
import { createLogger } from '../log.ts';
import { openStore } from '../store/db.ts';
import { listSyncResults } from '../store/listSyncResults.ts';
import { migrateToLatest } from '../store/migrate.ts';
import { upsertKeystoneUser } from '../store/upsertKeystoneUser.ts';
import { createAuthService } from './service.ts';

/** kaas over prodClusterStore's cluster c1 (project p1): Keystone user u1 named `name`, a member, with a token. */
async function memberWithToken(
  name: string,
  options: { now: () => number; cacheTtlMs?: number; onStatement?: () => void },
) {
  const store = await prodClusterStore({ createdAt: '2030-01-01T00:00:00.000Z' });
  const ks = memoryDirectory();
  ks.addUser('u1', name, 'pw');
  ks.setRoles('p1', [{ userId: 'u1', roleId: 'r1', roleName: 'member' }]);
  let statements = 0;
  const counted = store.db.withPlugin({
    transformQuery: ({ node }) => {
      statements++;
      options.onStatement?.();
      return node;
    },
    transformResult: async ({ result }) => result,
  });
  const auth = createAuthService({
    store: { ...store, db: counted },
    directory: ks.directory,
    logger: createLogger({ level: 'silent' }),
    now: () => new Date(options.now()),
    ...(options.cacheTtlMs ? { options: { cacheTtlMs: options.cacheTtlMs } } : {}),
  });
  await auth.sync();
  const newToken = async (tokenName = 't') =>
    (
      await auth.createToken(
        { userId: 'u1', userName: name, domainName: 'Default', via: 'session' },
        { name: tokenName },
      )
    ).token;
  const token = await newToken();
  const reviewOf = (t: string) => auth.reviewToken({ clusterId: 'c1', token: t, audiences: undefined });
  const review = () => reviewOf(token);
  const close = async () => {
    await auth.close();
    await store.close();
  };
  /** Statements the auth service sent to the store so far. */
  return { store, auth, review, reviewOf, newToken, token, statements: () => statements, close };
}

describe('background sync loop', () => {
  it('syncs at start and every interval until closed, surviving failures', async () => {
    const store = openStore('sqlite::memory:');
    await migrateToLatest(store.db);
    const ks = memoryDirectory();
    ks.addUser('u1', 'alice', 'pw');
    const auth = createAuthService({
      store,
      directory: ks.directory,
      logger: createLogger({ level: 'silent' }),
      now: () => new Date(),
      options: { syncIntervalMs: 5 },
    });
    ks.state.failing = true;
    auth.start();
    await expect.poll(() => ks.state.calls, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    ks.state.failing = false;
    await expect
      .poll(async () => (await listSyncResults({ db: store.db }))[0]?.lastError ?? 'x', { timeout: 5000 })
      .toBe('x');
    await expect
      .poll(async () => (await listSyncResults({ db: store.db }))[0]?.lastSuccessAt ?? null)
      .not.toBeNull();
    await auth.close();
    const calls = ks.state.calls;
    await new Promise((r) => setTimeout(r, 30));
    expect(ks.state.calls).toBeLessThanOrEqual(calls + 1);
    await store.close();
  });
});

describe('identity cache', () => {
  it('re-reads an identity in use ahead of its expiry, and a refusal found then ends it at the next review', async () => {
    let now = Date.parse('2030-01-01T00:00:00.000Z');
    const { store, review, close } = await memberWithToken('alice', { now: () => now, cacheTtlMs: 10_000 });
    expect(await review()).toMatchObject({ user: { username: 'alice' } });
    // Disabled behind the cache's back (as another replica's sync would): the cache still vouches.
    await upsertKeystoneUser({
      db: store.db,
      user: { id: 'u1', name: 'alice', domainId: 'default', domainName: 'Default', enabled: false },
      syncedAt: new Date(now).toISOString(),
    });
    now += 5_000;
    expect(await review()).toMatchObject({ user: { username: 'alice' } });
    // In the second half of the TTL the review is still answered from the cache, and re-reads it.
    now += 3_000;
    expect(await review()).toMatchObject({ user: { username: 'alice' } });
    await expect.poll(review).toEqual({ error: 'the token owner is disabled in Keystone' });
    await close();
  });

  it('re-reads the identities due together in two statements, dropping only the refused ones', async () => {
    let now = Date.parse('2030-01-01T00:00:00.000Z');
    const { store, auth, reviewOf, newToken, token, statements, close } = await memberWithToken('alice', {
      now: () => now,
      cacheTtlMs: 10_000,
    });
    const tokens = [token, await newToken('t2'), await newToken('t3'), await newToken('gone')];
    for (const t of tokens) expect(await reviewOf(t)).toMatchObject({ user: { username: 'alice' } });
    // Deleted behind the cache's back (as on another replica): the cache still vouches until re-read.
    await store.db.deleteFrom('api_tokens').where('name', '=', 'gone').execute();
    await auth.flushLastUsed();
    now += 8_000;
    const before = statements();
    for (const t of tokens) expect(await reviewOf(t)).toMatchObject({ user: { username: 'alice' } });
    await expect.poll(() => statements() - before).toBe(2);
    // Past the first TTL: the three re-read identities are served from the cache (the cluster and
    // the sync states, cached as long, are read again: two statements), the deleted one is refused.
    now += 5_000;
    for (const t of tokens.slice(0, 3))
      expect(await reviewOf(t)).toMatchObject({ user: { username: 'alice' } });
    expect(statements() - before).toBe(4);
    expect(await reviewOf(tokens[3] as string)).toEqual({ error: 'token is unknown or was deleted' });
    await close();
  });

  it('refuses a mistyped token without a store read, beside a cached one', async () => {
    const { auth, reviewOf, token, statements, close } = await memberWithToken('alice', {
      now: () => Date.parse('2030-01-01T00:00:00.000Z'),
    });
    expect(await reviewOf(token)).toMatchObject({ user: { username: 'alice' } });
    const before = statements();
    const mistyped = token.slice(0, -1) + (token.endsWith('a') ? 'b' : 'a');
    const refused = { error: 'token is not a valid kaas token' };
    expect(await reviewOf(mistyped)).toEqual(refused);
    expect(await auth.reviewToken({ clusterId: 'nope', token: mistyped, audiences: undefined })).toEqual(
      refused,
    );
    expect(await reviewOf(token)).toMatchObject({ user: { username: 'alice' } });
    expect(statements() - before).toBe(0);
    await close();
  });

  it('re-reads a large due set in batches, serving the event loop between them', async () => {
    let now = Date.parse('2030-01-01T00:00:00.000Z');
    let onStatement: (() => void) | undefined;
    const { auth, reviewOf, newToken, token, statements, close } = await memberWithToken('alice', {
      now: () => now,
      cacheTtlMs: 10_000,
      onStatement: () => onStatement?.(),
    });
    const tokens = [token];
    for (let i = 1; i < 40; i++) tokens.push(await newToken(`t${i}`));
    for (const t of tokens) await reviewOf(t);
    await auth.flushLastUsed();
    now += 8_000;
    const before = statements();
    // SQLite answers synchronously: without a pause between batches, a callback queued at the
    // first statement would run only after the last one, and reviews would wait as long.
    let servedAfter: number | undefined;
    onStatement = () => {
      onStatement = undefined;
      setImmediate(() => (servedAfter = statements() - before));
    };
    for (const t of tokens) expect(await reviewOf(t)).toMatchObject({ user: { username: 'alice' } });
    // 40 identities, 16 a batch: three batches of two statements, the loop served after the first.
    await expect.poll(() => statements() - before).toBe(6);
    expect(servedAfter).toBe(2);
    await close();
  });
});

describe('Kubernetes names', () => {
  it("refuses a Keystone user whose name is one of Kubernetes's own (system:…)", async () => {
    const { review, close } = await memberWithToken('system:kube-scheduler', {
      now: () => Date.parse('2030-01-01T00:00:00.000Z'),
    });
    expect(await review()).toEqual({
      error:
        "the Kubernetes name system:kube-scheduler is reserved for Kubernetes's own components; rename the Keystone user",
    });
    await close();
  });
});
