/**
 * Delete in the right order, on kubelab (a real kube-apiserver and controller-manager, whose
 * pvc-protection controller finalizes claims) for a cluster the provisioner created on cloudsim:
 * LoadBalancer Services in every namespace, and PersistentVolumeClaims only when asked, are deleted
 * through the cluster API and waited for (bounded) before the cloud sweep; each step says what it
 * removed. The route `DELETE /api/v1/clusters/:id?deleteVolumes=true` asks for the claims.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tagsFor } from '../../src/cluster/names.ts';
import type { Provisioner } from '../../src/provisioner/provisioner.ts';
import { errorHandler } from '../../src/server/errors.ts';
import { registerClusterRoutes } from '../../src/server/routes/clusters.ts';
import { provisionOnKubelab, type ClusterLab } from './clusterlab.ts';
import { cloudsimSuite } from './support.ts';

const suite = cloudsimSuite();
let c: ClusterLab;
let p: Provisioner;
let app: FastifyInstance;

beforeAll(async () => {
  c = await provisionOnKubelab(suite, { name: 'dl', workers: 1, removeNodes: false });
  p = c.provisioner({ kubeCleanupTimeoutMs: 3_000 });
  app = Fastify();
  app.setErrorHandler(errorHandler);
  registerClusterRoutes(app, { provisioner: p, authorize: () => undefined });
  await app.ready();
}, 180_000);

afterAll(async () => {
  await app?.close();
  await c?.stop();
});

interface Obj {
  metadata: { namespace: string; name: string; deletionTimestamp?: string; finalizers?: string[] };
}

async function apply(path: string, body: unknown): Promise<void> {
  const { status, body: answer } = await c.lab.request('POST', path, body);
  if (status !== 201) throw new Error(`POST ${path} answered ${status}: ${JSON.stringify(answer)}`);
}

async function names(path: string): Promise<string[]> {
  const { status, body } = await c.lab.request('GET', path);
  if (status !== 200) throw new Error(`GET ${path} answered ${status}`);
  return (body as { items: Obj[] }).items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort();
}

const service = (namespace: string, name: string, type: string, finalizers?: string[]) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace, ...(finalizers ? { finalizers } : {}) },
  spec: { type, selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] },
});

const claim = (namespace: string, name: string) => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name, namespace },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
});

const outputOf = (view: Awaited<ReturnType<Provisioner['getJob']>>, stepId: string) =>
  view.steps.find((s) => s.stepId === stepId)?.output;

describe('delete through the cluster API, then the cloud sweep', () => {
  it('removes LoadBalancer Services first, keeps volume claims unless asked, then removes them when asked', async () => {
    await apply('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    await apply('/api/v1/namespaces/default/services', service('default', 'web', 'LoadBalancer'));
    await apply('/api/v1/namespaces/shop/services', service('shop', 'checkout', 'LoadBalancer'));
    await apply('/api/v1/namespaces/shop/services', service('shop', 'internal', 'ClusterIP'));
    // The cloud controller's finalizer with no cloud controller running: this one never goes.
    await apply(
      '/api/v1/namespaces/shop/services',
      service('shop', 'stuck', 'LoadBalancer', ['service.kubernetes.io/load-balancer-cleanup']),
    );
    await apply('/api/v1/namespaces/default/persistentvolumeclaims', claim('default', 'db'));
    await apply('/api/v1/namespaces/shop/persistentvolumeclaims', claim('shop', 'orders'));

    // A bad flag is refused; nothing is queued.
    const bad = await app.inject({
      method: 'DELETE',
      url: `/api/v1/clusters/${c.clusterId}?deleteVolumes=yes`,
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ field: 'deleteVolumes' });
    const badKeep = await app.inject({
      method: 'DELETE',
      url: `/api/v1/clusters/${c.clusterId}?keepBackups=maybe`,
    });
    expect(badKeep.statusCode).toBe(400);
    expect(badKeep.json().error).toMatchObject({ field: 'keepBackups' });
    const contradiction = await app.inject({
      method: 'DELETE',
      url: `/api/v1/clusters/${c.clusterId}?deleteVolumes=true&keepVolumes=true`,
    });
    expect(contradiction.statusCode).toBe(400);
    expect(contradiction.json().error).toMatchObject({ field: 'keepVolumes' });

    // First delete, without volumes; the cloud refuses to delete servers once, so it fails after
    // the in-cluster step and before anything of the cloud is gone.
    suite.sim.knobs.faults.push({ service: 'compute', method: 'DELETE', path: '/servers/', status: 400 });
    const first = await app.inject({ method: 'DELETE', url: `/api/v1/clusters/${c.clusterId}` });
    expect(first.statusCode).toBe(202);
    await p.runUntilIdle();
    const failed = await p.getJob(first.json().job.id);
    expect(failed.job.state).toBe('failed');
    expect(failed.job.error).toMatchObject({ stepId: 'sweep:server' });
    expect(failed.steps.map((s) => s.stepId)).not.toContain('delete:persistent-volume-claims');
    expect(outputOf(failed, 'delete:load-balancer-services')).toEqual({
      reachable: true,
      removed: 2,
      ids: ['default/web', 'shop/checkout'],
      remaining: ['shop/stuck'],
    });
    expect(
      failed.events.some(
        (e) =>
          e.level === 'warn' &&
          e.message.includes('1 LoadBalancer Services still present') &&
          e.message.includes('shop/stuck'),
      ),
    ).toBe(true);
    expect(await names('/api/v1/services')).toEqual(['default/kubernetes', 'shop/internal', 'shop/stuck']);
    expect(await names('/api/v1/persistentvolumeclaims')).toEqual(['default/db', 'shop/orders']);
    expect((await suite.cloud.nova.listServers({ tags: tagsFor(c.clusterId) })).length).toBe(2);

    // Second delete, asking for the volumes too: claims go through the API, then the whole sweep.
    const second = await app.inject({
      method: 'DELETE',
      url: `/api/v1/clusters/${c.clusterId}?deleteVolumes=true`,
    });
    expect(second.statusCode).toBe(202);
    await p.runUntilIdle();
    const done = await p.getJob(second.json().job.id);
    expect(done.job.state, JSON.stringify(done.job.error)).toBe('succeeded');
    const order = done.steps.map((s) => s.stepId);
    expect(order.slice(0, 3)).toEqual([
      'delete:load-balancer-services',
      'delete:persistent-volume-claims',
      'sweep:server',
    ]);
    expect(outputOf(done, 'delete:persistent-volume-claims')).toEqual({
      reachable: true,
      removed: 2,
      ids: ['default/db', 'shop/orders'],
      remaining: [],
    });
    // Only the stuck Service was left, and it still is.
    expect(outputOf(done, 'delete:load-balancer-services')).toMatchObject({
      removed: 0,
      remaining: ['shop/stuck'],
    });
    expect(await names('/api/v1/persistentvolumeclaims')).toEqual([]);
    // The sweep ran after them and said what it removed.
    const servers = outputOf(done, 'sweep:server') as { removed: number; ids: string[] };
    expect(servers.removed).toBe(2);
    expect(servers.ids).toHaveLength(2);
    expect(await suite.cloud.nova.listServers({ tags: tagsFor(c.clusterId) })).toEqual([]);
    const finished = (id: string) => done.steps.find((s) => s.stepId === id)!.finishedAt!;
    expect(
      finished('delete:persistent-volume-claims') <=
        done.steps.find((s) => s.stepId === 'sweep:server')!.startedAt!,
    ).toBe(true);
    expect(finished('delete:load-balancer-services') <= finished('delete:persistent-volume-claims')).toBe(
      true,
    );
  });
});
