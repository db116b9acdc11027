import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keystoneDirectory } from '../../src/auth/directory.ts';
import { createAuthService, type AuthService } from '../../src/auth/service.ts';
import { configForProject, createCloud, type Cloud, type CloudConfig } from '../../src/openstack/index.ts';
import type { Provisioner } from '../../src/provisioner/provisioner.ts';
import { buildApp } from '../../src/server/app.ts';
import type { Store } from '../../src/store/db.ts';
import { findCluster } from '../../src/store/findCluster.ts';
import { startCloudsim } from '../../src/cloudsim/index.ts';
import { adminConfig, labAdminConfig } from '../support/openstack.ts';
import { reviewRequest } from '../support/tokenreview.ts';
import * as support from './support.ts';

/**
 * Tenancy on the real lab (Keystone, Nova with the fake driver, Neutron, Glance, Swift) and on
 * cloudsim: a cluster
 * asked for in a project of its own is built there by kaas's user scoped to it, none of it in
 * kaas's project; it is visible to that project's users only (panel list, API, TokenReview); a
 * project kaas holds no role on, or any project when kaas uses an application credential, is
 * refused before anything is recorded.
 */
const run = randomBytes(3).toString('hex');
const name = `ten${run}`;
const password = `Pw-${randomBytes(6).toString('hex')}`;
/** Where the suite runs: the real lab, and cloudsim (which must honour project scope the same way). */
const TARGETS = [
  { name: 'lab', start: async () => ({ config: labAdminConfig(), stop: async () => undefined }) },
  {
    name: 'cloudsim',
    async start() {
      const sim = await startCloudsim({ port: 0, bootTimeMs: 20 });
      return { config: adminConfig(sim.authUrl), stop: () => sim.close() };
    },
  },
];

