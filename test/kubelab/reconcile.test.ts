/**
 * Continuous reconciliation against a real control plane (kube-apiserver, etcd, controllers, kwok
 * nodes) configured from a kaas cluster's master-0 input: the production provisioner's reconciler,
 * run by the production worker loop, reaches the lab as kaas (its identity bound as create binds
 * it, the cluster CA, the sealed material in the store) and keeps the managed services and role
 * bindings as declared. The worker runs no jobs here: a job queued by the test just sits, which is
 * what a reconciler must pause for.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roleBinding } from '../../src/addons/rbac.ts';
import { createCa } from '../../src/auth/pki.ts';
import { startWorkerLoop, type WorkerLoop } from '../../src/cli/worker.ts';
import { WILDCARD_TLS_SECRET } from '../../src/addons/objects.ts';
import { UpstreamError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { clusterApiFor, type ClusterApi } from '../../src/provisioner/addons/client.ts';
import { toSpec } from '../../src/provisioner/addons/rolebindings.ts';
import { realSleep } from '../../src/provisioner/addons/wait.ts';
import { kaasBinding } from '../../src/provisioner/identity.ts';
import type { ClusterMaterial } from '../../src/provisioner/material.ts';
import type { Provisioner } from '../../src/provisioner/provisioner.ts';
import { openStore, type Store } from '../../src/store/db.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';
import { findProvisionedCluster } from '../../src/store/findProvisionedCluster.ts';
import { findReconcileStatus } from '../../src/store/findReconcileStatus.ts';
import { getRoleBindings } from '../../src/store/getRoleBindings.ts';
import { listAddonStatus, type ObjectRef } from '../../src/store/listAddonStatus.ts';
import { listJobs } from '../../src/store/listJobs.ts';
import { replaceRoleBindings } from '../../src/store/replaceRoleBindings.ts';
import { freshDatabaseUrl } from '../support/databases.ts';
import { adminConfig } from '../support/openstack.ts';
import { testCloud, testProvisioner, TEST_SECRET_KEY } from '../provisioner/support.ts';
import { breakGlass, idOf, liveObjects, startAuditedLab, type AuditedLab } from './apply-support.ts';
import type { Kubelab } from '../../src/dev/kube/kubelab.ts';
import { waitForReadyNodes } from './nodes.ts';
import { createWildcardTls, recordReadyCluster } from './readyCluster.ts';
import { labCluster } from './support.ts';
import { queueTestJob } from '../support/jobs.ts';

/** Short, so the suite sees several periods; production's default is 5 minutes. */
const RESYNC_MS = 6_000;
/** A reconcile pass in its own process (SIGKILLed mid-pass by the last test). */
const REPLICA = fileURLToPath(new URL('./reconcile-replica.ts', import.meta.url));
const LEASE_MS = 3_000;
const NODES = ['kaas-lab-default-0', 'kaas-lab-default-1'];
const MEMBER_ROLE = 'b7f1c6e0d2a94c7f8e3b5a6d9c0e1f23';
const silent = createLogger({ level: 'silent' });
/** What the provisioner (and its reconciler) logged. */
const logged: string[] = [];
const logger = createLogger({
  level: 'info',
  destination: { write: (line: string) => logged.push(line) } as unknown as NodeJS.WritableStream,
});

let audited: AuditedLab;
let lab: Kubelab;
let material: ClusterMaterial;
let store: Store;
let databaseUrl: string;
let provisioner: Provisioner;
let worker: WorkerLoop | undefined;
let clusterId: string;
/** When set, the reconciler's API refuses to apply objects this picks (a failing API mid-pass). */
let failApply: ((kind: string, name: string) => boolean) | undefined;

/** When set, the reconciler's applies of what `match` picks wait for `release` (a slow API). */
let holdApply: { match: (kind: string) => boolean; reached: () => void; release: Promise<void> } | undefined;

