/**
 * The cluster's own OpenStack identity: a Keystone application credential owned by kaas's service
 * user (the user the provisioner authenticates as), never by the person who asked for the cluster,
 * so deleting that person's user breaks neither the cluster nor its deletion. It is restricted to
 * CLUSTER_CREDENTIAL_ROLES on kaas's project, kept only sealed in the cluster's material, and
 * written into the cluster as the two Secrets its cloud-facing services read (cloudSecrets).
 *
 * Credentials are named `kaas-cluster-<cluster id>-<random>`. One of that prefix the material does
 * not hold is an orphan of a crash between Keystone's answer and the seal (its secret is lost with
 * it): the next credential step deletes it.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { cloudConfigSecretData } from '../../addons/cloudconf.ts';
import type { KubernetesObject } from '../../addons/index.ts';
import { KAAS_NAMESPACE } from '../../addons/names.ts';
import { CLOUD_CONFIG_SECRET } from '../../addons/storage.ts';
import { clusterNames, tagsFor } from '../../cluster/names.ts';
import type { PlanResource } from '../../cluster/plan.ts';
import { ConflictError, InputError, UpstreamError } from '../../errors.ts';
import { isOpenStackError } from '../../openstack/index.ts';
import type { ClusterCredential } from '../material.ts';
import { outputOf, withRetries, type ExecDeps } from './context.ts';
import { findExternalNetwork } from './network.ts';

type Res = Extract<PlanResource, { type: 'credential' }>;

/**
 * Roles the cluster's credential asks for, under the services' default policies: `member` for
 * Neutron floating IPs and ports (the cloud controller), Cinder volumes and attachments (Cinder
 * CSI, Velero's snapshots) and Swift containers and objects (Velero, the etcd backups, the
 * registry); `load-balancer_member` because Octavia's default policy lets only holders of it (and
 * member) make load balancers (the cloud controller's, for Services). Never `admin`: a workload
 * that reads the Secret would act on every project of the cloud. Keystone grants a credential only
 * roles its user holds: `member` is required, a missing `load-balancer_member` is left out with a
 * warning (Services of type LoadBalancer then fail until it is granted and the credential rotated).
 */
export const CLUSTER_CREDENTIAL_ROLES: readonly string[] = ['member', 'load-balancer_member'];
/** The one role of CLUSTER_CREDENTIAL_ROLES a credential cannot go without. */
export const REQUIRED_CREDENTIAL_ROLE = 'member';

/**
 * The roles kaas's service user lacks, of those `held` on a cluster's project, for all it does there:
 * `member` (servers, networks, volumes, Swift containers, and the cluster's credential, which holds
 * only roles its owner holds) and, where the catalog has Octavia, `load-balancer_member` (the API
 * load balancer, the role the cluster's cloud controller needs, and delete's sweep, which lists the
 * project's load balancers). Octavia's default policy asks that role of everyone but holders of
 * `admin` or `load-balancer_admin`, who may do anything there.
 */
export function missingProjectRoles(held: readonly string[], octavia: boolean): string[] {
  const has = (role: string) => held.includes(role);
  const octaviaOk = !octavia || has('admin') || has('load-balancer_admin');
  return CLUSTER_CREDENTIAL_ROLES.filter((r) => !has(r) && (r === REQUIRED_CREDENTIAL_ROLE || !octaviaOk));
}

/** Managed services that read the credential: a rotation waits for them before deleting the old one. */
export const CREDENTIAL_READERS: readonly string[] = ['cloud-controller', 'storage', 'registry', 'backups'];

/** The Secret (in kaas-system) with the Swift credentials Velero, the etcd backups and the registry read. */
export const SWIFT_CREDENTIALS_SECRET = 'kaas-swift-credentials';

/** The credentials sealed in a cluster's material. */
export interface CredentialState {
  credential?: ClusterCredential;
  retiredCredential?: ClusterCredential;
}

/** How credential steps read and seal a cluster's credentials (the provisioner's material store). */
export interface CredentialStore {
  /** As sealed now: re-read at each use, since a rotation changes them mid-job. */
  read(): Promise<CredentialState>;
  /** Seals `next` in place of the cluster's credentials. */
  write(next: CredentialState): Promise<void>;
}

const namePrefix = (clusterId: string) => `kaas-cluster-${clusterId}-`;

function store(deps: ExecDeps): CredentialStore {
  if (!deps.credentials) {
    throw new UpstreamError('the cluster has no stored material to keep its credential in', {
      code: 'cluster_secrets_missing',
    });
  }
  return deps.credentials;
}

/** kaas's service user, the cluster's project and the roles it holds there: the session's. */
async function serviceUser(
  deps: ExecDeps,
): Promise<{ userId: string; projectId: string; projectName: string; roles: string[] }> {
  const token = await deps.cloud.session.token();
  if (!token.project) {
    throw new ConflictError('kaas must authenticate scoped to a project to give clusters credentials', {
      code: 'project_scope_required',
    });
  }
  return {
    userId: token.user.id,
    projectId: token.project.id,
    projectName: token.project.name,
    roles: token.roles.map((r) => r.name),
  };
}

