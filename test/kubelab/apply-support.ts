/**
 * What the kubelab suites of the addon appliers share: the lab started with an audit log of the
 * break-glass user's requests (the real server's own record of what kaas sent, in order), the
 * production API client with the cluster's break-glass certificate, kwok nodes, and the volumes a
 * cloud's CSI driver would have provisioned.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject, RenderedAddon } from '../../src/addons/index.ts';
import type { BootstrapInput } from '../../src/bootstrap/input.ts';
import type { ClusterMaterial } from '../../src/provisioner/material.ts';
import { mastersCertificate } from '../../src/provisioner/identity.ts';
import type { KubeAccess } from '../../src/provisioner/kubeclient.ts';
import { freePort } from '../../src/dev/kube/ports.ts';
import { startKubelab, type Kubelab } from '../../src/dev/kube/kubelab.ts';

/** The common name of kaas's break-glass client certificate (src/provisioner/material.ts). */
const BREAK_GLASS_USER = 'kaas-break-glass';

/** One request as kube-apiserver's audit log records it (level Metadata). */
export interface AuditEvent {
  verb: string;
  requestURI: string;
  responseStatus?: { code: number };
  objectRef?: { resource?: string; namespace?: string; name?: string; apiGroup?: string };
}

/** A kubelab plus the audit log of every request kaas's break-glass user made to it. */
export interface AuditedLab {
  lab: Kubelab;
  /** Audit events so far, in the order the server completed them. */
  audit(): Promise<AuditEvent[]>;
  stop(): Promise<void>;
}