/** The production client as kaas, refusing what `failApply` picks and holding what `holdApply` does. */
function failing(kube: ClusterApi): ClusterApi {
  return {
    ...kube,
    async apply(obj) {
      const hold = holdApply;
      if (hold?.match(obj.kind)) {
        hold.reached();
        await hold.release;
      }
      if (failApply?.(obj.kind, obj.metadata.name)) {
        throw new UpstreamError(`apply of ${obj.kind} ${obj.metadata.name}: injected API failure`, {
          code: 'kube_api_error',
        });
      }
      return kube.apply(obj);
    },
  };
}

beforeAll(async () => {
  const kaasCa = await createCa({ commonName: 'kaas-test' });
  const cluster = await labCluster({ kaasUrl: 'https://127.0.0.1:1', kaasCaPem: kaasCa.certPem });
  clusterId = cluster.clusterId;
  material = cluster.material;
  audited = await startAuditedLab(cluster.master0);
  lab = audited.lab;
  for (const name of NODES) await lab.addNode(name);
  await waitForReadyNodes(lab, NODES);
  // What create does first: bind kaas's identity with a system:masters certificate.
  await clusterApiFor(await breakGlass(lab, material)).apply(kaasBinding());

  // The store as a create job leaves it: the cluster ready, its material sealed, its endpoint.
  databaseUrl = await freshDatabaseUrl('postgres');
  store = openStore(databaseUrl);
  await migrateToLatest(store.db as never);
  await recordReadyCluster({
    db: store.db,
    clusterId,
    material,
    secretKey: TEST_SECRET_KEY,
    apiUrl: lab.url,
  });
  provisioner = testProvisioner(
    store,
    // Only read for the services' Swift settings: nothing here calls the cloud.
    testCloud(adminConfig('http://127.0.0.1:1/v3')),
    { kaasUrl: 'https://127.0.0.1:1', caPem: kaasCa.certPem },
    {
      logger,
      clusterApi: (access) => failing(clusterApiFor(access)),
      addonWait: { readinessMs: 60_000, crdMs: 30_000, pollMs: 200 },
    },
  );
}, 180_000);

afterAll(async () => {
  await worker?.stop(10_000);
  await store?.close();
  await audited?.stop();
});

/** Starts the production worker loop with the reconciler, and no jobs to run. */
function startWorker(): WorkerLoop {
  return startWorkerLoop({
    engine: { claimNext: async () => undefined },
    reconciler: provisioner.reconciler({ resyncMs: RESYNC_MS, leaseMs: LEASE_MS }),
    logger: silent,
    idleMs: 200,
    concurrency: 2,
  });
}

/** Polls `check` every 200 ms for up to `ms`; returns the time it took, or throws. */
async function within(ms: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await realSleep(200);
  }
}

/** Whether `kubectl get` finds the object. */
async function exists(kind: string, name: string, namespace?: string): Promise<boolean> {
  try {
    await lab.kubectl(['get', kind, name, ...(namespace ? [`--namespace=${namespace}`] : [])]);
    return true;
  } catch {
    return false;
  }
}

/** The ingress controller's Deployment, as the reconciler recorded it. */
async function ingressDeployment(): Promise<ObjectRef> {
  const ingress = (await listAddonStatus({ db: store.db, clusterId })).find((s) => s.addon === 'ingress');
  const ref = ingress?.objects.find((o) => o.kind === 'Deployment');
  if (!ref) throw new Error('no ingress Deployment recorded');
  return ref;
}

/** resourceVersions of every object the reconciler recorded, read straight from the API. */
async function versions(): Promise<Map<string, string>> {
  const refs = (await listAddonStatus({ db: store.db, clusterId })).flatMap((s) => s.objects);
  const live = await liveObjects(lab, refs);
  return new Map(
    refs.map((r) => {
      const id = idOf({ kind: r.kind, metadata: r });
      return [id, live.get(id)?.metadata.resourceVersion ?? 'absent'];
    }),
  );
}

