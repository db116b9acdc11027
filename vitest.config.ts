import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

/**
 * Test files that must not run beside another file: they share state of the real OpenStack lab
 * (a Keystone role they create and delete, "the smallest flavor" or "the first external network"
 * another file owns, Nova's instance quota, a Keystone domain a sync may be listing), build
 * web/dist in the repo, boot nodelab's real nodes on the host (which must be clean between two of
 * them), or hold leases and latency limits that two files' CPU load on 2 cores would break.
 * They run one at a time, after the others.
 */
const SERIAL = [
  // the lab's shared state
  'test/auth/keystone.test.ts',
  'test/conformance/gophercloud.test.ts',
  'test/conformance/openstack-cli.test.ts',
  'test/contract/compute.test.ts',
  'test/contract/keystone.test.ts',
  'test/contract/scope.test.ts',
  'test/e2e/panel.test.ts',
  'test/kubelab/cloudcontroller.test.ts',
  'test/kubelab/nodes.test.ts',
  'test/provisioner/cleandelete.test.ts',
  'test/provisioner/lab.test.ts',
  'test/provisioner/labmasters.test.ts',
  'test/provisioner/tenancy.test.ts',
  // web/dist
  'test/build/pack.test.ts',
  'test/e2e/panel-clusters.test.ts',
  'test/e2e/panel-kube.test.ts',
  // nodelab
  'test/nodelab/lb.test.ts',
  'test/nodelab/lifecycle.test.ts',
  'test/nodelab/master.test.ts',
  'test/nodelab/upgrade.test.ts',
  'test/nodelab/watch.test.ts',
  // timing
  'src/cli/worker.test.ts',
  'src/provisioner/engine.test.ts',
  'src/provisioner/lease.test.ts',
  'src/server/connections.test.ts',
  'src/server/routes/health.test.ts',
  'test/ha/failover.test.ts',
  'test/ha/serve.test.ts',
  'test/kubelab/autoscale.test.ts',
  'test/kubelab/heal.test.ts',
  'test/kubelab/healmasters.test.ts',
  'test/kubelab/reconcile.test.ts',
  'test/kubelab/tokenreview.test.ts',
  'test/provisioner/etcdroute.test.ts',
  'test/provisioner/masters.test.ts',
  'test/provisioner/readiness.test.ts',
  'test/provisioner/upgrade.test.ts',
];

// A renamed or moved file would otherwise drop out of the list and run beside the others unnoticed.
const missing = SERIAL.filter((file) => !existsSync(new URL(file, import.meta.url)));
if (missing.length > 0) throw new Error(`vitest.config.ts: SERIAL names no such file: ${missing.join(', ')}`);

/** Options of both groups (a project does not inherit the root's, whose globalSetup runs once). */
const common = { testTimeout: 30_000, hookTimeout: 120_000, pool: 'forks' } as const;

export default defineConfig({
  test: {
    globalSetup: ['test/setup/build.ts', 'test/setup/global.ts'],
    projects: [
      {
        test: {
          ...common,
          name: 'parallel',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['node_modules/**', ...SERIAL],
          // vitest's default on 2 cores is one: most of these files wait on real services.
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      { test: { ...common, name: 'serial', include: SERIAL, maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
