/**
 * TokenReview end to end: the real kube-apiserver of kubelab, configured by kubeadm from master-0's
 * user data, calls kaas' webhook over HTTPS on a real port; kaas runs its real auth service over
 * the lab's real Keystone. Users log in to kaas, create API tokens and download their kubeconfig
 * through kaas' HTTP API, then use the lab's kubectl with nothing but that token.
 */
import type { FastifyInstance } from 'fastify';
import type { KyselyPlugin } from 'kysely';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveContext } from '../../src/addons/context.ts';
import { rbacAddon } from '../../src/addons/rbac.ts';
import { keystoneDirectory } from '../../src/auth/directory.ts';
import { createCa, issueServerCert, type KeyPair } from '../../src/auth/pki.ts';
import { createAuthService, type AuthService } from '../../src/auth/service.ts';
import { generateToken } from '../../src/auth/tokens.ts';
import { createLogger } from '../../src/log.ts';
import type { Cloud } from '../../src/openstack/index.ts';
import { buildApp } from '../../src/server/app.ts';
import type { Store } from '../../src/store/db.ts';
import { insertCluster } from '../../src/store/insertCluster.ts';
import { upsertClusterEndpoint } from '../../src/store/upsertClusterEndpoint.ts';
import { defaultContext } from '../addons/default-context.ts';
import { labTarget, startHarness, type Harness } from '../contract/targets.ts';
import { freshStore } from '../support/databases.ts';
import { KubectlError, startKubelab, type Kubelab } from '../../src/dev/kube/kubelab.ts';
import { defaultPatch } from '../../src/dev/kube/binaries.ts';
import { labCluster } from './support.ts';

const logger = createLogger({ level: process.env.KAAS_TEST_LOG ?? 'silent' });
/** The apiserver's webhook cache TTL in these labs; production renders 30s (DEFAULT_WEBHOOK_CACHE_TTL). */
const CACHE_TTL_MS = 1_000;
/** kubeadm's --service-account-issuer, which kube-apiserver also uses as its API audience. */
const API_AUDIENCE = 'https://kubernetes.default.svc.cluster.local';
/** An API audience kaas does not serve (kaas' defaults are the in-cluster kubernetes service URLs). */
const FOREIGN_AUDIENCE = 'https://elsewhere.example';
/**
 * kube-apiserver's own cache of successful token authentications, in front of the webhook's cache:
 * 10s, built in (no flag). A revoked token can live the webhook TTL plus this.
 */
const APISERVER_SUCCESS_CACHE_MS = 10_000;
const TEAM_A_CONFIGMAPS = '/api/v1/namespaces/team-a/configmaps';
const password = `pw-${Math.random().toString(36).slice(2)}`;

interface Named {
  id: string;
  name: string;
}

/** One TokenReview as kaas received and answered it (the token itself is not kept). */
interface Exchange {
  clusterId: string;
  status: number;
  received: { apiVersion?: string; spec?: { audiences?: string[] } };
  answered: { apiVersion?: string; status?: Record<string, unknown> };
}

let harness: Harness;
const roles = {} as Record<'admin' | 'member' | 'viaGroup' | 'implied', Named>;
const users = {} as Record<'alice' | 'bob', Named>;
let project: Named;

let kaasCa: KeyPair;
let kaasCert: KeyPair;
let kaasPort = 0;
let kaas: FastifyInstance | undefined;
let kaasAgent: Agent;
let store: Store;
let auth: AuthService;
/** Shifts kaas' clock (token expiry) without touching the apiserver's. */
let clockOffsetMs = 0;
const now = () => new Date(Date.now() + clockOffsetMs);
/** Every statement kaas sends to its database (counted by a Kysely plugin). */
let dbQueries = 0;
const exchanges: Exchange[] = [];
/** TokenReviews that reached Fastify's route instead of the plain handler in front of it. */
let reviewsByFastify = 0;
let workDir: string;
const labs: Kubelab[] = [];
let v1Lab: Kubelab;
let v1beta1Lab: Kubelab;
let audienceLab: Kubelab;
let alice: Session;
let bob: Session;