/** Resolves once a full pass that started after now has ended: the sync time moved twice. */
async function nextFullPass(): Promise<void> {
  for (let i = 0; i < 2; i++) {
    const before = (await findReconcileStatus({ db: store.db, clusterId })).syncedAt;
    await within(RESYNC_MS + 30_000, 'a full reconcile pass', async () => {
      return (await findReconcileStatus({ db: store.db, clusterId })).syncedAt !== before;
    });
  }
}

describe('continuous reconciliation on a real control plane', () => {
  it('applies the services it can on the first pass and records the sync', async () => {
    const claimed = await provisioner.reconciler({ resyncMs: RESYNC_MS, leaseMs: LEASE_MS }).claimNext();
    expect(claimed?.clusterId).toBe(clusterId);
    const outcome = await claimed!.run();
    expect(outcome).toEqual({ clusterId, full: true, state: 'synced' });
    const states = (await listAddonStatus({ db: store.db, clusterId })).map((s) => [s.addon, s.state]);
    // Without the operator's Secrets, only these; ingress once its TLS certificate exists.
    expect(states).toEqual([
      ['namespaces', 'ready'],
      ['networking', 'ready'],
      ['rbac', 'ready'],
    ]);
    expect(await findReconcileStatus({ db: store.db, clusterId })).toEqual({
      syncedAt: expect.any(String),
      error: null,
    });
  }, 120_000);

  it('adds the ingress once the operator created its certificate, and restores its Deployment deleted by hand within the resync period', async () => {
    await createWildcardTls(lab);
    worker = startWorker();
    await within(RESYNC_MS + 60_000, 'the ingress ready', async () =>
      (await listAddonStatus({ db: store.db, clusterId })).some(
        (s) => s.addon === 'ingress' && s.state === 'ready',
      ),
    );
    const deployment = await ingressDeployment();
    await lab.kubectl(['delete', 'deployment', deployment.name, `--namespace=${deployment.namespace}`]);
    expect(await exists('deployment', deployment.name, deployment.namespace)).toBe(false);
    const took = await within(RESYNC_MS + 5_000, 'the ingress Deployment restored', () =>
      exists('deployment', deployment.name, deployment.namespace),
    );
    console.log(
      `reconcile: ingress Deployment restored ${took} ms after its deletion (resync ${RESYNC_MS} ms)`,
    );
    expect(took).toBeLessThanOrEqual(RESYNC_MS + 5_000);
  }, 180_000);

  it('writes nothing to the cluster when nothing changed: every resourceVersion stays', async () => {
    // Let the controllers finish with the restored Deployment, then compare across full passes.
    await nextFullPass();
    let before = await versions();
    await within(30_000, 'the objects settled', async () => {
      await realSleep(1_000);
      const now = await versions();
      const same = [...now].every(([k, v]) => before.get(k) === v);
      before = now;
      return same;
    });
    await nextFullPass();
    await nextFullPass();
    expect(before.size).toBeGreaterThan(10);
    expect(await versions()).toEqual(before);
  }, 180_000);

  it('applies a role-binding save within 10 s, without waiting for the resync', async () => {
    const binding = { keystoneRoleId: MEMBER_ROLE, kind: 'ClusterRole' as const, roleName: 'view' };
    const name = roleBinding(toSpec(binding, 0)).metadata.name;
    await nextFullPass();
    const revision = await replaceRoleBindings({
      db: store.db,
      clusterId,
      bindings: [binding],
      updatedBy: 'ada@Default',
      now: new Date(),
    });
    const took = await within(10_000, 'the ClusterRoleBinding', () => exists('clusterrolebinding', name));
    console.log(`reconcile: ClusterRoleBinding on the cluster ${took} ms after the save`);
    await within(5_000, 'the revision marked applied', async () => {
      return (await getRoleBindings({ db: store.db, clusterId })).appliedRevision === revision;
    });
  }, 60_000);

  it('pauses while a job is queued or running on the cluster, and resumes after it', async () => {
    await queueTestJob(store.db, { id: 'job-resize', clusterId, kind: 'resize' });
    // A pass that was running when the job was queued stops at its next renewal.
    await realSleep(LEASE_MS);
    const paused = (await findReconcileStatus({ db: store.db, clusterId })).syncedAt;
    const deployment = await ingressDeployment();
    await lab.kubectl(['delete', 'deployment', deployment.name, `--namespace=${deployment.namespace}`]);
    await realSleep(RESYNC_MS + 3_000);
    expect(await exists('deployment', deployment.name, deployment.namespace)).toBe(false);
    expect((await findReconcileStatus({ db: store.db, clusterId })).syncedAt).toBe(paused);
    // The reconciler never touched the job or the cluster's state.
    expect((await listJobs({ db: store.db, clusterId })).map((j) => j.state)).toEqual(['queued']);
    expect((await findProvisionedCluster({ db: store.db, ref: clusterId }))?.status).toBe('ready');
    await store.db.updateTable('jobs').set({ state: 'succeeded' }).where('id', '=', 'job-resize').execute();
    await within(RESYNC_MS + 10_000, 'the ingress Deployment restored after the job', () =>
      exists('deployment', deployment.name, deployment.namespace),
    );
  }, 60_000);

  it('stops a pass in progress once a job is queued on the cluster, recording nothing', async () => {
    await worker?.stop(10_000);
    worker = undefined;
    await store.db.updateTable('cluster_reconcile').set({ synced_at: null }).execute();
    let reached = () => {};
    let release = () => {};
    const atDeployment = new Promise<void>((r) => (reached = r));
    holdApply = {
      match: (kind) => kind === 'Deployment',
      reached,
      release: new Promise((r) => (release = r)),
    };
    try {
      const pass = await provisioner.reconciler({ resyncMs: RESYNC_MS, leaseMs: LEASE_MS }).claimNext();
      expect(pass?.clusterId).toBe(clusterId);
      const running = pass!.run();
      await atDeployment;
      await queueTestJob(store.db, { id: 'job-upgrade', clusterId, kind: 'upgrade' });
      // The next renewal (every third of the lease) finds the job and stops the pass.
      await realSleep(LEASE_MS / 2);
      release();
      const outcome = await running;
      expect(outcome).toMatchObject({ clusterId, full: true, state: 'stopped' });
      expect(outcome.error).toMatch(/a job on the cluster goes first/);
    } finally {
      holdApply = undefined;
      release();
    }
    expect(await findReconcileStatus({ db: store.db, clusterId })).toMatchObject({ syncedAt: null });
    expect((await listJobs({ db: store.db, clusterId })).find((j) => j.id === 'job-upgrade')?.state).toBe(
      'queued',
    );
    expect((await findProvisionedCluster({ db: store.db, ref: clusterId }))?.status).toBe('ready');
    await store.db.updateTable('jobs').set({ state: 'succeeded' }).where('id', '=', 'job-upgrade').execute();
    worker = startWorker();
    await nextFullPass();
    expect(await findReconcileStatus({ db: store.db, clusterId })).toMatchObject({ error: null });
  }, 120_000);

  it('records a failing API per service without touching the cluster state, and the next pass recovers', async () => {
    const deployment = await ingressDeployment();
    failApply = (kind, name) => kind === 'Deployment' && name === deployment.name;
    try {
      await nextFullPass();
      const failed = (await listAddonStatus({ db: store.db, clusterId })).find((s) => s.addon === 'ingress');
      expect(failed).toMatchObject({
        state: 'failed',
        message: expect.stringContaining('injected API failure'),
      });
      expect(await findReconcileStatus({ db: store.db, clusterId })).toMatchObject({
        error: expect.stringContaining('injected API failure'),
      });
      expect((await findProvisionedCluster({ db: store.db, ref: clusterId }))?.status).toBe('ready');
      expect((await listJobs({ db: store.db, clusterId })).map((j) => j.state)).toEqual([
        'succeeded',
        'succeeded',
      ]);
      // Logged too, naming the cluster and the failure; no key material in any line.
      const failures = logged.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(failures).toContainEqual(
        expect.objectContaining({
          msg: 'reconcile failed',
          clusterId,
          error: expect.stringContaining('injected API failure'),
        }),
      );
      expect(logged.join('\n')).not.toMatch(/PRIVATE KEY/);
    } finally {
      failApply = undefined;
    }
    await nextFullPass();
    expect(await findReconcileStatus({ db: store.db, clusterId })).toMatchObject({ error: null });
    expect((await listAddonStatus({ db: store.db, clusterId })).every((s) => s.state === 'ready')).toBe(true);
  }, 120_000);

  it('takes over from a replica SIGKILLed mid-pass once its lease expires, and converges', async () => {
    await worker?.stop(10_000);
    worker = undefined;
    // Work for the pass: the ingress Deployment to re-create and wait for.
    const deployment = await ingressDeployment();
    await lab.kubectl(['delete', 'deployment', deployment.name, `--namespace=${deployment.namespace}`]);
    const child = spawn(process.execPath, ['--import', 'tsx', REPLICA], {
      env: {
        ...process.env,
        KAAS_DATABASE_URL: databaseUrl,
        KAAS_TEST_SECRET_KEY: TEST_SECRET_KEY.toString('base64'),
        KAAS_TEST_LEASE_MS: String(LEASE_MS),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      // Killed while the ingress is being applied: after its union was recorded, before it is ready.
      await within(60_000, 'the replica applying the ingress', async () => {
        const s = (await listAddonStatus({ db: store.db, clusterId })).find((x) => x.addon === 'ingress');
        return s?.state === 'applying';
      });
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    expect(out).toContain(`claimed ${clusterId}`);
    expect(out).not.toContain('"state"');
    const held = await store.db
      .selectFrom('cluster_reconcile')
      .select(['lease_owner', 'lease_expires_at'])
      .where('cluster_id', '=', clusterId)
      .executeTakeFirstOrThrow();
    expect(held.lease_owner).not.toBeNull();
    worker = startWorker();
    await realSleep(LEASE_MS / 3);
    // The dead replica's lease still holds: nobody else touches the cluster yet.
    expect(
      (await listAddonStatus({ db: store.db, clusterId })).find((x) => x.addon === 'ingress')?.state,
    ).toBe('applying');
    await within(LEASE_MS + 60_000, 'the ingress converged by another replica', async () => {
      const s = (await listAddonStatus({ db: store.db, clusterId })).find((x) => x.addon === 'ingress');
      return s?.state === 'ready';
    });
    expect(await exists('deployment', deployment.name, deployment.namespace)).toBe(true);
    expect(await findReconcileStatus({ db: store.db, clusterId })).toMatchObject({ error: null });
    expect((await listAddonStatus({ db: store.db, clusterId })).every((s) => s.state === 'ready')).toBe(true);
    expect((await findProvisionedCluster({ db: store.db, ref: clusterId }))?.status).toBe('ready');
  }, 180_000);

  it('never removes a running service whose operator Secret was deleted: it is reported failed instead', async () => {
    const deployment = await ingressDeployment();
    await lab.kubectl(['delete', 'secret', WILDCARD_TLS_SECRET, '--namespace=kaas-system']);
    await nextFullPass();
    const ingress = (await listAddonStatus({ db: store.db, clusterId })).find((s) => s.addon === 'ingress');
    expect(ingress).toMatchObject({
      state: 'failed',
      message: expect.stringContaining(`kaas-system/${WILDCARD_TLS_SECRET}`),
    });
    expect(await findReconcileStatus({ db: store.db, clusterId })).toMatchObject({
      error: expect.stringContaining('not re-applied, so as not to remove ingress'),
    });
    expect(await exists('deployment', deployment.name, deployment.namespace)).toBe(true);
    await createWildcardTls(lab);
    await nextFullPass();
    expect(await findReconcileStatus({ db: store.db, clusterId })).toMatchObject({ error: null });
    expect((await listAddonStatus({ db: store.db, clusterId })).every((s) => s.state === 'ready')).toBe(true);
  }, 120_000);
});
