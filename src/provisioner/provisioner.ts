/**
 * The cluster operations kaas offers (create, resize, upgrade, delete, retry) as durable jobs. Each
 * operation validates its input, computes the plan from src/cluster/plan.ts once, and stores it in
 * the job, so a resumed or retried job runs exactly the plan it started with. The engine executes
 * the plan; this module only turns plan steps into executor calls and records the outcome.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { keepAutoHeal, setAutoHeal, type AutoHealChange } from '../cluster/autoheal.ts';
import { setSizeBounds, type SizeBoundsChange } from '../cluster/bounds.ts';
import { clusterNames, tagsFor } from '../cluster/names.ts';
import * as plans from '../cluster/plan.ts';
import type { ClusterSpec } from '../cluster/spec.ts';
import { validateSpec, validateUpgrade } from '../cluster/validate.ts';
import { ConflictError, InputError, NotFoundError } from '../errors.ts';
import type { Logger } from '../log.ts';
import {
  configForProject,
  createCloud,
  isOpenStackError,
  type Cloud,
  type Server,
} from '../openstack/index.ts';
import type { Db, Store } from '../store/db.ts';
import type { KubernetesRelease } from '../versions/index.ts';
import { deleteAddonStatus } from '../store/deleteAddonStatus.ts';
import { deleteClusterSecret } from '../store/deleteClusterSecret.ts';
import { deleteProvisionedCluster } from '../store/deleteProvisionedCluster.ts';
import { findClusterEndpoint } from '../store/findClusterEndpoint.ts';
import { findCluster } from '../store/findCluster.ts';
import { findClusterSecret } from '../store/findClusterSecret.ts';
import { findHealStatus, type HealConditionRecord } from '../store/findHealStatus.ts';
import { findJob, type JobRecord } from '../store/findJob.ts';
import { findProvisionedCluster, type ProvisionedClusterRecord } from '../store/findProvisionedCluster.ts';
import { insertCluster } from '../store/insertCluster.ts';
import { insertClusterSecret } from '../store/insertClusterSecret.ts';
import { insertJob } from '../store/insertJob.ts';
import { insertAuditEvent } from '../store/insertAuditEvent.ts';
import { insertJobEvent, type JobEvent } from '../store/insertJobEvent.ts';
import { insertProvisionedCluster } from '../store/insertProvisionedCluster.ts';
import { listAddonStatus } from '../store/listAddonStatus.ts';
import { listJobEvents } from '../store/listJobEvents.ts';
import { listClusterCaCerts } from '../store/listClusterCaCerts.ts';
import { listJobs } from '../store/listJobs.ts';
import { listJobSteps, type JobStepRecord } from '../store/listJobSteps.ts';
import { listProvisionedClusters } from '../store/listProvisionedClusters.ts';
import { replaceClusterSecret } from '../store/replaceClusterSecret.ts';
import { replaceProvisionedClusterSpec } from '../store/replaceProvisionedClusterSpec.ts';
import { retryJob as retryJobRow } from '../store/retryJob.ts';
import { updateProvisionedCluster } from '../store/updateProvisionedCluster.ts';
import { upsertClusterEndpoint } from '../store/upsertClusterEndpoint.ts';
import { clusterApiFor, type ClusterApi } from './addons/client.ts';
import type { WaitOptions } from './addons/wait.ts';
import { bootstrapRenderer, type JoinMaterial } from './bootstrap.ts';
import { enrollmentStore, type SaveEnrollment } from './enrollment.ts';
import { createEngine, type Engine, type EngineHooks, type JobHandler } from './engine.ts';
import { parseOptions, type ProvisionOptions } from './options.ts';
import { issueClientCert, type KeyPair } from '../auth/pki.ts';
import { AUTOSCALER_ORGANIZATION, createAutoscale } from './autoscale.ts';
import type { EtcdClient } from './etcd.ts';
import { etcdThroughApi } from './etcdroute.ts';
import { kaasBinding, kaasIdentity, mastersCertificate } from './identity.ts';
import { jobCertificateKey, kubeadmCertsObjects } from './kubeadmcerts.ts';
import { createKubeClient, type KubeAccess, type KubeClient, type KubeClientFactory } from './kubeclient.ts';
import {
  adminKubeconfigYaml,
  generateClusterMaterial,
  jobJoinToken,
  joinMaterialOf,
  type ClusterMaterial,
  type WebhookTarget,
} from './material.ts';
import { OBSERVE_TIMEOUT_MS, observeNodes, unreachableState, type ObservedState } from './observe.ts';
import { releaseAccess, trustedRelease } from './release.ts';
import { open, seal } from './secretbox.ts';
import { generateSshKey } from './sshkey.ts';
import type { ApiProbe, RenderUserData } from './steps/context.ts';
import { chooseProject, userProjects, type ProjectRef, type UserProjects } from './projects.ts';
import { missingProjectRoles, type CredentialStore } from './steps/credential.ts';
import { hasOctavia } from './steps/loadbalancer.ts';
import { createHealer, type Healer, type HealTarget } from './heal.ts';
import { createReconciler, type Reconciler, type ReconcileTarget } from './reconcile.ts';
import { addonContext } from './steps/addons.ts';
import { runPlanStep } from './steps/index.ts';

/** Dependencies of {@link createProvisioner}. */
export interface ProvisionerDeps {
  store: Store;
  logger: Logger;
  now: () => Date;
  /** kaas's own project: the default project of clusters, and where clusters made before tenancy live. */
  cloud: Cloud;
  /**
   * kaas's service user scoped to another project, for the clusters that belong to it; default
   * `cloud`'s config re-scoped (configForProject). Called once per project.
   */
  cloudFor?: (projectId: string) => Cloud;
  /** 32-byte AES-256-GCM key sealing every cluster's secrets in the store (KAAS_SECRET_KEY). */
  secretKey: Buffer;
  /**
   * During a key rotation, the key KAAS_SECRET_KEY replaced (KAAS_SECRET_KEY_PREVIOUS): it still opens
   * the secrets it sealed until `kaas secrets rotate-key` has re-sealed them; it seals nothing.
   */
  previousSecretKey?: Buffer;
  /**
   * Where the clusters' API servers reach kaas' TokenReview webhook, and the CA of its certificate.
   * Only create needs it (a provisioner that lists or deletes can do without).
   */
  webhook?: WebhookTarget;
  /**
   * Base every release is fetched from instead of dl.k8s.io (KAAS_RELEASE_MIRROR): an https URL or
   * an absolute directory laid out like dl.k8s.io/release. Downloads are still checked against
   * the catalogue's digests. No cluster can name a source of its own.
   */
  releaseMirror?: string;
  /** Where verified releases are cached (KAAS_RELEASE_CACHE); default `<tmpdir>/kaas-releases`. */
  releaseCacheDir?: string;
  /**
   * The image repository a new cluster gets when its spec names none (KAAS_IMAGE_REPOSITORY); it is
   * stored in the cluster's spec, so changing the setting never changes what an existing cluster runs.
   */
  imageRepository?: string;
  /**
   * The releases and digests downloads are checked against; default the version catalogue. Only
   * tests replace it, to stage stand-in tarballs whose digests they know.
   */
  releaseCatalogue?: readonly KubernetesRelease[];
  /**
   * Turns a cluster's join material into its user-data renderer, saving each node's enrollment
   * with `save`; default src/bootstrap's.
   */
  renderer?: (material: JoinMaterial, save: SaveEnrollment) => RenderUserData;
  /** How long a node may take from its user data's render to its enrollment; default one hour. */
  enrollmentTtlMs?: number;
  /** Client for a cluster's Kubernetes API (drains); default undici with the break-glass certificate. */
  kubeClient?: KubeClientFactory;
  /** Client the addons step applies the managed services with; default clusterApiFor. */
  clusterApi?: (access: KubeAccess) => ClusterApi;
  /** How long the addons step waits for CRDs and workloads; default the appliers' DEFAULT_WAIT. */
  addonWait?: Partial<WaitOptions>;
  /**
   * How kaas reaches a cluster's etcd to replace masters; default etcdThroughApi (a port-forward
   * through the cluster's API to the etcd pod of each named master).
   */
  etcdClient?: EtcdRoute;
  /** Longest a drain retries evictions refused by a PodDisruptionBudget; default 5 minutes. */
  drainTimeoutMs?: number;
  /** Longest delete waits for LoadBalancer Services and PVCs to be gone from the API; default 5 minutes. */
  kubeCleanupTimeoutMs?: number;
  /** Lease owner name; default host:pid:random. */
  owner?: string;
  leaseMs?: number;
  /** Independent plan steps run at once; default 8. */
  concurrency?: number;
  /** Servers created at once inside one step; default 10. */
  serverConcurrency?: number;
  pollIntervalMs?: number;
  waitTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** GETs a URL of the cluster's API and returns the status (for /healthz); absent = unreachable. */
  fetchApi?: ApiProbe;
  /** Longest a look at a cluster's Nodes (getCluster's `observed`) may take; default 3 s. */
  observeTimeoutMs?: number;
  /**
   * Why this cloud's servers never run Kubernetes (kaas dev's embedded cloud): clusters are then
   * observed as having no Kubernetes API, with this reason, instead of probed as if one might answer.
   */
  noKubernetes?: string;
  /**
   * Where a cluster's API really answers, once it runs, when the cloud's addresses route nowhere
   * (kaas dev --kube: 127.0.0.1); create waits for it there and records it as the endpoint.
   */
  apiAddress?: (clusterId: string) => string | undefined;
  hooks?: EngineHooks;
  /**
   * Where clusters' cluster-autoscaler dials kaas's externalgrpc server (`host:port`: the webhook's
   * host on KAAS_AUTOSCALER_PORT) and the CA of the certificate that server presents; absent = kaas
   * serves no autoscaler, and none is installed.
   */
  autoscaler?: { address: string; caPem: string };
}

