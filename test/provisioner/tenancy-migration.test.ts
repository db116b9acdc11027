import { expect, it } from 'vitest';
import { findCluster } from '../../src/store/findCluster.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';
import { describeOnEngines } from '../support/databases.ts';
import * as support from './support.ts';

/**
 * Clusters from before tenancy keep kaas's own project, on SQLite and PostgreSQL: kaas then
 * recorded every cluster's project as its own session's (`clusters.project_id`, there since the
 * first auth migration), as create without a project still does, so no migration rewrites them and
 * kaas acts on them with its own session. A provisioner whose every other project's session
 * throws resizes and deletes such a cluster entirely in kaas's project.
 */
const suite = support.cloudsimSuite();

describeOnEngines("a cluster of kaas's own project", ({ store }) => {
  it("keeps that project through the migrations and is resized and deleted there by kaas's own session", async () => {
    const asked: string[] = [];
    const p = support.testProvisioner(store(), suite.cloud, suite.webhook, {
      cloudFor: (projectId) => {
        asked.push(projectId);
        throw new Error(`no session for project ${projectId} was expected`);
      },
    });
    const kaasProject = (await suite.cloud.session.token()).project!;
    const created = await p.createCluster(support.testSpec('mig1', 1), { waitForApi: false });
    await p.runUntilIdle();
    expect((await p.getJob(created.job.id)).job.state).toBe('succeeded');

    // Every migration this build knows has run; running them again changes nothing of the record.
    await migrateToLatest(store().db as never);
    const own = { id: kaasProject.id, name: kaasProject.name };
    expect(await findCluster({ db: store().db, id: created.cluster.id })).toMatchObject({
      projectId: own.id,
      projectName: own.name,
    });
    expect((await p.getCluster(created.cluster.id)).project).toEqual(own);

    const resized = await p.resizeCluster(created.cluster.id, 'default', 2);
    await p.runUntilIdle();
    expect((await p.getJob(resized.id)).job.error).toBeNull();
    expect((await support.taggedCounts(suite.cloud, created.cluster.id)).servers).toBe(3);
    const deleted = await p.deleteCluster(created.cluster.id);
    await p.runUntilIdle();
    expect((await p.getJob(deleted.id)).job.error).toBeNull();
    expect(await support.taggedCounts(suite.cloud, created.cluster.id)).toEqual(support.NONE_TAGGED);
    expect(asked).toEqual([]);
  }, 120_000);
});
