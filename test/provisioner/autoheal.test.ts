/**
 * The auto-heal switch after create: an admin's flip changes the stored spec only, the healer
 * follows it at its next pass, and a job that was running keeps the flip when it finishes.
 */
import { describe, expect, it } from 'vitest';
import { validateSpec } from '../../src/cluster/validate.ts';
import { createCloud } from '../../src/openstack/index.ts';
import { createHealer, type HealTarget } from '../../src/provisioner/heal.ts';
import type { NodeState } from '../../src/provisioner/kubeclient.ts';
import { createProvisioner } from '../../src/provisioner/provisioner.ts';
import type { Store } from '../../src/store/db.ts';
import { findHealStatus } from '../../src/store/findHealStatus.ts';
import { findProvisionedCluster } from '../../src/store/findProvisionedCluster.ts';
import { insertProvisionedCluster } from '../../src/store/insertProvisionedCluster.ts';
import { replaceProvisionedClusterSpec } from '../../src/store/replaceProvisionedClusterSpec.ts';
import { describeOnEngines } from '../support/databases.ts';
import { adminConfig } from '../support/openstack.ts';
import { cloudsimSuite, logger, testProvisioner, testSpec, TEST_SECRET_KEY } from './support.ts';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const ID = 'c1';

async function insertReady(store: Store) {
  const spec = validateSpec(testSpec(ID, 3));
  await insertProvisionedCluster({
    db: store.db,
    cluster: {
      id: ID,
      name: ID,
      spec,
      options: {},
      status: 'ready',
      createdAt: new Date(T0).toISOString(),
      updatedAt: new Date(T0).toISOString(),
    },
  });
  return spec;
}

describeOnEngines('the auto-heal switch', ({ store }) => {
  it("reaches the healer at its next pass: off, a NotReady worker is not replaced ('Disabled'); on again, it is", async () => {
    await insertReady(store());
    let clock = T0;
    const now = () => new Date(clock);
    // Switching touches no cloud: the client points nowhere and would fail if it were called.
    const p = createProvisioner({
      store: store(),
      logger,
      now,
      cloud: createCloud({ config: adminConfig('http://127.0.0.1:9/v3'), logger }),
      secretKey: TEST_SECRET_KEY,
    });
    const replaced: string[] = [];
    const nodes: NodeState[] = [0, 1, 2].map((i) => ({
      name: `kaas-${ID}-default-${i}`,
      ready: i !== 1,
      kubeletVersion: 'v1.37.2',
      labels: {},
    }));
    const healer = createHealer({
      db: store().db,
      logger,
      now,
      pollMs: 0,
      nodes: async () => nodes,
      replace: async (_clusterId: string, target: HealTarget) => {
        replaced.push(target.node);
        return undefined;
      },
      retry: async () => undefined,
      // Workers only here: the masters' etcd is never asked.
      etcd: async () => {
        throw new Error('no master is healed in this test');
      },
      stopped: async () => undefined,
    });
    const reason = async () => (await findHealStatus({ db: store().db, clusterId: ID }))?.condition.reason;

    await healer.pass();
    expect(await reason()).toBe('Waiting');
    const off = await p.setAutoHeal(ID, { autoHeal: false });
    expect([off.spec.autoHeal, off.status]).toEqual([false, 'ready']);
    clock = T0 + 600_000;
    await healer.pass();
    expect(await reason()).toBe('Disabled');
    expect(replaced).toEqual([]);

    // The cluster on, its group off: still nothing replaced.
    await p.setAutoHeal(ID, { autoHeal: true });
    await p.setAutoHeal(ID, { autoHeal: false, group: 'default' });
    clock += 10_000;
    await healer.pass();
    expect(replaced).toEqual([]);

    await p.setAutoHeal(ID, { autoHeal: true, group: 'default' });
    clock += 10_000;
    await healer.pass();
    expect(replaced).toEqual([`kaas-${ID}-default-1`]);
  });

  it('refuses an unknown group naming the field, and an unknown cluster, changing nothing', async () => {
    const spec = await insertReady(store());
    const p = createProvisioner({
      store: store(),
      logger,
      now: () => new Date(T0),
      cloud: createCloud({ config: adminConfig('http://127.0.0.1:9/v3'), logger }),
      secretKey: TEST_SECRET_KEY,
    });
    await expect(p.setAutoHeal(ID, { autoHeal: false, group: 'gpu' })).rejects.toMatchObject({
      field: 'group',
      code: 'group_not_found',
    });
    await expect(p.setAutoHeal('nope', { autoHeal: false })).rejects.toMatchObject({
      code: 'cluster_not_found',
    });
    expect((await findProvisionedCluster({ db: store().db, ref: ID }))?.spec).toEqual(spec);
  });

  it('stores a spec only over the one it read', async () => {
    const spec = await insertReady(store());
    const db = store().db;
    const at = new Date(T0 + 1000).toISOString();
    const off = { ...spec, autoHeal: false };
    expect(await replaceProvisionedClusterSpec({ db, id: ID, previous: spec, spec: off, now: at })).toBe(
      true,
    );
    // A writer that read the spec before that change is refused.
    const stale = { ...spec, masters: 3 };
    expect(await replaceProvisionedClusterSpec({ db, id: ID, previous: spec, spec: stale, now: at })).toBe(
      false,
    );
    const row = await findProvisionedCluster({ db, ref: ID });
    expect([row?.spec, row?.status, row?.updatedAt]).toEqual([off, 'ready', at]);
    expect(
      await replaceProvisionedClusterSpec({ db, id: ID, previous: off, spec, status: 'failed', now: at }),
    ).toBe(true);
    expect((await findProvisionedCluster({ db, ref: ID }))?.status).toBe('failed');
  });
});

describe('the auto-heal switch while a job runs (cloudsim)', () => {
  const suite = cloudsimSuite();

  it('is kept when the job finishes, beside what the job changed', async () => {
    const store = await suite.store();
    const p = testProvisioner(store, suite.cloud, suite.webhook);
    const { cluster } = await p.createCluster(testSpec('sw1', 1), { waitForApi: false });
    await p.runUntilIdle();
    const resize = await p.resizeCluster(cluster.id, 'default', 2);
    // Flipped after the resize was planned (its job holds the spec with the switch on).
    const off = await p.setAutoHeal(cluster.id, { autoHeal: false, group: 'default' });
    expect(off.spec.nodeGroups[0]).toMatchObject({ autoHeal: false, count: 1 });
    expect(off.status).toBe('resizing');
    await p.runUntilIdle();
    expect((await p.getJob(resize.id)).job.state).toBe('succeeded');
    const after = await p.getCluster(cluster.id, { observe: false });
    expect(after.status).toBe('ready');
    expect(after.spec.nodeGroups[0]).toMatchObject({ autoHeal: false, count: 2 });
    await p.deleteCluster(cluster.id);
    await p.runUntilIdle();
  });
});
