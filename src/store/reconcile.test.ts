import { expect, it } from 'vitest';
import { describeOnEngines } from '../../test/support/databases.ts';
import { claimReconcile } from './claimReconcile.ts';
import type { Store } from './db.ts';
import { findReconcileStatus } from './findReconcileStatus.ts';
import { finishReconcile } from './finishReconcile.ts';
import { insertProvisionedCluster } from './insertProvisionedCluster.ts';
import { insertReconcileRows } from './insertReconcileRows.ts';
import { markRoleBindingsApplied } from './markRoleBindingsApplied.ts';
import { renewReconcileLease } from './renewReconcileLease.ts';
import { replaceRoleBindings } from './replaceRoleBindings.ts';
import { queueTestJob } from '../../test/support/jobs.ts';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
const RESYNC = 300;

async function cluster(store: Store, id: string, status = 'ready') {
  await insertProvisionedCluster({
    db: store.db,
    cluster: { id, name: id, spec: {}, options: {}, status, createdAt: at(0), updatedAt: at(0) },
  });
}

/** `owner` claims at `seconds`, with a 60 s lease and a 300 s resync period. */
const claim = (store: Store, owner: string, seconds: number) =>
  claimReconcile({
    db: store.db,
    dialect: store.dialect,
    owner,
    now: at(seconds),
    leaseExpiresAt: at(seconds + 60),
    dueBefore: at(seconds - RESYNC),
  });

describeOnEngines('reconcile claims', ({ store }) => {
  it('claims each ready cluster once, never a held one, and again once its resync is due', async () => {
    const s = store();
    await cluster(s, 'c1');
    await cluster(s, 'c2');
    await cluster(s, 'c3', 'creating');
    await insertReconcileRows({ db: s.db });
    await insertReconcileRows({ db: s.db });
    // Never synced: both due, in id order.
    expect(await claim(s, 'a', 1)).toEqual({ clusterId: 'c1', full: true, syncedAt: undefined });
    expect(await claim(s, 'b', 1)).toMatchObject({ clusterId: 'c2', full: true });
    // c3 is not ready, c1 and c2 are held.
    expect(await claim(s, 'c', 2)).toBeUndefined();
    expect(await finishReconcile({ db: s.db, clusterId: 'c1', owner: 'b', syncedAt: at(5) })).toBe(false);
    await finishReconcile({ db: s.db, clusterId: 'c1', owner: 'a', syncedAt: at(5), error: null });
    await finishReconcile({ db: s.db, clusterId: 'c2', owner: 'b', syncedAt: at(6), error: 'x' });
    expect(await claim(s, 'c', 10)).toBeUndefined();
    expect(await findReconcileStatus({ db: s.db, clusterId: 'c2' })).toEqual({ syncedAt: at(6), error: 'x' });
    // Due again one resync period after each pass ended.
    expect(await claim(s, 'c', 306)).toEqual({ clusterId: 'c1', full: true, syncedAt: at(5) });
    expect(await claim(s, 'c', 306)).toBeUndefined();
    expect(await claim(s, 'c', 307)).toMatchObject({ clusterId: 'c2' });
  });

  it('takes over a pass whose lease expired, and stops a renewal once the lease moved on', async () => {
    const s = store();
    await cluster(s, 'c1');
    await insertReconcileRows({ db: s.db });
    expect(await claim(s, 'a', 0)).toMatchObject({ clusterId: 'c1' });
    expect(await claim(s, 'b', 59)).toBeUndefined();
    expect(await claim(s, 'b', 61)).toMatchObject({ clusterId: 'c1', full: true });
    expect(
      await renewReconcileLease({ db: s.db, clusterId: 'c1', owner: 'a', leaseExpiresAt: at(200) }),
    ).toBe(false);
    expect(
      await renewReconcileLease({ db: s.db, clusterId: 'c1', owner: 'b', leaseExpiresAt: at(200) }),
    ).toBe(true);
    // The old holder's finish records nothing.
    expect(
      await finishReconcile({ db: s.db, clusterId: 'c1', owner: 'a', syncedAt: at(70), error: null }),
    ).toBe(false);
    expect(await findReconcileStatus({ db: s.db, clusterId: 'c1' })).toEqual({ syncedAt: null, error: null });
  });

  it('pauses for a queued or running job: no claim, and the renewal of a pass in hand fails', async () => {
    const s = store();
    await cluster(s, 'c1');
    await insertReconcileRows({ db: s.db });
    expect(await claim(s, 'a', 0)).toMatchObject({ clusterId: 'c1' });
    await queueTestJob(s.db, { id: 'j1', clusterId: 'c1', kind: 'resize', createdAt: at(1) });
    expect(await renewReconcileLease({ db: s.db, clusterId: 'c1', owner: 'a', leaseExpiresAt: at(90) })).toBe(
      false,
    );
    await finishReconcile({ db: s.db, clusterId: 'c1', owner: 'a' });
    expect(await claim(s, 'a', 2)).toBeUndefined();
    await s.db
      .updateTable('jobs')
      .set({ state: 'running', lease_expires_at: at(3) })
      .execute();
    // A running job whose engine died still holds the cluster: it is resumed, not reconciled around.
    expect(await claim(s, 'a', 100)).toBeUndefined();
    await s.db.updateTable('jobs').set({ state: 'succeeded' }).execute();
    expect(await claim(s, 'a', 101)).toMatchObject({ clusterId: 'c1', full: true });
  });

  it('claims a cluster whose saved role-binding revision was not tried yet, first and without a full pass', async () => {
    const s = store();
    await cluster(s, 'c1');
    await cluster(s, 'c2');
    await insertReconcileRows({ db: s.db });
    for (const id of ['c1', 'c2']) {
      await claim(s, 'a', 0);
      await finishReconcile({
        db: s.db,
        clusterId: id,
        owner: 'a',
        syncedAt: at(id === 'c1' ? 1 : 2),
        error: null,
      });
    }
    const save = () =>
      replaceRoleBindings({
        db: s.db,
        clusterId: 'c2',
        bindings: [{ keystoneRoleId: 'r', kind: 'ClusterRole', roleName: 'view' }],
        updatedBy: 'ada',
        now: new Date(T0),
      });
    expect(await save()).toBe(1);
    // c1's full pass is due too, but the saved revision goes first.
    expect(await claim(s, 'a', 302)).toMatchObject({ clusterId: 'c2', full: false, syncedAt: at(2) });
    await finishReconcile({ db: s.db, clusterId: 'c2', owner: 'a', bindingsTried: 1, error: 'refused' });
    expect(await claim(s, 'a', 10)).toBeUndefined();
    // A failed revision waits for the next full pass; a new save is tried at once.
    expect(await save()).toBe(2);
    expect(await claim(s, 'a', 11)).toMatchObject({ clusterId: 'c2', full: false });
    await markRoleBindingsApplied({ db: s.db, clusterId: 'c2', revision: 2, now: new Date(T0) });
    await finishReconcile({ db: s.db, clusterId: 'c2', owner: 'a', bindingsTried: 2 });
    expect(await claim(s, 'a', 12)).toBeUndefined();
    // The bindings-only pass kept the recorded error and sync time.
    expect(await findReconcileStatus({ db: s.db, clusterId: 'c2' })).toEqual({
      syncedAt: at(2),
      error: 'refused',
    });
  });
});
