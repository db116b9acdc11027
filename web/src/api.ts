/**
 * The control panel's one door to the kaas server: every request, the CSRF header, error
 * decoding and the "session expired" signal live here, so pages only call typed functions.
 */
import type { ObservedGroup, ObservedState } from '../../src/provisioner/observedState.ts';
import type { AuditEvent } from '../../src/store/auditSchema.ts';

/** A failed API call, with the server's stable error code and message. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export interface User {
  id: string;
  name: string;
  domain: string;
}
export interface Session {
  user: User;
  csrfToken: string;
  expiresAt?: string;
}
/** An OpenStack project. */
export interface Project {
  id: string;
  name: string;
}
export interface ClusterItem {
  id: string;
  name: string;
  /** The OpenStack project the cluster belongs to. */
  project: Project;
  isAdmin: boolean;
  /** kaas' provisioning state (creating, ready, failed…); null when kaas did not provision it. */
  status: string | null;
  kubernetesVersion: string | null;
}
export interface ClusterList {
  items: ClusterItem[];
  activeClusterId: string | null;
}
export interface Token {
  id: string;
  name: string;
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
}
export interface NewToken extends Token {
  token: string;
}
export interface ManagedService {
  id: string;
  name: string;
  description: string;
  url: string | null;
  status?: 'up' | 'down' | 'unknown';
  detail?: string;
}
/** A managed service as the reconciler's applier last found it on the cluster. */
export interface ServiceSync {
  name: string;
  state: 'pending' | 'applying' | 'ready' | 'failed';
  message: string;
  observedAt: string;
}
export interface ServiceList {
  ingressDomain: string | null;
  items: ManagedService[];
  /** Administrators only: the last reconcile pass and each service's state. */
  reconcile?: { syncedAt: string | null; error: string | null; services: ServiceSync[] };
}
/** A cluster's Nodes read from its own API when asked, as the server defines them. */
export type { ObservedGroup };
export type Observed = ObservedState;
/** What members see of the Nodes: how many are Ready. */
export type ObservedCount = Pick<Observed, 'checkedAt' | 'reachable' | 'nodes' | 'noApi' | 'notYet'>;
export interface Overview {
  cluster: { id: string; name: string; projectId: string; projectName: string };
  apiUrl: string | null;
  health: { state: 'healthy' | 'unhealthy' | 'unknown'; detail: string };
  kubernetesVersion: string | null;
  nodeCount: number | null;
  provisioningState: string | null;
  reportedAt: string | null;
  /** Null when this kaas did not provision the cluster, so it cannot observe it. */
  observed: Observed | null;
}
export interface RoleBinding {
  keystoneRoleId: string;
  kind: 'ClusterRole' | 'Role';
  roleName: string;
  namespace?: string;
}
export interface RoleBindings {
  items: RoleBinding[];
  revision: number;
  appliedRevision: number | null;
  state: 'none' | 'pending' | 'applied';
  updatedAt: string | null;
  updatedBy: string | null;
  appliedAt: string | null;
  availableRoles: { id: string; name: string }[];
}
export interface UserToken extends Token {
  userId: string;
  userName: string;
  domainName: string;
}

/** The audit API's entry, as the server's store defines it. */
export type { AuditEvent };

export interface AuditPage {
  items: AuditEvent[];
  nextBefore: string | null;
}

/** A node group of a cluster spec. */
export interface NodeGroup {
  name: string;
  count: number;
  flavor: string;
  image: string;
  /** Auto-healing of this group; absent means on (when the cluster's is). */
  autoHeal?: boolean;
  /** Autoscaling bounds (both or neither); autoscaled when maxSize > minSize. */
  minSize?: number;
  maxSize?: number;
  [more: string]: unknown;
}
/** The parts of a cluster spec the panel edits; the rest travels as the server's defaults gave it. */
export interface ClusterSpec {
  name: string;
  kubernetesVersion: string;
  masters: number;
  masterFlavor: string;
  image: string;
  nodeGroups: NodeGroup[];
  adminRoleId: string;
  /** Registry every image is pulled from (absent: the server's default, else upstream). */
  imageRepository?: string;
  /** The cluster's auto-healing switch; absent means on. */
  autoHeal?: boolean;
  [more: string]: unknown;
}
export interface Job {
  id: string;
  clusterId: string;
  kind: 'create' | 'resize' | 'upgrade' | 'delete' | 'rotate' | 'heal';
  state: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  error: { stepId?: string; code: string; message: string } | null;
  createdAt: string;
  updatedAt: string;
}
export interface JobStep {
  stepId: string;
  position: number;
  state: string;
  error: { stepId?: string; code: string; message: string } | null;
  startedAt: string | null;
  finishedAt: string | null;
}
export interface JobEvent {
  at: string;
  stepId: string | null;
  level: 'info' | 'warn' | 'error';
  message: string;
}
export interface JobView {
  job: Job;
  steps: JobStep[];
  events: JobEvent[];
}
/** A cluster as its administrators see it through the lifecycle API. */
export interface ClusterView {
  id: string;
  name: string;
  status: string;
  spec: ClusterSpec;
  createdAt: string;
  updatedAt: string;
  /** The OpenStack project the cluster belongs to; null for one kaas has no registration of. */
  project: Project | null;
  lastJob?: Job;
  observed?: Observed;
}
export interface Version {
  version: string;
  minor: string;
  isDefault: boolean;
}
export interface Flavor {
  id: string;
  name: string;
  vcpus: number;
  ramMb: number;
  diskGb: number;
}
export interface Image {
  id: string;
  name: string;
}
/** The caller's projects, and the one a cluster goes to when they name none (null: they must choose). */
export interface UserProjects {
  items: Project[];
  defaultProjectId: string | null;
}
/** What a new cluster gets unless the form changes it. */
export interface CreateDefaults {
  /** Every spec field but the name; adminRoleId is null when the server sets none. */
  spec: {
    kubernetesVersion: string;
    masters: number;
    masterFlavor: string;
    image: string;
    nodeGroups: NodeGroup[];
    adminRoleId: string | null;
    [more: string]: unknown;
  };
  options: Record<string, unknown>;
}

