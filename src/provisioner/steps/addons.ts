/**
 * The last step of create, resize and upgrade: applies the managed services (src/addons) and the
 * tenant role bindings to the cluster's API as kaas (identity.ts; create first binds that identity).
 *
 * Secrets the services read are split in three: credentials kaas can make up (passwords, the
 * registry's token signing key) are generated once and kept in the cluster — a rerun reuses the
 * live values; the cloud Secrets (cloud.conf, Swift credentials) kaas writes on every run from the
 * cluster's own application credential (credential.ts); and those only an operator can supply (the
 * wildcard TLS certificate, and the cloud Secrets of clusters created before kaas made credentials)
 * must already exist in the cluster: a service missing one is skipped with a warning event naming
 * it, and so is everything depending on it, instead of failing the job. An unreachable API skips
 * the whole step with a warning.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ADDONS, renderAddons, type AddonContext } from '../../addons/index.ts';
import type { KubernetesObject, RenderedAddon, RequiredSecret } from '../../addons/index.ts';
import { GRAFANA_ADMIN_SECRET } from '../../addons/monitoring.ts';
import { BASIC_AUTH_SECRET } from '../../addons/objects.ts';
import { REGISTRY_SECRET } from '../../addons/registry.ts';
import { AUTOSCALER_SECRET, autoscalerCloudConfig } from '../../addons/autoscaler.ts';
import { createCa } from '../../auth/pki.ts';
import type { PlanResource } from '../../cluster/plan.ts';
import { isAutoscaled, type ClusterSpec } from '../../cluster/spec.ts';
import { applyAddons } from '../addons/apply.ts';
import type { ClusterApi, LiveObject } from '../addons/client.ts';
import { kaasBinding } from '../identity.ts';
import { applyRoleBindings } from '../addons/rolebindings.ts';
import type { ExecDeps } from './context.ts';
import { apiUrl, reachable } from './kube.ts';

type Res<T extends PlanResource['type']> = Extract<PlanResource, { type: T }>;

import { cloudSecrets, SWIFT_CREDENTIALS_SECRET } from './credential.ts';

export { SWIFT_CREDENTIALS_SECRET };

/** Event of a job whose cluster API could not be reached for the addons step. */
export const ADDONS_UNREACHABLE = 'managed services not applied: cluster API unreachable';

const password = () => randomBytes(24).toString('base64url');

/** Values for the generated keys of one Secret; `have` holds the keys it already has. */
type Generator = (have: Record<string, string>) => Promise<Record<string, string>>;

/** Secrets kaas generates itself, by name; every other required Secret is operator input. */
const GENERATED: Record<string, Generator> = {
  [GRAFANA_ADMIN_SECRET]: async (have) => ({ password: have['password'] ?? password() }),
  [BASIC_AUTH_SECRET]: async (have) => {
    // The ingress reads htpasswd lines; the clear password is kept beside it for the operator.
    const pw = have['password'] ?? password();
    const sha = createHash('sha1').update(pw).digest('base64');
    return { password: pw, auth: `admin:{SHA}${sha}` };
  },
  [REGISTRY_SECRET]: async (have) => {
    const token =
      have['tokenKey'] && have['tokenCert']
        ? { keyPem: have['tokenKey'], certPem: have['tokenCert'] }
        : await createCa({ commonName: 'harbor-token-issuer', days: 3650 });
    return {
      coreSecret: have['coreSecret'] ?? randomBytes(16).toString('hex'),
      jobserviceSecret: have['jobserviceSecret'] ?? randomBytes(16).toString('hex'),
      // Harbor requires exactly 32 characters.
      csrfKey: have['csrfKey'] ?? randomBytes(16).toString('hex'),
      adminPassword: have['adminPassword'] ?? password(),
      dbPassword: have['dbPassword'] ?? password(),
      registryHttpSecret: have['registryHttpSecret'] ?? randomBytes(16).toString('hex'),
      tokenKey: token.keyPem,
      tokenCert: token.certPem,
    };
  },
};

const keyOf = (s: { namespace: string; name: string }) => `${s.namespace}/${s.name}`;