const countQueries: KyselyPlugin = {
  transformQuery(args) {
    dbQueries++;
    return args.node;
  },
  transformResult: async (args) => args.result,
};

/** The kaas server as `kaas serve` runs it: HTTPS on 127.0.0.1, its certificate signed by kaas' CA. */
async function startKaas(port: number): Promise<void> {
  const app = await buildApp(
    { store, logger, now, auth },
    { https: { key: kaasCert.keyPem, cert: kaasCert.certPem } },
  );
  // Each review as it crossed the socket, whichever handler answered it (server/webhook.ts in
  // front of Fastify, or the route): the body pushed into the request, the one given to end().
  app.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!req.url?.startsWith('/tokenreview/')) return;
    const chunks: Buffer[] = [];
    const push = req.push.bind(req);
    req.push = (chunk: unknown, encoding?: BufferEncoding) => {
      if (chunk) chunks.push(Buffer.from(chunk as Buffer));
      return push(chunk, encoding);
    };
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    res.end = ((payload: unknown, ...rest: unknown[]) => {
      const { spec, ...received } = JSON.parse(Buffer.concat(chunks).toString()) as {
        spec?: { audiences?: string[] };
      };
      exchanges.push({
        clusterId: (req.url as string).slice('/tokenreview/'.length).split(/[/?]/)[0] as string,
        status: res.statusCode,
        received: { ...received, spec: { ...(spec?.audiences ? { audiences: spec.audiences } : {}) } },
        answered: JSON.parse(String(payload)) as Exchange['answered'],
      });
      return end(payload, ...rest);
    }) as typeof res.end;
  });
  app.addHook('onRequest', async (request) => {
    if (request.url.startsWith('/tokenreview/')) reviewsByFastify++;
  });
  await app.listen({ host: '127.0.0.1', port });
  kaasPort = (app.server.address() as { port: number }).port;
  kaas = app;
}