/** The cluster's credentials Keystone holds for `userId` (ids and names, never secrets). */
async function listed(deps: ExecDeps, userId: string) {
  const all = await deps.cloud.keystone.listApplicationCredentials(userId);
  return all.filter((c) => c.name.startsWith(namePrefix(deps.clusterId)));
}

async function make(
  deps: ExecDeps,
  owner: { userId: string; projectId: string; projectName: string; roles: string[] },
): Promise<ClusterCredential> {
  if (!owner.roles.includes(REQUIRED_CREDENTIAL_ROLE)) {
    throw new ConflictError(
      `kaas's user holds no ${REQUIRED_CREDENTIAL_ROLE} role on project ${owner.projectName}, so it cannot give cluster ${deps.spec.name} a credential the cloud-facing services can use; grant it`,
      { code: 'credential_role_missing' },
    );
  }
  const roles = CLUSTER_CREDENTIAL_ROLES.filter((r) => owner.roles.includes(r));
  const missing = CLUSTER_CREDENTIAL_ROLES.filter((r) => !owner.roles.includes(r));
  if (missing.length > 0) {
    await deps.ctx.event(
      `kaas's user holds no ${missing.join(', ')} on project ${owner.projectName}: the cluster's credential goes without, so under Octavia's default policy its cloud controller cannot make load balancers; grant it, then rotate the cluster's credentials`,
      'warn',
    );
  }
  const name = `${namePrefix(deps.clusterId)}${randomBytes(4).toString('hex')}`;
  const made = await deps.cloud.keystone
    .createApplicationCredential(owner.userId, {
      name,
      description: `Cloud identity of kaas cluster ${deps.spec.name} (${deps.clusterId})`,
      roles: roles.map((role) => ({ name: role })),
    })
    .catch((error: unknown) => {
      if (!isOpenStackError(error, 'openstack_forbidden')) throw error;
      throw new UpstreamError(
        `Keystone refused kaas an application credential for cluster ${deps.spec.name}: kaas must authenticate as its service user with a password (or an unrestricted application credential)`,
        { code: 'credential_refused', cause: error },
      );
    });
  await deps.ctx.event(
    `application credential ${made.id} (${name}) made for the cluster, roles ${roles.join(', ')}`,
  );
  return { id: made.id, name, secret: made.secret, userId: owner.userId, projectId: made.project_id, roles };
}

/** Deletes one credential; false when it was already gone. */
async function remove(deps: ExecDeps, userId: string, id: string): Promise<boolean> {
  return deps.cloud.keystone.deleteApplicationCredential(userId, id).then(
    () => true,
    (error: unknown) => {
      if (!isOpenStackError(error, 'openstack_not_found')) throw error;
      return false;
    },
  );
}

/** Deletes the cluster's credentials Keystone holds that are not in `keep`; returns their ids. */
async function removeOthers(deps: ExecDeps, userId: string, keep: readonly (string | undefined)[]) {
  const ids: string[] = [];
  for (const c of await listed(deps, userId)) {
    if (!keep.includes(c.id) && (await remove(deps, userId, c.id))) ids.push(c.id);
  }
  return ids;
}

/** Create: the sealed credential if Keystone still has it, else a new one; orphans deleted. */
async function ensure(deps: ExecDeps) {
  const sealed = store(deps);
  const state = await sealed.read();
  const owner = await serviceUser(deps);
  let credential = state.credential;
  const live = credential && (await listed(deps, owner.userId)).some((c) => c.id === credential?.id);
  if (!credential || !live) {
    credential = await make(deps, owner);
    await sealed.write({ ...state, credential });
  }
  const orphans = await removeOthers(deps, owner.userId, [credential.id, state.retiredCredential?.id]);
  return { id: credential.id, userId: credential.userId, roles: credential.roles, orphans };
}

/**
 * Rotate: a new credential becomes the cluster's and the old one is kept as retired. A rotation
 * already under way (a retired one sealed) is carried on, not started again.
 */
async function rotate(deps: ExecDeps) {
  const sealed = store(deps);
  const state = await sealed.read();
  if (state.retiredCredential && state.credential) {
    return { id: state.credential.id, retired: state.retiredCredential.id };
  }
  const credential = await make(deps, await serviceUser(deps));
  await sealed.write({ credential, ...(state.credential ? { retiredCredential: state.credential } : {}) });
  return { id: credential.id, retired: state.credential?.id ?? null };
}

/**
 * Retire: deletes the replaced credential, but only once the services that read it were applied
 * with the new one and are ready again; until then it stays and the step fails, saying so.
 */
