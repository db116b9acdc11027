import type { KyselyPlugin } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateSpec } from '../cluster/validate.ts';
import { ConflictError, UpstreamError } from '../errors.ts';
import { createLogger } from '../log.ts';
import type { Store } from '../store/db.ts';
import { findHealStatus } from '../store/findHealStatus.ts';
import { insertProvisionedCluster } from '../store/insertProvisionedCluster.ts';
import { listNodeHealth } from '../store/listNodeHealth.ts';
import { freshStore } from '../../test/support/databases.ts';
import { queueTestJob } from '../../test/support/jobs.ts';
import { testSpec } from '../../test/provisioner/support.ts';
import type { EtcdMemberHealth } from './etcd.ts';
import { createHealer, type HealerDeps, type HealTarget } from './heal.ts';
import type { NodeState } from './kubeclient.ts';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const ID = 'c1';
const node = (i: number, ready = true): NodeState => ({
  name: `kaas-${ID}-default-${i}`,
  ready,
  ...(ready ? {} : { reason: 'Ready=False (KubeletNotReady)' }),
  kubeletVersion: 'v1.37.2',
  labels: {},
});

let store: Store;
let clock: number;
let nodes: NodeState[] | Error;
let calls: string[];
let replace: HealerDeps['replace'];
let etcd: EtcdMemberHealth[] | Error;
/** Statements that write (insert, update, delete) the healer sent to the database. */
let writes: number;
const countWrites: KyselyPlugin = {
  transformQuery(args) {
    if (args.node.kind !== 'SelectQueryNode') writes++;
    return args.node;
  },
  transformResult: async (args) => args.result,
};

beforeEach(async () => {
  store = await freshStore('sqlite');
  clock = T0;
  nodes = [node(0), node(1), node(2)];
  calls = [];
  writes = 0;
  etcd = [0, 1, 2].map((i) => member(i));
  replace = async (clusterId: string, target: HealTarget) => {
    calls.push(`replace ${target.node}`);
    await queueTestJob(store.db, {
      id: `heal-${calls.length}`,
      clusterId,
      kind: 'heal',
      input: { heal: target },
    });
    return { id: `heal-${calls.length}` } as Awaited<ReturnType<HealerDeps['replace']>>;
  };
  await insertProvisionedCluster({
    db: store.db,
    cluster: {
      id: ID,
      name: ID,
      spec: validateSpec(testSpec(ID, 3)),
      options: {},
      status: 'ready',
      createdAt: new Date(T0).toISOString(),
      updatedAt: new Date(T0).toISOString(),
    },
  });
});

afterEach(async () => {
  await store.close();
});

function healer() {
  return createHealer({
    db: store.db.withPlugin(countWrites),
    logger: createLogger({ level: 'silent' }),
    now: () => new Date(clock),
    pollMs: 0,
    nodes: async () => {
      if (nodes instanceof Error) throw nodes;
      return nodes;
    },
    etcd: async (_c, masters) => {
      calls.push(`etcd via ${masters.join(',')}`);
      if (etcd instanceof Error) throw etcd;
      return etcd;
    },
    replace: (...args) => replace(...args),
    retry: async (_c, jobId) => {
      calls.push(`retry ${jobId}`);
      await store.db.updateTable('jobs').set({ state: 'queued' }).where('id', '=', jobId).execute();
    },
    stopped: async (_c, details) => void calls.push(`stopped ${String(details.reason)}`),
  });
}

