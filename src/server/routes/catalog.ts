import type { FastifyInstance, FastifyRequest } from 'fastify';
import { specFromEnv } from '../../cluster/defaults.ts';
import { UpstreamError } from '../../errors.ts';
import type { Cloud } from '../../openstack/index.ts';
import { DEFAULT_RELEASE, KUBERNETES_RELEASES } from '../../versions/index.ts';
import { nullable, object } from '../openapi.ts';
import { requirePrincipal } from '../principal.ts';
import type { Principal } from '../../auth/service.ts';
import { requireOperator } from './clusters.ts';
import { panelRoute } from './panel.ts';
import { itemsOf, projectSchema } from './schemas.ts';
import type { UserProjects } from '../../provisioner/projects.ts';

/** What the create form's lists need: the cloud clusters are built in, and who may create them. */
export interface CatalogDeps {
  /**
   * The provisioner's cloud: the flavors and images it can boot are the ones a cluster may name.
   * Without it only the versions and the caller's permissions are served.
   */
  cloud?: Pick<Cloud, 'nova' | 'glance'>;
  isOperator: ((principal: Principal) => Promise<boolean>) | undefined;
  /** The projects a user holds a role on now and their default one (the provisioner's requesterProjects). */
  projects?: (userId: string) => Promise<UserProjects>;
  /**
   * The environment the form's defaults come from, as `kaas cluster create` reads its own (KUBE_IMAGE,
   * KUBE_ADMIN_ROLE_ID, NUM_NODES…, KAAS_WAIT_FOR_API); default none, so the defaults of src/cluster.
   */
  createEnv?: Readonly<Record<string, string | undefined>>;
}

const str = { type: 'string' } as const;
const int = { type: 'integer', minimum: 0 } as const;

const versionsRoute = panelRoute(
  'The Kubernetes versions of the catalogue, newest first',
  {
    response: {
      200: itemsOf(object({ version: str, minor: str, isDefault: { type: 'boolean' } })),
    },
  },
  'catalog',
);

const flavorsRoute = panelRoute(
  'The flavors the cloud offers for nodes (kaas operators)',
  { response: { 200: itemsOf(object({ id: str, name: str, vcpus: int, ramMb: int, diskGb: int })) } },
  'catalog',
);

const imagesRoute = panelRoute(
  'The active images the cloud offers for nodes (kaas operators)',
  { response: { 200: itemsOf(object({ id: str, name: str })) } },
  'catalog',
);

const group = object({ name: str, count: int, flavor: str, image: str });
const defaultsRoute = panelRoute(
  "The spec a new cluster gets unless the form changes it: the CLI's defaults and the server's environment (kaas operators)",
  {
    response: {
      200: object({
        spec: {
          type: 'object',
          description: 'every spec field but name; adminRoleId is null when the server sets none',
          required: ['kubernetesVersion', 'masters', 'masterFlavor', 'image', 'nodeGroups', 'adminRoleId'],
          properties: {
            kubernetesVersion: str,
            masters: int,
            masterFlavor: str,
            image: str,
            nodeGroups: { type: 'array', items: group },
            adminRoleId: nullable(str),
          },
        },
        options: object({ waitForApi: { type: 'boolean' } }),
      }),
    },
  },
  'catalog',
);

const projectsRoute = panelRoute(
  'Your OpenStack projects (those you hold a role on now, by name) and the one a cluster you create goes to when you name none (null: you must choose)',
  {
    response: {
      200: object({ items: { type: 'array', items: projectSchema }, defaultProjectId: nullable(str) }),
    },
  },
  'catalog',
);

const permissionsRoute = panelRoute('What the caller may do beyond their clusters', {
  response: { 200: object({ createClusters: { type: 'boolean' } }) },
});

/** Runs a read of the cloud; any failure is the cloud's (502), never the caller's. */
async function fromCloud<T>(what: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw new UpstreamError(`the cloud could not list its ${what}: ${(error as Error).message}`, {
      code: 'cloud_unavailable',
      cause: error,
    });
  }
}

/** A placeholder for the fields the form always sets, so the defaults validate as a whole. */
const PLACEHOLDER = 'placeholder';

/**
 * What the control panel's "Create cluster" form offers: the version catalogue (any signed-in user,
 * for upgrades too), and for operators the cloud's flavors and images, read with the provisioner's
 * credentials, and the defaults `kaas cluster create` would use.
 */
export function registerCatalogRoutes(app: FastifyInstance, deps: CatalogDeps): void {
  const operatorOnly = { preHandler: requireOperator(deps.isOperator) };
  const env = deps.createEnv ?? {};

  app.get('/api/v1/catalog/versions', versionsRoute, async () => ({
    items: [...KUBERNETES_RELEASES]
      .reverse()
      .map((r) => ({ version: r.patch, minor: r.minor, isDefault: r === DEFAULT_RELEASE })),
  }));

  app.get('/api/v1/permissions', permissionsRoute, async (request: FastifyRequest) => ({
    createClusters: deps.isOperator ? await deps.isOperator(requirePrincipal(request)) : false,
  }));

  const projects = deps.projects;
  if (projects)
    app.get('/api/v1/catalog/projects', projectsRoute, async (request: FastifyRequest) =>
      fromCloud('projects', () => projects(requirePrincipal(request).userId)),
    );

  const cloud = deps.cloud;
  if (!cloud) return;

  app.get('/api/v1/catalog/flavors', { ...flavorsRoute, ...operatorOnly }, async () => {
    const flavors = await fromCloud('flavors', () => cloud.nova.listFlavors());
    return {
      items: flavors
        .map((f) => ({ id: f.id, name: f.name, vcpus: f.vcpus, ramMb: f.ram, diskGb: f.disk }))
        .sort((a, b) => a.vcpus - b.vcpus || a.ramMb - b.ramMb || a.name.localeCompare(b.name)),
    };
  });

  app.get('/api/v1/catalog/images', { ...imagesRoute, ...operatorOnly }, async () => {
    const images = await fromCloud('images', () => cloud.glance.listImages({ status: 'active' }));
    return {
      items: images
        .filter((i): i is typeof i & { name: string } => Boolean(i.name))
        .map((i) => ({ id: i.id, name: i.name }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    };
  });

  app.get('/api/v1/catalog/defaults', { ...defaultsRoute, ...operatorOnly }, async () => {
    const adminRoleId = env.KUBE_ADMIN_ROLE_ID?.trim() || null;
    const spec = specFromEnv(env, { name: PLACEHOLDER, adminRoleId: adminRoleId ?? PLACEHOLDER });
    const { name: _name, ...rest } = spec;
    return {
      spec: { ...rest, adminRoleId },
      options: { waitForApi: env.KAAS_WAIT_FOR_API?.trim() !== 'false' },
    };
  });
}
