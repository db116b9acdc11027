import { afterEach, describe, expect, it, vi } from 'vitest';
import { describeOnEngines, freshStore } from '../../test/support/databases.ts';
import { createLogger } from '../log.ts';
import { claimJob } from '../store/claimJob.ts';
import type { Store } from '../store/db.ts';
import { findJob, type JobRecord } from '../store/findJob.ts';
import { renewJobLease } from '../store/renewJobLease.ts';
import { keepLease } from './lease.ts';
import { queueTestJob } from '../../test/support/jobs.ts';

const logger = createLogger({ level: 'silent' });

/** Queues a job and claims it for `me` with a lease of `leaseMs` from now (real time). */
async function claimed(store: Store, leaseMs: number): Promise<JobRecord> {
  const now = new Date();
  await queueTestJob(store.db, { id: 'j1', clusterId: 'c1', createdAt: now.toISOString() });
  const job = await claimJob({
    db: store.db,
    dialect: store.dialect,
    owner: 'me',
    now: now.toISOString(),
    leaseExpiresAt: new Date(now.getTime() + leaseMs).toISOString(),
  });
  if (!job) throw new Error('the job was not claimable');
  return job;
}

/** Keeps `job`'s lease and resolves with why and when it was lost. */
function watch(store: Store, job: JobRecord, leaseMs: number, heartbeatMs: number) {
  let stop = () => undefined as void;
  const lost = new Promise<{ why: string; at: number }>((resolve) => {
    stop = keepLease({
      renew: (now, leaseExpiresAt) =>
        renewJobLease({ db: store.db, jobId: job.id, owner: 'me', now, leaseExpiresAt }),
      logger,
      now: () => new Date(),
      leaseMs,
      heartbeatMs,
      renewedAt: new Date(job.updatedAt),
      onLost: (why) => resolve({ why, at: Date.now() }),
    }).stop;
  });
  return { lost, stop: () => stop() };
}

describeOnEngines('job lease keeper', ({ store }) => {
  it('renews the lease while it is held', async () => {
    const job = await claimed(store(), 600);
    const keeper = watch(store(), job, 600, 100);
    let lost: string | undefined;
    void keeper.lost.then(({ why }) => (lost = why));
    // Past the claim's expiry, the lease is still ours and runs on: renewals pushed it forward.
    const claimExpiry = Date.parse(job.leaseExpiresAt as string);
    await vi.waitFor(
      async () => {
        const now = Date.now();
        const held = await findJob({ db: store().db, id: 'j1' });
        expect(now).toBeGreaterThan(claimExpiry);
        expect(held?.leaseOwner).toBe('me');
        expect(Date.parse(held?.leaseExpiresAt as string)).toBeGreaterThan(now);
      },
      { timeout: 5_000, interval: 25 },
    );
    keeper.stop();
    expect(lost).toBeUndefined();
  });

  it('reports the lease lost at the first renewal after another engine took the job', async () => {
    const job = await claimed(store(), 5_000);
    await store().db.updateTable('jobs').set({ lease_owner: 'thief' }).where('id', '=', 'j1').execute();
    const started = Date.now();
    const keeper = watch(store(), job, 5_000, 50);
    const { why, at } = await keeper.lost;
    expect(why).toMatch(/the lease is no longer held here/);
    expect(at - started).toBeLessThan(1_000);
  });
});

describe('job lease keeper on postgres', () => {
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  it('fences when renewals hang: lost after two thirds of the lease, before it expires', async () => {
    const s = (store = await freshStore('postgres'));
    const leaseMs = 1_200;
    const job = await claimed(s, leaseMs);
    // Another session holds the job's row lock, so every renewal UPDATE waits (a stuck database).
    let release!: () => void;
    const holding = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const blocker = s.db.transaction().execute(async (tx) => {
      await tx.selectFrom('jobs').select('id').where('id', '=', 'j1').forUpdate().execute();
      locked();
      await holding;
    });
    await isLocked;
    const keeper = watch(s, job, leaseMs, 100);
    const { why, at } = await keeper.lost;
    release();
    await blocker;
    const since = at - Date.parse(job.updatedAt);
    expect(why).toMatch(/no lease renewal succeeded/);
    expect(since).toBeGreaterThanOrEqual((leaseMs * 2) / 3);
    expect(since).toBeLessThan(leaseMs);
  });
});
