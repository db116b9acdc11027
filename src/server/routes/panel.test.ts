import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { insertProvisionedCluster } from '../../store/insertProvisionedCluster.ts';
import { upsertClusterEndpoint } from '../../store/upsertClusterEndpoint.ts';
import { PUBLIC_URL, callAs, eachPanelTestApp, panelTestApp } from '../../../test/support/panelApp.ts';
import { renderKubeconfig } from './panel.ts';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const TOKEN = 'kaas_' + 'A'.repeat(43) + '_abcd1234';
const ENDPOINT = {
  clusterId: 'c1',
  apiUrl: 'https://203.0.113.10:6443',
  caCertPem: CA,
  ingressDomain: null,
  kubernetesVersion: null,
  nodeCount: null,
  provisioningState: 'ready',
  updatedAt: '2030-01-01T00:00:00.000Z',
} as const;

describe('panel routes', () => {
  const fx = eachPanelTestApp();

  it('rejects calls without a principal with 401', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/api/v1/clusters' });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('unauthenticated');
  });

  it('lists only clusters where the user holds a role, with admin flags, first one active by default', async () => {
    // c1 is one kaas provisions (its state and version are shown); c2 is not.
    const at = '2030-01-05T00:00:00.000Z';
    await insertProvisionedCluster({
      db: fx.store.db,
      cluster: {
        id: 'c1',
        name: 'alpha',
        spec: { kubernetesVersion: '1.31.4' },
        options: {},
        status: 'ready',
        createdAt: at,
        updatedAt: at,
      },
    });
    const admin = await callAs(fx.app, 'admin', 'GET', '/api/v1/clusters');
    const p1 = { id: 'p1', name: 'proj-p1' };
    expect(admin.json()).toEqual({
      items: [
        { id: 'c1', name: 'alpha', project: p1, isAdmin: true, status: 'ready', kubernetesVersion: '1.31.4' },
        { id: 'c2', name: 'beta', project: p1, isAdmin: true, status: null, kubernetesVersion: null },
      ],
      activeClusterId: 'c1',
    });
    const member = await callAs(fx.app, 'member', 'GET', '/api/v1/clusters');
    expect(member.json().items.map((c: { isAdmin: boolean }) => c.isAdmin)).toEqual([false, false]);
    const outsider = await callAs(fx.app, 'outsider', 'GET', '/api/v1/clusters');
    expect(outsider.json()).toEqual({
      items: [
        {
          id: 'c3',
          name: 'gamma',
          project: { id: 'p2', name: 'proj-p2' },
          isAdmin: false,
          status: null,
          kubernetesVersion: null,
        },
      ],
      activeClusterId: 'c3',
    });
  });

  it('remembers the active cluster per user', async () => {
    const put = await callAs(fx.app, 'member', 'PUT', '/api/v1/session/active-cluster', { clusterId: 'c2' });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual({ activeClusterId: 'c2' });
    const member = await callAs(fx.app, 'member', 'GET', '/api/v1/clusters');
    expect(member.json().activeClusterId).toBe('c2');
    const admin = await callAs(fx.app, 'admin', 'GET', '/api/v1/clusters');
    expect(admin.json().activeClusterId).toBe('c1');
  });

  it('refuses to activate an invisible or unknown cluster, and a missing id', async () => {
    const invisible = await callAs(fx.app, 'member', 'PUT', '/api/v1/session/active-cluster', {
      clusterId: 'c3',
    });
    expect(invisible.statusCode).toBe(404);
    const missing = await callAs(fx.app, 'member', 'PUT', '/api/v1/session/active-cluster', {});
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.field).toBe('clusterId');
  });

  it('downloads an exec-plugin kubeconfig with server URL and CA from the cluster record', async () => {
    await upsertClusterEndpoint({ db: fx.store.db, endpoint: ENDPOINT });
    const res = await fx.app.inject({
      method: 'GET',
      url: '/api/v1/clusters/c1/kubeconfig?mode=exec',
      // The Host header is the caller's to choose: the kubeconfig names kaas by its configured URL.
      headers: { 'x-test-user': 'member', host: 'attacker.example', 'x-forwarded-host': 'attacker.example' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('application/yaml');
    expect(res.headers['content-disposition']).toBe('attachment; filename="kubeconfig-alpha.yaml"');
    const config = parse(res.body);
    expect(config.kind).toBe('Config');
    expect(config['current-context']).toBe('alpha');
    expect(config.clusters[0].cluster.server).toBe('https://203.0.113.10:6443');
    expect(Buffer.from(config.clusters[0].cluster['certificate-authority-data'], 'base64').toString()).toBe(
      CA,
    );
    expect(config.users[0].name).toBe('max@alpha');
    expect(config.users[0].user.exec).toMatchObject({
      apiVersion: 'client.authentication.k8s.io/v1',
      command: 'kaas',
      args: ['credential', '--cluster', 'c1'],
      env: [{ name: 'KAAS_URL', value: PUBLIC_URL }],
    });

    const token = await callAs(fx.app, 'member', 'POST', '/api/v1/clusters/c1/kubeconfig', { token: TOKEN });
    expect(token.statusCode).toBe(200);
    expect(parse(token.body).users[0].user).toEqual({ token: TOKEN });
  });

  it('explains kubeconfig errors: not provisioned, bad mode, token via GET, bad token, invisible cluster', async () => {
    const notProvisioned = await callAs(fx.app, 'member', 'GET', '/api/v1/clusters/c1/kubeconfig');
    expect(notProvisioned.statusCode).toBe(409);
    expect(notProvisioned.json().error.code).toBe('cluster_not_provisioned');
    const badMode = await callAs(fx.app, 'member', 'GET', '/api/v1/clusters/c1/kubeconfig?mode=x');
    expect(badMode.statusCode).toBe(400);
    const viaGet = await callAs(fx.app, 'member', 'GET', '/api/v1/clusters/c1/kubeconfig?mode=token');
    expect(viaGet.statusCode).toBe(400);
    expect(viaGet.json().error.message).toContain('POST');
    const badToken = await callAs(fx.app, 'member', 'POST', '/api/v1/clusters/c1/kubeconfig', {
      token: 'a b\nc',
    });
    expect(badToken.statusCode).toBe(400);
    const invisible = await callAs(fx.app, 'member', 'GET', '/api/v1/clusters/c3/kubeconfig');
    expect(invisible.statusCode).toBe(404);
  });

  it('refuses an exec kubeconfig when no public URL is configured, rather than trusting Host', async () => {
    const unset = await panelTestApp({ publicUrl: null });
    try {
      await upsertClusterEndpoint({ db: unset.store.db, endpoint: ENDPOINT });
      const res = await callAs(unset.app, 'member', 'GET', '/api/v1/clusters/c1/kubeconfig');
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toMatchObject({ code: 'public_url_unset' });
      expect(res.json().error.message).toContain('KAAS_PUBLIC_URL');
    } finally {
      await unset.close();
    }
  });

  it('lists managed service links by subdomain, or without URLs when no domain is known', async () => {
    const none = await callAs(fx.app, 'member', 'GET', '/api/v1/clusters/c2/services');
    expect(none.json().ingressDomain).toBeNull();
    expect(none.json().items.every((s: { url: string | null }) => s.url === null)).toBe(true);
    await upsertClusterEndpoint({
      db: fx.store.db,
      endpoint: {
        clusterId: 'c2',
        apiUrl: null,
        caCertPem: null,
        ingressDomain: 'k.example.org',
        kubernetesVersion: null,
        nodeCount: null,
        provisioningState: null,
        updatedAt: '2030-01-01T00:00:00.000Z',
      },
    });
    const res = await callAs(fx.app, 'member', 'GET', '/api/v1/clusters/c2/services');
    expect(res.json().items.map((s: { url: string }) => s.url)).toEqual([
      'https://grafana.beta.k.example.org',
      'https://prometheus.beta.k.example.org',
      'https://kibana.beta.k.example.org',
      'https://registry.beta.k.example.org',
    ]);
  });
});

describe('renderKubeconfig', () => {
  it('is deterministic and omits the CA when none is recorded', () => {
    const input = {
      cluster: { id: 'c1', name: 'alpha' },
      endpoint: { apiUrl: 'https://x:6443', caCertPem: null },
      userName: 'max',
      auth: { mode: 'token' as const, token: TOKEN },
    };
    expect(renderKubeconfig(input)).toBe(renderKubeconfig(input));
    expect(parse(renderKubeconfig(input)).clusters[0].cluster).toEqual({ server: 'https://x:6443' });
  });
});
