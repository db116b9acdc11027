/**
 * The provisioner's Kubernetes-facing steps (src/provisioner/steps/kube.ts: each job's join token,
 * drain, Node removal) against kubelab — a real kube-apiserver, controller-manager (disruption,
 * bootstrapsigner, tokencleaner), scheduler and kwok — configured from the cluster's own material,
 * with a Node for each server the provisioner booted on cloudsim.
 */
import { createHmac } from 'node:crypto';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubeClient } from '../../src/provisioner/kubeclient.ts';
import { jobJoinToken } from '../../src/provisioner/material.ts';
import type { Provisioner } from '../../src/provisioner/provisioner.ts';
import { getNode } from '../kubelab/nodes.ts';
import { provisionOnKubelab, type ClusterLab } from './clusterlab.ts';
import { cloudsimSuite, testProvisioner, testSpec } from './support.ts';
import { webBehindBudget } from '../kubelab/workloads.ts';

const suite = cloudsimSuite();
const NAME = 'kl';
const node = (i: number) => `kaas-${NAME}-default-${i}`;
let c: ClusterLab;

beforeAll(async () => {
  // Only kaas removes Node objects here (no cloud controller manager), so its removal shows.
  c = await provisionOnKubelab(suite, { name: NAME, workers: 2, removeNodes: false });
}, 120_000);

afterAll(async () => {
  await c?.stop();
});

interface Obj {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
  spec?: Record<string, unknown> & { nodeName?: string };
  status?: Record<string, unknown>;
  type?: string;
  data?: Record<string, string>;
}

async function get(path: string): Promise<Obj | undefined> {
  const { status, body } = await c.lab.request('GET', path);
  if (status === 404) return undefined;
  if (status !== 200) throw new Error(`GET ${path} answered ${status}: ${JSON.stringify(body)}`);
  return body as Obj;
}

async function list(path: string): Promise<Obj[]> {
  const { status, body } = await c.lab.request('GET', path);
  if (status !== 200) throw new Error(`GET ${path} answered ${status}: ${JSON.stringify(body)}`);
  return (body as { items: Obj[] }).items;
}

const decoded = (data: Record<string, string> = {}) =>
  Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));

/** Runs a job to its end; returns its view. */
async function run(p: Provisioner, queued: Promise<{ id: string }>) {
  const job = await queued;
  await p.runUntilIdle();
  return p.getJob(job.id);
}

const stepOutput = (view: Awaited<ReturnType<Provisioner['getJob']>>, stepId: string) =>
  view.steps.find((s) => s.stepId === stepId)?.output as Record<string, unknown> | undefined;

const serversNamed = async (name: string) => suite.cloud.nova.listServers({ name: `^${name}$` });

const tokenSecretPath = (token: string) =>
  `/api/v1/namespaces/kube-system/secrets/bootstrap-token-${token.split('.')[0]}`;

/** Who the API says a bearer token is (SelfSubjectReview); undefined when it does not authenticate. */
async function whoIs(token: string): Promise<{ username: string; groups: string[] } | undefined> {
  const agent = new Agent({ connect: { ca: c.lab.caPem } });
  try {
    const res = await fetch(`${c.lab.url}/apis/authentication.k8s.io/v1/selfsubjectreviews`, {
      method: 'POST',
      dispatcher: agent,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }),
    });
    const body = (await res.json()) as { status?: { userInfo: { username: string; groups: string[] } } };
    if (res.status === 401) return undefined;
    if (res.status !== 201) throw new Error(`SelfSubjectReview answered ${res.status}`);
    return body.status?.userInfo;
  } finally {
    await agent.close();
  }
}

/** kube-public/cluster-info's kubeconfig and its detached JWS for token `id` (bootstrapsigner's). */
async function clusterInfoSignature(id: string): Promise<{ kubeconfig: string; jws?: string }> {
  const cm = await get('/api/v1/namespaces/kube-public/configmaps/cluster-info');
  return { kubeconfig: cm?.data?.['kubeconfig'] ?? '', jws: cm?.data?.[`jws-kubeconfig-${id}`] };
}

/**
 * The token works as kubeadm join uses it: the real bootstrapsigner signed cluster-info with it
 * (HS256 keyed by the token secret, what `kubeadm join` verifies) and it authenticates as
 * `system:bootstrap:<id>` in kubeadm's node bootstrappers group.
 */