/** A live Secret's values, decoded (the API server keeps them base64 under data, never stringData). */
function valuesOf(live: LiveObject | undefined): Record<string, string> {
  const data = (live?.['data'] ?? {}) as Record<string, string>;
  return Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
  );
}

/**
 * The addon context of a cluster. Tenant grants are left out: they come from the control panel's
 * store and applyRoleBindings alone writes them (with the rbac addon's renderer).
 */
export function addonContext(
  spec: ClusterSpec,
  clusterId: string,
  cloud: { authUrl: string; region: string },
  cloudCredentialId?: string,
  autoscalerAddress?: string,
): AddonContext {
  return {
    clusterName: spec.name,
    clusterId,
    dnsDomain: spec.dnsDomain,
    kubernetesVersion: spec.kubernetesVersion,
    adminRoleId: spec.adminRoleId,
    roleBindings: [],
    swift: {
      authUrl: cloud.authUrl,
      region: cloud.region,
      containerPrefix: `kaas-${spec.name}`,
      credentialSecretName: SWIFT_CREDENTIALS_SECRET,
    },
    storageClass: {},
    network: { overlayInterface: spec.overlayInterface, podCidr: spec.network.podCidr },
    ...(spec.imageRepository === undefined ? {} : { imageRepository: spec.imageRepository }),
    ...(cloudCredentialId === undefined ? {} : { cloudCredentialId }),
    ...(autoscalerAddress !== undefined && spec.nodeGroups.some(isAutoscaled)
      ? { autoscaler: { address: autoscalerAddress } }
      : {}),
  };
}

/** The Secret cluster-autoscaler reads (its externalgrpc cloud-config, kaas's CA, its client certificate). */
export async function autoscalerSecret(
  autoscaler: NonNullable<ExecDeps['autoscaler']>,
): Promise<KubernetesObject> {
  const cert = await autoscaler.certificate();
  const values = {
    'cloud-config': autoscalerCloudConfig(autoscaler.address),
    'ca.crt': autoscaler.caPem,
    'tls.crt': cert.certPem,
    'tls.key': cert.keyPem,
  };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: AUTOSCALER_SECRET,
      namespace: 'kube-system',
      labels: { 'app.kubernetes.io/managed-by': 'kaas' },
    },
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

/**
 * Picks the services that can be applied (every operator Secret present with its keys, every
 * dependency picked) and the generated Secrets they need; `warn`s about each one left out.
 * `provided` are Secrets kaas writes this run (the cloud Secrets): they count as present, and are
 * among the Secrets returned. Shared by the addons step and the reconciler, so both apply the
 * same services.
 */
export async function selectAddons(
  warn: (message: string) => Promise<void>,
  kube: ClusterApi,
  ctx: AddonContext,
  only?: readonly string[],
  provided: readonly KubernetesObject[] = [],
) {
  const live = new Map<string, LiveObject | undefined>(
    provided.map((s) => [keyOf({ namespace: s.metadata.namespace ?? '', name: s.metadata.name }), s]),
  );
  const read = async (s: RequiredSecret) => {
    if (!live.has(keyOf(s))) {
      live.set(
        keyOf(s),
        await kube.read({ apiVersion: 'v1', kind: 'Secret', namespace: s.namespace, name: s.name }),
      );
    }
    return valuesOf(live.get(keyOf(s)));
  };
  const enabled: string[] = [];
  const skipped: string[] = [];
  for (const def of ADDONS.filter((d) => (only?.includes(d.name) ?? true) && (d.wanted?.(ctx) ?? true))) {
    const notApplied = def.dependsOn.filter((d) => !enabled.includes(d));
    if (notApplied.length > 0) {
      skipped.push(def.name);
      await warn(
        `managed service "${def.name}" skipped: it needs ${notApplied.join(', ')}, which was not applied`,
      );
      continue;
    }
    const missing: string[] = [];
    for (const s of def.requiredSecrets(ctx).filter((r) => !(r.name in GENERATED))) {
      const have = await read(s);
      const absent = s.keys.filter((k) => !(k in have));
      if (absent.length > 0) missing.push(`${keyOf(s)} (keys ${absent.join(', ')})`);
    }
    if (missing.length > 0) {
      skipped.push(def.name);
      await warn(
        `managed service "${def.name}" skipped: an operator must first create Secret ${missing.join(' and ')} in the cluster`,
      );
      continue;
    }
    enabled.push(def.name);
  }
  const rendered = renderAddons(ctx, enabled);
  const secrets: KubernetesObject[] = [...provided];
  const done = new Set<string>();
  for (const s of rendered.flatMap((a) => a.requiredSecrets)) {
    const generate = GENERATED[s.name];
    if (!generate || done.has(keyOf(s))) continue;
    done.add(keyOf(s));
    const have = await read(s);
    if (s.keys.every((k) => k in have)) continue;
    secrets.push({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: s.name, namespace: s.namespace, labels: { 'app.kubernetes.io/managed-by': 'kaas' } },
      type: 'Opaque',
      stringData: await generate(have),
    });
  }
  return { rendered, secrets, skipped };
}

