/**
 * cluster-autoscaler's externalgrpc contract on kubelab + cloudsim. The Go module proxy refuses
 * k8s.io/autoscaler/cluster-autoscaler (403 "This module version is not available"), so the
 * autoscaler's side is a grpc-js client generated from the same externalgrpc.proto, holding the
 * client certificate kaas issued the cluster: it lists the autoscaled group, scales it up (servers
 * boot, their Nodes join through the node stand-in), deletes one chosen node (drained, its server
 * and Node gone), and is refused beyond maxSize, below minSize, on another cluster, with a forged
 * certificate and without one. A scale-up killed after each of its steps completes on restart
 * with no server twice. The managed service cluster-autoscaler is installed with its Secret, removed
 * and installed again as an admin turns autoscaling off and on through the bounds (a job of the
 * addons step; a size below them resized into them), and removed by a reconcile pass once kaas no
 * longer serves the provider.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueClientCert, issueServerCert, type KeyPair } from '../../src/auth/pki.ts';
import { tagsFor } from '../../src/cluster/names.ts';
import { AUTOSCALER_ORGANIZATION } from '../../src/provisioner/autoscale.ts';
import type { Provisioner } from '../../src/provisioner/provisioner.ts';
import {
  EXTERNALGRPC_SERVICE,
  startExternalGrpc,
  type ExternalGrpcServer,
} from '../../src/server/externalgrpc/server.ts';
import { externalGrpcClient, type Call } from '../support/externalgrpc.ts';
import { listAddonStatus } from '../../src/store/listAddonStatus.ts';
import { listAuditEvents } from '../../src/store/listAuditEvents.ts';
import { listClusterCaCerts } from '../../src/store/listClusterCaCerts.ts';
import { listJobs } from '../../src/store/listJobs.ts';
import { probeApi } from '../../src/cli/provisioner.ts';
import * as clusterlab from '../provisioner/clusterlab.ts';
import { cloudsimSuite, logger, testSpec } from '../provisioner/support.ts';
import { defaultPatch } from '../../src/dev/kube/binaries.ts';
import { getNode, waitForReadyNodes } from './nodes.ts';

const suite = cloudsimSuite();
const NAME = 'scale';
const worker = (i: number) => `kaas-${NAME}-default-${i}`;
let c: clusterlab.ClusterLab;
let p: Provisioner;
let server: ExternalGrpcServer;
let serverCa: KeyPair;
let other: string;

/** A client of kaas's externalgrpc server generated from the proto, presenting `cert` (none: no client certificate). */
const client = (cert: KeyPair | undefined) => externalGrpcClient(server.port, serverCa.certPem, cert);

let autoscaler: ReturnType<typeof client>;
const call: Call = (method, request) => autoscaler.call(method, request);
const group = () => `${c.clusterId}/default`;
const servers = async () =>
  (await suite.cloud.nova.listServers({ tags: tagsFor(c.clusterId) }))
    .filter((s) => s.metadata['kaas-group'] === 'default')
    .sort((a, b) => a.name.localeCompare(b.name));
const jobs = () => listJobs({ db: c.store.db, clusterId: c.clusterId });
const refusal = (code: grpc.status, details: RegExp | string) =>
  expect.objectContaining({
    code,
    details: typeof details === 'string' ? expect.stringContaining(details) : expect.stringMatching(details),
  });

/** A kaas serving the provider (unless `serving` is false) that reaches the lab's API as the cluster's. */
function reachingApi(serving = true): Provisioner {
  return c.provisioner({
    ...clusterlab.labApiDeps(c),
    drainTimeoutMs: 5_000,
    ...(serving
      ? { autoscaler: { address: `kaas.example.com:${server.port}`, caPem: suite.webhook.caPem! } }
      : {}),
    addonWait: { readinessMs: 60_000 },
    // The cluster's API is the lab's, whatever address create recorded.
    fetchApi: (url, signal, caPem) => probeApi(url.replace(/^https:\/\/[^/]+/, c.lab.url), signal, caPem),
  });
}

const DEPLOYMENT = 'deployment cluster-autoscaler --namespace=kube-system';
const get = async (path: string) =>
  JSON.parse(await c.lab.kubectl(['get', '--output=json', ...path.split(' ')]));
