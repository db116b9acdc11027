/**
 * deploy/helm/kaas rendered with test/helm/render.ts (no helm binary exists on Debian 12 or npm),
 * linted, and every object validated against the Kubernetes 1.33 OpenAPI schemas compiled in
 * kubernetes-models (as src/addons/schema.test.ts does), with the default values and overrides.
 * The container environment is fed through `kaas serve`'s own config parser, so the chart and the
 * code cannot drift apart.
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { serveConfigFromEnv } from '../../src/cli/serve.ts';
import { lintChart, renderChart, type RenderedObject } from './render.ts';
import { validateCoreObject } from '../support/kubernetesModels.ts';

const CHART = fileURLToPath(new URL('../../deploy/helm/kaas', import.meta.url));

type Obj = Record<string, unknown>;
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef: { name: string; key: string } };
}
interface Container {
  name: string;
  image: string;
  args: string[];
  env: EnvVar[];
  ports: { name: string; containerPort: number }[];
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
  readinessProbe: { httpGet: { path: string; port: string; scheme?: string } };
  livenessProbe: { httpGet: { path: string; port: string; scheme?: string } };
  securityContext: Obj;
  resources: Obj;
}
interface PodSpec {
  containers: Container[];
  volumes: ({ name: string } & Obj)[];
  securityContext: Obj;
  affinity: { podAntiAffinity: Obj };
  serviceAccountName: string;
  terminationGracePeriodSeconds: number;
}

function render(values: Obj = {}) {
  const objects = renderChart(CHART, { releaseName: 'kaas', namespace: 'kaas', values }).map((r) => r.object);
  const find = (kind: string) => objects.find((o) => o.kind === kind) as Obj | undefined;
  const deployment = find('Deployment') as { spec: { replicas: number; selector: Obj; template: Obj } };
  const template = deployment.spec.template as {
    metadata: { labels: Record<string, string> };
    spec: PodSpec;
  };
  const container = template.spec.containers[0] as Container;
  const env = Object.fromEntries(container.env.map((e) => [e.name, e]));
  return { objects, find, deployment, template, pod: template.spec, container, env };
}

/** The environment a pod would get, with secrets replaced by what the Secrets would hold. */
function podEnv(env: Record<string, EnvVar>): Record<string, string> {
  return Object.fromEntries(
    Object.values(env).map((e) => [e.name, e.value ?? `postgres://kaas@db/${e.valueFrom?.secretKeyRef.key}`]),
  );
}

const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Every variable the chart may set, each read by `kaas serve` (src/cli/serve.ts, cluster.ts, openstack/config.ts). */
const KNOWN_ENV = new Set([
  'HOST',
  'PORT',
  'KAAS_DATABASE_URL',
  'KAAS_SECRET_KEY_FILE',
  'KAAS_SECRET_KEY_PREVIOUS_FILE',
  'OS_CLIENT_CONFIG_FILE',
  'OS_CLOUD',
  'KAAS_WORKERS',
  'KAAS_LEASE_MS',
  'KAAS_WORKER_POLL_MS',
  'KAAS_SHUTDOWN_GRACE_MS',
  'KAAS_JOB_CONCURRENCY',
  'KAAS_KEYSTONE_SYNC_INTERVAL_MS',
  'KAAS_KEYSTONE_SYNC_MAX_AGE_MS',
  'KAAS_METRICS_TOKEN',
  'KAAS_LOG_LEVEL',
  'KAAS_URL',
  'KAAS_CA_FILE',
  'KAAS_TLS_CERT_FILE',
  'KAAS_TLS_KEY_FILE',
]);