/**
 * Applies the managed services and tenant role bindings once the API answers; without an
 * answering API (or credentials) the step succeeds with a warning, so the cluster is still usable
 * and a later job converges the services.
 */
export async function applyManagedServices(deps: ExecDeps, r: Res<'addons'>) {
  const { only } = r.params;
  const url = apiUrl(deps) ?? deps.kube?.url;
  const access = deps.addons;
  if (!deps.options.waitForApi || !url || !access || !(await reachable(deps, url))) {
    await deps.ctx.event(ADDONS_UNREACHABLE, 'warn');
    return { applied: false };
  }
  if (access.grant) await access.clusterApi({ server: url, ...access.grant }).apply(kaasBinding());
  const kube = access.clusterApi({ server: url, ...access.access });
  const config = deps.cloud.session.config;
  const { credential } = (await deps.credentials?.read()) ?? {};
  const ctx = addonContext(
    deps.spec,
    deps.clusterId,
    { authUrl: config.auth.authUrl, region: config.regionName ?? 'RegionOne' },
    credential?.id,
    deps.autoscaler?.address,
  );
  const warn = (message: string) => deps.ctx.event(message, 'warn');
  const provided = [
    ...(credential ? await cloudSecrets(deps, credential) : []),
    ...(ctx.autoscaler && deps.autoscaler ? [await autoscalerSecret(deps.autoscaler)] : []),
  ];
  const { rendered, secrets, skipped } = await selectAddons(warn, kube, ctx, only, provided);
  const applier = { db: access.db, logger: deps.logger, now: deps.now, sleep: deps.sleep, kube };
  const statuses = await applyAddons(applier, {
    clusterId: deps.clusterId,
    addons: rendered satisfies readonly RenderedAddon[],
    secrets,
    ...(access.wait ? { wait: access.wait } : {}),
  });
  const applied = rendered.map((a) => a.addon);
  const ready = statuses.filter((s) => s.state === 'ready').map((s) => s.addon);
  // A cluster no longer autoscaled keeps no client certificate for kaas's autoscaler endpoint.
  if (!ctx.autoscaler) {
    const secret = { apiVersion: 'v1', kind: 'Secret', namespace: 'kube-system', name: AUTOSCALER_SECRET };
    if ((await kube.remove(secret)) === 'deleted')
      await deps.ctx.event(`Secret kube-system/${AUTOSCALER_SECRET} removed: no node group is autoscaled`);
  }
  if (only) {
    await deps.ctx.event(`managed services applied ahead of the nodes' wait: ${applied.join(', ')}`);
    return { applied: true, ready, skipped };
  }
  const bindings = await applyRoleBindings(applier, { clusterId: deps.clusterId });
  await deps.ctx.event(
    `managed services applied: ${applied.join(', ')}` +
      (skipped.length > 0 ? `; skipped: ${skipped.join(', ')}` : ''),
  );
  return {
    applied: true,
    ready,
    skipped,
    generatedSecrets: secrets
      .filter((s) => !provided.includes(s))
      .map((s) => `${s.metadata.namespace ?? ''}/${s.metadata.name}`),
    roleBindings: { revision: bindings.revision, applied: bindings.applied, pruned: bindings.pruned },
  };
}