/** Calls kaas' HTTP API as a browser or the CLI would. */
async function kaasCall(
  method: string,
  path: string,
  options: { session?: Session; body?: unknown } = {},
): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.session) {
    headers['cookie'] = options.session.cookie;
    headers['x-csrf-token'] = options.session.csrfToken;
  }
  const res = await fetch(`https://127.0.0.1:${kaasPort}${path}`, {
    method,
    headers,
    dispatcher: kaasAgent,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  return { status: res.status, text: await res.text() };
}

interface Session {
  cookie: string;
  csrfToken: string;
}

async function login(user: Named): Promise<Session> {
  const res = await fetch(`https://127.0.0.1:${kaasPort}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: user.name, password, domain: 'Default' }),
    dispatcher: kaasAgent,
  });
  expect(res.status).toBe(200);
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0] ?? '');
  const body = (await res.json()) as { csrfToken: string };
  return { cookie: cookie.join('; '), csrfToken: body.csrfToken };
}

/** A new API token, created as the control panel creates it (shown once). */
async function createToken(
  session: Session,
  expiresInDays?: number,
  clusters?: string[],
): Promise<{ id: string; token: string }> {
  const res = await kaasCall('POST', '/api/v1/tokens', {
    session,
    body: { name: 'kubectl', ...(expiresInDays ? { expiresInDays } : {}), ...(clusters ? { clusters } : {}) },
  });
  expect(res.status).toBe(201);
  return JSON.parse(res.text) as { id: string; token: string };
}

/**
 * A new API token and the kubeconfig the control panel hands out for it (token mode: the cluster's
 * URL and CA, the token), written where kubectl reads it.
 */
async function tokenKubeconfig(
  session: Session,
  clusterId: string,
): Promise<{ token: string; kubeconfig: string }> {
  const { token } = await createToken(session);
  const res = await kaasCall('POST', `/api/v1/clusters/${clusterId}/kubeconfig`, {
    session,
    body: { token },
  });
  expect(res.status).toBe(200);
  expect(res.text).not.toContain('insecure-skip-tls-verify');
  const kubeconfig = join(workDir, `kubeconfig-${clusterId}-${token.slice(-8)}`);
  await writeFile(kubeconfig, res.text, { mode: 0o600 });
  return { token, kubeconfig };
}

/** What kube-apiserver answers a request carrying `token` (no kubectl: the exact status). */
async function apiStatus(lab: Kubelab, token: string, path = '/api/v1/namespaces/default/configmaps') {
  const agent = new Agent({ connect: { ca: lab.caPem } });
  try {
    const res = await fetch(`${lab.url}${path}`, {
      headers: { authorization: `Bearer ${token}` },
      dispatcher: agent,
    });
    await res.text();
    return res.status;
  } finally {
    await agent.close();
  }
}

/** kubectl's failure, for asserting on 401/403 messages. */
async function kubectlFails(lab: Kubelab, args: string[], kubeconfig: string): Promise<string> {
  try {
    await lab.kubectl(args, { kubeconfig });
  } catch (error) {
    if (error instanceof KubectlError) return error.stderr;
    throw error;
  }
  throw new Error(`kubectl ${args.join(' ')} succeeded`);
}

interface UserInfo {
  username: string;
  uid: string;
  groups: string[];
  extra: Record<string, string[]>;
}

async function whoami(lab: Kubelab, kubeconfig: string): Promise<UserInfo> {
  const out = await lab.kubectl(['auth', 'whoami', '-o', 'json'], { kubeconfig });
  return (JSON.parse(out) as { status: { userInfo: UserInfo } }).status.userInfo;
}

/**
 * A cluster registered with kaas as the provisioner registers it (project, admin role, endpoint)
 * and a kubelab configured from its master-0, with the lab's short webhook cache TTL.
 */
async function labFor(
  clusterId: string,
  options: { apiServerFlags?: string[]; controllerManager?: boolean } = {},
): Promise<Kubelab> {
  const { master0 } = await labCluster({
    kaasUrl: `https://127.0.0.1:${kaasPort}`,
    kaasCaPem: kaasCa.certPem,
    clusterId,
    adminRoleId: roles.admin.id,
  });
  const webhook = master0.webhook ?? { kubeconfig: '' };
  const lab = await startKubelab({
    master0: { ...master0, webhook: { ...webhook, cacheTtl: `${CACHE_TTL_MS / 1000}s` } },
    apiServerFlags: options.apiServerFlags ?? [],
    controllerManager: options.controllerManager ?? false,
    scheduler: false,
    kwok: false,
  });
  labs.push(lab);
  const createdAt = now().toISOString();
  await insertCluster({
    db: store.db,
    cluster: {
      id: clusterId,
      name: clusterId,
      projectId: project.id,
      projectName: project.name,
      adminRoleIds: [roles.admin.id],
      createdAt,
    },
  });
  await upsertClusterEndpoint({
    db: store.db,
    endpoint: {
      clusterId,
      apiUrl: lab.url,
      caCertPem: lab.caPem,
      ingressDomain: null,
      kubernetesVersion: defaultPatch(),
      nodeCount: 0,
      provisioningState: 'ready',
      updatedAt: createdAt,
    },
  });
  return lab;
}

