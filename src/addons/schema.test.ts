import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { defaultContext } from '../../test/addons/default-context.ts';
import { SUPPORTED_MINORS } from '../versions/index.ts';
import { ADDON_NAMES, renderAddons, restorePlan, type KubernetesObject } from './index.ts';
import { validateCoreObject } from '../../test/support/kubernetesModels.ts';

/*
 * How manifests are checked (no network):
 *  - Core kinds: kubernetes-models 4.5.1 validate(), i.e. the OpenAPI schema of the Kubernetes minor
 *    that release was generated from, compiled to ajv (required fields, types, enums, int-or-string,
 *    quantities). It ignores unknown fields; those are caught at compile time, because every literal
 *    is typed with the same models (`typed<IDeployment>(...)`), so `tsc --noEmit` is part of this check.
 *  - The minors the version catalogue offers: every apiVersion/kind we emit must be served (GA, not
 *    removed) in each of them, per SERVED below (from the Kubernetes deprecation guide). Fields of GA
 *    v1 kinds are only ever added, so an object valid for the models' schema stays valid for the
 *    later minors kaas offers as long as its kind is still served.
 *  - Velero CRs: test/addons/velero.schema.json (a strict subset of Velero's CRD schemas) with ajv.
 */
const SUPPORTED = SUPPORTED_MINORS;
const SERVED: Record<string, { since: string; removedIn?: string }> = {
  'v1/Namespace': { since: '1.0' },
  'v1/ServiceAccount': { since: '1.0' },
  'v1/ConfigMap': { since: '1.2' },
  'v1/Service': { since: '1.0' },
  'apps/v1/Deployment': { since: '1.9' },
  'apps/v1/StatefulSet': { since: '1.9' },
  'apps/v1/DaemonSet': { since: '1.9' },
  'batch/v1/CronJob': { since: '1.21' },
  'policy/v1/PodDisruptionBudget': { since: '1.21' },
  'networking.k8s.io/v1/Ingress': { since: '1.19' },
  'networking.k8s.io/v1/IngressClass': { since: '1.19' },
  'rbac.authorization.k8s.io/v1/ClusterRole': { since: '1.8' },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': { since: '1.8' },
  'rbac.authorization.k8s.io/v1/Role': { since: '1.8' },
  'rbac.authorization.k8s.io/v1/RoleBinding': { since: '1.8' },
  'storage.k8s.io/v1/StorageClass': { since: '1.6' },
  'storage.k8s.io/v1/CSIDriver': { since: '1.18' },
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': { since: '1.30' },
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding': { since: '1.30' },
  'apiextensions.k8s.io/v1/CustomResourceDefinition': { since: '1.16' },
};

const minor = (v: string) => Number(v.split('.')[1]);

const veleroSchema = JSON.parse(
  readFileSync(new URL('../../test/addons/velero.schema.json', import.meta.url), 'utf8'),
);
const ajv = new Ajv({ allErrors: true, strict: true });
ajv.addSchema(veleroSchema);
function validateVelero(o: KubernetesObject): void {
  const validate = ajv.getSchema(`https://kaas.invalid/velero.schema.json#/definitions/${o.kind}`);
  if (!validate) throw new Error(`no schema for velero kind ${o.kind}`);
  if (!validate(o)) throw new Error(`${o.kind}/${o.metadata.name}: ${ajv.errorsText(validate.errors)}`);
}

async function validate(o: KubernetesObject): Promise<void> {
  if (o.apiVersion === 'velero.io/v1') validateVelero(o);
  else await validateCoreObject(o);
}

const variants = {
  default: defaultContext(),
  scaled: defaultContext({
    replicas: { grafana: 2, kibana: 2, elasticsearch: 3, registryCore: 2, registryPortal: 2, ingress: 3 },
    storageClass: { ceph: true },
    network: { overlayInterface: 'ens4', podCidr: '10.100.0.0/16' },
  }),
};

describe('generated manifests validate against the Kubernetes schemas', () => {
  for (const [variant, ctx] of Object.entries(variants)) {
    const rendered = renderAddons(ctx, ADDON_NAMES);
    for (const { addon, objects } of rendered) {
      it(`${variant}/${addon}: every object validates`, async () => {
        for (const o of objects) {
          await expect(validate(o), `${o.kind}/${o.metadata.name}`).resolves.toBeUndefined();
        }
      });
      it(`${variant}/${addon}: every kind is served by Kubernetes ${SUPPORTED.join(', ')}`, () => {
        for (const o of objects.filter((x) => x.apiVersion !== 'velero.io/v1')) {
          const served = SERVED[`${o.apiVersion}/${o.kind}`];
          expect(served, `${o.apiVersion} ${o.kind} is not in the served table`).toBeDefined();
          for (const v of SUPPORTED) {
            expect(minor(served!.since)).toBeLessThanOrEqual(minor(v));
            if (served!.removedIn) expect(minor(served!.removedIn)).toBeGreaterThan(minor(v));
          }
        }
      });
    }
  }

  it('validates the restore plan Restore object', () => {
    const restore = restorePlan({ backupName: 'daily-20250101030000' }).find((s) => s.object)?.object;
    expect(restore).toBeDefined();
    expect(() => validateVelero(restore!)).not.toThrow();
  });
});

describe('the validators reject broken objects (so a pass means something)', () => {
  const deployment = () =>
    structuredClone(
      renderAddons(defaultContext(), ['namespaces', 'networking', 'ingress'])[2]!.objects.find(
        (o) => o.kind === 'Deployment',
      )!,
    ) as KubernetesObject & { spec: Record<string, unknown> };

  it('rejects a Deployment without a selector', async () => {
    const d = deployment();
    delete d.spec.selector;
    await expect(validate(d)).rejects.toThrow(/selector/);
  });

  it('rejects a wrong enum value', async () => {
    const d = deployment();
    (d.spec as { strategy?: unknown }).strategy = { type: 'Sideways' };
    await expect(validate(d)).rejects.toThrow(/strategy/);
  });

  it('rejects a non-integer replica count', async () => {
    const d = deployment();
    d.spec.replicas = '2';
    await expect(validate(d)).rejects.toThrow(/replicas/);
  });

  it('rejects unknown fields and missing fields in Velero objects', () => {
    const [bsl] = renderAddons(defaultContext(), ADDON_NAMES)
      .find((r) => r.addon === 'backups')!
      .objects.filter((o) => o.kind === 'BackupStorageLocation');
    const typo = structuredClone(bsl!) as KubernetesObject & { spec: Record<string, unknown> };
    typo.spec.objectStorge = { bucket: 'x' };
    expect(() => validateVelero(typo)).toThrow(/additional properties/);
    const missing = structuredClone(bsl!) as KubernetesObject & { spec: Record<string, unknown> };
    delete missing.spec.provider;
    expect(() => validateVelero(missing)).toThrow(/provider/);
  });

  it('rejects a kind kubernetes-models does not know', async () => {
    await expect(
      validate({ apiVersion: 'v1', kind: 'NoSuchKind', metadata: { name: 'x' } }),
    ).rejects.toThrow();
  });
});
