import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudsim, type Cloudsim } from '../../src/cloudsim/index.ts';
import type { Cloud } from '../../src/openstack/index.ts';
import type { Store } from '../../src/store/db.ts';
import { provisionerStore, testCloud, testProvisioner, testSpec, testWebhook } from './support.ts';

/**
 * Octavia takes a while to apply each change and refuses (409) another one meanwhile, as the lab's
 * real Octavia does; cloudsim with a provisioning delay does the same. The member steps of a
 * 3-master cluster run side by side, so they must take turns.
 */
let sim: Cloudsim;
let cloud: Cloud;
let store: Store;

beforeAll(async () => {
  sim = await startCloudsim({ port: 0, bootTimeMs: 20, provisionDelayMs: 300 });
  cloud = testCloud(sim);
  store = await provisionerStore();
});
afterAll(async () => {
  await store?.close();
  await sim?.close();
});

describe('load-balancer members on a slow Octavia', () => {
  it('adds all three masters although each change keeps the load balancer PENDING_UPDATE', async () => {
    const p = testProvisioner(store, cloud, await testWebhook(), { pollIntervalMs: 50 });
    const { cluster, job } = await p.createCluster(testSpec('slowlb', 1, { masters: 3 }), {
      waitForApi: false,
    });
    await p.runUntilIdle();
    const view = await p.getJob(job.id);
    expect(view.job.error).toBeNull();
    expect(view.job.state).toBe('succeeded');
    const [lb] = await cloud.octavia.listLoadBalancers({ tags: [`kaas-cluster=${cluster.id}`] });
    const pool = await cloud.octavia.getPool(lb!.pools[0]!.id);
    expect(pool.members).toHaveLength(3);
    await p.deleteCluster(cluster.id);
    await p.runUntilIdle();
    expect(await cloud.octavia.listLoadBalancers({ tags: [`kaas-cluster=${cluster.id}`] })).toEqual([]);
  }, 120_000);

  it('deletes a cluster while a load balancer of its cloud controller is still being created', async () => {
    const p = testProvisioner(store, cloud, await testWebhook(), { pollIntervalMs: 50 });
    const { cluster, job } = await p.createCluster(testSpec('newlb', 1), { waitForApi: false });
    await p.runUntilIdle();
    expect((await p.getJob(job.id)).job.state).toBe('succeeded');
    const [subnet] = await cloud.neutron.subnets.list({ tags: [`kaas-cluster=${cluster.id}`] });
    // Octavia refuses to delete a load balancer in PENDING_CREATE; this one stays there a while.
    sim.knobs.provisionDelayMs = 4_000;
    try {
      await cloud.octavia.createLoadBalancer({
        name: `kube_service_${cluster.id}_web_front`,
        vipSubnetId: subnet!.id,
      });
    } finally {
      sim.knobs.provisionDelayMs = 300;
    }
    const deleting = await p.deleteCluster(cluster.id);
    await p.runUntilIdle();
    const view = await p.getJob(deleting.id);
    expect([view.job.state, view.job.error]).toEqual(['succeeded', null]);
    const sweep = view.steps.find((s) => s.stepId === 'sweep:load-balancer');
    expect(sweep?.output).toMatchObject({ removed: 1 });
    expect((await cloud.octavia.listLoadBalancers()).filter((lb) => lb.name.includes(cluster.id))).toEqual(
      [],
    );
  }, 120_000);
});