let csrfToken = '';
let onUnauthorized: () => void = () => undefined;

/** Called once by the app shell: what to do when any call finds the session gone (401). */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

interface CallOptions {
  body?: unknown;
  /** A 401 here is an answer (wrong password, no session yet), not an expired session. */
  expect401?: boolean;
  text?: boolean;
}

async function call<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: options.text ? 'application/yaml' : 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
  } catch {
    throw new ApiError(
      0,
      'network',
      'The kaas server could not be reached. Check your connection and try again.',
    );
  }
  if (response.status === 401 && !options.expect401) {
    csrfToken = '';
    onUnauthorized();
  }
  if (!response.ok) {
    const body = (await response.json().catch(() => undefined)) as
      { error?: { code?: string; message?: string; field?: string } } | undefined;
    throw new ApiError(
      response.status,
      body?.error?.code ?? 'http_error',
      body?.error?.message ?? `The server answered ${response.status} ${response.statusText}.`,
      body?.error?.field,
    );
  }
  if (response.status === 204) return undefined as T;
  return (options.text ? await response.text() : await response.json()) as T;
}

const enc = encodeURIComponent;

/** Typed calls of the kaas JSON API. */
export const api = {
  /** The current session, or undefined when not logged in. */
  async session(): Promise<Session | undefined> {
    try {
      const session = await call<Session>('GET', '/api/v1/session', { expect401: true });
      csrfToken = session.csrfToken;
      return session;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return undefined;
      throw error;
    }
  },
  async login(username: string, password: string, domain: string): Promise<Session> {
    const session = await call<Session>('POST', '/api/v1/login', {
      body: { username, password, domain },
      expect401: true,
    });
    csrfToken = session.csrfToken;
    return session;
  },
  async logout(): Promise<void> {
    await call<void>('POST', '/api/v1/logout', { expect401: true }).catch(() => undefined);
    csrfToken = '';
  },
  clusters: () => call<ClusterList>('GET', '/api/v1/clusters'),
  setActiveCluster: (clusterId: string) =>
    call<{ activeClusterId: string }>('PUT', '/api/v1/session/active-cluster', { body: { clusterId } }),
  listTokens: () => call<{ items: Token[] }>('GET', '/api/v1/tokens').then((r) => r.items),
  /** `clusters` (ids) restricts the token: TokenReview refuses it on any other cluster. */
  createToken: (name: string, expiresInDays?: number, clusters?: string[]) =>
    call<NewToken>('POST', '/api/v1/tokens', {
      body: { name, ...(expiresInDays ? { expiresInDays } : {}), ...(clusters ? { clusters } : {}) },
    }),
  deleteToken: (id: string) => call<void>('DELETE', `/api/v1/tokens/${enc(id)}`),
  kubeconfigExec: (clusterId: string) =>
    call<string>('GET', `/api/v1/clusters/${enc(clusterId)}/kubeconfig?mode=exec`, { text: true }),
  kubeconfigWithToken: (clusterId: string, token: string) =>
    call<string>('POST', `/api/v1/clusters/${enc(clusterId)}/kubeconfig`, { body: { token }, text: true }),
  services: (clusterId: string) => call<ServiceList>('GET', `/api/v1/clusters/${enc(clusterId)}/services`),
  nodes: (clusterId: string) =>
    call<{ observed: ObservedCount | null }>('GET', `/api/v1/clusters/${enc(clusterId)}/nodes`).then(
      (r) => r.observed,
    ),
  adminOverview: (clusterId: string) =>
    call<Overview>('GET', `/api/v1/clusters/${enc(clusterId)}/admin/overview`),
  adminServices: (clusterId: string) =>
    call<ServiceList>('GET', `/api/v1/clusters/${enc(clusterId)}/admin/services`),
  roleBindings: (clusterId: string) =>
    call<RoleBindings>('GET', `/api/v1/clusters/${enc(clusterId)}/role-bindings`),
  saveRoleBindings: (clusterId: string, items: RoleBinding[]) =>
    call<{ revision: number }>('PUT', `/api/v1/clusters/${enc(clusterId)}/role-bindings`, {
      body: { items },
    }),
  adminTokens: (clusterId: string) =>
    call<{ items: UserToken[] }>('GET', `/api/v1/clusters/${enc(clusterId)}/admin/tokens`).then(
      (r) => r.items,
    ),
  audit: (clusterId: string, before?: string) =>
    call<AuditPage>(
      'GET',
      `/api/v1/clusters/${enc(clusterId)}/admin/audit?limit=50${before ? `&before=${enc(before)}` : ''}`,
    ),
  /** The JSON-lines export, fetched by the browser itself as a download (a plain GET with the session cookie). */
  auditExportUrl: (clusterId: string) => `/api/v1/clusters/${enc(clusterId)}/admin/audit.jsonl`,
  permissions: () => call<{ createClusters: boolean }>('GET', '/api/v1/permissions'),
  versions: () => call<{ items: Version[] }>('GET', '/api/v1/catalog/versions').then((r) => r.items),
  flavors: () => call<{ items: Flavor[] }>('GET', '/api/v1/catalog/flavors').then((r) => r.items),
  images: () => call<{ items: Image[] }>('GET', '/api/v1/catalog/images').then((r) => r.items),
  createDefaults: () => call<CreateDefaults>('GET', '/api/v1/catalog/defaults'),
  projects: () => call<UserProjects>('GET', '/api/v1/catalog/projects'),
  /** Creates in `project` (an id); empty: the server's default for the caller, or project_required. */
  createCluster: (spec: ClusterSpec, options: Record<string, unknown>, project: string) =>
    call<{ cluster: ClusterView; job: Job; privateKey?: string }>('POST', '/api/v1/clusters', {
      body: { spec, options, ...(project ? { project } : {}) },
    }),
  cluster: (clusterId: string) => call<ClusterView>('GET', `/api/v1/clusters/${enc(clusterId)}`),
  job: (clusterId: string, jobId: string, after?: string) =>
    call<JobView>(
      'GET',
      `/api/v1/clusters/${enc(clusterId)}/jobs/${enc(jobId)}${after ? `?after=${enc(after)}` : ''}`,
    ),
  resizeCluster: (clusterId: string, group: string, count: number) =>
    call<{ job: Job }>('POST', `/api/v1/clusters/${enc(clusterId)}/resize`, { body: { group, count } }),
  /** The job, or null when the cluster already runs `version`. */
  upgradeCluster: (clusterId: string, version: string) =>
    call<{ job: Job | null }>('POST', `/api/v1/clusters/${enc(clusterId)}/upgrade`, { body: { version } }),
  /** Queues the delete job; `keep` leaves the cluster's Cinder volumes or backup containers in the cloud. */
  deleteCluster: (clusterId: string, keep: { keepVolumes?: boolean; keepBackups?: boolean } = {}) => {
    const query = new URLSearchParams(
      Object.entries(keep).flatMap(([flag, on]) => (on ? [[flag, 'true']] : [])),
    ).toString();
    return call<{ job: Job }>('DELETE', `/api/v1/clusters/${enc(clusterId)}${query ? `?${query}` : ''}`);
  },
  rotateCredentials: (clusterId: string) =>
    call<{ job: Job }>('POST', `/api/v1/clusters/${enc(clusterId)}/rotate-credentials`),
  /**
   * Sets a node group's autoscaling bounds: the cluster as stored at once, or the job that resizes
   * the group into them or installs/removes cluster-autoscaler (the bounds stored when it succeeds).
   */
  setSizeBounds: (clusterId: string, group: string, minSize: number, maxSize: number) =>
    call<ClusterView | { job: Job }>('PATCH', `/api/v1/clusters/${enc(clusterId)}`, {
      body: { group, minSize, maxSize },
    }),
  /** Turns auto-healing on or off for the cluster, or with `group` for one node group. */
  setAutoHeal: (clusterId: string, autoHeal: boolean, group?: string) =>
    call<ClusterView>('PATCH', `/api/v1/clusters/${enc(clusterId)}`, {
      body: { autoHeal, ...(group === undefined ? {} : { group }) },
    }),
  retryJob: (clusterId: string, jobId: string) =>
    call<{ job: Job }>('POST', `/api/v1/clusters/${enc(clusterId)}/retry`, { body: { jobId } }),
  revokeToken: (clusterId: string, tokenId: string) =>
    call<void>('DELETE', `/api/v1/clusters/${enc(clusterId)}/admin/tokens/${enc(tokenId)}`),
};
