/**
 * A node group's autoscaling bounds changed after create, on cloudsim: a change that leaves the
 * group's size inside them and its autoscaling as it was only rewrites the stored spec; one that
 * turns autoscaling on or off queues a job of the addons step; one the size falls outside queues a
 * resize into the bounds. Each takes the cluster's one-job lock, and a resize planned from a spec
 * that changed meanwhile is refused rather than undo the change.
 */
import { describe, expect, it } from 'vitest';
import { tagsFor } from '../../src/cluster/names.ts';
import type { ClusterSpec } from '../../src/cluster/spec.ts';
import type { Cloud } from '../../src/openstack/index.ts';
import { findProvisionedCluster } from '../../src/store/findProvisionedCluster.ts';
import { listJobSteps } from '../../src/store/listJobSteps.ts';
import { replaceProvisionedClusterSpec } from '../../src/store/replaceProvisionedClusterSpec.ts';
import { engines, freshStore } from '../support/databases.ts';
import { cloudsimSuite, testProvisioner, testSpec } from './support.ts';

const suite = cloudsimSuite();

describe.each(engines)('autoscaling bounds after create on %s', (engine) => {
  it('stores, resizes into, and turns autoscaling on and off through jobs under the one-job lock', async () => {
    const store = await freshStore(engine);
    try {
      const p = testProvisioner(store, suite.cloud, suite.webhook);
      const name = `bounds-${engine}`;
      const { cluster } = await p.createCluster(testSpec(name, 2), { waitForApi: false });
      await p.runUntilIdle();
      const id = cluster.id;
      const group = async () =>
        ((await findProvisionedCluster({ db: store.db, ref: id }))!.spec as ClusterSpec).nodeGroups[0]!;
      const workers = async () =>
        (await suite.cloud.nova.listServers({ tags: tagsFor(id) })).filter((s) => s.metadata['kaas-group']);
      const steps = async (jobId: string) =>
        (await listJobSteps({ db: store.db, jobId })).map((s) => s.stepId);

      // Autoscaling turned on, the size inside: a job of the addons step; the bounds stored when it succeeds.
      const on = await p.setSizeBounds(name, { minSize: 1, maxSize: 3 });
      if (!('job' in on)) throw new Error('expected a job');
      expect(on.job).toMatchObject({ kind: 'resize', state: 'queued' });
      expect(await steps(on.job.id)).toEqual(['addons']);
      expect(await group()).not.toHaveProperty('maxSize');
      expect(await p.autoscale.nodeGroups(id)).toEqual([]);
      await expect(p.setSizeBounds(name, { maxSize: 4 })).rejects.toMatchObject({
        code: 'operation_in_progress',
      });
      await p.runUntilIdle();
      expect((await p.getJob(on.job.id)).job.state).toBe('succeeded');
      expect(await group()).toMatchObject({ count: 2, minSize: 1, maxSize: 3 });
      expect(await p.autoscale.nodeGroups(id)).toEqual([
        expect.objectContaining({ name: 'default', minSize: 1, maxSize: 3, targetSize: 2 }),
      ]);

      // Still autoscaled, the size inside: the stored spec only, at once.
      const wider = await p.setSizeBounds(name, { maxSize: 5 });
      expect('cluster' in wider && wider.cluster.spec.nodeGroups[0]).toMatchObject({
        minSize: 1,
        maxSize: 5,
      });
      expect(await group()).toMatchObject({ count: 2, minSize: 1, maxSize: 5 });

      // The size below the new minimum: a resize into the bounds, which a user's resize cannot overtake.
      const up = await p.setSizeBounds(name, { minSize: 4 });
      if (!('job' in up)) throw new Error('expected a job');
      expect(await p.autoscale.targetSize(id, 'default')).toBe(4);
      await expect(p.resizeCluster(name, 'default', 3)).rejects.toMatchObject({
        code: 'operation_in_progress',
      });
      await p.runUntilIdle();
      expect((await p.getJob(up.job.id)).job.state).toBe('succeeded');
      expect(await group()).toMatchObject({ count: 4, minSize: 4, maxSize: 5 });
      expect(await workers()).toHaveLength(4);
      await expect(p.resizeCluster(name, 'default', 3)).rejects.toMatchObject({
        code: 'outside_size_bounds',
      });

      // Pinned at 1: shrunk into the bounds, and no longer autoscaled.
      const pinned = await p.setSizeBounds(name, { minSize: 1, maxSize: 1 });
      if (!('job' in pinned)) throw new Error('expected a job');
      expect(await steps(pinned.job.id)).toContain('addons');
      await p.runUntilIdle();
      expect(await group()).toMatchObject({ count: 1, minSize: 1, maxSize: 1 });
      expect(await workers()).toHaveLength(1);
      expect(await p.autoscale.nodeGroups(id)).toEqual([]);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('refuses a resize planned from a spec that changed before its job was queued, keeping the change', async () => {
    const store = await freshStore(engine);
    try {
      // Bounds written while the resize reads the servers it plans from.
      let meanwhile: (() => Promise<void>) | undefined;
      const cloud: Cloud = {
        ...suite.cloud,
        nova: Object.assign(Object.create(suite.cloud.nova) as Cloud['nova'], {
          listServers: async (query: Parameters<Cloud['nova']['listServers']>[0]) => {
            const hook = meanwhile;
            meanwhile = undefined;
            await hook?.();
            return suite.cloud.nova.listServers(query);
          },
        }),
      };
      const p = testProvisioner(store, cloud, suite.webhook);
      const name = `race-${engine}`;
      const { cluster } = await p.createCluster(
        testSpec(name, 1, {
          nodeGroups: [{ name: 'default', count: 1, minSize: 1, maxSize: 3, flavor: 'm1.small' }],
        }),
        { waitForApi: false },
      );
      await p.runUntilIdle();
      const read = async () =>
        (await findProvisionedCluster({ db: store.db, ref: cluster.id }))!.spec as ClusterSpec;
      meanwhile = async () => {
        const before = await read();
        const changed = { ...before, nodeGroups: [{ ...before.nodeGroups[0]!, maxSize: 2 }] };
        expect(
          await replaceProvisionedClusterSpec({
            db: store.db,
            id: cluster.id,
            previous: before,
            spec: changed,
            now: new Date().toISOString(),
          }),
        ).toBe(true);
      };
      await expect(p.resizeCluster(name, 'default', 3)).rejects.toMatchObject({ code: 'cluster_spec_busy' });
      expect((await read()).nodeGroups[0]).toMatchObject({ count: 1, maxSize: 2 });
      expect((await p.listJobs(cluster.id)).map((j) => j.kind)).toEqual(['create']);
      // Planned again, from the new bounds.
      await expect(p.resizeCluster(name, 'default', 3)).rejects.toMatchObject({
        code: 'outside_size_bounds',
      });
    } finally {
      await store.close();
    }
  }, 60_000);
});