describe('deploy/helm/kaas', () => {
  it('lints clean with default and overridden values', () => {
    expect(lintChart(CHART)).toEqual([]);
    expect(
      lintChart(CHART, {
        ingress: { enabled: true },
        tls: { secret: 'kaas-tls' },
        antiAffinity: { required: true },
      }),
    ).toEqual([]);
  });

  it('renders the default objects, each valid against the Kubernetes schemas', async () => {
    const { objects } = render();
    expect(objects.map((o) => `${o.apiVersion}/${o.kind}`).sort()).toEqual([
      'apps/v1/Deployment',
      'policy/v1/PodDisruptionBudget',
      'v1/Service',
      'v1/ServiceAccount',
    ]);
    for (const o of objects) await validateCoreObject(o);
    expect(objects).toMatchSnapshot();
  });

  it('runs two non-root, read-only replicas spread over nodes, kept by a PodDisruptionBudget', () => {
    const { deployment, template, pod, container, find } = render();
    expect(deployment.spec.replicas).toBe(2);
    const labels = template.metadata.labels;
    expect(
      matches((deployment.spec.selector as { matchLabels: Record<string, string> }).matchLabels, labels),
    ).toBe(true);
    const pdb = find('PodDisruptionBudget') as {
      spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } };
    };
    expect(pdb.spec.minAvailable).toBe(1);
    expect(matches(pdb.spec.selector.matchLabels, labels)).toBe(true);
    const service = find('Service') as {
      spec: { selector: Record<string, string>; ports: { targetPort: string }[] };
    };
    expect(matches(service.spec.selector, labels)).toBe(true);
    expect(container.ports.map((p) => p.name)).toContain(service.spec.ports[0]?.targetPort);

    const anti = pod.affinity.podAntiAffinity as {
      preferredDuringSchedulingIgnoredDuringExecution: {
        podAffinityTerm: { topologyKey: string; labelSelector: { matchLabels: Record<string, string> } };
      }[];
    };
    const term = anti.preferredDuringSchedulingIgnoredDuringExecution[0]?.podAffinityTerm;
    expect(term?.topologyKey).toBe('kubernetes.io/hostname');
    expect(matches(term?.labelSelector.matchLabels ?? {}, labels)).toBe(true);

    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.volumeMounts.find((m) => m.mountPath === '/tmp')).toBeDefined();
    expect(container.resources).toEqual({
      requests: { cpu: '100m', memory: '256Mi' },
      limits: { memory: '512Mi' },
    });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(20_000);
    expect(pod.serviceAccountName).toBe('kaas');
    expect(container.args).toEqual(['serve']);
  });

  it('gives kaas serve a configuration it accepts, with secrets from existing Secrets', () => {
    const { env, container, pod } = render();
    expect(Object.keys(env).filter((k) => !KNOWN_ENV.has(k))).toEqual([]);
    expect(env.KAAS_DATABASE_URL?.valueFrom).toEqual({ secretKeyRef: { name: 'kaas-database', key: 'url' } });
    const config = serveConfigFromEnv(podEnv(env));
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      workers: true,
      leaseMs: 30_000,
      idlePollMs: 1_000,
      shutdownGraceMs: 20_000,
      tls: undefined,
    });
    expect(container.ports[0]?.containerPort).toBe(config.port);

    // Every file the environment names is on a mounted volume, and every mount has a volume.
    const volumes = new Map(pod.volumes.map((v) => [v.name, v]));
    for (const m of container.volumeMounts) expect(volumes.has(m.name), m.name).toBe(true);
    const mounted = (path: string) => container.volumeMounts.some((m) => path.startsWith(`${m.mountPath}/`));
    for (const name of ['KAAS_SECRET_KEY_FILE', 'OS_CLIENT_CONFIG_FILE', 'KAAS_CA_FILE']) {
      expect(mounted(env[name]?.value as string), name).toBe(true);
    }
    expect(volumes.get('clouds')).toMatchObject({ secret: { secretName: 'kaas-clouds' } });
    expect(volumes.get('secret-key')).toMatchObject({ secret: { secretName: 'kaas-secret-key' } });
    expect(env.KAAS_SECRET_KEY_FILE?.value).toBe('/etc/kaas/secret-key/secret-key');
    expect(env.OS_CLOUD?.value).toBe('openstack');
  });

  it('gives a key rotation its opening-only key from the same Secret with secretKey.previousKey', () => {
    expect(render().env.KAAS_SECRET_KEY_PREVIOUS_FILE).toBeUndefined();
    const { env, container } = render({ secretKey: { previousKey: 'previous-key' } });
    const file = env.KAAS_SECRET_KEY_PREVIOUS_FILE?.value;
    expect(file).toBe('/etc/kaas/secret-key/previous-key');
    expect(container.volumeMounts.find((m) => m.name === 'secret-key')?.mountPath).toBe(
      dirname(file as string),
    );
  });

  it('serves HTTPS in the pod with tls.secret: probes, env and mount follow', async () => {
    const { objects, env, container, pod } = render({ tls: { secret: 'kaas-tls' } });
    for (const o of objects) await validateCoreObject(o);
    expect(container.readinessProbe.httpGet.scheme).toBe('HTTPS');
    expect(container.livenessProbe.httpGet.scheme).toBe('HTTPS');
    expect(serveConfigFromEnv(podEnv(env)).tls).toEqual({
      certFile: '/etc/kaas/tls/tls.crt',
      keyFile: '/etc/kaas/tls/tls.key',
    });
    expect(pod.volumes.find((v) => v.name === 'tls')).toMatchObject({ secret: { secretName: 'kaas-tls' } });
    expect(container.volumeMounts.find((m) => m.name === 'tls')?.mountPath).toBe('/etc/kaas/tls');
  });

  it('adds a valid Ingress routed to the Service when enabled', async () => {
    const { objects, find } = render({
      ingress: {
        enabled: true,
        host: 'kaas.cloud.example',
        annotations: { 'cert-manager.io/cluster-issuer': 'le' },
      },
    });
    for (const o of objects) await validateCoreObject(o);
    const ingress = find('Ingress') as {
      metadata: { annotations: Obj };
      spec: {
        ingressClassName: string;
        tls: Obj[];
        rules: { host: string; http: { paths: { backend: Obj }[] } }[];
      };
    };
    expect(ingress.metadata.annotations).toEqual({ 'cert-manager.io/cluster-issuer': 'le' });
    expect(ingress.spec.ingressClassName).toBe('nginx');
    expect(ingress.spec.tls).toEqual([{ hosts: ['kaas.cloud.example'], secretName: 'kaas-ingress-tls' }]);
    expect(ingress.spec.rules[0]?.host).toBe('kaas.cloud.example');
    expect(ingress.spec.rules[0]?.http.paths[0]?.backend).toEqual({
      service: { name: 'kaas', port: { name: 'http' } },
    });
    expect(find('Service')).toMatchObject({
      metadata: { name: 'kaas' },
      spec: { ports: [{ name: 'http' }] },
    });
  });

  it('applies overrides: replicas, hard anti-affinity, no workers, no webhook, long leases, metrics token', async () => {
    const { objects, deployment, pod, env, container } = render({
      replicaCount: 3,
      antiAffinity: { required: true },
      jobs: { enabled: false, leaseMs: 3_600_000, concurrency: 8 },
      keystoneSync: { intervalMs: 30_000, maxAgeMs: 300_000 },
      metrics: { tokenSecret: 'kaas-metrics' },
      webhook: { url: '' },
      podDisruptionBudget: { minAvailable: 2 },
      nodeSelector: { 'node-role.kubernetes.io/control-plane': '' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'kaas', effect: 'NoSchedule' }],
    });
    for (const o of objects) await validateCoreObject(o);
    expect(deployment.spec.replicas).toBe(3);
    expect(Object.keys(pod.affinity.podAntiAffinity)).toEqual([
      'requiredDuringSchedulingIgnoredDuringExecution',
    ]);
    // A number of a million or more would print as 3.6e+06 in Helm; the chart passes it through int64.
    expect(env.KAAS_LEASE_MS?.value).toBe('3600000');
    expect(serveConfigFromEnv(podEnv(env))).toMatchObject({
      workers: false,
      leaseMs: 3_600_000,
      jobConcurrency: 8,
      keystoneSync: { syncIntervalMs: 30_000, syncMaxAgeMs: 300_000 },
    });
    expect(env.KAAS_METRICS_TOKEN?.valueFrom?.secretKeyRef).toEqual({ name: 'kaas-metrics', key: 'token' });
    expect(env.KAAS_URL).toBeUndefined();
    expect(env.KAAS_CA_FILE).toBeUndefined();
    expect(pod.volumes.map((v) => v.name)).not.toContain('webhook-ca');
    expect(container.volumeMounts.map((m) => m.name)).not.toContain('webhook-ca');
    expect((objects.find((o) => o.kind === 'PodDisruptionBudget') as Obj).spec).toMatchObject({
      minAvailable: 2,
    });
  });

  it('the schema check rejects broken objects (so a pass means something)', async () => {
    const { find } = render();
    const broken = structuredClone(find('Deployment')) as { spec: Obj };
    broken.spec.replicas = 'two';
    await expect(validateCoreObject(broken as unknown as RenderedObject['object'])).rejects.toThrow(
      /replicas/,
    );
    const noSelector = structuredClone(find('PodDisruptionBudget')) as { spec: Obj };
    noSelector.spec.minAvailable = { percent: 50 };
    await expect(validateCoreObject(noSelector as unknown as RenderedObject['object'])).rejects.toThrow(
      /minAvailable/,
    );
  });

  it('fails to render when a required value is removed', () => {
    expect(() => render({ database: null })).toThrow(/\.Values\.database\.existingSecret/);
    expect(lintChart(CHART, { image: { tag: null } })).toEqual([
      expect.stringMatching(/\.Values\.image\.tag is not set/),
    ]);
  });
});