/** Waits until kaas has written everything a previous request queued (audit, last-used times). */
async function quiesce(): Promise<void> {
  await auth.flushLastUsed();
  let last = -1;
  while (last !== dbQueries) {
    last = dbQueries;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const keystoneCallCount = async () =>
  (await auth.metrics.keystoneCalls.get()).values.reduce((sum, v) => sum + v.value, 0);

beforeAll(async () => {
  harness = await startHarness(labTarget, 'tokenreview');
  const ks = harness.cloud.keystone;
  const p = harness.prefix;
  project = await ks.createProject({ name: p });
  harness.defer(() => ks.deleteProject(project.id));
  for (const key of ['admin', 'member', 'viaGroup', 'implied'] as const) {
    roles[key] = await ks.createRole({ name: `${p}-${key.toLowerCase()}` });
    const id = roles[key].id;
    harness.defer(() => ks.deleteRole(id));
  }
  // Holding the admin role implies another: Keystone's effective assignments list both.
  const implies = `/v3/roles/${roles.admin.id}/implies/${roles.implied.id}`;
  await harness.cloud.session.request('identity', 'PUT', implies);
  harness.defer(() => harness.cloud.session.request('identity', 'DELETE', implies));
  for (const key of ['alice', 'bob'] as const) {
    users[key] = await ks.createUser({ name: `${p}-${key}`, password });
    const id = users[key].id;
    harness.defer(() => ks.deleteUser(id));
  }
  await ks.assignProjectRole({ projectId: project.id, userId: users.alice.id, roleId: roles.admin.id });
  await ks.assignProjectRole({ projectId: project.id, userId: users.bob.id, roleId: roles.member.id });
  const group = await ks.createGroup({ name: `${p}-devs` });
  harness.defer(() => ks.deleteGroup(group.id));
  await ks.addUserToGroup(group.id, users.alice.id);
  await ks.assignProjectRole({ projectId: project.id, groupId: group.id, roleId: roles.viaGroup.id });

  // kaas' own service user: a domain reader, the least privilege that lists users and assignments.
  const svc = await ks.createUser({ name: `${p}-svc`, password });
  harness.defer(() => ks.deleteUser(svc.id));
  const reader = (await ks.listRoles({ name: 'reader' }))[0];
  if (!reader) throw new Error('the lab Keystone has no reader role');
  await harness.cloud.session.request(
    'identity',
    'PUT',
    `/v3/domains/default/users/${svc.id}/roles/${reader.id}`,
  );
  const service: Cloud = harness.cloudFor({
    OS_AUTH_URL: harness.env.OS_AUTH_URL ?? '',
    OS_USERNAME: svc.name,
    OS_PASSWORD: password,
    OS_USER_DOMAIN_NAME: 'Default',
    OS_DOMAIN_NAME: 'Default',
  });

  workDir = await mkdtemp(join(tmpdir(), 'kaas-tokenreview-'));
  kaasCa = await createCa({ commonName: 'kaas-tokenreview-test' });
  kaasCert = await issueServerCert({ ca: kaasCa, hosts: ['127.0.0.1'] });
  kaasAgent = new Agent({ connect: { ca: kaasCa.certPem } });
  const raw = await freshStore('sqlite');
  store = { ...raw, db: raw.db.withPlugin(countQueries) };
  auth = createAuthService({ store, directory: keystoneDirectory(service), logger, now });
  await startKaas(0);

  // Three clusters of one project, each its own kube-apiserver: webhook v1 (kaas' rendering),
  // webhook v1beta1, and an API audience kaas does not serve.
  const started = await Promise.allSettled([
    labFor('tr-v1', { controllerManager: true }),
    labFor('tr-v1beta1', { apiServerFlags: ['--authentication-token-webhook-version=v1beta1'] }),
    labFor('tr-audience', { apiServerFlags: [`--api-audiences=${FOREIGN_AUDIENCE}`] }),
  ]);
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  [v1Lab, v1beta1Lab, audienceLab] = started.map((r) => (r as PromiseFulfilledResult<Kubelab>).value) as [
    Kubelab,
    Kubelab,
    Kubelab,
  ];
  await auth.sync();
  alice = await login(users.alice);
  bob = await login(users.bob);
}, 240_000);

afterAll(async () => {
  for (const lab of labs) await lab.stop();
  await auth?.close();
  await kaas?.close();
  await kaasAgent?.close();
  await store?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
  await harness?.close();
});

describe('TokenReview v1 through a real kube-apiserver', () => {
  let lab: Kubelab;
  let aliceToken: string;
  let aliceConfig: string;

  beforeAll(async () => {
    lab = v1Lab;
    await lab.kubectl(['create', 'namespace', 'team-a']);
    // The cluster RBAC kaas renders: admin role → cluster-admin, and one tenant grant for members.
    const objects = rbacAddon(
      resolveContext(
        defaultContext({
          clusterName: 'tr-v1',
          clusterId: 'tr-v1',
          adminRoleId: roles.admin.id,
          roleBindings: [{ keystoneRoleId: roles.member.id, clusterRole: 'edit', namespace: 'team-a' }],
        }),
      ),
    );
    await lab.kubectl(['apply', '--server-side', '--field-manager=kaas', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
    });
    // `edit` is an aggregated ClusterRole: kube-controller-manager fills its rules.
    await lab.waitFor('the edit ClusterRole aggregated', async () => {
      const { body } = await lab.request('GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles/edit');
      return ((body as { rules?: unknown[] }).rules ?? []).length > 0;
    });
    ({ token: aliceToken, kubeconfig: aliceConfig } = await tokenKubeconfig(alice, 'tr-v1'));
  }, 120_000);

  it('makes a holder of the admin role cluster-admin, with the Keystone identity and effective roles', async () => {
    const info = await whoami(lab, aliceConfig);
    expect(info.username).toBe(users.alice.name);
    expect(info.uid).toBe(users.alice.id);
    // Held directly, through a Keystone group, and implied by a held role; plus the apiserver's own.
    expect([...info.groups].sort()).toEqual(
      [roles.admin.id, roles.viaGroup.id, roles.implied.id, 'system:authenticated'].sort(),
    );
    expect([...(info.extra['kaas.io/role-names'] ?? [])].sort()).toEqual(
      [roles.admin.name, roles.viaGroup.name, roles.implied.name].sort(),
    );
    expect(info.extra['kaas.io/project-id']).toEqual([project.id]);
    expect(info.extra['kaas.io/project-name']).toEqual([project.name]);
    expect(info.extra['kaas.io/user-domain']).toEqual(['Default']);

    const canAll = await lab.kubectl(['auth', 'can-i', '*', '*', '--all-namespaces'], {
      kubeconfig: aliceConfig,
    });
    expect(canAll.trim()).toBe('yes');
    await lab.kubectl(['create', 'namespace', 'made-by-alice'], { kubeconfig: aliceConfig });
    await lab.kubectl(['-n', 'kube-system', 'get', 'secrets'], { kubeconfig: aliceConfig });
  });

  it('gives a member only what its RoleBinding grants', async () => {
    const { token, kubeconfig: config } = await tokenKubeconfig(bob, 'tr-v1');
    const info = await whoami(lab, config);
    expect(info.username).toBe(users.bob.name);
    expect(info.uid).toBe(users.bob.id);
    expect([...info.groups].sort()).toEqual([roles.member.id, 'system:authenticated'].sort());

    await lab.kubectl(['-n', 'team-a', 'create', 'configmap', 'hello', '--from-literal=a=b'], {
      kubeconfig: config,
    });
    const got = await lab.kubectl(['-n', 'team-a', 'get', 'configmap', 'hello', '-o', 'name'], {
      kubeconfig: config,
    });
    expect(got.trim()).toBe('configmap/hello');
    expect(await kubectlFails(lab, ['create', 'namespace', 'made-by-bob'], config)).toContain('Forbidden');
    expect(await kubectlFails(lab, ['-n', 'default', 'get', 'configmaps'], config)).toContain('Forbidden');
    expect(await apiStatus(lab, token, '/api/v1/namespaces/kube-system/secrets')).toBe(403);
  });

  it('is asked with the apiserver audience (the service-account issuer) and answers it', () => {
    const mine = exchanges.filter((e) => e.clusterId === 'tr-v1' && e.answered.status?.['authenticated']);
    expect(mine.length).toBeGreaterThan(0);
    for (const e of mine) {
      expect(e.status).toBe(200);
      expect(e.received.apiVersion).toBe('authentication.k8s.io/v1');
      expect(e.received.spec?.audiences).toEqual([API_AUDIENCE]);
      expect(e.answered.apiVersion).toBe('authentication.k8s.io/v1');
      expect(e.answered.status?.['audiences']).toEqual([API_AUDIENCE]);
    }
    // kube-apiserver's reviews are all answered by the plain handler, none by Fastify's route.
    expect(reviewsByFastify).toBe(0);
  });

  it('refuses garbage and foreign tokens without a database or Keystone call', async () => {
    const keystoneToken = await harness.cloud.session.token();
    const foreign = [
      'not-a-token',
      `${generateToken().slice(0, -1)}x`, // a kaas token with a typo: its checksum fails
      keystoneToken.value, // a Keystone (Fernet) token
      'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', // JWT-shaped
    ];
    await auth.sync(); // also empties kaas' cluster cache, so a lookup would show
    await quiesce();
    const queriesBefore = dbQueries;
    const keystoneBefore = await keystoneCallCount();
    const reviewsBefore = exchanges.length;
    for (const token of foreign) expect(await apiStatus(lab, token)).toBe(401);
    const answered = exchanges.slice(reviewsBefore);
    expect(answered).toHaveLength(foreign.length);
    for (const e of answered)
      expect(e.answered.status).toEqual({ authenticated: false, error: 'token is not a valid kaas token' });
    expect(dbQueries - queriesBefore).toBe(0);
    expect(await keystoneCallCount()).toBe(keystoneBefore);
    const config = join(workDir, 'kubeconfig-garbage');
    await writeFile(config, (await readFile(aliceConfig, 'utf8')).replace(aliceToken, 'not-a-token'));
    expect(await kubectlFails(lab, ['get', 'namespaces'], config)).toContain('Unauthorized');
  });

  it('refuses deleted, revoked and expired tokens once the apiserver caches let go', async () => {
    const deleted = await createToken(alice);
    const revoked = await createToken(bob);
    const expiring = await createToken(alice, 1);
    const tokens = [deleted, revoked, expiring];
    for (const t of tokens) expect(await apiStatus(lab, t.token, TEAM_A_CONFIGMAPS)).toBe(200);

    expect((await kaasCall('DELETE', `/api/v1/tokens/${deleted.id}`, { session: alice })).status).toBe(204);
    const revoke = await kaasCall('DELETE', `/api/v1/clusters/tr-v1/admin/tokens/${revoked.id}`, {
      session: alice,
    });
    expect(revoke.status).toBe(204);
    clockOffsetMs = 86_400_000 + 1_000; // a day later for kaas: the one-day token has expired
    try {
      await auth.sync(); // ...and its Keystone mirror fresh, or TokenReview would fail closed as stale
      const revokedAt = Date.now();
      for (const t of tokens) {
        const review = await kaasCall('POST', '/tokenreview/tr-v1', {
          body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: t.token } },
        });
        expect(JSON.parse(review.text).status.authenticated, 'kaas refuses at once').toBe(false);
      }
      // kube-apiserver still answers from its caches...
      expect(await apiStatus(lab, deleted.token, TEAM_A_CONFIGMAPS)).toBe(200);
      // ...until both have let go: the webhook TTL plus its built-in success cache, at most.
      await Promise.all(
        tokens.map((t) =>
          lab.waitFor(
            'kube-apiserver to refuse a dead token',
            async () => (await apiStatus(lab, t.token, TEAM_A_CONFIGMAPS)) === 401,
            30_000,
          ),
        ),
      );
      expect(Date.now() - revokedAt).toBeLessThan(CACHE_TTL_MS + APISERVER_SUCCESS_CACHE_MS + 2_000);
    } finally {
      clockOffsetMs = 0;
      // That day-later sync also ended the test users' idle sessions: sign them in again.
      alice = await login(users.alice);
      bob = await login(users.bob);
    }
  }, 60_000);
});

