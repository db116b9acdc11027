import { describe, expect, it } from 'vitest';
import { findJob } from '../../src/store/findJob.ts';
import { listJobEvents } from '../../src/store/listJobEvents.ts';
import { killedAfter } from '../support/hookFixture.ts';
import { cloudsimSuite, testProvisioner, testSpec } from './support.ts';

const suite = cloudsimSuite();
const options = () => ({ waitForApi: false });
/** A clock past any lease taken now: what a replica restarted later sees. */
const later = () => new Date(Date.now() + 60_000);

describe('provisioner jobs across process deaths', () => {
  it('a delete killed right after its last step finishes on restart: rows gone, never failed', async () => {
    const s = await suite.store();
    const p = testProvisioner(s, suite.cloud, suite.webhook);
    const { cluster } = await p.createCluster(testSpec('die1', 1), options());
    await p.runUntilIdle();
    const job = await p.deleteCluster(cluster.id);
    const last = (job.input as { steps: { id: string }[] }).steps.at(-1)?.id;
    // The last step deletes the cluster's application credential (after the containers).
    expect(last).toBe('delete:credential');

    const dying = testProvisioner(s, suite.cloud, suite.webhook, {
      owner: 'dying',
      hooks: killedAfter(last),
    });
    await expect(dying.runUntilIdle()).rejects.toThrow('killed');
    // Nothing of the job's end happened: the cluster is still recorded, the job still running.
    expect((await p.getCluster(cluster.id)).status).toBe('deleting');
    expect(await findJob({ db: s.db, id: job.id })).toMatchObject({ state: 'running', leaseOwner: 'dying' });

    const restarted = testProvisioner(s, suite.cloud, suite.webhook, { owner: 'restarted', now: later });
    expect(await restarted.runUntilIdle()).toBe(1);
    expect(await findJob({ db: s.db, id: job.id })).toMatchObject({ state: 'succeeded', attempt: 2 });
    await expect(p.getCluster(cluster.id)).rejects.toMatchObject({ code: 'cluster_not_found' });
    for (const table of ['provisioned_clusters', 'clusters', 'cluster_secrets'] as const) {
      expect(await s.db.selectFrom(table).selectAll().execute()).toEqual([]);
    }
    const events = await listJobEvents({ db: s.db, jobId: job.id });
    expect(events.filter((e) => e.level === 'error')).toEqual([]);
  });
});