/** Starts a kubelab for master-0 whose kube-apiserver audits the break-glass user's requests. */
export async function startAuditedLab(master0: BootstrapInput): Promise<AuditedLab> {
  const dir = await mkdtemp(join(tmpdir(), 'kaas-audit-'));
  const policy = join(dir, 'policy.yaml');
  const log = join(dir, 'audit.log');
  await writeFile(
    policy,
    [
      'apiVersion: audit.k8s.io/v1',
      'kind: Policy',
      'omitStages: [RequestReceived]',
      'rules:',
      `  - level: Metadata`,
      `    users: [${BREAK_GLASS_USER}]`,
      '  - level: None',
      '',
    ].join('\n'),
  );
  let lab: Kubelab;
  try {
    lab = await startKubelab({
      master0,
      apiServerFlags: [
        `--audit-policy-file=${policy}`,
        `--audit-log-path=${log}`,
        '--audit-log-mode=blocking',
      ],
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    lab,
    async audit() {
      const text = await readFile(log, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as AuditEvent);
    },
    async stop() {
      await lab.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `VERB path` of an audit event (path without the query), as assertions on order read it. */
export function requestLine(e: AuditEvent): string {
  return `${e.verb.toUpperCase()} ${e.requestURI.split('?')[0]}`;
}

/** The lab's API as the operator's break-glass kubeconfig reaches it: a system:masters certificate from the cluster CA. */
export async function breakGlass(lab: Kubelab, material: ClusterMaterial): Promise<KubeAccess> {
  const cert = await mastersCertificate(material.ca, 'kaas-break-glass');
  return { server: lab.url, caPem: material.ca.certPem, ...cert };
}

interface ClaimTemplate {
  metadata: { name: string };
  spec: { accessModes: string[]; resources: { requests: { storage: string } }; storageClassName?: string };
}

/**
 * PersistentVolumes for every claim the rendered StatefulSets will make (one per template and
 * replica), in the cluster's default StorageClass, as Cinder CSI would provision them: kwok runs
 * no CSI driver. The scheduler binds them to the claims (the class waits for the first consumer).
 */
export async function provideVolumes(
  lab: Kubelab,
  addons: readonly RenderedAddon[],
  storageClass: string,
): Promise<void> {
  for (const sts of addons.flatMap((a) => a.objects).filter((o) => o.kind === 'StatefulSet')) {
    const spec = sts['spec'] as { replicas?: number; volumeClaimTemplates?: ClaimTemplate[] };
    for (const claim of spec.volumeClaimTemplates ?? []) {
      for (let i = 0; i < (spec.replicas ?? 1); i++) {
        const claimName = `${claim.metadata.name}-${sts.metadata.name}-${i}`;
        const res = await lab.request('POST', '/api/v1/persistentvolumes', {
          apiVersion: 'v1',
          kind: 'PersistentVolume',
          metadata: { name: `pv-${sts.metadata.namespace}-${claimName}` },
          spec: {
            capacity: { storage: claim.spec.resources.requests.storage },
            accessModes: claim.spec.accessModes,
            storageClassName: claim.spec.storageClassName ?? storageClass,
            persistentVolumeReclaimPolicy: 'Delete',
            csi: { driver: 'cinder.csi.openstack.org', volumeHandle: `vol-${claimName}` },
          },
        });
        if (res.status !== 201 && res.status !== 409) {
          throw new Error(
            `creating a volume for ${claimName} failed: ${res.status} ${JSON.stringify(res.body)}`,
          );
        }
      }
    }
  }
}

/** What identifies one object: `Kind namespace/name`. */
export function idOf(o: { kind: string; metadata: { name: string; namespace?: string } }): string {
  return `${o.kind} ${o.metadata.namespace === undefined ? '' : `${o.metadata.namespace}/`}${o.metadata.name}`;
}

/** A live object as the API server returns it (kubectl's JSON, untouched by a client's models). */
export interface RawObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion: string; generation?: number } & Record<
    string,
    unknown
  >;
  [key: string]: unknown;
}

/** The live objects of `objects`' kinds, by idOf, read in one `kubectl get`. */
export async function liveObjects(
  lab: Kubelab,
  objects: readonly { apiVersion: string; kind: string }[],
): Promise<Map<string, RawObject>> {
  const kinds = new Set(
    objects.map((o) => (o.apiVersion.includes('/') ? `${o.kind}.${o.apiVersion.split('/')[0]}` : o.kind)),
  );
  const list = JSON.parse(
    await lab.kubectl(['get', [...kinds].join(',').toLowerCase(), '--all-namespaces', '--output=json']),
  ) as { items: RawObject[] };
  return new Map(list.items.map((o) => [idOf(o), o]));
}

/** The paths of `want`'s leaves that `have` lacks or holds with another value ([] when it holds all). */
export function missingFields(want: unknown, have: unknown, path = ''): string[] {
  if (want === null || typeof want !== 'object') {
    return want === have ? [] : [`${path}: ${JSON.stringify(want)} is ${JSON.stringify(have)}`];
  }
  if (have === null || typeof have !== 'object' || Array.isArray(want) !== Array.isArray(have)) {
    return [`${path}: missing`];
  }
  return Object.entries(want).flatMap(([k, v]) =>
    missingFields(
      v,
      (have as Record<string, unknown>)[k],
      Array.isArray(want) ? `${path}[${k}]` : `${path}.${k}`,
    ),
  );
}

/** Whether kube-apiserver's authorizer lets a Keystone user holding `roleId` do `verb` on `resource`. */
export async function allowed(
  lab: Kubelab,
  roleId: string,
  verb: string,
  resource: { group?: string; resource: string; namespace?: string },
): Promise<boolean> {
  const { status, body } = await lab.request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      user: 'keystone-user',
      groups: [roleId, 'system:authenticated'],
      resourceAttributes: { verb, group: resource.group ?? '', ...resource },
    },
  });
  if (status !== 201) throw new Error(`SubjectAccessReview answered ${status}: ${JSON.stringify(body)}`);
  return (body as { status: { allowed: boolean } }).status.allowed;
}

/** Every Secret the rendered addons require, with placeholder values (what an operator or the provisioner provides). */
export function secretsFor(addons: readonly RenderedAddon[]): KubernetesObject[] {
  const byName = new Map<string, KubernetesObject>();
  for (const s of addons.flatMap((a) => a.requiredSecrets)) {
    const key = `${s.namespace}/${s.name}`;
    const previous = (byName.get(key)?.['stringData'] ?? {}) as Record<string, string>;
    byName.set(key, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: s.name, namespace: s.namespace },
      stringData: { ...previous, ...Object.fromEntries(s.keys.map((k) => [k, `test-${k}`])) },
    });
  }
  return [...byName.values()];
}

/** An https URL on 127.0.0.1 where nothing listens. */
export async function closedPortUrl(): Promise<string> {
  return `https://127.0.0.1:${await freePort()}`;
}
