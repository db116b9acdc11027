import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminConfig } from '../../../test/support/openstack.ts';
import { callAs, panelTestApp } from '../../../test/support/panelApp.ts';
import { startCloudsim, type Cloudsim } from '../../cloudsim/index.ts';
import { validateSpec } from '../../cluster/validate.ts';
import { createLogger } from '../../log.ts';
import { createCloud } from '../../openstack/index.ts';
import { DEFAULT_RELEASE, KUBERNETES_RELEASES } from '../../versions/index.ts';
import { userProjects } from '../../provisioner/projects.ts';
import { registerCatalogRoutes } from './catalog.ts';

// The create form's lists, read from a real (simulated) cloud: cloudsim's Nova and Glance.
let sim: Cloudsim;
let app: FastifyInstance;
let close: () => Promise<void>;

/** The fixture's users as Keystone (cloudsim) knows them: the projects route asks it about each. */
const keystoneIds: Record<string, string> = {};

beforeAll(async () => {
  sim = await startCloudsim({ port: 0 });
  const cloud = createCloud({ config: adminConfig(sim.authUrl), logger: createLogger({ level: 'silent' }) });
  // ada: member of team-a and team-b, team-b her default; max: reader of team-a only, his default
  // a project he holds no role on; otto: no role anywhere.
  const [teamA, teamB, elsewhere] = ['team-a', 'team-b', 'elsewhere'].map((name) =>
    sim.seedProject({ name }),
  );
  const ada = sim.seedUser({ name: 'ada', password: 'pw', defaultProjectId: teamB!.id });
  const max = sim.seedUser({ name: 'max', password: 'pw', defaultProjectId: elsewhere!.id });
  const otto = sim.seedUser({ name: 'otto', password: 'pw' });
  for (const projectId of [teamA!.id, teamB!.id])
    sim.assignRole({ projectId, roleId: sim.seedRole('member').id, userId: ada.id });
  sim.assignRole({ projectId: teamA!.id, roleId: sim.seedRole('reader').id, userId: max.id });
  Object.assign(keystoneIds, { 'u-admin': ada.id, 'u-member': max.id, 'u-out': otto.id });
  const fixture = await panelTestApp({
    register: (a) =>
      registerCatalogRoutes(a, {
        cloud,
        isOperator: async (p) => p.userId === 'u-admin',
        projects: (userId) => userProjects(cloud.keystone, keystoneIds[userId]!),
        createEnv: { KUBE_IMAGE: 'debian-12', KUBE_ADMIN_ROLE_ID: 'r-admin', KAAS_WAIT_FOR_API: 'false' },
      }),
  });
  app = fixture.app;
  close = fixture.close;
});
afterAll(async () => {
  await close();
  await sim.close();
});

const get = (user: string, url: string) => callAs(app, user, 'GET', url);

