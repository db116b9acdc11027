import { afterEach, describe, expect, it } from 'vitest';
import { createKubeClient } from '../../src/provisioner/kubeclient.ts';
import { startFakeKube, type FakeKube } from './fakekube.ts';
import { cloudsimSuite, testProvisioner, testSpec } from './support.ts';

const suite = cloudsimSuite();
let kube: FakeKube | undefined;
afterEach(async () => {
  await kube?.close();
  kube = undefined;
});

/** A provisioner whose kube client talks to `url` (the fake API) with the cluster's real credentials. */
async function provisioner(url: string, drainTimeoutMs = 5_000) {
  return testProvisioner(await suite.store(), suite.cloud, suite.webhook, {
    kubeClient: (access) => createKubeClient({ ...access, server: url }),
    drainTimeoutMs,
  });
}

type TestProvisioner = Awaited<ReturnType<typeof provisioner>>;

/** Creates `name` with 2 workers, then resizes it to 1 (removing kaas-<name>-default-1); the resize job. */
async function createThenShrink(p: TestProvisioner, name: string) {
  await p.createCluster(testSpec(name, 2), { releaseSource: suite.release, waitForApi: false });
  await p.runUntilIdle();
  const job = await p.resizeCluster(name, 'default', 1);
  await p.runUntilIdle();
  return job;
}

describe('resize down drains first', () => {
  it('cordons, evicts (retrying PDB refusals, leaving DaemonSet pods), then deletes server and node', async () => {
    const name = 'dr1';
    const node = `kaas-${name}-default-1`;
    kube = await startFakeKube([
      { namespace: 'web', name: 'app-1', node },
      { namespace: 'web', name: 'app-2', node, refusals: 2 },
      { namespace: 'kube-system', name: 'flannel-x', node, daemonSet: true },
      { namespace: 'web', name: 'other', node: `kaas-${name}-default-0` },
    ]);
    const p = await provisioner(kube.url);
    const job = await createThenShrink(p, name);
    const view = await p.getJob(job.id);
    expect(view.job.state).toBe('succeeded');
    const calls = kube.calls.filter((c) => !c.startsWith('GET /healthz'));
    expect(calls[0]).toBe(`PATCH /api/v1/nodes/${node} {"spec":{"unschedulable":true}}`);
    const evictions = calls.filter((c) => c.startsWith('POST')).map((c) => c.split(' ')[1]);
    expect(evictions).toEqual([
      '/api/v1/namespaces/web/pods/app-1/eviction',
      '/api/v1/namespaces/web/pods/app-2/eviction',
      '/api/v1/namespaces/web/pods/app-2/eviction',
      '/api/v1/namespaces/web/pods/app-2/eviction',
    ]);
    expect(calls.at(-1)).toBe(`DELETE /api/v1/nodes/${node}`);
    expect(kube.pods.map((pod) => pod.name).sort()).toEqual(['flannel-x', 'other']);
    expect(view.events.some((e) => e.level === 'warn' && e.message.includes('web/app-2'))).toBe(true);
    expect(view.steps.find((st) => st.stepId === `drain:${node}`)?.output).toEqual({
      drained: true,
      evicted: ['web/app-1', 'web/app-2'],
    });
    expect((await suite.cloud.nova.listServers({ name: `^${node}$` })).length).toBe(0);
    await p.deleteCluster(name);
    await p.runUntilIdle();
  });

  it('fails clearly when a PodDisruptionBudget never allows the eviction, keeps the server, and retries', async () => {
    const name = 'dr2';
    const node = `kaas-${name}-default-1`;
    kube = await startFakeKube([{ namespace: 'db', name: 'primary', node, refusals: Infinity }]);
    const p = await provisioner(kube.url, 300);
    const job = await createThenShrink(p, name);
    const failed = await p.getJob(job.id);
    expect(failed.job.state).toBe('failed');
    expect(failed.job.error).toMatchObject({
      stepId: `drain:${node}`,
      code: 'drain_timeout',
      message: expect.stringMatching(/PodDisruptionBudget keeps refusing the eviction of db\/primary/),
    });
    expect((await suite.cloud.nova.listServers({ name: `^${node}$` })).length).toBe(1);
    expect((await p.getCluster(name)).status).toBe('failed');

    (kube.pods[0] as { refusals: number }).refusals = 0;
    await p.retryJob(job.id);
    await p.runUntilIdle();
    expect((await p.getJob(job.id)).job.state).toBe('succeeded');
    expect((await suite.cloud.nova.listServers({ name: `^${node}$` })).length).toBe(0);
    await p.deleteCluster(name);
    await p.runUntilIdle();
  });

  it('skips the drain with a warning when the cluster API is unreachable', async () => {
    const name = 'dr3';
    const node = `kaas-${name}-default-1`;
    kube = await startFakeKube([{ namespace: 'web', name: 'app', node }]);
    kube.healthy = false;
    const p = await provisioner(kube.url);
    const job = await createThenShrink(p, name);
    const view = await p.getJob(job.id);
    expect(view.job.state).toBe('succeeded');
    expect(view.events).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: `cluster API unreachable: ${node} removed without draining`,
      }),
    );
    expect(kube.calls.filter((c) => !c.startsWith('GET /healthz'))).toEqual([]);
    await p.deleteCluster(name);
    await p.runUntilIdle();
  });

  it('fails the drain step with the Kubernetes API status when cordoning fails', async () => {
    const name = 'dr4';
    kube = await startFakeKube([]);
    kube.cordonStatus = 500;
    const p = await provisioner(kube.url);
    const job = await createThenShrink(p, name);
    expect((await p.getJob(job.id)).job.error).toMatchObject({
      code: 'kube_api_error',
      message: expect.stringMatching(/cordon of kaas-dr4-default-1 answered 500: .*request timed out/),
    });
    await p.deleteCluster(name);
    await p.runUntilIdle();
  });
});

describe('resize up renews the join token', () => {
  it('registers the token on first growth and extends it on the next', async () => {
    kube = await startFakeKube([]);
    const p = await provisioner(kube.url);
    await p.createCluster(testSpec('jt1', 1), { releaseSource: suite.release, waitForApi: false });
    await p.runUntilIdle();
    const first = await p.resizeCluster('jt1', 'default', 2);
    await p.runUntilIdle();
    const second = await p.resizeCluster('jt1', 'default', 3);
    await p.runUntilIdle();
    const renewed = async (jobId: string) =>
      (await p.getJob(jobId)).steps.find((st) => st.stepId === 'join-token')?.output as { renewed: string };
    expect((await renewed(first.id)).renewed).toBe('created');
    expect((await renewed(second.id)).renewed).toBe('extended');
    expect([...kube.secrets]).toEqual([expect.stringMatching(/^bootstrap-token-[a-z0-9]{6}$/)]);
    const post = kube.calls.find((c) => c.startsWith('POST /api/v1/namespaces/kube-system/secrets'));
    expect(post).toContain('"type":"bootstrap.kubernetes.io/token"');
    kube.healthy = false;
    const third = await p.resizeCluster('jt1', 'default', 4);
    await p.runUntilIdle();
    expect((await p.getJob(third.id)).events).toContainEqual(
      expect.objectContaining({ level: 'warn', message: expect.stringContaining('join token not renewed') }),
    );
    await p.deleteCluster('jt1');
    await p.runUntilIdle();
  });
});