describe('TokenReview v1beta1 through a real kube-apiserver', () => {
  it('answers in the apiVersion it was asked in, and the apiserver accepts the identity', async () => {
    const { kubeconfig: config } = await tokenKubeconfig(alice, 'tr-v1beta1');
    const info = await whoami(v1beta1Lab, config);
    expect(info.username).toBe(users.alice.name);
    expect(info.uid).toBe(users.alice.id);
    expect(info.groups).toContain(roles.admin.id);
    const mine = exchanges.filter((e) => e.clusterId === 'tr-v1beta1');
    expect(mine.length).toBeGreaterThan(0);
    for (const e of mine) {
      expect(e.received.apiVersion).toBe('authentication.k8s.io/v1beta1');
      expect(e.answered.apiVersion).toBe('authentication.k8s.io/v1beta1');
      expect(e.answered.status?.['authenticated']).toBe(true);
    }
  });
});

describe('A token restricted to one cluster', () => {
  it("authenticates at that cluster's kube-apiserver and gets 401 from another's", async () => {
    const { token } = await createToken(alice, undefined, ['tr-v1beta1']);
    const before = exchanges.length;
    // Authenticated there (403 would only mean RBAC grants nothing on that bare cluster).
    expect(await apiStatus(v1beta1Lab, token, '/api/v1/namespaces')).not.toBe(401);
    expect(await apiStatus(v1Lab, token, '/api/v1/namespaces')).toBe(401);
    const answered = exchanges.slice(before);
    expect(answered.find((e) => e.clusterId === 'tr-v1beta1')?.answered.status?.['authenticated']).toBe(true);
    expect(answered.find((e) => e.clusterId === 'tr-v1')?.answered.status).toEqual({
      authenticated: false,
      error: expect.stringMatching(/^token is restricted to other clusters than /),
    });
  });
});