async function expectWorkingToken(token: string): Promise<void> {
  const [id = '', secret = ''] = token.split('.');
  await c.lab.waitFor(`cluster-info signed for ${id}`, async () => !!(await clusterInfoSignature(id)).jws);
  const { kubeconfig, jws = '' } = await clusterInfoSignature(id);
  const [header = '', payload, signature] = jws.split('.');
  expect(payload).toBe('');
  expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toMatchObject({ alg: 'HS256', kid: id });
  const expected = createHmac('sha256', secret)
    .update(`${header}.${Buffer.from(kubeconfig).toString('base64url')}`)
    .digest('base64url');
  expect(signature).toBe(expected);
  expect(await whoIs(token)).toEqual({
    username: `system:bootstrap:${id}`,
    groups: expect.arrayContaining([
      'system:bootstrappers',
      'system:bootstrappers:kubeadm:default-node-token',
    ]),
  });
}

/** The token stops authenticating: kube-apiserver caches successful token authentications for 10 s. */
async function expectRejected(token: string): Promise<void> {
  await c.lab.waitFor('the token rejected', async () => (await whoIs(token)) === undefined, 20_000);
}

describe('a job that adds nodes registers its own join token on the real API', () => {
  it("creates this job's token, as kubeadm writes one, for the step's lifetime; the create-time token is left to expire", async () => {
    const kubeadmSecret = (await get(tokenSecretPath(c.token))) as Obj;
    expect(kubeadmSecret.type).toBe('bootstrap.kubernetes.io/token');
    const createTime = decoded(kubeadmSecret.data);
    expect(`${createTime['token-id']}.${createTime['token-secret']}`).toBe(c.token);

    const p = c.provisioner();
    const view = await run(p, p.resizeCluster(NAME, 'default', 3));
    expect(view.job.state, JSON.stringify(view.job.error)).toBe('succeeded');
    const out = stepOutput(view, 'join-token') as { renewed: string; expiresAt: string };
    expect(out.renewed).toBe('created');
    const token = jobJoinToken({ ca: c.master0.clusterCa! }, view.job.id);
    expect(token).not.toBe(c.token);
    const [id, secret] = token.split('.');
    const registered = (await get(tokenSecretPath(token))) as Obj;
    expect(registered.type).toBe(kubeadmSecret.type);
    expect(decoded(registered.data)).toEqual({
      ...createTime,
      'token-id': id,
      'token-secret': secret,
      expiration: out.expiresAt,
    });
    await expectWorkingToken(token);
    // Not extended: it lapses 24 h after create, as kubeadm init set it.
    expect(decoded((await get(tokenSecretPath(c.token)))?.data)).toEqual(createTime);
    // The next job has a token of its own.
    const next = await run(p, p.resizeCluster(NAME, 'default', 4));
    expect(next.job.state, JSON.stringify(next.job.error)).toBe('succeeded');
    const nextToken = jobJoinToken({ ca: c.master0.clusterCa! }, next.job.id);
    expect(nextToken.split('.')[0]).not.toBe(id);
    await expectWorkingToken(nextToken);
  });
});

/** Applies manifests as the lab's admin. */
const apply = (yaml: string) => c.lab.kubectl(['apply', '-f', '-'], { input: yaml });

const podsOn = async (nodeName: string, selector: string) =>
  (await list(`/api/v1/namespaces/default/pods?labelSelector=${encodeURIComponent(selector)}`)).filter(
    (p) => p.spec?.nodeName === nodeName,
  );

const running = (pods: Obj[]) =>
  pods.filter((p) => p.status?.['phase'] === 'Running' && !p.metadata.deletionTimestamp);

const WORKLOADS = `${webBehindBudget(2, 2)}---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: default}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: registry.invalid/agent:1}]}
`;

/** A static pod's mirror on `nodeName`, as its kubelet would create it (owned by the Node). */
async function staticPodOn(nodeName: string): Promise<Obj> {
  const owner = (await getNode(c.lab, nodeName))?.metadata;
  const { status, body } = await c.lab.request('POST', '/api/v1/namespaces/kube-system/pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `static-${nodeName}`,
      namespace: 'kube-system',
      annotations: { 'kubernetes.io/config.mirror': 'kubelab', 'kubernetes.io/config.source': 'file' },
      ownerReferences: [
        { apiVersion: 'v1', kind: 'Node', name: nodeName, uid: owner?.uid, controller: true },
      ],
    },
    spec: { nodeName, containers: [{ name: 'static', image: 'registry.invalid/static:1' }] },
  });
  if (status !== 201) throw new Error(`creating the static pod answered ${status}: ${JSON.stringify(body)}`);
  return body as Obj;
}