describe('the create form catalogue', () => {
  it("gives operators the cloud's flavors and active images, smallest flavor first", async () => {
    const flavors = await get('admin', '/api/v1/catalog/flavors');
    expect(flavors.statusCode, flavors.body).toBe(200);
    const names = flavors.json().items.map((f: { name: string }) => f.name);
    expect(names).toEqual(['m1.tiny', 'm1.small', 'm1.medium', 'm1.large', 'm1.xlarge']);
    expect(flavors.json().items[3]).toMatchObject({ name: 'm1.large', vcpus: 4, ramMb: 8192, diskGb: 40 });

    const images = await get('admin', '/api/v1/catalog/images');
    expect(images.statusCode, images.body).toBe(200);
    expect(images.json().items.map((i: { name: string }) => i.name)).toEqual(
      expect.arrayContaining(['debian-12', 'flatcar-stable', 'ubuntu-24.04']),
    );
  });

  it("gives operators the CLI's defaults over the server's environment, a spec that validates once named", async () => {
    const res = await get('admin', '/api/v1/catalog/defaults');
    expect(res.statusCode, res.body).toBe(200);
    const { spec, options } = res.json();
    expect(spec).toMatchObject({
      kubernetesVersion: DEFAULT_RELEASE.patch,
      masters: 1,
      masterFlavor: 'm1.large',
      image: 'debian-12',
      adminRoleId: 'r-admin',
      nodeGroups: [{ name: 'default', count: 3, flavor: 'm1.large', image: 'debian-12' }],
    });
    expect(spec.name).toBeUndefined();
    expect(options).toEqual({ waitForApi: false });
    // What the form sends back is the defaults with a name: the server accepts it as it is.
    expect(validateSpec({ ...spec, name: 'first' })).toMatchObject({ name: 'first', image: 'debian-12' });
  });

  it('lists the catalogue newest first for any signed-in user, and says who may create clusters', async () => {
    const versions = await get('member', '/api/v1/catalog/versions');
    expect(versions.statusCode).toBe(200);
    expect(versions.json().items.map((v: { version: string }) => v.version)).toEqual(
      [...KUBERNETES_RELEASES].reverse().map((r) => r.patch),
    );
    expect(versions.json().items.filter((v: { isDefault: boolean }) => v.isDefault)).toHaveLength(1);
    expect((await get('admin', '/api/v1/permissions')).json()).toEqual({ createClusters: true });
    expect((await get('member', '/api/v1/permissions')).json()).toEqual({ createClusters: false });
    expect((await get('nobody', '/api/v1/catalog/versions')).statusCode).toBe(401);
  });

  it("answers each caller's own projects and default, from Keystone's assignments now", async () => {
    const projectsOf = async (user: string) => {
      const res = await get(user, '/api/v1/catalog/projects');
      expect(res.statusCode, res.body).toBe(200);
      const { items, defaultProjectId } = res.json() as {
        items: { id: string; name: string }[];
        defaultProjectId: string | null;
      };
      return { names: items.map((p) => p.name), default: items.find((p) => p.id === defaultProjectId)?.name };
    };
    expect(await projectsOf('admin')).toEqual({ names: ['team-a', 'team-b'], default: 'team-b' });
    // max's Keystone default is a project he holds no role on: his only project is the default.
    expect(await projectsOf('member')).toEqual({ names: ['team-a'], default: 'team-a' });
    expect(await projectsOf('outsider')).toEqual({ names: [], default: undefined });
    expect((await get('outsider', '/api/v1/catalog/projects')).json().defaultProjectId).toBeNull();
    expect((await get('nobody', '/api/v1/catalog/projects')).statusCode).toBe(401);
  });

  it('refuses flavors, images and defaults to non-operators (403) and anonymous callers (401)', async () => {
    for (const path of ['flavors', 'images', 'defaults']) {
      const member = await get('member', `/api/v1/catalog/${path}`);
      expect(member.statusCode, path).toBe(403);
      expect(member.json().error.message).toContain('KAAS_OPERATOR_ROLE');
      expect((await get('outsider', `/api/v1/catalog/${path}`)).statusCode, path).toBe(403);
      expect((await get('nobody', `/api/v1/catalog/${path}`)).statusCode, path).toBe(401);
    }
  });

  it('answers 502 naming the cloud when it fails, for flavors and images alike', async () => {
    // More failures than the client's retries, so the last answer the route sees is the failure.
    sim.knobs.faults.push({ service: 'compute', path: '/flavors', status: 500, times: 10 });
    const flavors = await get('admin', '/api/v1/catalog/flavors');
    expect(flavors.statusCode).toBe(502);
    expect(flavors.json().error).toMatchObject({ code: 'cloud_unavailable' });
    expect(flavors.json().error.message).toMatch(/^the cloud could not list its flavors: /);

    // A refusal by the cloud is still the cloud's failure, not the caller's 403.
    sim.knobs.faults.push({ service: 'image', path: '/v2/images', status: 403, times: 10 });
    const images = await get('admin', '/api/v1/catalog/images');
    expect(images.statusCode).toBe(502);
    expect(images.json().error.message).toMatch(/^the cloud could not list its images: /);
    sim.knobs.faults.length = 0;
  });
});