const masterNode = (i: number, ready = true): NodeState => ({
  ...node(i, ready),
  name: `kaas-${ID}-master-${i}`,
  labels: { 'node-role.kubernetes.io/control-plane': '' },
});
function member(i: number, healthy = true): EtcdMemberHealth {
  return {
    id: String(100 + i),
    name: `kaas-${ID}-master-${i}`,
    peerUrls: [`https://10.0.0.${i}:2380`],
    clientUrls: [`https://10.0.0.${i}:2379`],
    isLearner: false,
    healthy,
    ...(healthy ? {} : { reason: 'unreachable: connection refused' }),
  };
}
/** The cluster gets three masters, replaced after 60 s not Ready; master-1 is not Ready. */
async function threeMasters() {
  const spec = validateSpec(testSpec(ID, 3, { masters: 3, masterUnhealthyAfterSeconds: 60 }));
  await store.db
    .updateTable('provisioned_clusters')
    .set({ spec: JSON.stringify(spec) })
    .execute();
  nodes = [masterNode(0), masterNode(1, false), masterNode(2), node(0)];
}

const at = (seconds: number) => (clock = T0 + seconds * 1000);
/** A pass of a new healer (as after a restart) at each of `seconds`. */
async function passesAt(...seconds: number[]) {
  for (const s of seconds) {
    at(s);
    await healer().pass();
  }
}
const condition = async () => (await findHealStatus({ db: store.db, clusterId: ID }))?.condition;
const failJob = async (id: string) => {
  await store.db.updateTable('jobs').set({ state: 'failed' }).where('id', '=', id).execute();
  await store.db.updateTable('provisioned_clusters').set({ status: 'failed' }).execute();
};