/** The pod at `path` is still `pod` (same uid) and not terminating. */
async function expectUntouched(path: string, pod: Obj | undefined): Promise<void> {
  const now = await get(path);
  expect(now?.metadata.uid).toBe(pod?.metadata.uid);
  expect(now?.metadata.deletionTimestamp).toBeUndefined();
}

describe('resize down drains on the real API', () => {
  it('cordons and stops at drain_timeout while a PodDisruptionBudget refuses, keeping the server; the retry evicts once the budget allows, leaving DaemonSet pods, then removes server and Node', async () => {
    const target = node(3);
    const others = [0, 1, 2].map(node);
    // The web pods must run on the node being drained: the others are cordoned while they start.
    for (const n of others) await c.lab.kubectl(['cordon', n]);
    await apply(WORKLOADS);
    await c.lab.waitFor(
      'web on the target, agent on every worker, the budget computed',
      async () => {
        const pdb = await get('/apis/policy/v1/namespaces/default/poddisruptionbudgets/web');
        const agents = running(
          await list(`/api/v1/namespaces/default/pods?labelSelector=${encodeURIComponent('app=agent')}`),
        );
        return (
          running(await podsOn(target, 'app=web')).length === 2 &&
          agents.length === 4 &&
          pdb?.status?.['currentHealthy'] === 2 &&
          pdb.status['disruptionsAllowed'] === 0
        );
      },
      60_000,
    );
    for (const n of others) await c.lab.kubectl(['uncordon', n]);
    const web = (await podsOn(target, 'app=web')).map((p) => `default/${p.metadata.name}`).sort();
    const [agent] = await podsOn(target, 'app=agent');
    const mirror = await staticPodOn(target);

    const p = c.provisioner({ drainTimeoutMs: 1_500 });
    const queued = await p.resizeCluster(NAME, 'default', 3);
    await p.runUntilIdle();
    const failed = await p.getJob(queued.id);
    expect(failed.job.state).toBe('failed');
    expect(failed.job.error).toMatchObject({
      stepId: `drain:${target}`,
      code: 'drain_timeout',
      message: expect.stringContaining(
        `a PodDisruptionBudget keeps refusing the eviction of ${web.join(', ')}`,
      ),
    });
    expect((await getNode(c.lab, target))?.spec?.unschedulable).toBe(true);
    expect(await serversNamed(target)).toHaveLength(1);
    expect((await p.getCluster(NAME)).status).toBe('failed');
    expect(running(await podsOn(target, 'app=web'))).toHaveLength(2);
    const cordoned = failed.events.findIndex((e) => e.message === `cordoned ${target}`);
    const refused = failed.events.findIndex((e) => e.message.startsWith('eviction refused'));
    expect(cordoned).toBeGreaterThanOrEqual(0);
    expect(refused).toBeGreaterThan(cordoned);
    // A whole drain round went by: the DaemonSet's and the static pod are left alone.
    await expectUntouched(`/api/v1/namespaces/default/pods/${agent?.metadata.name}`, agent);
    await expectUntouched(`/api/v1/namespaces/kube-system/pods/${mirror.metadata.name}`, mirror);

    // Relaxing the budget lets one eviction through at a time: the second waits (429) until the
    // disruption controller counts the first one's replacement healthy.
    await c.lab.kubectl(['patch', 'pdb', 'web', '--type=merge', '-p', '{"spec":{"minAvailable":1}}']);
    const retry = c.provisioner({ drainTimeoutMs: 60_000 });
    await retry.retryJob(NAME, queued.id);
    await retry.runUntilIdle();
    const done = await retry.getJob(queued.id);
    expect(done.job.state, JSON.stringify(done.job.error)).toBe('succeeded');
    expect(stepOutput(done, `drain:${target}`)).toEqual({ drained: true, evicted: web });
    expect(done.events).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: expect.stringMatching(/^eviction refused by a PodDisruptionBudget, retrying: default\/web-/),
      }),
    );
    await expectUntouched(`/api/v1/namespaces/default/pods/${agent?.metadata.name}`, agent);
    expect(await serversNamed(target)).toHaveLength(0);
    expect(stepOutput(done, `delete-node:${target}`)).toEqual({ deleted: true });
    expect(await getNode(c.lab, target)).toBeUndefined();
    await c.lab.waitFor('web back to 2 running replicas elsewhere', async () => {
      const pods = running(await list('/api/v1/namespaces/default/pods?labelSelector=app%3Dweb'));
      return pods.length === 2 && pods.every((pod) => pod.spec?.nodeName !== target);
    });
  }, 120_000);

  it('fails with the API status when admission refuses the cordon, keeps the server, and the retry drains', async () => {
    const target = node(2);
    await apply(`
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: maintenance-freeze}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [UPDATE], resources: [nodes]}]
  validations:
    - expression: "!has(object.spec.unschedulable) || !object.spec.unschedulable"
      message: maintenance freeze, nodes may not be cordoned
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: maintenance-freeze}
spec:
  policyName: maintenance-freeze
  validationActions: [Deny]
`);
    // (kubectl cordon --dry-run=server exits 0 even when admission refuses; patch does not.)
    const cordonRefused = async () =>
      c.lab
        .kubectl(['patch', 'node', target, '-p', '{"spec":{"unschedulable":true}}', '--dry-run=server'])
        .then(
          () => false,
          () => true,
        );
    await c.lab.waitFor('the policy in force', cordonRefused);

    const p = c.provisioner();
    const queued = await p.resizeCluster(NAME, 'default', 2);
    await p.runUntilIdle();
    expect((await p.getJob(queued.id)).job.error).toMatchObject({
      stepId: `drain:${target}`,
      code: 'kube_api_error',
      message: expect.stringMatching(
        new RegExp(`cordon of ${target} answered 422: .*maintenance freeze, nodes may not be cordoned`),
      ),
    });
    expect(await serversNamed(target)).toHaveLength(1);
    expect((await getNode(c.lab, target))?.spec?.unschedulable).toBeUndefined();

    await c.lab.kubectl([
      'delete',
      'validatingadmissionpolicybinding,validatingadmissionpolicy',
      'maintenance-freeze',
    ]);
    await c.lab.waitFor('the policy lifted', async () => !(await cordonRefused()));
    await p.retryJob(NAME, queued.id);
    await p.runUntilIdle();
    expect((await p.getJob(queued.id)).job.state).toBe('succeeded');
    expect(await serversNamed(target)).toHaveLength(0);
    expect(await getNode(c.lab, target)).toBeUndefined();
  }, 60_000);
});

