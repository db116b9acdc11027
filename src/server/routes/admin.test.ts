import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../store/db.ts';
import { insertApiToken } from '../../store/insertApiToken.ts';
import { listApiTokens } from '../../store/listApiTokens.ts';
import { markRoleBindingsApplied } from '../../store/markRoleBindingsApplied.ts';
import { upsertAddonStatus } from '../../store/upsertAddonStatus.ts';
import { upsertClusterEndpoint } from '../../store/upsertClusterEndpoint.ts';
import { httpProbe, parseRoleBindings, type Probe } from './admin.ts';
import { callAs, panelTestApp } from '../../../test/support/panelApp.ts';

const ADMIN_GETS = [
  'admin/overview',
  'admin/services',
  'role-bindings',
  'admin/tokens',
  'admin/audit',
  'admin/audit.jsonl',
];

async function addToken(store: Store, id: string, userId: string): Promise<void> {
  await insertApiToken({
    db: store.db,
    token: {
      id,
      userId,
      userName: userId,
      domainName: 'Default',
      name: `laptop-${id}`,
      tokenHash: `hash-${id}`,
      createdAt: '2030-01-01T00:00:00.000Z',
      expiresAt: '2031-01-01T00:00:00.000Z',
      lastUsedAt: null,
    },
  });
}

/** Cluster c1 as the provisioner reports it once ready: its API address, ingress domain and version. */
const provisioned = (store: Store) =>
  upsertClusterEndpoint({
    db: store.db,
    endpoint: {
      clusterId: 'c1',
      apiUrl: 'https://198.51.100.7:6443/',
      caCertPem: 'PEM',
      ingressDomain: 'k.example.org',
      kubernetesVersion: 'v1.31.2',
      nodeCount: 3,
      provisioningState: 'ready',
      updatedAt: '2030-01-01T00:00:00.000Z',
    },
  });