describe('the healer', () => {
  it('remembers since when a Node is unhealthy across restarts, replaces it once, then waits for its job', async () => {
    nodes = [node(0), node(1, false), node(2)];
    expect(await healer().pass()).toEqual([expect.objectContaining({ action: 'none' })]);
    expect(await listNodeHealth({ db: store.db, clusterId: ID })).toEqual({
      [`kaas-${ID}-default-1`]: new Date(T0).toISOString(),
    });
    // A new healer (a restart) 300 s later: the clock kept running.
    at(300);
    expect(await healer().pass()).toEqual([expect.objectContaining({ action: 'replace', jobId: 'heal-1' })]);
    expect(calls).toEqual([`replace kaas-${ID}-default-1`]);
    at(310);
    expect(await healer().pass()).toEqual([{ clusterId: ID, action: 'waiting' }]);
    expect(calls).toHaveLength(1);
  });

  it('retries a failed heal job once, then stops healing, audited once, until a person acts', async () => {
    nodes = [node(0), node(1, false), node(2)];
    const h = healer();
    await h.pass();
    at(300);
    await h.pass();
    await failJob('heal-1');
    at(320);
    expect(await h.pass()).toEqual([expect.objectContaining({ action: 'retry', jobId: 'heal-1' })]);
    expect((await findHealStatus({ db: store.db, clusterId: ID }))?.retriedJob).toBe('heal-1');
    await failJob('heal-1');
    at(340);
    expect(await h.pass()).toEqual([expect.objectContaining({ action: 'none' })]);
    at(360);
    await h.pass();
    expect(calls).toEqual([`replace kaas-${ID}-default-1`, 'retry heal-1', 'stopped ReplacementFailed']);
    expect(await condition()).toMatchObject({ status: 'False', reason: 'ReplacementFailed' });
  });

  it('leaves a cluster whose failed job is not a heal job, or that is busy, alone', async () => {
    nodes = [node(0, false), node(1), node(2)];
    await queueTestJob(store.db, { id: 'resize-1', clusterId: ID, kind: 'resize' });
    expect(await healer().pass()).toEqual([{ clusterId: ID, action: 'waiting' }]);
    await failJob('resize-1');
    at(1000);
    expect(await healer().pass()).toEqual([{ clusterId: ID, action: 'skipped' }]);
    expect(calls).toEqual([]);
    expect(await listNodeHealth({ db: store.db, clusterId: ID })).toEqual({});
  });

  it('keeps the clocks when the Nodes cannot be read, and says so', async () => {
    nodes = [node(0), node(1, false), node(2)];
    await healer().pass();
    nodes = new UpstreamError('connection refused', { code: 'kube_api_unreachable' });
    at(600);
    expect(await healer().pass()).toEqual([expect.objectContaining({ action: 'unobserved' })]);
    expect(await condition()).toMatchObject({ status: 'True', reason: 'Unobserved' });
    expect((await condition())?.message).toContain('connection refused');
    expect(Object.values(await listNodeHealth({ db: store.db, clusterId: ID }))).toEqual([
      new Date(T0).toISOString(),
    ]);
  });

  it('says so when the Node to replace has no server', async () => {
    nodes = [node(0), node(1, false), node(2)];
    replace = async () => undefined;
    await healer().pass();
    at(300);
    expect(await healer().pass()).toEqual([expect.objectContaining({ action: 'none' })]);
    expect(await condition()).toMatchObject({ status: 'False', reason: 'ServerMissing' });
  });

  it('acts not when another replica or a user queued a job first', async () => {
    nodes = [node(0), node(1, false), node(2)];
    replace = async () => {
      throw new ConflictError('busy', { code: 'operation_in_progress' });
    };
    await healer().pass();
    at(300);
    expect(await healer().pass()).toEqual([expect.objectContaining({ action: 'none' })]);
  });

  it('writes nothing to the database when a pass changes nothing', async () => {
    nodes = [node(0), node(1), node(2)];
    await healer().pass();
    expect(writes).toBeGreaterThan(0);
    const record = await findHealStatus({ db: store.db, clusterId: ID });
    writes = 0;
    await passesAt(10, 20);
    expect(writes).toBe(0);
    // A Node not Ready changes the record (its clock, the condition) once, then no more while waiting.
    nodes = [node(0), node(1, false), node(2)];
    at(30);
    await healer().pass();
    expect(writes).toBeGreaterThan(0);
    writes = 0;
    await passesAt(40, 50);
    expect(writes).toBe(0);
    expect(await condition()).toMatchObject({ reason: 'Waiting' });
    expect(record?.checkedAt).toBe(new Date(T0).toISOString());
  });

  it('asks etcd before replacing a master, and replaces it when the other members are healthy', async () => {
    await threeMasters();
    await healer().pass();
    at(59);
    await healer().pass();
    expect(calls).toEqual([]);
    at(60);
    expect(await healer().pass()).toEqual([expect.objectContaining({ action: 'replace', jobId: 'heal-2' })]);
    expect(calls).toEqual([
      `etcd via kaas-${ID}-master-0,kaas-${ID}-master-1,kaas-${ID}-master-2`,
      `replace kaas-${ID}-master-1`,
    ]);
    expect(await condition()).toMatchObject({ status: 'True', reason: 'Replacing' });
  });

  it('replaces no master while another etcd member is unhealthy or etcd cannot be read, and says why', async () => {
    await threeMasters();
    etcd = [member(0), member(1, false), member(2, false)];
    await healer().pass();
    at(100);
    expect(await healer().pass()).toEqual([expect.objectContaining({ action: 'none' })]);
    expect(await condition()).toMatchObject({ status: 'False', reason: 'EtcdAtRisk' });
    expect((await condition())?.message).toContain(
      `etcd member(s) kaas-${ID}-master-2 (unreachable: connection refused) not healthy`,
    );
    etcd = new Error('etcd_unreachable: port-forward refused');
    at(200);
    await healer().pass();
    expect((await condition())?.message).toContain("kaas cannot read the cluster's etcd: etcd_unreachable");
    expect(calls.filter((c) => c.startsWith('replace'))).toEqual([]);
    expect(calls.filter((c) => c.startsWith('stopped'))).toEqual(['stopped EtcdAtRisk']);
    // Healthy again: replaced.
    etcd = [member(0), member(1, false), member(2)];
    at(300);
    await healer().pass();
    expect(calls.at(-1)).toBe(`replace kaas-${ID}-master-1`);
  });
});