describe('an expired join token', () => {
  it('is removed by the real tokencleaner', async () => {
    // A provisioner whose clock is 3 h behind registers its job's token with an expiration already past.
    const p = c.provisioner({ now: () => new Date(Date.now() - 3 * 3600_000) });
    const view = await run(p, p.resizeCluster(NAME, 'default', 3));
    expect(view.job.state, JSON.stringify(view.job.error)).toBe('succeeded');
    expect(stepOutput(view, 'join-token')).toMatchObject({ renewed: 'created' });
    const token = jobJoinToken({ ca: c.master0.clusterCa! }, view.job.id);
    await c.lab.waitFor('tokencleaner', async () => (await get(tokenSecretPath(token))) === undefined);
    await expectRejected(token);
  });
});

describe('cluster API unreachable', () => {
  it('grows without renewing the token and shrinks without draining or removing the Node, with warnings', async () => {
    const p = testProvisioner(await suite.store(), suite.cloud, suite.webhook, {
      // A closed port: nothing answers /healthz.
      kubeClient: (access) => createKubeClient({ ...access, server: 'https://127.0.0.1:1' }),
    });
    await run(
      p,
      p.createCluster(testSpec('un', 1), { waitForApi: false }).then((r) => r.job),
    );
    const grown = await run(p, p.resizeCluster('un', 'default', 2));
    expect(grown.job.state).toBe('succeeded');
    expect(stepOutput(grown, 'join-token')).toMatchObject({ renewed: false });
    expect(grown.events).toContainEqual(
      expect.objectContaining({ level: 'warn', message: expect.stringContaining('join token not renewed') }),
    );
    const shrunk = await run(p, p.resizeCluster('un', 'default', 1));
    expect(shrunk.job.state).toBe('succeeded');
    expect(stepOutput(shrunk, 'drain:kaas-un-default-1')).toEqual({ drained: false });
    expect(stepOutput(shrunk, 'delete-node:kaas-un-default-1')).toEqual({ deleted: false });
    expect(shrunk.events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          level: 'warn',
          message: 'cluster API unreachable: kaas-un-default-1 removed without draining',
        }),
        expect.objectContaining({
          level: 'warn',
          message: 'cluster API unreachable: node object kaas-un-default-1 left for the cluster to expire',
        }),
      ]),
    );
    expect(await serversNamed('kaas-un-default-1')).toHaveLength(0);
    await run(p, p.deleteCluster('un'));
  });
});
