/**
 * Release and rollout fixtures the suites and the benchmarks share (no test-runner imports, so
 * bench/ can use them): stand-in release tarballs behind a mirror, and queueing a worker rollout.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tagsFor } from '../../src/cluster/names.ts';
import { planWorkerRollout } from '../../src/cluster/plan.ts';
import { validateUpgrade } from '../../src/cluster/validate.ts';
import type { ClusterSpec } from '../../src/cluster/spec.ts';
import type { Cloud } from '../../src/openstack/index.ts';
import { groupIndexes, type ProvisionerDeps } from '../../src/provisioner/provisioner.ts';
import type { Store } from '../../src/store/db.ts';
import { findProvisionedCluster } from '../../src/store/findProvisionedCluster.ts';
import { insertJob } from '../../src/store/insertJob.ts';
import { KUBERNETES_RELEASES, type KubernetesRelease } from '../../src/versions/index.ts';

/** A release mirror directory with stand-in tarballs, and the catalogue that vouches for them. */
export interface TestReleaseMirror {
  /** Laid out like dl.k8s.io/release: `v<patch>/kubernetes-server-linux-amd64.tar.gz`. */
  dir: string;
  /** The version catalogue with each release's digest replaced by its stand-in's SHA-256. */
  catalogue: KubernetesRelease[];
  /** A cache directory of the suite's own. */
  cacheDir: string;
  /** `catalogue` as JSON, for replicas in child processes (test/ha/replica.ts). */
  catalogueFile: string;
}

let mirror: TestReleaseMirror | undefined;

/**
 * One mirror per test process: a small stand-in for every catalogue release's
 * kubernetes-server-linux-amd64.tar.gz (real tarballs are hundreds of MB and offline here), with a
 * catalogue whose digests are those of the stand-ins, so the provisioner's download, digest check
 * and staging run unchanged against them.
 */
export function testReleaseMirror(): TestReleaseMirror {
  if (mirror) return mirror;
  const root = mkdtempSync(join(tmpdir(), 'kaas-mirror-'));
  const dir = join(root, 'release');
  const catalogue = KUBERNETES_RELEASES.map((release) => {
    const bytes = randomBytes(64 * 1024);
    mkdirSync(join(dir, `v${release.patch}`), { recursive: true });
    writeFileSync(join(dir, `v${release.patch}`, 'kubernetes-server-linux-amd64.tar.gz'), bytes);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    return { ...release, artifact: { url: release.artifact.url, sha256 } };
  });
  mirror = { dir, catalogue, cacheDir: join(root, 'cache'), catalogueFile: join(root, 'catalogue.json') };
  writeFileSync(mirror.catalogueFile, JSON.stringify(catalogue));
  return mirror;
}

/** Provisioner deps that fetch releases from {@link testReleaseMirror}. */
export function testReleaseDeps(): Pick<
  ProvisionerDeps,
  'releaseMirror' | 'releaseCacheDir' | 'releaseCatalogue'
> {
  const m = testReleaseMirror();
  return { releaseMirror: m.dir, releaseCacheDir: m.cacheDir, releaseCatalogue: m.catalogue };
}

/**
 * Queues the worker half of an upgrade to `to` (planWorkerRollout, from the cluster's servers now)
 * as an upgrade job. upgradeCluster replaces the masters first and refuses clusters without an API
 * load balancer; the worker suite and the rollout benchmark measure the workers' part alone, on
 * single-master clusters.
 */
export async function queueWorkerRollout(input: {
  store: Store;
  cloud: Cloud;
  clusterId: string;
  to: string;
}): Promise<{ id: string; stepIds: string[] }> {
  const record = await findProvisionedCluster({ db: input.store.db, ref: input.clusterId });
  if (!record) throw new Error(`no cluster ${input.clusterId}`);
  const servers = await input.cloud.nova.listServers({ tags: tagsFor(input.clusterId) });
  const spec = record.spec as ClusterSpec;
  const target = { ...spec, kubernetesVersion: validateUpgrade(spec.kubernetesVersion, input.to).to };
  const plan = { spec: target, steps: planWorkerRollout(target, input.clusterId, groupIndexes(servers)) };
  const id = `job-${randomBytes(8).toString('hex')}`;
  const stepIds = plan.steps.map((s) => s.id);
  await insertJob({
    db: input.store.db,
    job: {
      id,
      clusterId: input.clusterId,
      kind: 'upgrade',
      input: { steps: plan.steps, spec: plan.spec },
      stepIds,
      createdAt: new Date().toISOString(),
    },
  });
  return { id, stepIds };
}