/** Builds an etcd client for one cluster that dials the etcd members of `masters` only. */
export type EtcdRoute = (options: {
  access: KubeAccess;
  etcdCa: KeyPair;
  masters: readonly string[];
}) => EtcdClient;

/** What a job stores: the plan and the spec the cluster has once the job succeeded. */
/** A cluster's CA and kaas's client certificate for its API. */
type ClusterAccess = Omit<KubeAccess, 'server'>;

interface JobInput {
  steps: plans.PlanStep[];
  spec: ClusterSpec;
  /** A heal job's target: the worker it replaces. */
  heal?: HealTarget;
}

/** A cluster as the API shows it. */
export interface ClusterView {
  id: string;
  name: string;
  status: string;
  spec: ClusterSpec;
  options: ProvisionOptions;
  createdAt: string;
  updatedAt: string;
  /** The OpenStack project the cluster belongs to; null only for one kaas has no registration of. */
  project: ProjectRef | null;
  lastJob: JobRecord | undefined;
  /** What kaas's controllers report: the AutoHeal condition, once the healer looked. */
  conditions: HealConditionRecord[];
  /** The cluster as its API reports it now (getCluster only; never stored). */
  observed?: ObservedState;
}

/** A job with per-step progress and its event log. */
export interface JobView {
  job: JobRecord;
  steps: JobStepRecord[];
  events: JobEvent[];
}

/** Where create builds a cluster: `projectId` (kaas's own project when absent). */
export interface CreateChoice {
  projectId?: string;
}

/** Result of create: the job, and the generated SSH private key (shown once, never stored). */
export interface CreateResult {
  cluster: ClusterView;
  job: JobRecord;
  privateKey?: string;
}

const STATUS_DURING: Record<JobRecord['kind'], string> = {
  create: 'creating',
  resize: 'resizing',
  upgrade: 'upgrading',
  delete: 'deleting',
  rotate: 'rotating',
  heal: 'healing',
};

/** The `kaas-index`es of a cluster's worker servers, by node group (from their Nova metadata). */
export function groupIndexes(servers: readonly Server[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const s of servers) {
    const group = s.metadata['kaas-group'];
    const index = Number(s.metadata['kaas-index']);
    if (group === undefined || !Number.isInteger(index)) continue;
    (out[group] ??= []).push(index);
  }
  return out;
}

/** The `kaas-index`es of a cluster's master servers (from their Nova metadata). */
export function masterIndexes(servers: readonly Server[]): number[] {
  return servers
    .filter((s) => s.metadata['kaas-role'] === 'master')
    .map((s) => Number(s.metadata['kaas-index']))
    .filter((i) => Number.isInteger(i));
}

/** The provisioner returned by {@link createProvisioner}. */
export type Provisioner = ReturnType<typeof createProvisioner>;