async function retire(deps: ExecDeps) {
  const addons = outputOf<{ applied: boolean; ready?: string[]; skipped?: string[] }>(deps, 'addons');
  const waiting = CREDENTIAL_READERS.filter(
    (a) => !(addons.skipped ?? []).includes(a) && !(addons.ready ?? []).includes(a),
  );
  if (!addons.applied || waiting.length > 0) {
    const why = addons.applied
      ? `${waiting.join(', ')} not ready on the new one`
      : 'the cluster API was not reached, so the cluster may still use it';
    throw new UpstreamError(
      `the old application credential was kept: ${why}; run the rotation again to finish it`,
      { code: 'credential_not_rolled_out' },
    );
  }
  const sealed = store(deps);
  const state = await sealed.read();
  const owner = await serviceUser(deps);
  // The retired one, and any orphan of a rotation that died between Keystone and the seal.
  const deleted = await removeOthers(deps, owner.userId, [state.credential?.id]);
  const retired = state.retiredCredential;
  if (retired && !deleted.includes(retired.id) && (await remove(deps, retired.userId, retired.id))) {
    deleted.push(retired.id);
  }
  await sealed.write(state.credential ? { credential: state.credential } : {});
  await deps.ctx.event(
    `application credential(s) ${deleted.join(', ') || '(none)'} deleted: the cluster runs on ${state.credential?.id ?? 'none'}`,
  );
  return { id: state.credential?.id ?? null, deleted };
}

/** Delete: every credential of the cluster, sealed or orphaned; the material goes with the cluster. */
async function removeAll(deps: ExecDeps) {
  const state = (await deps.credentials?.read()) ?? {};
  const owner = await serviceUser(deps);
  const ids = await removeOthers(deps, owner.userId, []);
  // Sealed ones another user of kaas's owned (kaas's identity changed since) are not listed above.
  for (const c of [state.credential, state.retiredCredential]) {
    if (c && !ids.includes(c.id) && (await remove(deps, c.userId, c.id))) ids.push(c.id);
  }
  return { removed: ids.length, ids };
}

/** Runs one credential step (see CredentialPhase). */
export async function credentialStep(deps: ExecDeps, r: Res): Promise<unknown> {
  const phase = r.params.phase;
  const act: Record<typeof phase, (deps: ExecDeps) => Promise<unknown>> = {
    ensure,
    rotate,
    retire,
    delete: removeAll,
  };
  return withRetries(deps, `application credential (${phase})`, () => act[phase](deps));
}

/**
 * The CA bundle kaas trusts the cloud's endpoints with (clouds.yaml `cacert`, OS_CACERT): the
 * cluster's services must trust the same, or they cannot reach the cloud kaas reaches.
 */
async function cloudCaBundle(path: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read the cloud's CA bundle ${path} (clouds.yaml cacert / OS_CACERT)`, {
      field: 'cacert',
      code: 'cacert_unreadable',
      cause: error,
    });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new InputError(`the cloud's CA bundle ${path} holds no PEM certificate`, {
      field: 'cacert',
      code: 'cacert_unreadable',
    });
  }
  return pem;
}

/**
 * The Secrets the cluster's cloud-facing services read, from its credential: `cloud.conf` in
 * kube-system (cloud controller, Cinder CSI) and the Swift credentials in kaas-system (Velero, etcd
 * backups, registry). Values go under `data`, so the API server's copy is what kaas rendered.
 */
export async function cloudSecrets(
  deps: Pick<ExecDeps, 'cloud' | 'spec' | 'clusterId'>,
  credential: ClusterCredential,
): Promise<KubernetesObject[]> {
  const config = deps.cloud.session.config;
  const names = clusterNames(deps.spec.name);
  const [subnet] = await deps.cloud.neutron.subnets.list({
    name: names.subnet,
    tags: tagsFor(deps.clusterId),
  });
  if (!subnet) {
    throw new UpstreamError(`subnet ${names.subnet} of the cluster not found`, { code: 'subnet_not_found' });
  }
  const external = await findExternalNetwork(deps, deps.spec.externalNetwork);
  const conf = cloudConfigSecretData({
    authUrl: config.auth.authUrl,
    region: config.regionName ?? 'RegionOne',
    applicationCredentialId: credential.id,
    applicationCredentialSecret: credential.secret,
    subnetId: subnet.id,
    ...(external ? { floatingNetworkId: external.id } : {}),
    ...(config.cacert ? { caPem: await cloudCaBundle(config.cacert) } : {}),
  });
  const secret = (namespace: string, name: string, values: Record<string, string>): KubernetesObject => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'kaas' } },
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  });
  return [
    secret('kube-system', CLOUD_CONFIG_SECRET, conf),
    secret(KAAS_NAMESPACE, SWIFT_CREDENTIALS_SECRET, {
      OS_APPLICATION_CREDENTIAL_ID: credential.id,
      OS_APPLICATION_CREDENTIAL_SECRET: credential.secret,
      OS_STORAGE_URL: await deps.cloud.session.endpoint('object-store'),
    }),
  ];
}