describe('TokenReview for an API audience kaas does not serve', () => {
  it('refuses the token, and kube-apiserver answers 401', async () => {
    const { kubeconfig: config } = await tokenKubeconfig(alice, 'tr-audience');
    expect(await kubectlFails(audienceLab, ['auth', 'whoami'], config)).toContain('Unauthorized');
    const mine = exchanges.filter((e) => e.clusterId === 'tr-audience');
    expect(mine.length).toBeGreaterThan(0);
    for (const e of mine) {
      expect(e.status).toBe(200);
      expect(e.received.spec?.audiences).toEqual([FOREIGN_AUDIENCE]);
      expect(e.answered).not.toHaveProperty('spec');
      expect(e.answered.status).toEqual({
        authenticated: false,
        error: 'none of the requested audiences is served by kaas',
      });
    }
  });
});

describe('TokenReview while kaas is down', () => {
  it('fails closed with 401, never 5xx, and works again once kaas is back', async () => {
    // A token the apiserver has never seen: no cache can answer for it.
    const { token, kubeconfig: config } = await tokenKubeconfig(alice, 'tr-v1');
    await kaas?.close();
    kaas = undefined;
    const reviewsBefore = exchanges.length;
    expect(await apiStatus(v1Lab, token)).toBe(401);
    expect(await kubectlFails(v1Lab, ['get', 'namespaces'], config)).toContain('Unauthorized');
    expect(exchanges.length).toBe(reviewsBefore);
    await startKaas(kaasPort);
    expect(await apiStatus(v1Lab, token)).toBe(200);
    expect((await whoami(v1Lab, config)).username).toBe(users.alice.name);
  }, 60_000);
});