describe('admin routes', () => {
  let app: FastifyInstance;
  let store: Store;
  let close: () => Promise<void>;
  const probed: string[] = [];
  const probe: Probe = async (url) => {
    probed.push(url);
    return url.includes('grafana') ? { ok: false, detail: 'HTTP 503' } : { ok: true, detail: 'ok' };
  };
  beforeEach(async () => {
    probed.length = 0;
    ({ app, store, close } = await panelTestApp({ probe }));
  });
  afterEach(async () => {
    await close();
  });
  /** `user` revokes API token `tokenId` through cluster c1's admin API. */
  const revokeAs = (user: string, tokenId: string) =>
    callAs(app, user, 'DELETE', `/api/v1/clusters/c1/admin/tokens/${tokenId}`);

  it('answers 403 to a member and 404 to a user without a role, on every admin API', async () => {
    for (const path of ADMIN_GETS) {
      const member = await callAs(app, 'member', 'GET', `/api/v1/clusters/c1/${path}`);
      expect(member.statusCode, path).toBe(403);
      expect(member.json().error.code).toBe('forbidden');
      const outsider = await callAs(app, 'outsider', 'GET', `/api/v1/clusters/c1/${path}`);
      expect(outsider.statusCode, path).toBe(404);
      const anonymous = await app.inject({ method: 'GET', url: `/api/v1/clusters/c1/${path}` });
      expect(anonymous.statusCode, path).toBe(401);
    }
    const put = await callAs(app, 'member', 'PUT', '/api/v1/clusters/c1/role-bindings', { items: [] });
    expect(put.statusCode).toBe(403);
    await addToken(store, 't1', 'u-admin');
    const del = await revokeAs('member', 't1');
    expect(del.statusCode).toBe(403);
    expect(await listApiTokens({ db: store.db, userId: 'u-admin' })).toHaveLength(1);
  });

  it('reports an unprovisioned cluster honestly as unknown, without probing', async () => {
    const res = await callAs(app, 'admin', 'GET', '/api/v1/clusters/c1/admin/overview');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      apiUrl: null,
      health: { state: 'unknown' },
      kubernetesVersion: null,
      nodeCount: null,
      provisioningState: null,
    });
    expect(probed).toEqual([]);
  });

  it('probes /healthz and the service ingresses of a provisioned cluster', async () => {
    await provisioned(store);
    const overview = await callAs(app, 'admin', 'GET', '/api/v1/clusters/c1/admin/overview');
    expect(overview.json()).toMatchObject({
      health: { state: 'healthy', detail: 'ok' },
      kubernetesVersion: 'v1.31.2',
      nodeCount: 3,
      provisioningState: 'ready',
    });
    expect(probed).toEqual(['https://198.51.100.7:6443/healthz']);
    const services = await callAs(app, 'admin', 'GET', '/api/v1/clusters/c1/admin/services');
    expect(services.json().items.map((s: { id: string; status: string }) => [s.id, s.status])).toEqual([
      ['grafana', 'down'],
      ['prometheus', 'up'],
      ['kibana', 'up'],
      ['registry', 'up'],
    ]);
  });

  it("says a cluster of kaas dev's embedded cloud has no Kubernetes API, without probing one", async () => {
    await close();
    const reason = "the embedded cloud's servers do not boot Kubernetes";
    ({ app, store, close } = await panelTestApp({
      probe,
      observe: async () => ({
        checkedAt: '2030-01-01T00:00:00.000Z',
        reachable: false,
        noApi: true,
        reason,
        nodes: { ready: 0, total: 0 },
        groups: [],
      }),
    }));
    await provisioned(store);
    const overview = (await callAs(app, 'admin', 'GET', '/api/v1/clusters/c1/admin/overview')).json();
    expect(overview.health).toEqual({ state: 'unknown', detail: `no Kubernetes API: ${reason}` });
    expect(overview.observed).toMatchObject({ reachable: false, noApi: true, reason });
    expect(probed).toEqual([]);
    const nodes = (await callAs(app, 'member', 'GET', '/api/v1/clusters/c1/nodes')).json();
    expect(nodes.observed).toEqual({
      checkedAt: '2030-01-01T00:00:00.000Z',
      reachable: false,
      noApi: true,
      nodes: { ready: 0, total: 0 },
    });
  });

  it('shows services as unknown when no ingress domain is recorded', async () => {
    const res = await callAs(app, 'admin', 'GET', '/api/v1/clusters/c2/admin/services');
    expect(res.json().items.every((s: { status: string }) => s.status === 'unknown')).toBe(true);
  });

  it("shows the reconciler's last pass and each service's state on the services status", async () => {
    const never = await callAs(app, 'admin', 'GET', '/api/v1/clusters/c1/admin/services');
    expect(never.json().reconcile).toEqual({ syncedAt: null, error: null, services: [] });
    const at = '2030-01-01T00:05:00.000Z';
    await store.db
      .insertInto('cluster_reconcile')
      .values({
        cluster_id: 'c1',
        lease_owner: null,
        lease_expires_at: null,
        synced_at: at,
        error: 'addon "ingress" not ready after 600000 ms',
        bindings_tried: 0,
      })
      .execute();
    await upsertAddonStatus({
      db: store.db,
      status: {
        clusterId: 'c1',
        addon: 'ingress',
        state: 'failed',
        message: 'addon "ingress" not ready after 600000 ms',
        objects: [{ apiVersion: 'v1', kind: 'Service', namespace: 'kaas-system', name: 'ingress' }],
        observedAt: at,
      },
    });
    const res = await callAs(app, 'admin', 'GET', '/api/v1/clusters/c1/admin/services');
    expect(res.json().reconcile).toEqual({
      syncedAt: at,
      error: 'addon "ingress" not ready after 600000 ms',
      services: [
        {
          name: 'ingress',
          state: 'failed',
          message: 'addon "ingress" not ready after 600000 ms',
          observedAt: at,
        },
      ],
    });
    // Members see the links only.
    const member = await callAs(app, 'member', 'GET', '/api/v1/clusters/c1/services');
    expect(member.statusCode).toBe(200);
    expect(member.json().reconcile).toBeUndefined();
  });

  it('stores role bindings as pending until the applier marks them applied', async () => {
    const empty = await callAs(app, 'admin', 'GET', '/api/v1/clusters/c1/role-bindings');
    expect(empty.json()).toMatchObject({ items: [], state: 'none', revision: 0 });
    expect(empty.json().availableRoles).toEqual([
      { id: 'r-admin', name: 'admin' },
      { id: 'r-member', name: 'member' },
    ]);
    const items = [
      { keystoneRoleId: 'r-member', kind: 'ClusterRole', roleName: 'view' },
      { keystoneRoleId: 'r-member', kind: 'Role', roleName: 'deployer', namespace: 'apps' },
    ];
    const put = await callAs(app, 'admin', 'PUT', '/api/v1/clusters/c1/role-bindings', { items });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual({ items, revision: 1, state: 'pending' });
    const pending = await callAs(app, 'admin', 'GET', '/api/v1/clusters/c1/role-bindings');
    expect(pending.json()).toMatchObject({ items, state: 'pending', updatedBy: 'ada@Default' });
    await markRoleBindingsApplied({ db: store.db, clusterId: 'c1', revision: 1, now: new Date() });
    const applied = await callAs(app, 'admin', 'GET', '/api/v1/clusters/c1/role-bindings');
    expect(applied.json()).toMatchObject({ state: 'applied', appliedRevision: 1 });
    const other = await callAs(app, 'admin', 'GET', '/api/v1/clusters/c2/role-bindings');
    expect(other.json().items).toEqual([]);
  });

  it('rejects an invalid role-bindings body with the offending field', async () => {
    const res = await callAs(app, 'admin', 'PUT', '/api/v1/clusters/c1/role-bindings', {
      items: [{ keystoneRoleId: 'r-member', kind: 'Role', roleName: 'deployer' }],
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.field).toBe('items[0].namespace');
  });

  it('refuses, when saved, a role binding in a protected namespace, keeping the saved revision', async () => {
    for (const namespace of ['kube-system', 'kaas-system']) {
      const res = await callAs(app, 'admin', 'PUT', '/api/v1/clusters/c1/role-bindings', {
        items: [
          { keystoneRoleId: 'r-member', kind: 'ClusterRole', roleName: 'view' },
          { keystoneRoleId: 'r-member', kind: 'Role', roleName: 'deployer', namespace },
        ],
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toMatchObject({
        code: 'protected_namespace',
        field: 'items[1].namespace',
        message: expect.stringContaining(`may not target the protected namespace ${namespace}`),
      });
    }
    const kept = await callAs(app, 'admin', 'GET', '/api/v1/clusters/c1/role-bindings');
    expect(kept.json()).toMatchObject({ items: [], revision: 0, state: 'none' });
  });

  it("lists members' tokens and revokes one; tokens of other projects' users stay out of reach", async () => {
    await addToken(store, 't-admin', 'u-admin');
    await addToken(store, 't-member', 'u-member');
    await addToken(store, 't-out', 'u-out');
    const list = await callAs(app, 'admin', 'GET', '/api/v1/clusters/c1/admin/tokens');
    expect(
      list
        .json()
        .items.map((t: { id: string }) => t.id)
        .sort(),
    ).toEqual(['t-admin', 't-member']);
    expect(JSON.stringify(list.json())).not.toContain('hash-');
    const revoke = await revokeAs('admin', 't-member');
    expect(revoke.statusCode).toBe(204);
    expect(await listApiTokens({ db: store.db, userId: 'u-member' })).toEqual([]);
    const foreign = await revokeAs('admin', 't-out');
    expect(foreign.statusCode).toBe(404);
    expect(await listApiTokens({ db: store.db, userId: 'u-out' })).toHaveLength(1);
  });
});

describe('parseRoleBindings', () => {
  const bad: [unknown, string][] = [
    [{}, 'items'],
    [{ items: new Array(201).fill({}) }, 'items'],
    [{ items: [{ kind: 'ClusterRole', roleName: 'view' }] }, 'items[0].keystoneRoleId'],
    [{ items: [{ keystoneRoleId: 'r', kind: 'Group', roleName: 'view' }] }, 'items[0].kind'],
    [{ items: [{ keystoneRoleId: 'r', kind: 'ClusterRole', roleName: 'View!' }] }, 'items[0].roleName'],
    [
      { items: [{ keystoneRoleId: 'r', kind: 'ClusterRole', roleName: 'view', namespace: 'Bad_NS' }] },
      'items[0].namespace',
    ],
    [
      {
        items: [
          { keystoneRoleId: 'r', kind: 'ClusterRole', roleName: 'view' },
          { keystoneRoleId: 'r', kind: 'ClusterRole', roleName: 'view' },
        ],
      },
      'items[1].roleName',
    ],
  ];
  it.each(bad)('rejects %j at %s', (body, field) => {
    expect(() => parseRoleBindings(body)).toThrow(expect.objectContaining({ field }));
  });

  it('accepts a ClusterRole bound in one namespace and drops an empty namespace', () => {
    expect(
      parseRoleBindings({
        items: [
          { keystoneRoleId: 'r', kind: 'ClusterRole', roleName: 'edit', namespace: 'team-a' },
          { keystoneRoleId: 'r', kind: 'ClusterRole', roleName: 'system:aggregate-to-view', namespace: '' },
        ],
      }),
    ).toEqual([
      { keystoneRoleId: 'r', kind: 'ClusterRole', roleName: 'edit', namespace: 'team-a' },
      { keystoneRoleId: 'r', kind: 'ClusterRole', roleName: 'system:aggregate-to-view' },
    ]);
  });
});

describe('httpProbe', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/healthz') res.end('ok');
      else {
        res.statusCode = 500;
        res.end('etcd down');
      }
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((done) => server.close(done));
  });

  it('reports 2xx as ok with the body, other statuses and connection failures as not ok', async () => {
    expect(await httpProbe(`${base}/healthz`, { ca: null })).toEqual({ ok: true, detail: 'ok' });
    expect(await httpProbe(`${base}/other`, { ca: null })).toEqual({
      ok: false,
      detail: 'HTTP 500: etcd down',
    });
    const closed = await httpProbe('http://127.0.0.1:1/healthz', { ca: null });
    expect(closed.ok).toBe(false);
    expect(closed.detail).toMatch(/^unreachable: /);
  });
});