describe.each(TARGETS)('tenancy on $name', (target) => {
  let config: CloudConfig;
  let stop: (() => Promise<void>) | undefined;
  let flavorName: string;
  let admin: Cloud;
  let store: Store;
  let p: Provisioner;
  let auth: AuthService;
  let app: FastifyInstance;
  /** Projects, users and roles the suite made, removed in afterAll. */
  const cleanup: (() => Promise<unknown>)[] = [];
  let projectA: { id: string; name: string };
  let projectB: { id: string; name: string };
  let inA: Cloud;
  let member: { id: string; name: string };

  /** A Keystone project of this run, removed afterwards. */
  async function project(suffix: string) {
    const made = await admin.keystone.createProject({ name: `kaas-${name}-${suffix}` });
    cleanup.push(() => admin.keystone.deleteProject(made.id));
    return { id: made.id, name: made.name };
  }

  /** A Keystone user of this run holding `member` on each of `on`, removed afterwards. */
  async function user(suffix: string, on: { id: string }[], defaultProjectId?: string) {
    const made = await admin.keystone.createUser({
      name: `kaas-${name}-${suffix}`,
      password,
      ...(defaultProjectId ? { defaultProjectId } : {}),
    });
    cleanup.push(() => admin.keystone.deleteUser(made.id));
    for (const project of on)
      await admin.keystone.assignProjectRole({ projectId: project.id, roleId: member.id, userId: made.id });
    return made;
  }

  /** Logs `username` in to kaas: the session cookie and CSRF token. */
  async function session(username: string) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/login', payload: { username, password } });
    expect(res.statusCode).toBe(200);
    const cookie = res.cookies.find((c) => c.name === 'kaas_session');
    return { cookie: `kaas_session=${cookie?.value}`, 'x-csrf-token': res.json().csrfToken as string };
  }

  /** A kaas API token of `username`. */
  async function apiToken(username: string): Promise<string> {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: await session(username),
      payload: { name: 'tenancy' },
    });
    expect(res.statusCode).toBe(201);
    return res.json().token as string;
  }

  const spec = (clusterName: string) =>
    support.testSpec(clusterName, 1, {
      masterFlavor: flavorName,
      image: `kaas-${name}`,
      nodeGroups: [{ name: 'default', count: 1, flavor: flavorName }],
      // Holders of member administer the cluster: the users of its project, not of kaas's.
      adminRoleId: member.id,
    });
  const options = { waitForApi: false, requireExternalNetwork: false };

  beforeAll(async () => {
    ({ config, stop } = await target.start());
    admin = support.testCloud(config);
    store = await support.provisionerStore();
    p = support.testProvisioner(store, admin, await support.testWebhook(), {
      pollIntervalMs: 500,
      waitTimeoutMs: 180_000,
    });
    member = (await admin.keystone.listRoles({ name: 'member' }))[0]!;
    projectA = await project('a');
    projectB = await project('b');
    const kaasUser = (await admin.session.token()).user.id;
    // What kaas's user needs on a cluster's project: member, and load-balancer_member for Octavia's
    // default policy (delete's sweep lists the project's load balancers). The lab has no such role.
    let lbMember = (await admin.keystone.listRoles({ name: 'load-balancer_member' }))[0];
    if (!lbMember) {
      const made = await admin.keystone.createRole({ name: 'load-balancer_member' });
      cleanup.push(() => admin.keystone.deleteRole(made.id));
      lbMember = made;
    }
    for (const role of [member, lbMember]) {
      await admin.keystone.assignProjectRole({ projectId: projectA.id, roleId: role.id, userId: kaasUser });
    }
    inA = createCloud({ config: configForProject(config, projectA.id), logger: support.logger });
    // cloudsim's fixed flavors, or one made for this run (the lab starts with none).
    const existing = (await admin.nova.listFlavors()).sort((a, b) => a.ram - b.ram)[0];
    if (existing) flavorName = existing.name;
    else {
      const flavor = await admin.nova.createFlavor({ name: `kaas-${name}`, ram: 512, vcpus: 1, disk: 1 });
      cleanup.push(() => admin.nova.deleteFlavor(flavor.id));
      flavorName = flavor.name;
    }
    // Public: the cluster's servers boot in another project than the image's.
    const image = await admin.glance.createImage({ name: `kaas-${name}`, visibility: 'public' });
    cleanup.push(() => admin.glance.deleteImage(image.id, { ignoreMissing: true }));
    await admin.glance.uploadImage(image.id, randomBytes(64 * 1024));
    auth = createAuthService({
      store,
      directory: keystoneDirectory(admin),
      logger: support.logger,
      now: () => new Date(),
    });
    app = await buildApp({
      store,
      logger: support.logger,
      now: () => new Date(),
      auth,
      provisioner: p,
      isOperator: async () => true,
    });
  }, 120_000);

  afterAll(async () => {
    for (const c of await p.listClusters().catch(() => [])) {
      await p.deleteCluster(c.id).catch(() => undefined);
      await p.runUntilIdle();
    }
    await app?.close();
    await auth?.close();
    for (const undo of cleanup.reverse()) await undo().catch(() => undefined);
    await store?.close();
    await stop?.();
  }, 300_000);

  /** The cluster's resources in `cloud`'s project (tagged ones, staged release) and its credentials' projects. */
  async function resources(cloud: Cloud, clusterId: string, clusterName: string) {
    const kaasUser = (await cloud.session.token()).user.id;
    return {
      ...(await support.taggedCounts(cloud, clusterId)),
      artifacts: await cloud.swift.headContainer(`kaas-${clusterName}-artifacts`).then(
        () => 1,
        () => 0,
      ),
      // Keystone lists a user's credentials of every project: each names the one it acts in.
      credentials: (await cloud.keystone.listApplicationCredentials(kaasUser))
        .filter((c) => c.name.startsWith(`kaas-cluster-${clusterId}-`))
        .map((c) => c.project_id),
    };
  }

  describe('a cluster of project A', () => {
    it(
      "is made through the API in A by A's user, built in A and nowhere in kaas's project, seen only by A's users (panel, API, TokenReview), and deleted leaving nothing in A",
      { timeout: 900_000 },
      async () => {
        const alice = await user('alice', [projectA]);
        const bob = await user('bob', [projectB]);
        await auth.sync();

        // bob holds no role on A: refused, nothing recorded.
        const refused = await app.inject({
          method: 'POST',
          url: '/api/v1/clusters',
          headers: await session(bob.name),
          payload: { spec: spec(`${name}x`), options, project: projectA.name },
        });
        expect(refused.statusCode).toBe(403);
        expect(refused.json().error.code).toBe('project_forbidden');
        expect(await p.listClusters()).toEqual([]);

        // Without a project: alice's, A (the only one she holds a role on), not kaas's.
        const created = await app.inject({
          method: 'POST',
          url: '/api/v1/clusters',
          headers: await session(alice.name),
          payload: { spec: spec(name), options },
        });
        expect(created.statusCode).toBe(202);
        const id = created.json().cluster.id as string;
        expect(await findCluster({ db: store.db, id })).toMatchObject({
          projectId: projectA.id,
          projectName: projectA.name,
        });
        await p.runUntilIdle();
        const job = await p.getJob(created.json().job.id);
        expect(job.job.error).toBeNull();
        expect(job.job.state).toBe('succeeded');

        // Built in A: 1 master + 1 worker, their network, the staged release, its credential.
        const built = { servers: 2, networks: 1, subnets: 1, routers: 1, securityGroups: 2, ports: 1 };
        expect(await resources(inA, id, name)).toEqual({
          ...built,
          artifacts: 1,
          credentials: [projectA.id],
        });
        for (const server of await inA.nova.listServers({ tags: [`kaas-cluster=${id}`] })) {
          expect((server as unknown as { tenant_id: string }).tenant_id).toBe(projectA.id);
        }
        // Neutron shows admin every project's: each tagged resource is A's.
        const tags = [`kaas-cluster=${id}`];
        const neutron = admin.neutron;
        for (const list of [
          neutron.networks,
          neutron.subnets,
          neutron.routers,
          neutron.securityGroups,
          neutron.ports,
        ]) {
          for (const item of await list.list({ tags })) expect(item.project_id).toBe(projectA.id);
        }
        // None of it in kaas's own project: no server, no container in its Swift account.
        expect((await admin.nova.listServers({ tags })).length).toBe(0);
        expect(
          await admin.swift.headContainer(`kaas-${name}-artifacts`).then(
            () => 1,
            () => 0,
          ),
        ).toBe(0);

        // A resize finds A's servers (their indexes) and adds the next one in A.
        await p.resizeCluster(id, 'default', 2);
        await p.runUntilIdle();
        expect((await support.taggedCounts(inA, id)).servers).toBe(3);
        expect((await admin.nova.listServers({ tags })).length).toBe(0);

        // Visibility: alice (A) sees and administers it; bob (B) does not see it anywhere.
        await auth.sync();
        const listed = async (username: string) =>
          (await app.inject({ method: 'GET', url: '/api/v1/clusters', headers: await session(username) }))
            .json()
            .items.map((c: { id: string }) => c.id);
        expect(await listed(alice.name)).toEqual([id]);
        expect(await listed(bob.name)).toEqual([]);
        const get = async (username: string) =>
          (
            await app.inject({
              method: 'GET',
              url: `/api/v1/clusters/${id}`,
              headers: await session(username),
            })
          ).statusCode;
        expect(await get(alice.name)).toBe(200);
        expect(await get(bob.name)).toBe(404);
        // The panel's per-cluster routes answer bob as for a cluster that does not exist.
        const bobs = await session(bob.name);
        for (const [method, url, payload] of [
          ['GET', `/api/v1/clusters/${id}/services`],
          ['GET', `/api/v1/clusters/${id}/nodes`],
          ['GET', `/api/v1/clusters/${id}/kubeconfig`],
          ['POST', `/api/v1/clusters/${id}/kubeconfig`, { token: 'kaas_' + 'x'.repeat(40) }],
          ['GET', `/api/v1/clusters/${id}/jobs`],
          ['PUT', '/api/v1/session/active-cluster', { clusterId: id }],
        ] as const) {
          const res = await app.inject({ method, url, headers: bobs, ...(payload ? { payload } : {}) });
          expect(res.statusCode, `${method} ${url}`).toBe(404);
          expect(res.body).not.toContain(name);
        }
        // alice's list and the cluster's view name its project.
        const mine = await app.inject({
          method: 'GET',
          url: '/api/v1/clusters',
          headers: await session(alice.name),
        });
        expect(mine.json().items[0].project).toEqual(projectA);
        expect(await p.getCluster(id)).toMatchObject({ project: projectA });
        const review = async (username: string) =>
          (
            await app.inject({
              method: 'POST',
              url: `/tokenreview/${id}?timeout=30s`,
              payload: reviewRequest(await apiToken(username)),
            })
          ).json().status;
        expect(await review(alice.name)).toMatchObject({
          authenticated: true,
          user: { username: alice.name, uid: alice.id, extra: { 'kaas.io/project-id': [projectA.id] } },
        });
        expect(await review(bob.name)).toMatchObject({ authenticated: false });

        const del = await p.deleteCluster(id);
        await p.runUntilIdle();
        const deleted = await p.getJob(del.id);
        expect(deleted.job.error).toBeNull();
        expect(deleted.job.state).toBe('succeeded');
        expect(await resources(inA, id, name)).toEqual({
          ...support.NONE_TAGGED,
          artifacts: 0,
          credentials: [],
        });
      },
    );

    it(
      "goes, asked for without a project, to the requester's default project, else their only one, else 400 project_required",
      { timeout: 180_000 },
      async () => {
        // carol: A and B, B her Keystone default; erin: A only, B her default (no role there);
        // dave: A and B, no default.
        const carol = await user('carol', [projectA, projectB], projectB.id);
        const erin = await user('erin', [projectA], projectB.id);
        const dave = await user('dave', [projectA, projectB]);
        const projects = async (username: string) =>
          (
            await app.inject({
              method: 'GET',
              url: '/api/v1/catalog/projects',
              headers: await session(username),
            })
          ).json();
        const both = [projectA, projectB].sort((x, y) => x.name.localeCompare(y.name));
        expect(await projects(carol.name)).toEqual({ items: both, defaultProjectId: projectB.id });
        expect(await projects(erin.name)).toEqual({ items: [projectA], defaultProjectId: projectA.id });
        expect(await projects(dave.name)).toEqual({ items: both, defaultProjectId: null });
        expect(await p.requesterProject(carol.id, undefined)).toEqual(projectB);
        expect(await p.requesterProject(erin.id, undefined)).toEqual(projectA);

        const refused = await app.inject({
          method: 'POST',
          url: '/api/v1/clusters',
          headers: await session(dave.name),
          payload: { spec: spec(`${name}d`), options },
        });
        expect(refused.statusCode).toBe(400);
        expect(refused.json().error).toMatchObject({
          code: 'project_required',
          field: 'project',
          message: expect.stringContaining(`${projectA.name} (${projectA.id})`),
        });
        expect((await p.listClusters()).filter((c) => c.name === `${name}d`)).toEqual([]);
      },
    );

    it(
      'is refused, nothing recorded, in a project kaas holds no role on, then one where it lacks member, then load-balancer_member',
      { timeout: 120_000 },
      async () => {
        const refused = (projectId: string) =>
          p.createCluster(spec(`${name}r`), options, { projectId }).then(
            () => undefined,
            (error: { code: string; message: string }) => error,
          );
        const kaasUser = (await admin.session.token()).user;
        const none = await refused(projectB.id);
        expect(none).toMatchObject({ code: 'project_role_missing' });
        expect(none!.message).toContain(`kaas's user ${kaasUser.name} cannot act in project ${projectB.id}`);
        expect(none!.message).toContain(
          'the roles member and load-balancer_member on it; nothing was created',
        );

        const grant = async (roleName: string) => {
          const [role] = await admin.keystone.listRoles({ name: roleName });
          await admin.keystone.assignProjectRole({
            projectId: projectB.id,
            roleId: role!.id,
            userId: kaasUser.id,
          });
        };
        await grant('reader');
        const readerOnly = await refused(projectB.id);
        expect(readerOnly).toMatchObject({ code: 'project_role_missing' });
        expect(readerOnly!.message).toContain(
          `kaas's user ${kaasUser.name} lacks member and load-balancer_member on project ${projectB.name} (${projectB.id})`,
        );
        // member alone: Octavia's default policy still refuses it the project's load balancers.
        await grant('member');
        const memberOnly = await refused(projectB.id);
        expect(memberOnly).toMatchObject({ code: 'project_role_missing' });
        expect(memberOnly!.message).toContain(
          `kaas's user ${kaasUser.name} lacks load-balancer_member on project ${projectB.name} (${projectB.id})`,
        );
        expect(memberOnly!.message).toContain(`the role load-balancer_member on it; nothing was created`);
        expect((await p.listClusters()).filter((c) => c.name === `${name}r`)).toEqual([]);
      },
    );

    it('is refused when kaas authenticates with an application credential, which cannot leave its project; its own project is served', async () => {
      const kaasUser = (await admin.session.token()).user.id;
      const cred = await admin.keystone.createApplicationCredential(kaasUser, {
        name: `kaas-${name}-appcred`,
      });
      cleanup.push(() => admin.keystone.deleteApplicationCredential(kaasUser, cred.id));
      const lab = config;
      const appCloud = createCloud({
        config: {
          ...lab,
          authType: 'application_credential',
          auth: {
            authUrl: lab.auth.authUrl,
            applicationCredentialId: cred.id,
            applicationCredentialSecret: cred.secret,
          },
        },
        logger: support.logger,
      });
      const appStore = await support.provisionerStore();
      try {
        const q = support.testProvisioner(appStore, appCloud, await support.testWebhook());
        await expect(
          q.createCluster(spec(`${name}ac`), options, { projectId: projectA.id }),
        ).rejects.toMatchObject({
          code: 'project_scope_fixed',
          message: expect.stringContaining(`cannot act in project ${projectA.id}`),
        });
        expect(await q.listClusters()).toEqual([]);
        // Its own project stays open to it: the credential's session is used as it is (the job is
        // not run, so nothing is made in the cloud).
        const own = await q.createCluster(spec(`${name}ac`), options);
        expect(await findCluster({ db: appStore.db, id: own.cluster.id })).toMatchObject({
          projectId: (await admin.session.token()).project!.id,
        });
      } finally {
        await appStore.close();
      }
    });
  });
});
