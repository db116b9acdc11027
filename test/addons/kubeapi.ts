/**
 * A test double of kube-apiserver's REST semantics, as far as the addon appliers use them
 * (no kube-apiserver is installable here: not in Debian 12, not on npm).
 *
 * Faithful to the real server in: discovery (/api, /apis, /api/v1, /apis/<group>/<version>,
 * with status subresources listed after their resource), bearer-token auth, server-side apply
 * (PATCH application/apply-patch+yaml; fieldManager required; the object is the merge of every
 * manager's last applied configuration, so a field one manager drops disappears unless another
 * manager set it; conflicting values owned by another manager are a 409 unless force=true;
 * unchanged content is a no-op keeping resourceVersion; changed content bumps resourceVersion,
 * and generation when anything outside metadata/status changed; status is never taken from an
 * apply), namespaced objects refused (404) while their namespace does not exist, custom kinds
 * unknown (404 / absent from discovery) until their CRD exists and is Established, GET, LIST
 * (also across namespaces) with equality label selectors, DELETE (cascading from a Namespace
 * or a CRD), and Status error bodies.
 *
 * Simplified: lists inside objects are atomic (the real server merges keyed lists such as
 * containers by name), no managedFields in responses, no watch, no admission, deletion is
 * immediate (no finalizers). A "controller" sets workload status: ready after `readyAfterReads`
 * reads unless the test marks the workload stuck.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';

interface ResourceType {
  group: string;
  version: string;
  name: string;
  kind: string;
  namespaced: boolean;
  status?: boolean;
}

type Obj = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown> & { name: string; namespace?: string; labels?: Record<string, string> };
};

interface Stored {
  type: ResourceType;
  live: Obj;
  /** Each field manager's last applied configuration, in application order. */
  managers: Map<string, Record<string, unknown>>;
  /** Reads left before the fake controller reports a workload (or CRD) done. */
  settleIn: number;
}

const BUILTIN: ResourceType[] = [
  ['', 'v1', 'namespaces', 'Namespace', false, true],
  ['', 'v1', 'configmaps', 'ConfigMap', true],
  ['', 'v1', 'secrets', 'Secret', true],
  ['', 'v1', 'services', 'Service', true, true],
  ['', 'v1', 'serviceaccounts', 'ServiceAccount', true],
  ['apps', 'v1', 'deployments', 'Deployment', true, true],
  ['apps', 'v1', 'statefulsets', 'StatefulSet', true, true],
  ['apps', 'v1', 'daemonsets', 'DaemonSet', true, true],
  ['batch', 'v1', 'cronjobs', 'CronJob', true, true],
  ['batch', 'v1', 'jobs', 'Job', true, true],
  ['policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget', true, true],
  ['rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false],
  ['rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', false],
  ['rbac.authorization.k8s.io', 'v1', 'roles', 'Role', true],
  ['rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding', true],
  ['networking.k8s.io', 'v1', 'ingresses', 'Ingress', true, true],
  ['networking.k8s.io', 'v1', 'ingressclasses', 'IngressClass', false],
  ['storage.k8s.io', 'v1', 'storageclasses', 'StorageClass', false],
  ['storage.k8s.io', 'v1', 'csidrivers', 'CSIDriver', false],
  [
    'admissionregistration.k8s.io',
    'v1',
    'validatingadmissionpolicies',
    'ValidatingAdmissionPolicy',
    false,
    true,
  ],
  [
    'admissionregistration.k8s.io',
    'v1',
    'validatingadmissionpolicybindings',
    'ValidatingAdmissionPolicyBinding',
    false,
  ],
  ['apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', false, true],
].map(([group, version, name, kind, namespaced, status]) => ({
  group: group as string,
  version: version as string,
  name: name as string,
  kind: kind as string,
  namespaced: namespaced as boolean,
  status: status === true,
}));

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);
const SERVER_META = ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields'];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Recursive merge: maps merge, everything else (scalars, lists) is replaced by `b`. */
function merge(a: unknown, b: unknown): unknown {
  if (!isPlainObject(a) || !isPlainObject(b)) return structuredClone(b);
  const out: Record<string, unknown> = { ...structuredClone(a) };
  for (const [k, v] of Object.entries(b)) out[k] = merge(out[k], v);
  return out;
}