/** Creates the provisioner; call `runUntilIdle` (or `engine.runNext`) in a worker loop to execute jobs. */
export function createProvisioner(deps: ProvisionerDeps) {
  const { db } = deps.store;
  const iso = () => deps.now().toISOString();
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const owner = deps.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const release = releaseAccess({
    ...(deps.releaseMirror === undefined ? {} : { mirror: deps.releaseMirror }),
    ...(deps.releaseCacheDir === undefined ? {} : { cacheDir: deps.releaseCacheDir }),
    ...(deps.releaseCatalogue === undefined ? {} : { catalogue: deps.releaseCatalogue }),
  });

  const projectClouds = new Map<string, Cloud>();
  const cloudFor =
    deps.cloudFor ??
    ((projectId: string) =>
      createCloud({
        config: configForProject(deps.cloud.session.config, projectId),
        logger: deps.logger,
        ...(deps.sleep ? { sleep: deps.sleep } : {}),
      }));

  /** kaas's cloud in `projectId`: `deps.cloud` in its own project, else a session scoped there (one per project). */
  async function cloudIn(projectId: string): Promise<Cloud> {
    if ((await deps.cloud.session.token()).project?.id === projectId) return deps.cloud;
    let cloud = projectClouds.get(projectId);
    if (!cloud) {
      cloud = cloudFor(projectId);
      projectClouds.set(projectId, cloud);
    }
    return cloud;
  }

  /** The cloud of the cluster's project (kaas's own for a cluster registered without one). */
  async function cloudOf(clusterId: string): Promise<Cloud> {
    const registered = await findCluster({ db, id: clusterId });
    return registered ? cloudIn(registered.projectId) : deps.cloud;
  }

  /**
   * The project a new cluster goes to, as kaas's user sees it there: refused, before anything is
   * recorded, when that user holds no role on it (Keystone refuses the scope) or lacks any role it
   * needs there (missingProjectRoles), naming the project and each role to grant.
   */
  async function projectForCreate(projectId: string | undefined): Promise<ProjectRef> {
    const own = await deps.cloud.session.token();
    if (!own.project)
      throw new InputError('the cloud credentials must be scoped to a project', {
        code: 'project_scope_required',
      });
    const target = projectId ?? own.project.id;
    const octavia = await hasOctavia(deps.cloud);
    const grant = (roles: string[]) =>
      `grant kaas's user ${own.user.name} the role${roles.length > 1 ? 's' : ''} ${roles.join(' and ')} on it; nothing was created`;
    const cloud = await cloudIn(target);
    const scoped = () =>
      cloud.session.token().catch((error: unknown) => {
        if (!isOpenStackError(error, 'openstack_unauthorized')) throw error;
        throw new ConflictError(
          `kaas's user ${own.user.name} cannot act in project ${target}: Keystone refused that scope (the project does not exist, or the user holds no role on it); ${grant(missingProjectRoles([], octavia))}`,
          { code: 'project_role_missing', cause: error },
        );
      });
    const check = async () => {
      const token = await scoped();
      return {
        project: token.project!,
        missing: missingProjectRoles(
          token.roles.map((r) => r.name),
          octavia,
        ),
      };
    };
    let { project, missing } = await check();
    if (missing.length > 0) {
      // A kept session's token holds the roles of when it was issued: ask Keystone again before refusing.
      cloud.session.invalidate();
      ({ project, missing } = await check());
    }
    if (missing.length > 0) {
      throw new ConflictError(
        `kaas's user ${own.user.name} lacks ${missing.join(' and ')} on project ${project.name} (${project.id}), which it needs to build, resize and delete clusters there; ${grant(missing)}`,
        { code: 'project_role_missing' },
      );
    }
    return { id: project.id, name: project.name };
  }

  async function cluster(ref: string, from: Db = db): Promise<ProvisionedClusterRecord> {
    const found = await findProvisionedCluster({ db: from, ref });
    if (!found) throw new NotFoundError(`no cluster ${ref}`, { code: 'cluster_not_found' });
    return found;
  }

  /**
   * The cluster's job `jobId`. Another cluster's job is answered exactly like one that does not
   * exist, so a caller learns nothing of clusters it does not administer.
   */
  async function jobOf(
    record: ProvisionedClusterRecord,
    clusterRef: string,
    jobId: string,
  ): Promise<JobRecord> {
    const job = await findJob({ db, id: jobId });
    if (!job || job.clusterId !== record.id) {
      throw new NotFoundError(`cluster ${clusterRef} has no job ${jobId}`, { code: 'job_not_found' });
    }
    return job;
  }

  async function jobView(job: JobRecord, after: string | undefined): Promise<JobView> {
    const steps = await listJobSteps({ db, jobId: job.id });
    const events = await listJobEvents({ db, jobId: job.id, ...(after === undefined ? {} : { after }) });
    return { job, steps, events };
  }

  /**
   * Reads in one snapshot, so a cluster's spec and its last job agree: a job that finishes
   * (and commits the new spec) between two separate reads cannot show as succeeded beside the old spec.
   */
  const snapshot = <T>(read: (tx: Db) => Promise<T>): Promise<T> =>
    db.transaction().setIsolationLevel('repeatable read').execute(read);

  async function view(record: ProvisionedClusterRecord, from: Db): Promise<ClusterView> {
    const [lastJob] = await listJobs({ db: from, clusterId: record.id });
    const heal = await findHealStatus({ db: from, clusterId: record.id });
    const registered = await findCluster({ db: from, id: record.id });
    return {
      id: record.id,
      name: record.name,
      status: record.status,
      spec: record.spec as ClusterSpec,
      options: record.options as ProvisionOptions,
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
      project: registered ? { id: registered.projectId, name: registered.projectName } : null,
      lastJob,
      conditions: heal ? [heal.condition] : [],
    };
  }

  /** Reads the cluster's Nodes as kaas; says why when it cannot. */
  async function observe(record: ProvisionedClusterRecord): Promise<ObservedState> {
    if (deps.noKubernetes) return { ...unreachableState(iso(), deps.noKubernetes), noApi: true };
    const endpoint = await findClusterEndpoint({ db, clusterId: record.id });
    if (!endpoint?.apiUrl) {
      return { ...unreachableState(iso(), `the cluster is ${record.status}`), notYet: true };
    }
    let access: ClusterAccess;
    try {
      access = await accessOf(await materialOf(record.id));
    } catch (error) {
      return unreachableState(iso(), `no credentials for the API: ${(error as Error).message}`);
    }
    const client = kaasClient(endpoint.apiUrl, access);
    try {
      return await observeNodes({
        client,
        spec: record.spec as ClusterSpec,
        now: deps.now,
        ...(deps.observeTimeoutMs === undefined ? {} : { timeoutMs: deps.observeTimeoutMs }),
      });
    } finally {
      await client.close();
    }
  }

  /** Queues a job; `also` writes more in the same transaction (the healer's event and audit entry). */
  async function queue(
    clusterId: string,
    kind: JobRecord['kind'],
    input: JobInput,
    also?: (tx: Db, jobId: string) => Promise<void>,
  ): Promise<JobRecord> {
    const id = `job-${randomBytes(8).toString('hex')}`;
    await db.transaction().execute(async (tx) => {
      await insertJob({
        db: tx,
        job: { id, clusterId, kind, input, stepIds: input.steps.map((s) => s.id), createdAt: iso() },
      });
      await updateProvisionedCluster({ db: tx, id: clusterId, status: STATUS_DURING[kind], now: iso() });
      await also?.(tx, id);
    });
    await reportEndpoint(clusterId, input.spec, STATUS_DURING[kind]);
    return (await findJob({ db, id })) as JobRecord;
  }

  /** The cluster's sealed material as stored, and opened; a wrong KAAS_SECRET_KEY is a clear InputError. */
  async function storedMaterial(clusterId: string): Promise<{ sealed: string; material: ClusterMaterial }> {
    const sealed = await findClusterSecret({ db, clusterId });
    if (!sealed) {
      throw new NotFoundError(`cluster ${clusterId} has no stored secrets (created by an older kaas?)`, {
        code: 'cluster_secrets_missing',
      });
    }
    const keys = { current: deps.secretKey, previous: deps.previousSecretKey };
    return { sealed, material: JSON.parse(open(keys, sealed, clusterId)) as ClusterMaterial };
  }

  async function materialOf(clusterId: string): Promise<ClusterMaterial> {
    return (await storedMaterial(clusterId)).material;
  }

  /**
   * Re-seals the cluster's material as `change` makes it. The row is replaced only if nothing else
   * re-sealed it meanwhile (a key rotation, another write), else the change is made again on the
   * fresh row.
   */
  async function updateMaterial(clusterId: string, change: (m: ClusterMaterial) => ClusterMaterial) {
    for (let attempt = 1; attempt <= 5; attempt++) {
      const { sealed, material } = await storedMaterial(clusterId);
      const resealed = seal(deps.secretKey, JSON.stringify(change(material)), clusterId);
      if (await replaceClusterSecret({ db, clusterId, previous: sealed, sealed: resealed })) return;
    }
    throw new ConflictError(`the secrets of cluster ${clusterId} kept changing while kaas updated them`, {
      code: 'cluster_secrets_busy',
    });
  }

  /** The cluster's application credentials, kept in its sealed material (steps/credential.ts). */
  function credentialStore(clusterId: string): CredentialStore {
    return {
      async read() {
        const { credential, retiredCredential } = await materialOf(clusterId);
        return { ...(credential ? { credential } : {}), ...(retiredCredential ? { retiredCredential } : {}) };
      },
      write: (next) =>
        updateMaterial(clusterId, ({ credential: _old, retiredCredential: _retired, ...rest }) => ({
          ...rest,
          ...next,
        })),
    };
  }

  /**
   * Replaces the cluster's stored spec with `change(stored)` (and sets `status` when given), only
   * over the spec it read: a concurrent writer (a job finishing, an admin's switch) makes it read
   * and apply the change again, so neither write is lost.
   */
  async function replaceSpec(
    id: string,
    change: (stored: ClusterSpec) => ClusterSpec,
    status?: string,
    on: Db = db,
  ): Promise<ProvisionedClusterRecord> {
    for (let attempt = 1; attempt <= 5; attempt++) {
      const record = await cluster(id, on);
      const spec = change(record.spec as ClusterSpec);
      const now = iso();
      const replaced = await replaceProvisionedClusterSpec({
        db: on,
        id,
        previous: record.spec,
        spec,
        ...(status === undefined ? {} : { status }),
        now,
      });
      if (replaced) return { ...record, spec, status: status ?? record.status, updatedAt: now };
    }
    throw new ConflictError(`the spec of cluster ${id} kept changing while kaas wrote it; try again`, {
      code: 'cluster_spec_busy',
    });
  }

  const workers = (spec: ClusterSpec) => spec.nodeGroups.reduce((n, g) => n + g.count, 0);

  /** Reports the cluster to the control panel (cluster_endpoints); keeps what this job did not learn. */
  async function reportEndpoint(
    clusterId: string,
    spec: ClusterSpec,
    state: string,
    learned: { apiUrl?: string | null; caCertPem?: string } = {},
    on: Db = db,
  ): Promise<void> {
    const known = await findClusterEndpoint({ db: on, clusterId });
    await upsertClusterEndpoint({
      db: on,
      endpoint: {
        clusterId,
        apiUrl: learned.apiUrl !== undefined ? learned.apiUrl : (known?.apiUrl ?? null),
        caCertPem: learned.caCertPem ?? known?.caCertPem ?? null,
        ingressDomain: known?.ingressDomain ?? spec.dnsDomain,
        kubernetesVersion: spec.kubernetesVersion,
        nodeCount: state === 'deleted' ? 0 : spec.masters + workers(spec),
        provisioningState: state,
        updatedAt: iso(),
      },
    });
  }

  /** kaas's own credentials for a cluster's API (identity.ts). */
  async function accessOf(material: ClusterMaterial): Promise<ClusterAccess> {
    return { caPem: material.ca.certPem, ...(await kaasIdentity(material.ca, deps.now)) };
  }

  /** etcd clients for one cluster, through its API as kaas. */
  function etcdFor(
    route: EtcdRoute,
    server: string,
    etcdCa: KeyPair,
    access: ClusterAccess,
  ): (masters: readonly string[]) => EtcdClient {
    return (masters) => route({ access: { server, ...access }, etcdCa, masters });
  }

  /** A client for a cluster's API as kaas (mutual TLS, cluster CA only). */
  function kaasClient(server: string, access: ClusterAccess): KubeClient {
    return (deps.kubeClient ?? createKubeClient)({ server, ...access });
  }

  /**
   * A cluster made before kaas had its own identity still stores a one-year `system:masters`
   * certificate: before its first job acts as kaas, that certificate binds kaas's identity, and is
   * then forgotten, so no later job can undo a revocation by the cluster's admins. An API that does
   * not answer leaves both for the next job; the job itself then fails where it needs the API.
   */
  async function adoptIdentity(clusterId: string, server: string, material: ClusterMaterial) {
    try {
      const legacy = { server, caPem: material.ca.certPem, ...material.admin! };
      await (deps.clusterApi ?? clusterApiFor)(legacy).apply(kaasBinding());
    } catch (error) {
      deps.logger.warn(
        { err: error, clusterId },
        "cannot bind kaas's identity with the cluster's stored certificate yet",
      );
      return;
    }
    await updateMaterial(clusterId, ({ admin: _, ...rest }) => rest);
    deps.logger.info(
      { clusterId },
      "bound kaas's identity and deleted the cluster's one-year system:masters certificate",
    );
  }

  async function handlerFor(job: JobRecord): Promise<JobHandler> {
    const input = job.input as JobInput;
    const record = await cluster(job.clusterId);
    const current = record.spec as ClusterSpec;
    const options = record.options as ProvisionOptions;
    const spec = job.kind === 'delete' ? current : input.spec;
    // Delete needs no secrets: it must work even when they are lost or the key was changed. When
    // they open, it uses them to delete Services and volume claims through the cluster API first.
    let material: ClusterMaterial | undefined;
    let cloud: Cloud;
    try {
      cloud = await cloudOf(job.clusterId);
      material =
        job.kind === 'delete'
          ? await materialOf(job.clusterId).catch(() => undefined)
          : await materialOf(job.clusterId);
    } catch (error) {
      // The engine fails the job; the cluster must not keep showing an operation in progress.
      await updateProvisionedCluster({ db, id: job.clusterId, status: 'failed', now: iso() });
      await reportEndpoint(job.clusterId, current, 'failed');
      throw error;
    }
    const renderer =
      deps.renderer ?? ((m: JoinMaterial, save: SaveEnrollment) => bootstrapRenderer(() => m, save));
    // An upgrade's or heal's replacement masters open the kubeadm-certs Secret it uploads with its own key.
    const certificateKey =
      material && (job.kind === 'upgrade' || job.kind === 'heal')
        ? jobCertificateKey(material, job.id)
        : material?.certificateKey;
    // Nodes a later job adds join with that job's own token, registered by its join-token step for
    // a few hours; the create-time token (kubeadm init's, 24 h) is never extended.
    const token = material && job.kind !== 'create' ? jobJoinToken(material, job.id) : material?.token;
    const render: RenderUserData =
      material && certificateKey && token && job.kind !== 'delete'
        ? renderer(
            joinMaterialOf({ ...material, certificateKey, token }),
            enrollmentStore(db, deps.now, deps.enrollmentTtlMs),
          )
        : async () => {
            throw new InputError('a delete job boots no server', { code: 'invalid_plan' });
          };
    const endpoint = await findClusterEndpoint({ db, clusterId: job.clusterId });
    const access = material ? await accessOf(material) : undefined;
    // Only create binds kaas's identity (a cluster's admins may revoke it later).
    const grant =
      material && job.kind === 'create' ? await mastersCertificate(material.ca, 'kaas-bootstrap') : undefined;
    if (material?.admin && endpoint?.apiUrl) await adoptIdentity(job.clusterId, endpoint.apiUrl, material);
    const kubeClient = access && endpoint?.apiUrl ? kaasClient(endpoint.apiUrl, access) : undefined;
    return {
      steps: input.steps,
      run: (step, ctx) =>
        runPlanStep(
          {
            cloud,
            logger: deps.logger,
            now: deps.now,
            sleep,
            spec,
            clusterId: job.clusterId,
            options,
            release,
            renderUserData: render,
            ...(kubeClient && material && endpoint?.apiUrl
              ? {
                  kube: { url: endpoint.apiUrl, client: kubeClient, bootstrapToken: token ?? material.token },
                }
              : {}),
            ...(access ? { kubeClientFor: (server: string) => kaasClient(server, access) } : {}),
            ...(material && certificateKey
              ? { kubeadmCerts: () => kubeadmCertsObjects({ ...material, certificateKey }) }
              : {}),
            ...(material?.etcdCa && access && endpoint?.apiUrl
              ? {
                  etcd: etcdFor(deps.etcdClient ?? etcdThroughApi, endpoint.apiUrl, material.etcdCa, access),
                }
              : {}),
            drainTimeoutMs: deps.drainTimeoutMs ?? 5 * 60_000,
            kubeCleanupTimeoutMs: deps.kubeCleanupTimeoutMs ?? 5 * 60_000,
            serverConcurrency: deps.serverConcurrency ?? 10,
            pollIntervalMs: deps.pollIntervalMs ?? 2_000,
            waitTimeoutMs: deps.waitTimeoutMs ?? 20 * 60_000,
            ...(deps.fetchApi ? { fetchApi: deps.fetchApi } : {}),
            ...(material ? { clusterCaPem: material.ca.certPem } : {}),
            ...(deps.apiAddress ? { apiAddress: () => deps.apiAddress?.(job.clusterId) } : {}),
            ...(material ? { credentials: credentialStore(job.clusterId) } : {}),
            ...(material && deps.autoscaler
              ? {
                  autoscaler: {
                    ...deps.autoscaler,
                    certificate: () => autoscalerCertificate(job.clusterId),
                  },
                }
              : {}),
            ...(material && access
              ? {
                  addons: {
                    db,
                    access,
                    ...(grant ? { grant: { caPem: material.ca.certPem, ...grant } } : {}),
                    clusterApi: deps.clusterApi ?? clusterApiFor,
                    ...(deps.addonWait ? { wait: deps.addonWait } : {}),
                  },
                }
              : {}),
            ctx,
          },
          step as plans.PlanStep,
        ),
      // Runs in the engine's finishing transaction: every write goes through `tx`.
      async finished(finishedJob, result, tx) {
        const id = finishedJob.clusterId;
        if (result.state === 'failed') {
          await updateProvisionedCluster({ db: tx, id, status: 'failed', now: iso() });
          await reportEndpoint(id, current, 'failed', {}, tx);
        } else if (finishedJob.kind === 'delete') {
          await deleteProvisionedCluster({ db: tx, id });
          await deleteClusterSecret({ db: tx, clusterId: id });
          for (const s of await listAddonStatus({ db: tx, clusterId: id })) {
            await deleteAddonStatus({ db: tx, clusterId: id, addon: s.addon });
          }
          await reportEndpoint(id, current, 'deleted', { apiUrl: null }, tx);
        } else {
          await replaceSpec(id, (stored) => keepAutoHeal(input.spec, stored), 'ready', tx);
          const server = (result.outputs.get('kubeconfig') as { server?: string | null } | undefined)?.server;
          await reportEndpoint(
            id,
            input.spec,
            'ready',
            {
              ...(server ? { apiUrl: server } : {}),
              ...(material ? { caCertPem: material.ca.certPem } : {}),
            },
            tx,
          );
        }
      },
      async release() {
        await kubeClient?.close();
      },
    };
  }

  /**
   * A cluster's API endpoint (the one create recorded) and kaas's access to it (the cluster CA,
   * kaas's identity). Refused, saying why and that `consequence`, for a cluster kaas does not reach.
   */
  async function reachedApi(
    record: ProvisionedClusterRecord,
    consequence: string,
  ): Promise<{ server: string; access: ClusterAccess; material: ClusterMaterial }> {
    if (!(record.options as ProvisionOptions).waitForApi) {
      throw new ConflictError(
        `cluster ${record.name} was created with waitForApi=false: kaas does not reach its API, so ${consequence}`,
        { code: 'cluster_api_not_reached' },
      );
    }
    const endpoint = await findClusterEndpoint({ db, clusterId: record.id });
    if (!endpoint?.apiUrl) {
      throw new ConflictError(`cluster ${record.name} has no API endpoint recorded`, {
        code: 'cluster_not_ready',
      });
    }
    const material = await materialOf(record.id);
    return { server: endpoint.apiUrl, access: await accessOf(material), material };
  }

  /** What the reconciler applies a cluster's managed services with: its API as kaas and its addon context. */
  async function reconcileTarget(clusterId: string): Promise<ReconcileTarget> {
    const record = await cluster(clusterId);
    const { server, access, material } = await reachedApi(record, 'its managed services are not reconciled');
    const config = (await cloudOf(clusterId)).session.config;
    return {
      kube: (deps.clusterApi ?? clusterApiFor)({ server, ...access }),
      context: addonContext(
        record.spec as ClusterSpec,
        clusterId,
        { authUrl: config.auth.authUrl, region: config.regionName ?? 'RegionOne' },
        material.credential?.id,
        deps.autoscaler?.address,
      ),
      ...(deps.addonWait ? { wait: deps.addonWait } : {}),
    };
  }

  /** The cluster's Nodes as kaas reads them, for the healer; throws when kaas does not reach the API. */
  async function nodesOf(clusterId: string) {
    if (deps.noKubernetes) {
      throw new ConflictError(`${deps.noKubernetes}, so its nodes are not healed`, {
        code: 'cluster_api_not_reached',
      });
    }
    const { server, access } = await reachedApi(await cluster(clusterId), 'its nodes are not healed');
    const client = kaasClient(server, access);
    try {
      return await client.nodes(AbortSignal.timeout(deps.observeTimeoutMs ?? OBSERVE_TIMEOUT_MS));
    } finally {
      await client.close();
    }
  }

  /** The cluster's etcd members with their health, for the healer; throws when kaas cannot read them. */
  async function etcdHealthOf(clusterId: string, masters: readonly string[]) {
    const { server, access, material } = await reachedApi(
      await cluster(clusterId),
      'its masters are not healed',
    );
    if (!material.etcdCa) {
      throw new ConflictError('kaas holds no etcd CA for this cluster (created by an older kaas)', {
        code: 'control_plane_certs_missing',
      });
    }
    const etcd = etcdFor(deps.etcdClient ?? etcdThroughApi, server, material.etcdCa, access)(masters);
    try {
      return await etcd.health();
    } finally {
      await etcd.close();
    }
  }

  /**
   * Queues the replacement of `target.node` (planHeal for a worker, planHealMaster for a master), its
   * first event and its audit entry in one transaction; undefined when its server is gone already
   * (nothing to replace).
   */
  async function queueHeal(
    clusterId: string,
    target: HealTarget,
    why: string,
  ): Promise<JobRecord | undefined> {
    const record = await cluster(clusterId);
    const spec = record.spec as ClusterSpec;
    const servers = await (await cloudOf(record.id)).nova.listServers({ tags: tagsFor(record.id) });
    const server = servers.find((s) => s.name === target.node);
    const index = Number(server?.metadata['kaas-index']);
    const ctx = { artifactTtlSeconds: (record.options as ProvisionOptions).tempUrlTtlSeconds };
    let steps: plans.PlanStep[];
    if (server?.metadata['kaas-role'] === 'master') {
      steps = plans.planHealMaster(spec, record.id, index, masterIndexes(servers), ctx);
      // Refused for a cluster whose shared control-plane secrets kaas does not hold.
      kubeadmCertsObjects(await materialOf(record.id));
    } else if (server?.metadata['kaas-group'] === target.group) {
      steps = plans.planHeal(
        spec,
        record.id,
        target.group,
        index,
        groupIndexes(servers)[target.group] ?? [],
        ctx,
      );
    } else return undefined;
    trustedRelease(release.catalogue, spec.kubernetesVersion);
    return queue(record.id, 'heal', { steps, spec, heal: target }, async (tx, jobId) => {
      await healEvent(tx, jobId, why);
      await healAudit(tx, record.id, 'cluster.heal', { jobId, ...target, why });
    });
  }

  /** The healer's own line in a heal job's event log: why it queued or retried the job. */
  async function healEvent(on: Db, jobId: string, why: string) {
    await insertJobEvent({ db: on, jobId, event: { at: iso(), stepId: null, level: 'warn', message: why } });
  }

  /** An audit entry by the healer (no person acted). */
  async function healAudit(on: Db, clusterId: string, action: string, details: Record<string, unknown>) {
    await insertAuditEvent({
      db: on,
      event: {
        at: iso(),
        actorUserId: null,
        actorName: 'kaas-healer',
        action,
        target: typeof details.node === 'string' ? details.node : null,
        clusterId,
        outcome: action === 'cluster.heal.stopped' ? 'failure' : 'success',
        details,
        requestId: null,
        sourceIp: null,
      },
    });
  }

  /**
   * Queues a resize of one node group to `count`, planned from the stored spec (`bounds`: with new
   * autoscaling bounds, stored when the job succeeds; a job of only the addons step when the count
   * stays, to install or remove cluster-autoscaler). `remove` names the exact indexes to remove;
   * `also` writes more in the job's transaction (the autoscaler's audit entry). The job is queued
   * only over the spec it was planned from, so a concurrent change of the spec (new bounds) is
   * never overwritten by it.
   */
  async function queueResize(
    ref: string,
    group: string,
    count: number,
    more: {
      remove?: readonly number[];
      also?: (tx: Db, jobId: string) => Promise<void>;
      bounds?: ClusterSpec;
    } = {},
  ): Promise<JobRecord> {
    const record = await cluster(ref);
    const spec = more.bounds ?? (record.spec as ClusterSpec);
    const options = record.options as ProvisionOptions;
    const servers = await (await cloudOf(record.id)).nova.listServers({ tags: tagsFor(record.id) });
    const plan = plans.planResize(
      spec,
      record.id,
      group,
      count,
      groupIndexes(servers)[group] ?? [],
      { artifactTtlSeconds: options.tempUrlTtlSeconds },
      more.remove,
    );
    if (plan.steps.length === 0 && !more.bounds) {
      throw new ConflictError(`node group ${group} of ${record.name} already has ${count} node(s)`, {
        code: 'no_change',
      });
    }
    const steps = plan.steps.length > 0 ? plan.steps : plans.planAddons(spec, record.id);
    if (plan.added.length > 0) trustedRelease(release.catalogue, spec.kubernetesVersion);
    return queue(record.id, 'resize', { steps: [...steps], spec: plan.spec }, async (tx, jobId) => {
      // Rewriting the spec as it was read fails once another writer changed it meanwhile.
      const unchanged = await replaceProvisionedClusterSpec({
        db: tx,
        id: record.id,
        previous: record.spec,
        spec: record.spec,
        now: iso(),
      });
      if (!unchanged) {
        throw new ConflictError(
          `the spec of cluster ${record.name} changed while kaas planned the resize; try again`,
          {
            code: 'cluster_spec_busy',
          },
        );
      }
      await more.also?.(tx, jobId);
    });
  }

  /** The cluster's queued or running job, if any (read in `on`, a transaction's view). */
  const activeJob = async (clusterId: string, on: Db = db) =>
    (await listJobs({ db: on, clusterId })).find((j) => j.state === 'queued' || j.state === 'running');

  /** cluster-autoscaler's view of the clusters (autoscale.ts): its changes are resize jobs, audited as its own. */
  const autoscale = createAutoscale({
    spec: async (clusterId) => (await cluster(clusterId)).spec as ClusterSpec,
    activeJob,
    servers: async (clusterId) => (await cloudOf(clusterId)).nova.listServers({ tags: tagsFor(clusterId) }),
    resize: (clusterId, group, count, remove) =>
      queueResize(clusterId, group, count, {
        ...(remove ? { remove } : {}),
        also: async (tx, jobId) => {
          await insertAuditEvent({
            db: tx,
            event: {
              at: iso(),
              actorUserId: null,
              actorName: 'cluster-autoscaler',
              action: 'cluster.resize',
              target: group,
              clusterId,
              outcome: 'success',
              details: { jobId, group, count, ...(remove ? { removedIndexes: [...remove] } : {}) },
              requestId: null,
              sourceIp: null,
            },
          });
        },
      }),
  });

  /**
   * The client certificate cluster-autoscaler presents to kaas's externalgrpc server: issued by the
   * cluster's CA for subject `O=kaas:autoscaler, CN=<cluster id>` once, then kept in the sealed
   * material (the managed service's Secret stays the same on every apply).
   */
  async function autoscalerCertificate(clusterId: string): Promise<KeyPair> {
    const stored = (await materialOf(clusterId)).autoscaler;
    if (stored) return stored;
    const { ca } = await materialOf(clusterId);
    const issued = await issueClientCert({
      ca,
      commonName: clusterId,
      organization: AUTOSCALER_ORGANIZATION,
      days: 3650,
    });
    await updateMaterial(clusterId, (m) => (m.autoscaler ? m : { ...m, autoscaler: issued }));
    return (await materialOf(clusterId)).autoscaler!;
  }

  const engine: Engine = createEngine({
    db,
    dialect: deps.store.dialect,
    logger: deps.logger,
    now: deps.now,
    owner,
    ...(deps.leaseMs === undefined ? {} : { leaseMs: deps.leaseMs }),
    concurrency: deps.concurrency ?? 8,
    handlerFor,
    ...(deps.hooks ? { hooks: deps.hooks } : {}),
  });

  return {
    engine,

    /** Validates the spec, records the cluster and queues its create job. */
    async createCluster(
      specInput: unknown,
      optionsInput: Record<string, unknown>,
      choice: CreateChoice = {},
    ): Promise<CreateResult> {
      // A server that cannot give clusters a webhook says so before judging the request.
      const webhook = deps.webhook;
      if (!webhook) {
        throw new InputError(
          'creating a cluster needs the TokenReview webhook target: set KAAS_URL (https) and KAAS_CA_FILE',
          { code: 'webhook_not_configured', field: 'KAAS_URL' },
        );
      }
      const raw = { ...((specInput ?? {}) as Record<string, unknown>) };
      let privateKey: string | undefined;
      if (raw.sshKeyName === undefined && raw.sshPublicKey === undefined) {
        const key = generateSshKey(`kaas-${String(raw.name ?? 'cluster')}`);
        raw.sshPublicKey = key.publicKey;
        privateKey = key.privateKey;
      }
      if ((raw.imageRepository ?? '') === '' && deps.imageRepository !== undefined) {
        raw.imageRepository = deps.imageRepository;
      }
      const spec = validateSpec(raw);
      const options = parseOptions(optionsInput, spec.sshPublicKey !== undefined);
      // A version without a published digest can never be staged: refuse it before recording anything.
      trustedRelease(release.catalogue, spec.kubernetesVersion);
      const id = `c${randomBytes(6).toString('hex')}`;
      const project = await projectForCreate(choice.projectId);
      const steps = plans.planCreate(spec, id, { artifactTtlSeconds: options.tempUrlTtlSeconds });
      const material = await generateClusterMaterial({
        clusterId: id,
        clusterName: spec.name,
        webhook,
      });
      const now = iso();
      await db.transaction().execute(async (tx) => {
        await insertClusterSecret({
          db: tx,
          clusterId: id,
          sealed: seal(deps.secretKey, JSON.stringify(material), id),
          now,
        });
        await insertProvisionedCluster({
          db: tx,
          cluster: { id, name: spec.name, spec, options, status: 'creating', createdAt: now, updatedAt: now },
        });
        await insertCluster({
          db: tx,
          cluster: {
            id,
            name: spec.name,
            projectId: project.id,
            projectName: project.name,
            adminRoleIds: [spec.adminRoleId],
            createdAt: now,
          },
        });
      });
      const job = await queue(id, 'create', { steps, spec });
      return { cluster: await view(await cluster(id), db), job, ...(privateKey ? { privateKey } : {}) };
    },

    /** The projects `userId` holds a role on now, and their default one (userProjects). */
    requesterProjects: (userId: string): Promise<UserProjects> => userProjects(deps.cloud.keystone, userId),

    /**
     * Where a cluster `userId` asks for goes: the project `ref` (id or name) among theirs, or without
     * `ref` their default one (chooseProject's errors otherwise).
     */
    async requesterProject(userId: string, ref: string | undefined): Promise<ProjectRef> {
      return chooseProject(await userProjects(deps.cloud.keystone, userId), ref);
    },

    /** Queues a resize of one node group; the existing indexes come from the servers' metadata. */
    resizeCluster: (ref: string, group: string, count: number): Promise<JobRecord> =>
      queueResize(ref, group, count),

    /**
     * Sets one node group's autoscaling bounds (bounds.ts), under the cluster's one-job lock like a
     * resize: refused (`operation_in_progress`) while a job is queued or running. A group whose size
     * is outside the new bounds gets a resize job into them, and one whose autoscaling turns on or
     * off a job of the addons step (installing or removing cluster-autoscaler); the new bounds are
     * stored when that job succeeds. Otherwise only the stored spec changes, at once.
     */
    async setSizeBounds(
      ref: string,
      change: SizeBoundsChange,
    ): Promise<{ cluster: ClusterView } | { job: JobRecord }> {
      const record = await cluster(ref);
      const stored = record.spec as ClusterSpec;
      const set = setSizeBounds(stored, change);
      const count = stored.nodeGroups.find((g) => g.name === set.group)!.count;
      if (set.count !== count || set.autoscaled.before !== set.autoscaled.after) {
        return { job: await queueResize(record.id, set.group, set.count, { bounds: set.spec }) };
      }
      await db.transaction().execute(async (tx) => {
        const replaced = await replaceProvisionedClusterSpec({
          db: tx,
          id: record.id,
          previous: stored,
          spec: set.spec,
          now: iso(),
        });
        if (!replaced) {
          throw new ConflictError(`the spec of cluster ${record.name} changed meanwhile; try again`, {
            code: 'cluster_spec_busy',
          });
        }
        // After the write, so a job queued meanwhile is seen here or fails its own spec check.
        const job = await activeJob(record.id, tx);
        if (job) {
          throw new ConflictError(
            `cluster ${record.name} has a ${job.kind} job queued or running (${job.id}); change the bounds once it is done`,
            { code: 'operation_in_progress' },
          );
        }
      });
      return { cluster: await view(await cluster(record.id), db) };
    },

    /**
     * Queues an upgrade by one minor (or patch) as a rolling replacement of nodes, masters first;
     * undefined when the cluster already runs `version`. Refused before anything is queued
     * (`upgrade_not_supported`) for a cluster without an API load balancer, where no master can be
     * replaced, and (`control_plane_certs_missing`) for one created before kaas held its etcd CA.
     */
    async upgradeCluster(ref: string, version: string): Promise<JobRecord | undefined> {
      const record = await cluster(ref);
      const options = record.options as ProvisionOptions;
      const spec = record.spec as ClusterSpec;
      const check = validateUpgrade(spec.kubernetesVersion, version);
      if (check.change === 'none') return undefined;
      // A version that can never be staged is refused first, whatever else stands in the way.
      trustedRelease(release.catalogue, check.to);
      const cloud = await cloudOf(record.id);
      const servers = await cloud.nova.listServers({ tags: tagsFor(record.id) });
      const plan = plans.planUpgrade(
        spec,
        record.id,
        version,
        { masters: masterIndexes(servers), groups: groupIndexes(servers) },
        { artifactTtlSeconds: options.tempUrlTtlSeconds },
      );
      const lbName = clusterNames(spec.name).apiLoadBalancer;
      const lbs = await cloud.octavia.listLoadBalancers({ name: lbName }).catch(() => []);
      if (lbs.length === 0) {
        throw new ConflictError(
          `kaas cannot upgrade ${spec.name}: its API load balancer ${lbName} does not exist (the cloud had no Octavia when it was created, so its API endpoint is master-0's own address, which no replacement master can take over); nothing was queued`,
          { code: 'upgrade_not_supported' },
        );
      }
      // Refused for a cluster whose shared control-plane secrets kaas does not hold.
      kubeadmCertsObjects(await materialOf(record.id));
      return queue(record.id, 'upgrade', { steps: [...plan.steps], spec: plan.spec });
    },

    /**
     * Queues deletion of every resource of the cluster: LoadBalancer Services (and, with
     * `deleteVolumes`, PersistentVolumeClaims) through its API first, then garbage collection by tag:
     * Cinder CSI's volumes unless `keepVolumes`, the backup containers unless `keepBackups`.
     */
    async deleteCluster(
      ref: string,
      opts: { deleteVolumes?: boolean; keepVolumes?: boolean; keepBackups?: boolean } = {},
    ): Promise<JobRecord> {
      if (opts.deleteVolumes && opts.keepVolumes) {
        throw new InputError('deleteVolumes and keepVolumes contradict each other: ask for one', {
          field: 'keepVolumes',
        });
      }
      const record = await cluster(ref);
      const options = record.options as ProvisionOptions;
      const steps = plans.planDelete(record.id, {
        name: record.name,
        ownsKeypair: options.ownsKeypair,
        deleteVolumes: opts.deleteVolumes === true,
        keepVolumes: opts.keepVolumes === true,
        keepBackups: opts.keepBackups === true,
      });
      return queue(record.id, 'delete', { steps, spec: record.spec as ClusterSpec });
    },

    /**
     * Queues a rotation of the cluster's application credential without downtime: a new one made,
     * the managed services re-applied with it (the pods reading it restart), then the old one
     * deleted. Refused before anything is queued for a cluster whose API kaas does not reach (it
     * could not move the services onto the new credential) or whose secrets it cannot open.
     */
    async rotateCredentials(ref: string): Promise<JobRecord> {
      const record = await cluster(ref);
      if (!(record.options as ProvisionOptions).waitForApi) {
        throw new ConflictError(
          `cluster ${record.name} was created with waitForApi=false: kaas does not reach its API, so it cannot move the cluster onto a new credential; nothing was queued`,
          { code: 'cluster_api_not_reached' },
        );
      }
      await materialOf(record.id);
      const spec = record.spec as ClusterSpec;
      return queue(record.id, 'rotate', { steps: plans.planRotateCredentials(spec, record.id), spec });
    },

    /**
     * Turns auto-healing on or off for the cluster, or with `group` for one node group. Only the
     * stored spec changes (no job): the healer reads it at its next pass. Allowed while a job runs,
     * which keeps the switch when it finishes (keepAutoHeal).
     */
    async setAutoHeal(ref: string, change: AutoHealChange): Promise<ClusterView> {
      const { id } = await cluster(ref);
      const updated = await replaceSpec(id, (stored) => setAutoHeal(stored, change));
      return view(updated, db);
    },

    /**
     * Re-queues a job of the cluster (default: its last job) that failed or whose worker stopped; it
     * resumes from the step that did not finish. A job is reached only through its own cluster: another
     * cluster's job id is `job_not_found`.
     */
    async retryJob(clusterRef: string, jobId?: string): Promise<JobRecord> {
      const record = await cluster(clusterRef);
      const job =
        jobId === undefined
          ? (await listJobs({ db, clusterId: record.id }))[0]
          : await jobOf(record, clusterRef, jobId);
      if (!job) throw new InputError(`cluster ${record.name} has no job to retry`, { code: 'no_job' });
      await db.transaction().execute(async (tx) => {
        await retryJobRow({ db: tx, jobId: job.id, now: iso() });
        await updateProvisionedCluster({
          db: tx,
          id: record.id,
          status: STATUS_DURING[job.kind],
          now: iso(),
        });
      });
      await reportEndpoint(record.id, record.spec as ClusterSpec, STATUS_DURING[job.kind]);
      return (await findJob({ db, id: job.id })) as JobRecord;
    },

    /**
     * The break-glass admin kubeconfig (a `system:masters` client certificate issued now, valid one
     * day) for the operator CLI only; no HTTP route exposes it. Needs the API endpoint, known once
     * create succeeded.
     */
    async adminKubeconfig(ref: string): Promise<string> {
      const record = await cluster(ref);
      const endpoint = await findClusterEndpoint({ db, clusterId: record.id });
      if (!endpoint?.apiUrl) {
        throw new ConflictError(`cluster ${record.name} has no API endpoint yet; wait for create to finish`, {
          code: 'cluster_not_ready',
        });
      }
      const { ca } = await materialOf(record.id);
      return adminKubeconfigYaml({
        clusterName: record.name,
        server: endpoint.apiUrl,
        caPem: ca.certPem,
        cert: await mastersCertificate(ca, 'kaas-break-glass'),
      });
    },

    /**
     * The cluster with its state `observed` from its own API; `observe: false` skips that look (for
     * callers that only resolve the cluster, such as job-progress polling).
     */
    async getCluster(ref: string, options: { observe?: boolean } = {}): Promise<ClusterView> {
      const [record, shown] = await snapshot(async (tx) => {
        const found = await cluster(ref, tx);
        return [found, await view(found, tx)] as const;
      });
      if (options.observe === false) return shown;
      return { ...shown, observed: await observe(record) };
    },

    /** The cluster's Nodes as its API reports them now (unreachable: why). */
    async observeCluster(ref: string): Promise<ObservedState> {
      return observe(await cluster(ref));
    },

    async listClusters(): Promise<ClusterView[]> {
      return snapshot(async (tx) => {
        const records = await listProvisionedClusters({ db: tx });
        const views: ClusterView[] = [];
        for (const record of records) views.push(await view(record, tx));
        return views;
      });
    },

    async listJobs(ref: string): Promise<JobRecord[]> {
      return listJobs({ db, clusterId: (await cluster(ref)).id });
    },

    /** A job with its steps and events; `after` limits events to newer ones (for live progress). */
    async getJob(jobId: string, after?: string): Promise<JobView> {
      const job = await findJob({ db, id: jobId });
      if (!job) throw new NotFoundError(`no job ${jobId}`, { code: 'job_not_found' });
      return jobView(job, after);
    },

    /** Like getJob, reached through the job's own cluster (as the API does); no cluster's state is observed. */
    async getClusterJob(clusterRef: string, jobId: string, after?: string): Promise<JobView> {
      return jobView(await jobOf(await cluster(clusterRef), clusterRef, jobId), after);
    },

    /**
     * The reconciler a worker runs between jobs, keeping the clusters' managed services and role
     * bindings as declared; a full pass per cluster every `resyncMs`.
     */
    reconciler({ resyncMs, leaseMs }: { resyncMs: number; leaseMs?: number }): Reconciler {
      return createReconciler({
        db,
        dialect: deps.store.dialect,
        logger: deps.logger,
        now: deps.now,
        sleep,
        owner,
        resyncMs,
        ...(leaseMs === undefined ? {} : { leaseMs }),
        target: reconcileTarget,
      });
    },

    /**
     * The healer a worker runs beside its jobs: replaces nodes NotReady too long (planHeal and
     * planHealMaster jobs, under the cluster's one-job lock), looking at each cluster every `pollMs`.
     */
    healer({ pollMs }: { pollMs: number }): Healer {
      return createHealer({
        db,
        logger: deps.logger,
        now: deps.now,
        pollMs,
        nodes: nodesOf,
        etcd: etcdHealthOf,
        replace: queueHeal,
        async retry(clusterId, jobId, why) {
          await db.transaction().execute(async (tx) => {
            await retryJobRow({ db: tx, jobId, now: iso() });
            await updateProvisionedCluster({ db: tx, id: clusterId, status: STATUS_DURING.heal, now: iso() });
            await healEvent(tx, jobId, why);
            await healAudit(tx, clusterId, 'cluster.heal.retry', { jobId, why });
          });
          await reportEndpoint(clusterId, (await cluster(clusterId)).spec as ClusterSpec, STATUS_DURING.heal);
        },
        stopped: (clusterId, details) => healAudit(db, clusterId, 'cluster.heal.stopped', details),
      });
    },

    /** cluster-autoscaler's operations (its externalgrpc cloud provider maps onto them). */
    autoscale,

    autoscalerCertificate,

    /** Every cluster's CA certificate by id: whose autoscaler certificates kaas's externalgrpc server accepts. */
    clusterCas: () => listClusterCaCerts({ db }),

    /** Runs runnable jobs until none is left (a worker's loop body). */
    async runUntilIdle(): Promise<number> {
      let ran = 0;
      while (await engine.runNext()) ran++;
      return ran;
    },
  };
}