/** Whether the lab has the object `path` names (`kubectl get --ignore-not-found` prints nothing for none). */
const has = async (path: string) =>
  (await c.lab.kubectl(['get', '--ignore-not-found', '--output=name', ...path.split(' ')])).trim() !== '';
const services = async () =>
  (await listAddonStatus({ db: c.store.db, clusterId: c.clusterId })).map((s) => s.addon);

beforeAll(async () => {
  c = await clusterlab.provisionOnKubelab(suite, {
    name: NAME,
    workers: 1,
    spec: { nodeGroups: [{ name: 'default', count: 1, minSize: 1, maxSize: 3, flavor: 'm1.small' }] },
  });
  p = c.provisioner({ drainTimeoutMs: 5_000 });
  // Another cluster of the same kaas (its API is never reached: no kubelab needed).
  const created = await p.createCluster(
    testSpec('other', 1, {
      kubernetesVersion: defaultPatch(),
      nodeGroups: [{ name: 'default', count: 1, minSize: 0, maxSize: 2, flavor: 'm1.small' }],
    }),
    { waitForApi: false },
  );
  await p.runUntilIdle();
  other = created.cluster.id;
  serverCa = await createCa({ commonName: 'kaas-test-grpc' });
  const identity = await issueServerCert({ ca: serverCa, hosts: ['127.0.0.1'] });
  server = await startExternalGrpc(
    {
      autoscale: p.autoscale,
      clusterCas: () => listClusterCaCerts({ db: c.store.db }),
      identity,
      logger,
    },
    { host: '127.0.0.1', port: 0 },
  );
  autoscaler = client(await p.autoscalerCertificate(c.clusterId));
}, 240_000);

afterAll(async () => {
  autoscaler?.close();
  await server?.close();
  await c?.stop();
});

