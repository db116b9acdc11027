/**
 * What continuous reconciliation costs one worker: CPU time and memory of the production worker
 * loop keeping N idle clusters (default 200) as declared for one resync period, against the same
 * worker with reconciliation off over the same time, measured in one run. One kubelab API server
 * stands in for every cluster (each cluster has its own record, sealed material and endpoint in the
 * store, all pointing at the lab); its services are in place before the window, so every pass in it
 * is the idle, nothing-changed pass. Only this process is measured (the API server is not).
 *   npm run bench:reconcile [-- --clusters 200 --resync 60]
 * Needs the kubelab binaries (KUBELAB_CACHE), as test/kubelab does.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { renderAddons } from '../src/addons/index.ts';
import { createCa } from '../src/auth/pki.ts';
import { startWorkerLoop, type WorkerLoop } from '../src/cli/worker.ts';
import { createLogger } from '../src/log.ts';
import { createCloud } from '../src/openstack/index.ts';
import { clusterApiFor } from '../src/provisioner/addons/client.ts';
import { kaasBinding } from '../src/provisioner/identity.ts';
import { createProvisioner } from '../src/provisioner/provisioner.ts';
import type { ClaimedPass, Reconciler } from '../src/provisioner/reconcile.ts';
import { addonContext } from '../src/provisioner/steps/addons.ts';
import { openStore } from '../src/store/db.ts';
import { listAddonStatus } from '../src/store/listAddonStatus.ts';
import { migrateToLatest } from '../src/store/migrate.ts';
import { adminConfig } from '../test/support/openstack.ts';
import { breakGlass } from '../test/kubelab/apply-support.ts';
import { startKubelab } from '../src/dev/kube/kubelab.ts';
import { waitForReadyNodes } from '../test/kubelab/nodes.ts';
import { createWildcardTls, labSpec, recordReadyCluster } from '../test/kubelab/readyCluster.ts';
import { labCluster } from '../test/kubelab/support.ts';

const { values } = parseArgs({
  options: {
    clusters: { type: 'string', default: '200' },
    resync: { type: 'string', default: '60' },
  },
});
const clusters = Number(values.clusters);
const resyncMs = Number(values.resync) * 1000;
const logger = createLogger({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

const kaasCa = await createCa({ commonName: 'kaas-bench' });
const cluster = await labCluster({ kaasUrl: 'https://127.0.0.1:1', kaasCaPem: kaasCa.certPem });
const lab = await startKubelab({ master0: cluster.master0 });
const store = openStore('sqlite::memory:');
let worker: WorkerLoop | undefined;
try {
  const nodes = ['kaas-lab-default-0', 'kaas-lab-default-1'];
  for (const n of nodes) await lab.addNode(n);
  await waitForReadyNodes(lab, nodes);
  await clusterApiFor(await breakGlass(lab, cluster.material)).apply(kaasBinding());
  await migrateToLatest(store.db);
  const secretKey = randomBytes(32);
  const cloudConfig = adminConfig('http://127.0.0.1:1/v3');
  const ids: string[] = [];
  for (let i = 0; i < clusters; i++) {
    const id = `b${String(i).padStart(4, '0')}`;
    ids.push(id);
    await recordReadyCluster({
      db: store.db,
      clusterId: id,
      material: cluster.material,
      secretKey,
      apiUrl: lab.url,
    });
  }
  // One API server for all: idle only if every cluster renders the very same objects.
  const cloud = { authUrl: cloudConfig.auth.authUrl, region: 'RegionOne' };
  const render = (id: string) =>
    JSON.stringify(
      renderAddons(addonContext(labSpec(id), id, cloud), ['namespaces', 'rbac', 'networking', 'ingress']).map(
        (a) => a.objects,
      ),
    );
  if (render(ids[0]!) !== render(ids[ids.length - 1]!)) {
    throw new Error('the clusters render different objects: one API server cannot stand in for all of them');
  }
  const provisioner = createProvisioner({
    store,
    logger,
    now: () => new Date(),
    cloud: createCloud({ config: cloudConfig, logger }),
    secretKey,
    addonWait: { readinessMs: 120_000, crdMs: 30_000, pollMs: 500 },
  });

  let passes = 0;
  const counting = (r: Reconciler): Reconciler => ({
    async claimNext() {
      const pass = await r.claimNext();
      if (!pass) return undefined;
      const counted: ClaimedPass = {
        clusterId: pass.clusterId,
        run: async () => {
          const outcome = await pass.run();
          passes += 1;
          if (outcome.state !== 'synced') throw new Error(`pass on ${pass.clusterId}: ${outcome.error}`);
          return outcome;
        },
      };
      return counted;
    },
  });
  const idle = { claimNext: provisioner.engine.claimNext };

  // Warm-up: every cluster synced once (services in place), then the ingress's certificate and a
  // second round, so the window sees only idle passes, each cluster due once.
  const warm = async (what: string) => {
    const reconciler = counting(provisioner.reconciler({ resyncMs: 0 }));
    let left = clusters;
    while (left > 0) {
      const batch: Promise<unknown>[] = [];
      for (let i = 0; i < 4 && left > 0; i++, left--) {
        const pass = await reconciler.claimNext();
        if (!pass) throw new Error(`${what}: only ${clusters - left} clusters were due`);
        batch.push(pass.run());
      }
      await Promise.all(batch);
    }
    process.stderr.write(`${what}: ${clusters} clusters synced\n`);
  };
  await warm('warm-up 1');
  await createWildcardTls(lab);
  await warm('warm-up 2');
  const services = (await listAddonStatus({ db: store.db, clusterId: ids[0]! })).map(
    (s) => `${s.addon}:${s.state}`,
  );

  /** CPU and memory of this process over `ms` with the worker loop running. */
  const measure = async (withReconciler: boolean) => {
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    const cpu0 = process.cpuUsage();
    passes = 0;
    let peakRss = rss0;
    let peakHeap = process.memoryUsage().heapUsed;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
    }, 250);
    worker = startWorkerLoop({
      engine: idle,
      logger,
      idleMs: 1_000,
      ...(withReconciler ? { reconciler: counting(provisioner.reconciler({ resyncMs })) } : {}),
    });
    await sleep(resyncMs);
    await worker.stop(60_000);
    worker = undefined;
    clearInterval(sampler);
    const cpu = process.cpuUsage(cpu0);
    return { cpuMs: (cpu.user + cpu.system) / 1000, peakRss, peakHeap, rss0, passes };
  };
  // The window starts one period after the second round began, so every cluster is due in it.
  const off = await measure(false);
  const on = await measure(true);
  const line = (name: string, m: typeof on) =>
    `${name.padEnd(16)} cpu ${m.cpuMs.toFixed(0).padStart(7)} ms  passes ${String(m.passes).padStart(4)}  ` +
    `peak rss ${mib(m.peakRss)} MiB  peak heap ${mib(m.peakHeap)} MiB`;
  process.stdout.write(
    [
      `bench:reconcile: ${clusters} idle clusters (${services.join(', ')}), one resync period of ${resyncMs / 1000} s, one worker`,
      line('reconcile off', off),
      line('reconcile on', on),
      `cpu on/off: ${(on.cpuMs / Math.max(1, off.cpuMs)).toFixed(1)}x; cpu per idle pass: ${(on.cpuMs / Math.max(1, on.passes)).toFixed(1)} ms; ` +
        `cpu share of one core: ${((100 * on.cpuMs) / resyncMs).toFixed(1)} % (off: ${((100 * off.cpuMs) / resyncMs).toFixed(1)} %)`,
      `extra peak rss: ${mib(on.peakRss - off.peakRss)} MiB`,
      '',
    ].join('\n'),
  );
} finally {
  await worker?.stop(10_000);
  await store.close();
  await lab.stop();
}
