import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startKubeApi, type KubeApi } from './kubeapi.ts';
import { widgetCrd } from './support.ts';

/** The double's own contract: the apply semantics the applier tests rely on. */
describe('Kubernetes API double', () => {
  let api: KubeApi;
  beforeEach(async () => {
    api = await startKubeApi({ readyAfterReads: 0 });
  });
  afterEach(async () => {
    await api.close();
  });

  const call = async (
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/apply-patch+yaml',
  ) => {
    const res = await fetch(`${api.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${api.token}`,
        ...(body === undefined ? {} : { 'content-type': contentType }),
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    // Response bodies are free-form JSON that the assertions dig into.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const cm = (data: Record<string, string>) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'c', namespace: 'default' },
    data,
  });
  const cmPath = '/api/v1/namespaces/default/configmaps/c';
  const apply = (body: unknown, manager = 'kaas', force = true) =>
    call('PATCH', `${cmPath}?fieldManager=${manager}${force ? '&force=true' : ''}`, body);

  it('serves discovery', async () => {
    expect((await call('GET', '/api')).body['versions']).toEqual(['v1']);
    const apps = await call('GET', '/apis/apps/v1');
    expect(apps.body['resources'].map((r: { name: string }) => r.name)).toContain('deployments/status');
    expect((await call('GET', '/apis')).body['groups'].map((g: { name: string }) => g.name)).toContain(
      'apps',
    );
    expect((await call('GET', '/apis/example.org/v1')).status).toBe(404);
  });

  it('creates on apply, keeps resourceVersion on identical re-apply, bumps it on change', async () => {
    const created = await apply(cm({ a: '1' }));
    expect(created.status).toBe(201);
    const rv = created.body['metadata'].resourceVersion;
    // YAML bodies work too.
    const same = await call(
      'PATCH',
      `${cmPath}?fieldManager=kaas&force=true`,
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: "1"\n',
    );
    expect(same.status).toBe(200);
    expect(same.body['metadata'].resourceVersion).toBe(rv);
    expect(api.writes).toBe(1);
    const changed = await apply(cm({ a: '2' }));
    expect(Number(changed.body['metadata'].resourceVersion)).toBeGreaterThan(Number(rv));
    expect(changed.body['data']).toEqual({ a: '2' });
  });

  it('merges field managers: dropping a field removes only what that manager set; conflicts need force', async () => {
    await apply(cm({ a: '1', b: '1' }));
    await apply({ ...cm({ other: 'x' }) }, 'someone');
    expect((await apply(cm({ a: '1' }))).body['data']).toEqual({ a: '1', other: 'x' });
    const conflict = await apply(cm({ other: 'y' }), 'kaas', false);
    expect(conflict.status).toBe(409);
    expect(conflict.body['message']).toContain('conflict with "someone"');
    expect((await apply(cm({ other: 'y' }))).body['data']).toEqual({ other: 'y' });
  });

  it('refuses bad applies like the real server', async () => {
    expect((await call('PATCH', cmPath, cm({}))).status).toBe(422);
    expect(
      (await call('PATCH', `${cmPath}?fieldManager=k`, cm({}), 'application/merge-patch+json')).status,
    ).toBe(415);
    expect((await apply({ ...cm({}), metadata: { name: 'other' } })).status).toBe(400);
    const inNope = { ...cm({}), metadata: { name: 'c' } };
    const missingNs = await call('PATCH', '/api/v1/namespaces/nope/configmaps/c?fieldManager=k', inNope);
    expect(missingNs).toMatchObject({
      status: 404,
      body: { kind: 'Status', message: 'namespaces "nope" not found' },
    });
    const anonymous = await fetch(`${api.url}/api/v1`);
    expect(anonymous.status).toBe(401);
  });

  it('bumps generation only for spec changes, never takes status from an apply', async () => {
    const d = (replicas: number, labels: Record<string, string> = {}) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', namespace: 'default', labels },
      spec: { replicas },
      status: { availableReplicas: 99 },
    });
    const path = '/apis/apps/v1/namespaces/default/deployments/d?fieldManager=kaas&force=true';
    expect((await call('PATCH', path, d(1))).body['metadata'].generation).toBe(1);
    expect((await call('PATCH', path, d(1, { x: 'y' }))).body['metadata'].generation).toBe(1);
    expect((await call('PATCH', path, d(2, { x: 'y' }))).body['metadata'].generation).toBe(2);
    const got = await call('GET', '/apis/apps/v1/namespaces/default/deployments/d');
    expect(got.body['status']).toMatchObject({ observedGeneration: 2, availableReplicas: 2 });
  });

  it('serves a custom kind only once its CRD is established, and cascades deletes', async () => {
    const widget = {
      apiVersion: 'example.org/v1',
      kind: 'Widget',
      metadata: { name: 'w', namespace: 'default' },
    };
    const wPath = '/apis/example.org/v1/namespaces/default/widgets/w?fieldManager=kaas';
    expect((await call('PATCH', wPath, widget)).status).toBe(404);
    const crd = widgetCrd;
    const crdPath = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.org';
    await call('PATCH', `${crdPath}?fieldManager=kaas`, crd);
    expect((await call('GET', crdPath)).body['status'].conditions[0]).toMatchObject({
      type: 'Established',
      status: 'True',
    });
    expect((await call('PATCH', wPath, widget)).status).toBe(201);
    const list = await call('GET', '/apis/example.org/v1/widgets?labelSelector=');
    expect(list.body['items'].map((i: { kind: string }) => i.kind)).toEqual(['Widget']);
    expect((await call('DELETE', crdPath)).status).toBe(200);
    expect(api.get('example.org/v1', 'Widget', 'w', 'default')).toBeUndefined();
    expect((await call('DELETE', crdPath)).status).toBe(404);
  });

  it('lists by label selector across namespaces, without apiVersion/kind on built-in items', async () => {
    await call('PATCH', '/api/v1/namespaces/kube-system/configmaps/k?fieldManager=kaas', {
      ...cm({}),
      metadata: { name: 'k', namespace: 'kube-system', labels: { app: 'x', tier: 'a' } },
    });
    await apply({
      ...cm({}),
      metadata: { name: 'c', namespace: 'default', labels: { app: 'x', tier: 'b' } },
    });
    const names = async (sel: string) =>
      (await call('GET', `/api/v1/configmaps?labelSelector=${encodeURIComponent(sel)}`)).body['items'].map(
        (i: { metadata: { name: string }; kind?: string }) => `${i.kind ?? '-'}:${i.metadata.name}`,
      );
    expect(await names('app=x')).toEqual(['-:k', '-:c']);
    expect(await names('app=x,tier!=a')).toEqual(['-:c']);
    expect(await names('!tier')).toEqual([]);
    expect((await call('GET', '/api/v1/namespaces/default/configmaps')).body['items']).toHaveLength(1);
    expect((await call('GET', '/api/v1/configmaps?labelSelector=a%20in%20(b)')).status).toBe(400);
  });

  it('injects failures on request', async () => {
    api.failNext(1, 503);
    expect((await call('GET', '/api')).status).toBe(503);
    expect((await call('GET', '/api')).status).toBe(200);
  });
});