/** Leaf paths (scalars and lists) of an applied configuration, with their values. */
function leaves(v: unknown, path = ''): Map<string, string> {
  const out = new Map<string, string>();
  if (!isPlainObject(v)) {
    out.set(path, JSON.stringify(v));
    return out;
  }
  for (const [k, child] of Object.entries(v))
    for (const [p, x] of leaves(child, `${path}.${k}`)) out.set(p, x);
  return out;
}

/** Deterministic JSON (sorted keys) for content comparison. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isPlainObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function withoutServerFields(o: Obj): Record<string, unknown> {
  const meta = { ...o.metadata };
  for (const k of SERVER_META) delete meta[k];
  const { status: _status, ...rest } = o;
  return { ...rest, metadata: meta };
}

function specPart(o: Record<string, unknown>): string {
  const { metadata: _m, status: _s, ...rest } = o;
  return canonical(rest);
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** Options of the double. */
export interface KubeApiOptions {
  token?: string;
  /** Reads of a workload (or CRD) after a write before its controller reports it done (0 = at once). */
  readyAfterReads?: number;
  /** Nodes a DaemonSet schedules onto. */
  nodes?: number;
}

/** A running double; `url` is its base address. */
export interface KubeApi {
  url: string;
  token: string;
  /** Successful mutating requests (creates, changing applies, deletes); no-op applies don't count. */
  writes: number;
  /** Every request as `METHOD path`, for assertions on order. */
  requests: string[];
  /** Workloads (`Kind namespace/name`) whose controller never reports them ready. */
  stuck: Set<string>;
  /** The next `count` requests answer `status` (a Status body), to test upstream failures. */
  failNext(count: number, status: number): void;
  /** An object as stored, or undefined. */
  get(apiVersion: string, kind: string, name: string, namespace?: string): Obj | undefined;
  /** Every stored object, as `Kind namespace/name`, sorted. */
  names(): string[];
  /** Stores an object directly (as another client would have created it), without counting a write. */
  seed(obj: Obj): void;
  close(): Promise<void>;
}