describe("cluster-autoscaler's externalgrpc provider on a real control plane", () => {
  it('lists the autoscaled group with its bounds, its target and which nodes are its own', async () => {
    expect(await call('NodeGroups', {})).toEqual({
      nodeGroups: [
        expect.objectContaining({
          id: group(),
          minSize: 1,
          maxSize: 3,
          debug: expect.stringContaining('target 1'),
        }),
      ],
    });
    expect(await call('NodeGroupTargetSize', { id: group() })).toEqual({ targetSize: 1 });
    const [first] = await servers();
    expect(await call('NodeGroupForNode', { node: { name: worker(0) } })).toMatchObject({
      nodeGroup: { id: group() },
    });
    expect(
      await call('NodeGroupForNode', {
        node: { name: 'elsewhere', providerID: `openstack:///${first!.id}` },
      }),
    ).toMatchObject({ nodeGroup: { id: group() } });
    expect(await call('NodeGroupForNode', { node: { name: `kaas-${NAME}-master-0` } })).toMatchObject({
      nodeGroup: { id: '' },
    });
    expect(await call('NodeGroupNodes', { id: group() })).toEqual({
      instances: [
        {
          id: `openstack:///${first!.id}`,
          status: {
            instanceState: 'instanceRunning',
            errorInfo: { errorCode: '', errorMessage: '', instanceErrorClass: 0 },
          },
        },
      ],
    });
    expect(await call('GPULabel', {})).toEqual({ label: 'nvidia.com/gpu.present' });
    expect(await call('GetAvailableGPUTypes', {})).toEqual({ gpuTypes: {} });
    expect(await call('Refresh', {})).toEqual({});
    expect(await call('Cleanup', {})).toEqual({});
  });

  it('answers UNIMPLEMENTED for the optional RPCs kaas does not serve', async () => {
    const raw = new grpc.Client(
      `127.0.0.1:${server.port}`,
      grpc.credentials.createSsl(
        Buffer.from(serverCa.certPem),
        Buffer.from((await p.autoscalerCertificate(c.clusterId)).keyPem),
        Buffer.from((await p.autoscalerCertificate(c.clusterId)).certPem),
      ),
    );
    const error = await new Promise<grpc.ServiceError>((resolve) =>
      raw.makeUnaryRequest(
        `/${EXTERNALGRPC_SERVICE}/PricingNodePrice`,
        () => Buffer.alloc(0),
        (b: Buffer) => b,
        {},
        (e) => resolve(e!),
      ),
    );
    raw.close();
    expect(error.code).toBe(grpc.status.UNIMPLEMENTED);
  });

  it('scales up by 2 through a resize job: servers boot, Nodes join Ready, the target grows; beyond maxSize is refused', async () => {
    await call('NodeGroupIncreaseSize', { id: group(), delta: 2 });
    // The target is the queued job's at once; the group is busy until it is done.
    expect(await call('NodeGroupTargetSize', { id: group() })).toEqual({ targetSize: 3 });
    await expect(call('NodeGroupIncreaseSize', { id: group(), delta: 1 })).rejects.toEqual(
      refusal(grpc.status.UNAVAILABLE, /busy with its resize job/),
    );
    const [job] = await jobs();
    expect(job).toMatchObject({ kind: 'resize', state: 'queued' });
    await p.runUntilIdle();
    expect((await p.getJob(job!.id)).job.state).toBe('succeeded');
    expect((await servers()).map((s) => s.name)).toEqual([worker(0), worker(1), worker(2)]);
    await waitForReadyNodes(c.lab, [worker(0), worker(1), worker(2)]);
    expect(await call('NodeGroupTargetSize', { id: group() })).toEqual({ targetSize: 3 });
    expect(((await call('NodeGroupNodes', { id: group() })).instances as unknown[]).length).toBe(3);
    const audit = await listAuditEvents({
      db: c.store.db,
      clusterId: c.clusterId,
      projectId: 'none',
      limit: 10,
    });
    expect(audit).toContainEqual(
      expect.objectContaining({
        actorName: 'cluster-autoscaler',
        action: 'cluster.resize',
        target: 'default',
      }),
    );

    await expect(call('NodeGroupIncreaseSize', { id: group(), delta: 1 })).rejects.toEqual(
      refusal(grpc.status.OUT_OF_RANGE, 'between minSize 1 and maxSize 3: 4 node(s) is outside that range'),
    );
    await expect(call('NodeGroupIncreaseSize', { id: group(), delta: 0 })).rejects.toEqual(
      refusal(grpc.status.INVALID_ARGUMENT, /positive/),
    );
    await expect(call('NodeGroupDecreaseTargetSize', { id: group(), delta: -1 })).rejects.toEqual(
      refusal(grpc.status.FAILED_PRECONDITION, /use DeleteNodes/),
    );
    expect((await jobs()).length).toBe(2);
  }, 180_000);

  it('deletes the node it names (drained, server and Node gone, the group shrinks); below minSize is refused', async () => {
    const [, second] = await servers();
    await call('NodeGroupDeleteNodes', {
      id: group(),
      nodes: [{ name: worker(1), providerID: `openstack:///${second!.id}` }],
    });
    expect(await call('NodeGroupTargetSize', { id: group() })).toEqual({ targetSize: 2 });
    await p.runUntilIdle();
    const [job] = await jobs();
    const view = await p.getJob(job!.id);
    expect(view.job.state, JSON.stringify(view.job.error)).toBe('succeeded');
    expect(view.steps.map((s) => s.stepId)).toEqual([
      `drain:${worker(1)}`,
      `delete-server:${worker(1)}`,
      `delete-node:${worker(1)}`,
      'addons',
    ]);
    expect((await servers()).map((s) => s.name)).toEqual([worker(0), worker(2)]);
    expect(await getNode(c.lab, worker(1))).toBeUndefined();
    expect(await call('NodeGroupTargetSize', { id: group() })).toEqual({ targetSize: 2 });

    await expect(
      call('NodeGroupDeleteNodes', { id: group(), nodes: [{ name: worker(0) }, { name: worker(2) }] }),
    ).rejects.toEqual(refusal(grpc.status.OUT_OF_RANGE, 'minSize 1 and maxSize 3: 0 node(s)'));
    await expect(
      call('NodeGroupDeleteNodes', { id: group(), nodes: [{ name: `kaas-${NAME}-master-0` }] }),
    ).rejects.toEqual(refusal(grpc.status.INVALID_ARGUMENT, /is not a node of group default/));
    expect((await servers()).length).toBe(2);
  }, 120_000);

  it("refuses another cluster's group, a certificate forged by another cluster's CA, and a caller without a certificate", async () => {
    await expect(call('NodeGroupTargetSize', { id: `${other}/default` })).rejects.toEqual(
      refusal(grpc.status.PERMISSION_DENIED, `this certificate is for cluster ${c.clusterId}, not ${other}`),
    );
    await expect(call('NodeGroupIncreaseSize', { id: `${other}/default`, delta: 1 })).rejects.toEqual(
      expect.objectContaining({ code: grpc.status.PERMISSION_DENIED }),
    );
    // The other cluster's own certificate reaches its own group only.
    const theirs = client(await p.autoscalerCertificate(other));
    expect(await theirs.call('NodeGroups', {})).toEqual({
      nodeGroups: [expect.objectContaining({ id: `${other}/default`, minSize: 0, maxSize: 2 })],
    });
    await expect(theirs.call('NodeGroupNodes', { id: group() })).rejects.toEqual(
      expect.objectContaining({ code: grpc.status.PERMISSION_DENIED }),
    );
    theirs.close();
    // Signed by this cluster's CA (on its masters), claiming the other cluster: the TLS handshake
    // passes (a cluster CA), the call does not.
    const forged = client(
      await issueClientCert({
        ca: c.master0.clusterCa!,
        commonName: other,
        organization: AUTOSCALER_ORGANIZATION,
        days: 1,
      }),
    );
    await expect(forged.call('NodeGroups', {})).rejects.toEqual(
      refusal(grpc.status.UNAUTHENTICATED, `cluster ${other}'s CA did not issue it`),
    );
    forged.close();
    // A certificate from a CA that is no cluster's, and none at all: the handshake fails.
    for (const cert of [
      await issueClientCert({
        ca: await createCa({ commonName: 'stranger' }),
        commonName: c.clusterId,
        organization: AUTOSCALER_ORGANIZATION,
        days: 1,
      }),
      undefined,
    ]) {
      const stranger = client(cert);
      await expect(stranger.call('NodeGroups', {})).rejects.toEqual(
        expect.objectContaining({ code: grpc.status.UNAVAILABLE }),
      );
      stranger.close();
    }
  });

  it('finishes a scale-up killed after each of its steps on restart, with no server twice', async () => {
    await call('NodeGroupIncreaseSize', { id: group(), delta: 1 });
    const killed = await clusterlab.killAfterEachStep(c, suite.cloud, {
      maxRuns: 12,
      over: { drainTimeoutMs: 5_000 },
    });
    expect(killed.length).toBeGreaterThanOrEqual(4);
    const [job] = await jobs();
    expect(job).toMatchObject({ kind: 'resize', state: 'succeeded' });
    // The lowest free index is taken once.
    expect((await servers()).map((s) => s.name)).toEqual([worker(0), worker(1), worker(2)]);
    await waitForReadyNodes(c.lab, [worker(0), worker(1), worker(2)]);
    expect(await call('NodeGroupTargetSize', { id: group() })).toEqual({ targetSize: 3 });
  }, 240_000);

  it('installs cluster-autoscaler as a managed service with its cloud-config and client certificate', async () => {
    await clusterlab.waitForApiFromNowOn(c);
    const withApi = reachingApi();
    await withApi.autoscale.deleteNodes(c.clusterId, 'default', [{ name: worker(2), providerID: '' }]);
    await withApi.runUntilIdle();
    const [job] = await jobs();
    const view = await withApi.getJob(job!.id);
    expect(view.job.state, JSON.stringify(view.job.error)).toBe('succeeded');
    expect(view.events.map((e) => e.message)).toContainEqual(
      expect.stringMatching(/^managed services applied: .*cluster-autoscaler/),
    );
    const deployment = await get(DEPLOYMENT);
    expect(deployment.spec.template.spec.containers[0]).toMatchObject({
      image: 'registry.k8s.io/autoscaling/cluster-autoscaler:v1.34.0',
      command: expect.arrayContaining([
        '--cloud-provider=externalgrpc',
        '--cloud-config=/etc/kaas-autoscaler/cloud-config',
      ]),
    });
    const secret = await get('secret cluster-autoscaler-externalgrpc --namespace=kube-system');
    const value = (key: string) => Buffer.from(secret.data[key], 'base64').toString('utf8');
    expect(value('cloud-config')).toContain(`address: "kaas.example.com:${server.port}"`);
    expect(value('ca.crt')).toBe(suite.webhook.caPem);
    expect(value('tls.crt')).toBe((await p.autoscalerCertificate(c.clusterId)).certPem);
    for (const kind of [
      'clusterrole',
      'clusterrolebinding',
      'serviceaccount --namespace=kube-system',
      'role --namespace=kube-system',
    ]) {
      expect(
        (await get(`${kind.split(' ')[0]} cluster-autoscaler ${kind.split(' ')[1] ?? ''}`.trim())).metadata
          .name,
      ).toBe('cluster-autoscaler');
    }
  }, 240_000);

  it('turning autoscaling off and on through the bounds removes and installs cluster-autoscaler by a job; a size below them is resized into them', async () => {
    const withApi = reachingApi();
    expect(await call('NodeGroupTargetSize', { id: group() })).toEqual({ targetSize: 2 });
    const off = await withApi.setSizeBounds(c.clusterId, { minSize: 2, maxSize: 2 });
    if (!('job' in off)) throw new Error('expected a job');
    expect((await withApi.getJob(off.job.id)).steps.map((st) => st.stepId)).toEqual(['addons']);
    await expect(withApi.setSizeBounds(c.clusterId, { maxSize: 3 })).rejects.toMatchObject({
      code: 'operation_in_progress',
    });
    await withApi.runUntilIdle();
    expect((await withApi.getJob(off.job.id)).job.state).toBe('succeeded');
    expect(await has(DEPLOYMENT)).toBe(false);
    expect(await has('clusterrole cluster-autoscaler')).toBe(false);
    expect(await has('secret cluster-autoscaler-externalgrpc --namespace=kube-system')).toBe(false);
    expect(await services()).not.toContain('cluster-autoscaler');
    expect(await call('NodeGroups', {})).toEqual({ nodeGroups: [] });
    await expect(call('NodeGroupIncreaseSize', { id: group(), delta: 1 })).rejects.toEqual(
      expect.objectContaining({ code: grpc.status.NOT_FOUND }),
    );

    const on = await withApi.setSizeBounds(c.clusterId, { maxSize: 3 });
    if (!('job' in on)) throw new Error('expected a job');
    await withApi.runUntilIdle();
    expect((await withApi.getJob(on.job.id)).job.state).toBe('succeeded');
    expect((await get(DEPLOYMENT)).metadata.name).toBe('cluster-autoscaler');
    expect(await has('secret cluster-autoscaler-externalgrpc --namespace=kube-system')).toBe(true);
    expect(await services()).toContain('cluster-autoscaler');
    expect(await call('NodeGroups', {})).toEqual({
      nodeGroups: [expect.objectContaining({ id: group(), minSize: 2, maxSize: 3 })],
    });

    // Below the new minimum: a resize into the bounds, a Node joins.
    const up = await withApi.setSizeBounds(c.clusterId, { minSize: 3, maxSize: 4 });
    if (!('job' in up)) throw new Error('expected a job');
    expect(await call('NodeGroupTargetSize', { id: group() })).toEqual({ targetSize: 3 });
    await withApi.runUntilIdle();
    const view = await withApi.getJob(up.job.id);
    expect(view.job.state, JSON.stringify(view.job.error)).toBe('succeeded');
    await waitForReadyNodes(
      c.lab,
      (await servers()).map((s) => s.name),
    );
    expect((await servers()).length).toBe(3);
    expect(await has(DEPLOYMENT)).toBe(true);
    expect(await call('NodeGroups', {})).toEqual({
      nodeGroups: [expect.objectContaining({ id: group(), minSize: 3, maxSize: 4 })],
    });
  }, 300_000);

  it('a reconcile pass removes cluster-autoscaler once kaas no longer serves its provider, and installs it back once it does', async () => {
    // The other cluster (whose API kaas does not reach) may be due first: its pass fails, then ours.
    const pass = async (p: Provisioner) => {
      const reconciler = p.reconciler({ resyncMs: 0 });
      for (;;) {
        const claimed = await reconciler.claimNext();
        if (!claimed) throw new Error('no cluster was due for a pass');
        const outcome = await claimed.run();
        if (claimed.clusterId === c.clusterId) return outcome;
      }
    };
    expect(await pass(reachingApi(false))).toMatchObject({ state: 'synced' });
    expect(await has(DEPLOYMENT)).toBe(false);
    expect(await services()).not.toContain('cluster-autoscaler');
    // Every other service stays.
    expect(await services()).toContain('namespaces');

    expect(await pass(reachingApi())).toMatchObject({ state: 'synced' });
    expect((await get(DEPLOYMENT)).spec.template.spec.containers[0].command).toContain(
      '--cloud-provider=externalgrpc',
    );
    expect(await services()).toContain('cluster-autoscaler');
  }, 240_000);
});
