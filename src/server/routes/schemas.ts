import { component, nullable, object, type JsonSchema } from '../openapi.ts';

/** Shapes that more than one route answers with (each a component of the OpenAPI document). */

const str = { type: 'string' } as const;
const int = { type: 'integer', minimum: 0 } as const;
const strings = { type: 'array', items: str } as const;
const nullableStr = nullable(str);
/** An OpenStack project: id and name. */
export const projectSchema = object({ id: str, name: str });

/** `{ items: [item…] }`. */
export function itemsOf(item: JsonSchema): JsonSchema {
  return object({ items: { type: 'array', items: item } });
}

/** The signed-in user of a session. */
export const sessionUserSchema = object({ id: str, name: str, domain: str });

/** How many Nodes there are and how many are Ready. */
export const nodeCountSchema = object({ ready: int, total: int });

/** A cluster's Nodes read from its own API (provisioner/observe.ts ObservedState). */
export const observedSchema = component(
  'Observed',
  object(
    {
      checkedAt: str,
      reachable: { type: 'boolean' },
      reason: { ...str, description: 'why the API could not be read' },
      noApi: {
        type: 'boolean',
        description: "true when the cluster has no Kubernetes API at all (kaas dev's embedded cloud)",
      },
      notYet: {
        type: 'boolean',
        description: 'true while the cluster has no API endpoint yet (being created, or its create failed)',
      },
      nodes: nodeCountSchema,
      groups: {
        type: 'array',
        items: object({ name: str, ready: int, total: int, kubeletVersions: strings }),
      },
    },
    ['reason', 'noApi', 'notYet'],
  ),
);

/** The managed services of a cluster with their ingress URLs (and, for admins, whether they answer). */
export const serviceListSchema = component(
  'ServiceList',
  object(
    {
      ingressDomain: nullableStr,
      items: {
        type: 'array',
        items: object(
          {
            id: str,
            name: str,
            description: str,
            url: nullableStr,
            status: { enum: ['up', 'down', 'unknown'] },
            detail: str,
          },
          ['status', 'detail'],
        ),
      },
      /** Administrators: how the last reconcile pass ended, and each service as the applier last found it. */
      reconcile: object({
        syncedAt: { ...nullableStr, description: 'when the last full reconcile pass ended; null: never' },
        error: { ...nullableStr, description: 'why the last pass failed; null when it converged' },
        services: {
          type: 'array',
          items: object({
            name: str,
            state: { enum: ['pending', 'applying', 'ready', 'failed'] },
            message: str,
            observedAt: str,
          }),
        },
      }),
    },
    ['reconcile'],
  ),
);

/** An API token as listed (never its secret). */
export const tokenSchema = component(
  'Token',
  object(
    {
      id: str,
      name: str,
      createdAt: str,
      expiresAt: str,
      lastUsedAt: nullableStr,
      clusters: { ...strings, description: 'the only clusters the token is valid on' },
    },
    ['clusters', 'lastUsedAt'],
  ),
);

const jobErrorSchema = object({ stepId: str, code: str, message: str }, ['stepId']);

/** A provisioning job (store/findJob.ts JobRecord). */
export const jobSchema = component(
  'Job',
  object({
    id: str,
    clusterId: str,
    kind: { enum: ['create', 'resize', 'upgrade', 'delete', 'rotate', 'heal'] },
    state: { enum: ['queued', 'running', 'succeeded', 'failed', 'cancelled'] },
    input: { description: 'the plan and spec the job works from' },
    error: nullable(jobErrorSchema),
    createdAt: str,
    updatedAt: str,
    leaseOwner: nullableStr,
    leaseExpiresAt: nullableStr,
    attempt: int,
  }),
);

/** `{ job }`: what a mutation of a cluster answers with. */
export const jobResultSchema = object({ job: jobSchema });

/** A cluster as the lifecycle API shows it (provisioner ClusterView). */
export const clusterViewSchema = component(
  'Cluster',
  object(
    {
      id: str,
      name: str,
      status: str,
      spec: { type: 'object', required: ['name', 'kubernetesVersion'], description: 'the validated spec' },
      options: { type: 'object' },
      createdAt: str,
      updatedAt: str,
      project: { ...nullable(projectSchema), description: 'the OpenStack project the cluster belongs to' },
      lastJob: jobSchema,
      conditions: {
        type: 'array',
        description:
          "what kaas's controllers report: AutoHeal (status False: healing stopped, a person must look)",
        items: object({
          type: { enum: ['AutoHeal'] },
          status: { enum: ['True', 'False'] },
          reason: str,
          message: str,
        }),
      },
      observed: observedSchema,
    },
    ['lastJob', 'observed'],
  ),
);

/** A job with its steps and events (provisioner JobView). */
export const jobViewSchema = object({
  job: jobSchema,
  steps: {
    type: 'array',
    items: object({
      jobId: str,
      stepId: str,
      position: int,
      state: str,
      output: {},
      error: nullable(jobErrorSchema),
      startedAt: nullableStr,
      finishedAt: nullableStr,
      runs: int,
    }),
  },
  events: {
    type: 'array',
    items: object({ at: str, stepId: nullableStr, level: { enum: ['info', 'warn', 'error'] }, message: str }),
  },
});