/** Starts the double on 127.0.0.1, an OS-picked port. */
export async function startKubeApi(options: KubeApiOptions = {}): Promise<KubeApi> {
  const token = options.token ?? 'test-token';
  const readyAfterReads = options.readyAfterReads ?? 1;
  const nodes = options.nodes ?? 3;
  const objects = new Map<string, Stored>();
  let rv = 100;
  let uid = 0;
  let failures: { count: number; status: number } = { count: 0, status: 500 };

  const customTypes = (): ResourceType[] => {
    const out: ResourceType[] = [];
    for (const s of objects.values()) {
      if (s.type.kind !== 'CustomResourceDefinition' || !established(s.live)) continue;
      const spec = s.live['spec'] as {
        group: string;
        names: { plural: string; kind: string };
        scope: string;
        versions: { name: string; served: boolean }[];
      };
      for (const v of spec.versions.filter((x) => x.served)) {
        out.push({
          group: spec.group,
          version: v.name,
          name: spec.names.plural,
          kind: spec.names.kind,
          namespaced: spec.scope === 'Namespaced',
        });
      }
    }
    return out;
  };
  const allTypes = () => [...BUILTIN, ...customTypes()];
  const gv = (t: ResourceType) => (t.group === '' ? t.version : `${t.group}/${t.version}`);
  const keyOf = (t: ResourceType, ns: string | undefined, name: string) =>
    `${t.group}|${t.name}|${ns ?? ''}|${name}`;
  const typeOf = (apiVersion: string, kind: string) =>
    allTypes().find((t) => gv(t) === apiVersion && t.kind === kind);

  function established(crd: Obj): boolean {
    const conds = (crd['status'] as { conditions?: { type: string; status: string }[] } | undefined)
      ?.conditions;
    return (conds ?? []).some((c) => c.type === 'Established' && c.status === 'True');
  }

  /** What the controllers would have done by now. */
  function settle(s: Stored): void {
    if (s.settleIn > 0) {
      s.settleIn -= 1;
      return;
    }
    const { live } = s;
    const id = `${live.kind} ${live.metadata.namespace ?? ''}/${live.metadata.name}`;
    if (live.kind === 'CustomResourceDefinition' && !established(live)) {
      live['status'] = {
        conditions: [{ type: 'Established', status: 'True', reason: 'InitialNamesAccepted' }],
      };
      live.metadata['resourceVersion'] = String(++rv);
    }
    if (!WORKLOADS.has(live.kind) || api.stuck.has(id)) return;
    const generation = live.metadata['generation'] as number;
    const status = live['status'] as Record<string, unknown> | undefined;
    if (status?.['observedGeneration'] === generation) return;
    const replicas = ((live['spec'] as { replicas?: number }).replicas ?? 1) as number;
    live['status'] =
      live.kind === 'DaemonSet'
        ? {
            observedGeneration: generation,
            desiredNumberScheduled: nodes,
            currentNumberScheduled: nodes,
            updatedNumberScheduled: nodes,
            numberReady: nodes,
            numberAvailable: nodes,
            numberMisscheduled: 0,
          }
        : {
            observedGeneration: generation,
            replicas,
            updatedReplicas: replicas,
            readyReplicas: replicas,
            availableReplicas: replicas,
          };
    live.metadata['resourceVersion'] = String(++rv);
  }

  function namespaceExists(ns: string): boolean {
    return objects.has(keyOf(BUILTIN[0]!, undefined, ns));
  }

  function deleteKey(key: string): void {
    const s = objects.get(key);
    if (!s) return;
    objects.delete(key);
    if (s.type.kind === 'Namespace') {
      for (const [k, o] of objects) if (o.live.metadata.namespace === s.live.metadata.name) objects.delete(k);
    }
    if (s.type.kind === 'CustomResourceDefinition') {
      const group = (s.live['spec'] as { group: string }).group;
      const plural = (s.live['spec'] as { names: { plural: string } }).names.plural;
      for (const [k, o] of objects) if (o.type.group === group && o.type.name === plural) objects.delete(k);
    }
  }

  function matches(labels: Record<string, string>, selector: string | null): boolean {
    if (!selector) return true;
    for (const term of selector.split(',').map((t) => t.trim())) {
      let m: RegExpExecArray | null;
      if ((m = /^([^!=\s]+)\s*!=\s*(\S*)$/.exec(term))) {
        if (labels[m[1]!] === m[2]) return false;
      } else if ((m = /^([^!=\s]+)\s*==?\s*(\S*)$/.exec(term))) {
        if (labels[m[1]!] !== m[2]) return false;
      } else if ((m = /^!(\S+)$/.exec(term))) {
        if (m[1]! in labels) return false;
      } else if ((m = /^(\S+)$/.exec(term))) {
        if (!(m[1]! in labels)) return false;
      } else {
        throw new HttpError(400, 'BadRequest', `unable to parse requirement: ${term}`);
      }
    }
    return true;
  }

  function apply(t: ResourceType, ns: string | undefined, name: string, url: URL, body: Obj): [number, Obj] {
    const manager = url.searchParams.get('fieldManager');
    if (!manager) {
      throw new HttpError(
        422,
        'Invalid',
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      );
    }
    if (!isPlainObject(body) || body.apiVersion !== gv(t) || body.kind !== t.kind) {
      throw new HttpError(400, 'BadRequest', `apply body must be ${gv(t)} ${t.kind}`);
    }
    if (body.metadata?.name !== name) {
      throw new HttpError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
    }
    if (t.namespaced && body.metadata.namespace !== undefined && body.metadata.namespace !== ns) {
      throw new HttpError(
        400,
        'BadRequest',
        'the namespace of the object does not match the namespace on the URL',
      );
    }
    if (t.namespaced && !namespaceExists(ns!)) {
      throw new HttpError(404, 'NotFound', `namespaces "${ns}" not found`);
    }
    const { status: _ignored, stringData, ...config } = body;
    const cfg: Record<string, unknown> = {
      ...config,
      metadata: { ...config.metadata, ...(t.namespaced ? { namespace: ns } : {}) },
    };
    if (t.kind === 'Secret' && isPlainObject(stringData)) {
      // The real server stores stringData base64-encoded under data.
      const encoded = Object.fromEntries(
        Object.entries(stringData).map(([k, v]) => [k, Buffer.from(String(v)).toString('base64')]),
      );
      cfg['data'] = { ...(isPlainObject(cfg['data']) ? cfg['data'] : {}), ...encoded };
    }
    const key = keyOf(t, ns, name);
    const existing = objects.get(key);
    const managers = new Map(existing?.managers ?? []);
    if (url.searchParams.get('force') !== 'true') {
      const mine = leaves(cfg);
      for (const [other, theirs] of managers) {
        if (other === manager) continue;
        for (const [p, v] of leaves(theirs)) {
          if (mine.has(p) && mine.get(p) !== v) {
            throw new HttpError(
              409,
              'Conflict',
              `Apply failed with 1 conflict: conflict with "${other}": ${p}`,
            );
          }
        }
      }
    }
    managers.delete(manager);
    managers.set(manager, cfg);
    let desired: Record<string, unknown> = {};
    for (const c of managers.values()) desired = merge(desired, c) as Record<string, unknown>;
    if (existing) {
      const before = withoutServerFields(existing.live);
      if (canonical(before) === canonical(desired)) {
        existing.managers = managers;
        return [200, existing.live];
      }
      const generation = existing.live.metadata['generation'] as number;
      const live = {
        ...desired,
        metadata: {
          ...(desired['metadata'] as object),
          uid: existing.live.metadata['uid'],
          creationTimestamp: existing.live.metadata['creationTimestamp'],
          generation: specPart(before) === specPart(desired) ? generation : generation + 1,
          resourceVersion: String(++rv),
        },
        ...(existing.live['status'] === undefined ? {} : { status: existing.live['status'] }),
      } as unknown as Obj;
      objects.set(key, { type: t, live, managers, settleIn: readyAfterReads });
      api.writes += 1;
      return [200, live];
    }
    const live = {
      ...desired,
      metadata: {
        ...(desired['metadata'] as object),
        uid: `uid-${++uid}`,
        creationTimestamp: '2030-01-01T00:00:00Z',
        generation: 1,
        resourceVersion: String(++rv),
      },
    } as unknown as Obj;
    objects.set(key, { type: t, live, managers, settleIn: readyAfterReads });
    api.writes += 1;
    return [201, live];
  }

  function route(method: string, url: URL, body: unknown): [number, unknown] {
    const path = url.pathname.replace(/\/+$/, '');
    if (method === 'GET' && path === '/api') {
      return [200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] }];
    }
    if (method === 'GET' && path === '/apis') {
      const groups = new Map<string, string[]>();
      for (const t of allTypes().filter((x) => x.group !== '')) {
        const versions = groups.get(t.group) ?? [];
        if (!versions.includes(t.version)) versions.push(t.version);
        groups.set(t.group, versions);
      }
      return [
        200,
        {
          kind: 'APIGroupList',
          apiVersion: 'v1',
          groups: [...groups].map(([name, versions]) => ({
            name,
            versions: versions.map((version) => ({ groupVersion: `${name}/${version}`, version })),
            preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
          })),
        },
      ];
    }
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/(.*))?$/.exec(path);
    if (!m) throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
    const group = m[2] ?? '';
    const version = m[1] ?? m[3]!;
    const types = allTypes().filter((t) => t.group === group && t.version === version);
    if (types.length === 0)
      throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
    const rest = m[4] === undefined ? [] : m[4].split('/').map(decodeURIComponent);
    if (rest.length === 0) {
      if (method !== 'GET') throw new HttpError(405, 'MethodNotAllowed', 'method not allowed');
      return [
        200,
        {
          kind: 'APIResourceList',
          apiVersion: 'v1',
          groupVersion: group === '' ? version : `${group}/${version}`,
          resources: types.flatMap((t) => [
            {
              name: t.name,
              singularName: t.kind.toLowerCase(),
              namespaced: t.namespaced,
              kind: t.kind,
              verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
            },
            ...(t.status
              ? [
                  {
                    name: `${t.name}/status`,
                    singularName: '',
                    namespaced: t.namespaced,
                    kind: t.kind,
                    verbs: ['get', 'patch', 'update'],
                  },
                ]
              : []),
          ]),
        },
      ];
    }
    let ns: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      ns = rest[1];
      rest.splice(0, 2);
    }
    const [resource, name, sub] = rest;
    const t = types.find((x) => x.name === resource);
    if (!t || sub !== undefined || (ns !== undefined && !t.namespaced)) {
      throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
    }
    const notFound = () =>
      new HttpError(404, 'NotFound', `${t.name}.${t.group || 'core'} "${name}" not found`);
    if (name === undefined) {
      if (method !== 'GET') throw new HttpError(405, 'MethodNotAllowed', 'method not allowed');
      const items = [...objects.values()]
        .filter((s) => s.type === t || (s.type.group === t.group && s.type.name === t.name))
        .filter((s) => ns === undefined || s.live.metadata.namespace === ns)
        .filter((s) => matches(s.live.metadata.labels ?? {}, url.searchParams.get('labelSelector')))
        .map((s) => {
          settle(s);
          // Like the real server, items of a built-in list carry no apiVersion/kind.
          const { apiVersion, kind, ...item } = structuredClone(s.live);
          return BUILTIN.includes(t) ? item : { apiVersion, kind, ...item };
        });
      return [
        200,
        { apiVersion: gv(t), kind: `${t.kind}List`, metadata: { resourceVersion: String(rv) }, items },
      ];
    }
    const key = keyOf(t, ns, name);
    if (method === 'GET') {
      const s = objects.get(key);
      if (!s) throw notFound();
      settle(s);
      return [200, s.live];
    }
    if (method === 'DELETE') {
      const s = objects.get(key);
      if (!s) throw notFound();
      deleteKey(key);
      api.writes += 1;
      return [
        200,
        {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name, kind: t.name },
        },
      ];
    }
    if (method === 'PATCH') {
      return apply(t, ns, name, url, body as Obj);
    }
    throw new HttpError(405, 'MethodNotAllowed', `${method} is not supported by this test double`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    api.requests.push(`${method} ${url.pathname}`);
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    const failure = (status: number, reason: string, message: string) =>
      send(status, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message,
        reason,
        code: status,
      });
    if (failures.count > 0) {
      failures.count -= 1;
      failure(failures.status, 'InternalError', 'Internal error occurred: injected by the test');
      return;
    }
    if (req.headers.authorization !== `Bearer ${token}`) {
      failure(401, 'Unauthorized', 'Unauthorized');
      return;
    }
    try {
      let body: unknown;
      if (method === 'PATCH') {
        if (req.headers['content-type'] !== 'application/apply-patch+yaml') {
          throw new HttpError(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml`,
          );
        }
        body = parseYaml(Buffer.concat(chunks).toString('utf8'));
      }
      const [status, payload] = route(method, url, body);
      send(status, payload);
    } catch (err) {
      if (err instanceof HttpError) failure(err.status, err.reason, err.message);
      else failure(500, 'InternalError', String(err));
    }
  }

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const api: KubeApi = {
    url: `http://127.0.0.1:${port}`,
    token,
    writes: 0,
    requests: [],
    stuck: new Set(),
    failNext(count, status) {
      failures = { count, status };
    },
    get(apiVersion, kind, name, namespace) {
      const t = typeOf(apiVersion, kind) ?? BUILTIN.find((x) => gv(x) === apiVersion && x.kind === kind);
      return t ? objects.get(keyOf(t, namespace, name))?.live : undefined;
    },
    names() {
      return [...objects.values()]
        .map(
          (s) =>
            `${s.live.kind} ${s.live.metadata.namespace ? `${s.live.metadata.namespace}/` : ''}${s.live.metadata.name}`,
        )
        .sort();
    },
    seed(obj) {
      const t = typeOf(obj.apiVersion, obj.kind);
      if (!t) throw new Error(`unknown kind ${obj.apiVersion} ${obj.kind}`);
      const live = {
        ...structuredClone(obj),
        metadata: { ...obj.metadata, uid: `uid-${++uid}`, generation: 1, resourceVersion: String(++rv) },
      } as unknown as Obj;
      objects.set(keyOf(t, obj.metadata.namespace, obj.metadata.name), {
        type: t,
        live,
        managers: new Map([['seed', withoutServerFields(live)]]),
        settleIn: 0,
      });
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
  // Like a fresh cluster: the namespaces kube-apiserver itself creates.
  for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
    api.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }
  return api;
}
