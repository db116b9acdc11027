import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.ts';
import { defaultContext } from '../../test/addons/default-context.ts';
import { ADDON_NAMES, renderAddons, type KubernetesObject } from './index.ts';

interface PodTemplate {
  spec: {
    affinity?: unknown;
    containers: {
      name: string;
      image: string;
      resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
    }[];
    initContainers?: PodTemplate['spec']['containers'];
  };
}
type Workload = KubernetesObject & {
  spec: { replicas?: number; template?: PodTemplate; jobTemplate?: { spec: { template: PodTemplate } } };
};

const all = (ctx = defaultContext()) => renderAddons(ctx, ADDON_NAMES);
const objectsOf = (ctx = defaultContext()) => all(ctx).flatMap((r) => r.objects) as Workload[];
const WORKLOADS = ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob'];
const templateOf = (o: Workload) =>
  WORKLOADS.includes(o.kind) ? (o.spec.template ?? o.spec.jobTemplate?.spec.template) : undefined;
const scaled = defaultContext({
  replicas: { grafana: 2, kibana: 2, elasticsearch: 3, registryCore: 2, registryPortal: 2, ingress: 3 },
});

describe('renderAddons', () => {
  it('pins the default cluster manifests', () => {
    expect(all()).toMatchSnapshot();
  });

  it('is deterministic: same context, same bytes', () => {
    expect(JSON.stringify(all())).toBe(JSON.stringify(all()));
    expect(JSON.stringify(all(scaled))).toBe(JSON.stringify(all(structuredClone(scaled))));
  });

  it('renders in dependency order whatever order it is asked in', () => {
    const reversed = [...ADDON_NAMES].reverse();
    expect(renderAddons(defaultContext(), reversed).map((r) => r.addon)).toEqual([
      'namespaces',
      'rbac',
      'networking',
      'cloud-controller',
      'storage',
      'ingress',
      'monitoring',
      'logging',
      'registry',
      'backups',
      'cluster-autoscaler',
    ]);
  });

  it('rejects unknown addons and missing dependencies', () => {
    expect(() => renderAddons(defaultContext(), ['namespaces', 'nope'])).toThrow(InputError);
    expect(() => renderAddons(defaultContext(), ['namespaces', 'networking', 'monitoring'])).toThrow(
      /monitoring.*storage, ingress/,
    );
  });

  it('rejects an invalid context', () => {
    expect(() => renderAddons(defaultContext({ clusterName: 'Bad' }), ['namespaces'])).toThrow(InputError);
  });

  it('labels every object as managed by kaas with its addon', () => {
    for (const r of all()) {
      for (const o of r.objects) {
        expect(o.metadata.labels?.['app.kubernetes.io/managed-by'], `${o.kind}/${o.metadata.name}`).toBe(
          'kaas',
        );
        expect(o.metadata.labels?.['kaas.io/addon']).toBe(r.addon);
      }
    }
  });

  it('gives every object a DNS-safe name of at most 63 chars (253 for dotted kinds), unique per kind', () => {
    const seen = new Set<string>();
    for (const o of objectsOf()) {
      const key = `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
      expect(seen.has(key), key).toBe(false);
      seen.add(key);
      if (o.kind === 'CSIDriver' || o.kind === 'CustomResourceDefinition')
        expect(o.metadata.name).toMatch(/^[a-z0-9.-]+$/);
      else expect(o.metadata.name, key).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(o.metadata.name.length).toBeLessThanOrEqual(63);
    }
  });

  it('pins every image and sets requests and limits on every container', () => {
    for (const o of objectsOf().filter((x) => templateOf(x))) {
      const spec = templateOf(o)!.spec;
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
        const where = `${o.kind}/${o.metadata.name}/${c.name}`;
        expect(c.image, where).toMatch(/:[A-Za-z0-9._-]+$/);
        expect(c.image, where).not.toMatch(/:latest$/);
        expect(c.resources?.requests?.cpu, where).toBeDefined();
        expect(c.resources?.requests?.memory, where).toBeDefined();
        expect(c.resources?.limits?.cpu, where).toBeDefined();
        expect(c.resources?.limits?.memory, where).toBeDefined();
      }
    }
  });

  it('adds a PDB and anti-affinity exactly when replicas > 1', () => {
    for (const ctx of [defaultContext(), scaled]) {
      const objects = objectsOf(ctx);
      const pdbs = new Set(
        objects.filter((o) => o.kind === 'PodDisruptionBudget').map((o) => o.metadata.name),
      );
      const replicated = objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
      for (const w of replicated) {
        const many = (w.spec.replicas ?? 1) > 1;
        expect(pdbs.has(w.metadata.name), `${w.kind}/${w.metadata.name}`).toBe(many);
        expect(w.spec.template!.spec.affinity !== undefined).toBe(many);
      }
      expect(pdbs.size).toBe(replicated.filter((w) => (w.spec.replicas ?? 1) > 1).length);
    }
    expect(
      objectsOf().find(
        (o) => o.metadata.name === 'ingress-nginx-controller' && o.kind === 'PodDisruptionBudget',
      ),
    ).toBeDefined();
    expect(objectsOf(scaled).filter((o) => o.kind === 'PodDisruptionBudget').length).toBe(6);
  });

  it('routes each service on <service>.<cluster>.<dnsDomain> through the nginx class', () => {
    const ingresses = objectsOf().filter((o) => o.kind === 'Ingress') as (Workload & {
      spec: { ingressClassName: string; rules: { host: string }[]; tls: { hosts: string[] }[] };
    })[];
    expect(ingresses.map((i) => i.spec.rules[0]!.host).sort()).toEqual([
      'grafana.demo.kaas.example.org',
      'kibana.demo.kaas.example.org',
      'prometheus.demo.kaas.example.org',
      'registry.demo.kaas.example.org',
    ]);
    for (const i of ingresses) {
      expect(i.spec.ingressClassName).toBe('nginx');
      expect(i.spec.tls[0]!.hosts).toEqual([i.spec.rules[0]!.host]);
    }
  });

  it('describes which workloads must be ready, per addon', () => {
    const byAddon = Object.fromEntries(
      all().map((r) => [r.addon, r.readiness.map((c) => `${c.kind}/${c.name}`)]),
    );
    expect(byAddon.namespaces).toEqual([]);
    expect(byAddon.networking).toEqual(['DaemonSet/flannel']);
    expect(byAddon.ingress).toEqual(['Deployment/ingress-nginx-controller']);
    expect(byAddon.monitoring).toEqual([
      'StatefulSet/prometheus-platform',
      'StatefulSet/prometheus-apps',
      'Deployment/kube-state-metrics',
      'Deployment/grafana',
    ]);
    expect(byAddon.backups).toEqual(['Deployment/velero']);
    expect(
      all()
        .find((r) => r.addon === 'registry')!
        .requiredSecrets.map((s) => s.name),
    ).toContain('kaas-registry-secrets');
  });

  it('puts the overlay interface and pod CIDR into flannel', () => {
    const objects = objectsOf(
      defaultContext({ network: { overlayInterface: 'ens7', podCidr: '10.50.0.0/16' } }),
    );
    const text = JSON.stringify(objects.filter((o) => o.kind === 'DaemonSet' || o.kind === 'ConfigMap'));
    expect(text).toContain('--iface=ens7');
    expect(text).toContain('10.50.0.0/16');
    expect(JSON.stringify(objectsOf())).toContain('--iface=eth2');
  });

  it('uses the Ceph volume type only when asked', () => {
    const sc = (ctx: ReturnType<typeof defaultContext>) =>
      objectsOf(ctx).find((o) => o.kind === 'StorageClass') as unknown as { parameters?: { type: string } };
    expect(sc(defaultContext()).parameters).toBeUndefined();
    expect(sc(defaultContext({ storageClass: { ceph: true } })).parameters).toEqual({ type: 'ceph' });
    expect(sc(defaultContext({ storageClass: { ceph: true, cinderType: 'rbd-ssd' } })).parameters).toEqual({
      type: 'rbd-ssd',
    });
  });

  it('names the cluster by its id to the cloud controller and Cinder CSI, both reading the kaas cloud.conf', () => {
    const ctx = defaultContext();
    const argsOf = (name: string) =>
      objectsOf(ctx)
        .flatMap((o) => templateOf(o)?.spec.containers ?? [])
        .filter((c) => c.name === name)
        .map((c) => (c as { args?: string[] }).args ?? []);
    const [occm] = argsOf('openstack-cloud-controller-manager');
    expect(occm).toContain(`--cluster-name=${ctx.clusterId}`);
    expect(occm).toContain('--cloud-config=/etc/config/cloud.conf');
    expect(occm).toContain('--cloud-provider=openstack');
    const csi = argsOf('cinder-csi-plugin');
    expect(csi).toHaveLength(2);
    for (const args of csi) expect(args).toContain(`--cluster=${ctx.clusterId}`);
    const secrets = (addon: string) =>
      all(ctx)
        .find((r) => r.addon === addon)!
        .requiredSecrets.map((s) => `${s.namespace}/${s.name}`);
    expect(secrets('cloud-controller')).toEqual(['kube-system/kaas-cloud-config']);
    expect(secrets('storage')).toEqual(['kube-system/kaas-cloud-config']);
  });

  it('points the registry and backups at the cluster Swift containers', () => {
    const text = JSON.stringify(objectsOf());
    expect(text).toContain('container: kaas-demo-registry');
    expect(text).toContain('"bucket":"kaas-demo-velero"');
    expect(text).toContain('"value":"kaas-demo-etcd"');
  });

  it('protects kaas-system and kube-system with an admission policy', () => {
    const policy = objectsOf().find((o) => o.kind === 'ValidatingAdmissionPolicy') as unknown as {
      spec: { validations: { expression: string }[]; matchConstraints: { namespaceSelector: unknown } };
    };
    expect(JSON.stringify(policy.spec.matchConstraints.namespaceSelector)).toContain('kube-system');
    expect(policy.spec.validations[0]!.expression).toContain("'system:masters'");
    expect(policy.spec.validations[0]!.expression).toContain('system:serviceaccount:kaas-system:');
    expect(objectsOf().find((o) => o.kind === 'ValidatingAdmissionPolicyBinding')).toBeDefined();
  });
});
