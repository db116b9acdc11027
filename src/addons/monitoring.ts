import { stringify } from 'yaml';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { ResolvedContext } from './context.ts';
import { KAAS_NAMESPACE, serviceHost } from './names.ts';
import {
  basicAuth,
  claim,
  deployment,
  ingress,
  meta,
  resources,
  service,
  statefulSet,
  typed,
  type KubernetesObject,
} from './objects.ts';
import { serviceIdentity, type Rule } from './rbac-helpers.ts';

const ADDON = 'monitoring';
const NS = KAAS_NAMESPACE;

const SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';
const SA_CA = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';

const PROMETHEUS_RULES: Rule[] = [
  {
    apiGroups: [''],
    resources: ['nodes', 'nodes/metrics', 'services', 'endpoints', 'pods'],
    verbs: ['get', 'list', 'watch'],
  },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
  { nonResourceURLs: ['/metrics'], verbs: ['get'] },
];

function tlsViaServiceAccount(insecure: boolean) {
  return {
    scheme: 'https',
    authorization: { credentials_file: SA_TOKEN },
    tls_config: insecure ? { ca_file: SA_CA, insecure_skip_verify: true } : { ca_file: SA_CA },
  };
}

/**
 * Platform scrape jobs: apiserver, kubelets and cAdvisor (through the apiserver proxy, so the
 * kubelet serving certificate need not be trusted), etcd metrics on the masters' plain-HTTP
 * metrics listener (:2381, which the bootstrap enables), kube-state-metrics.
 */
function platformConfig(ctx: ResolvedContext): string {
  const viaApiserver = (path: string) => [
    { target_label: '__address__', replacement: 'kubernetes.default.svc:443' },
    { source_labels: ['__meta_kubernetes_node_name'], target_label: '__metrics_path__', replacement: path },
  ];
  return stringify({
    global: {
      scrape_interval: '30s',
      evaluation_interval: '30s',
      external_labels: { cluster: ctx.clusterName },
    },
    rule_files: ['/etc/prometheus/rules/*.yaml'],
    scrape_configs: [
      {
        job_name: 'kube-apiserver',
        kubernetes_sd_configs: [{ role: 'endpoints', namespaces: { names: ['default'] } }],
        ...tlsViaServiceAccount(false),
        relabel_configs: [
          { source_labels: ['__meta_kubernetes_service_name'], regex: 'kubernetes', action: 'keep' },
        ],
      },
      {
        job_name: 'kubelet',
        kubernetes_sd_configs: [{ role: 'node' }],
        ...tlsViaServiceAccount(false),
        relabel_configs: viaApiserver('/api/v1/nodes/${1}/proxy/metrics'),
      },
      {
        job_name: 'cadvisor',
        kubernetes_sd_configs: [{ role: 'node' }],
        ...tlsViaServiceAccount(false),
        relabel_configs: viaApiserver('/api/v1/nodes/${1}/proxy/metrics/cadvisor'),
      },
      {
        job_name: 'etcd',
        kubernetes_sd_configs: [{ role: 'node' }],
        relabel_configs: [
          {
            source_labels: ['__meta_kubernetes_node_labelpresent_node_role_kubernetes_io_control_plane'],
            regex: 'true',
            action: 'keep',
          },
          {
            source_labels: ['__meta_kubernetes_node_address_InternalIP'],
            target_label: '__address__',
            replacement: '${1}:2381',
          },
        ],
      },
      {
        job_name: 'kube-state-metrics',
        static_configs: [{ targets: [`kube-state-metrics.${NS}.svc:8080`] }],
      },
    ],
  });
}

/** Workload scrape: pods annotated `prometheus.io/scrape: "true"`, outside the managed namespaces. */
function appsConfig(ctx: ResolvedContext): string {
  return stringify({
    global: { scrape_interval: '30s', external_labels: { cluster: ctx.clusterName } },
    scrape_configs: [
      {
        job_name: 'pods',
        kubernetes_sd_configs: [{ role: 'pod' }],
        relabel_configs: [
          {
            source_labels: ['__meta_kubernetes_namespace'],
            regex: 'kube-system|kaas-system',
            action: 'drop',
          },
          {
            source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_scrape'],
            regex: 'true',
            action: 'keep',
          },
          {
            source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_path'],
            regex: '(.+)',
            target_label: '__metrics_path__',
          },
          {
            source_labels: ['__address__', '__meta_kubernetes_pod_annotation_prometheus_io_port'],
            regex: '([^:]+)(?::\\d+)?;(\\d+)',
            replacement: '${1}:${2}',
            target_label: '__address__',
          },
          { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
          { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
        ],
      },
    ],
  });
}

/** Alert rules of the platform Prometheus. NodeNotReady and disk pressure need kube-state-metrics. */
export function alertRules(): string {
  const alert = (name: string, expr: string, forDuration: string, severity: string, summary: string) => ({
    alert: name,
    expr,
    for: forDuration,
    labels: { severity },
    annotations: { summary },
  });
  return stringify({
    groups: [
      {
        name: 'kaas-control-plane',
        rules: [
          alert(
            'ControlPlaneDown',
            'absent(up{job="kube-apiserver"} == 1)',
            '5m',
            'critical',
            'No kube-apiserver answers scrapes',
          ),
          alert(
            'NodeNotReady',
            'kube_node_status_condition{condition="Ready",status="true"} == 0',
            '10m',
            'warning',
            'Node {{ $labels.node }} is not Ready',
          ),
          alert(
            'NodeDiskPressure',
            'kube_node_status_condition{condition="DiskPressure",status="true"} == 1',
            '5m',
            'warning',
            'Node {{ $labels.node }} reports disk pressure',
          ),
        ],
      },
      {
        name: 'kaas-etcd',
        rules: [
          alert(
            'EtcdNoLeader',
            'etcd_server_has_leader == 0',
            '1m',
            'critical',
            'etcd member {{ $labels.instance }} has no leader',
          ),
          alert(
            'EtcdHighFsyncLatency',
            'histogram_quantile(0.99, sum by (instance, le) (rate(etcd_disk_wal_fsync_duration_seconds_bucket[5m]))) > 0.5',
            '10m',
            'warning',
            'etcd WAL fsync p99 above 500ms on {{ $labels.instance }}',
          ),
        ],
      },
    ],
  });
}

function prometheus(
  ctx: ResolvedContext,
  name: string,
  config: string,
  rules: string | undefined,
): KubernetesObject[] {
  return [
    ...serviceIdentity(ADDON, name, NS, PROMETHEUS_RULES),
    typed<IConfigMap>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta(ADDON, `${name}-config`, { namespace: NS, component: name }),
      data: { 'prometheus.yaml': config },
    }),
    ...(rules === undefined
      ? []
      : [
          typed<IConfigMap>({
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: meta(ADDON, `${name}-rules`, { namespace: NS, component: name }),
            data: { 'kaas.yaml': rules },
          }),
        ]),
    service(ADDON, name, NS, [{ name: 'web', port: 9090 }]),
    ...statefulSet({
      addon: ADDON,
      name,
      namespace: NS,
      replicas: 1,
      serviceName: name,
      serviceAccountName: name,
      securityContext: { runAsUser: 65534, runAsNonRoot: true, fsGroup: 65534 },
      containers: [
        {
          name: 'prometheus',
          image: ctx.images.prometheus,
          args: [
            '--config.file=/etc/prometheus/prometheus.yaml',
            '--storage.tsdb.path=/prometheus',
            '--storage.tsdb.retention.time=15d',
            '--web.enable-lifecycle',
          ],
          ports: [{ name: 'web', containerPort: 9090, protocol: 'TCP' }],
          readinessProbe: { httpGet: { path: '/-/ready', port: 'web' }, periodSeconds: 10 },
          resources: resources('200m', '512Mi', '1', '2Gi'),
          volumeMounts: [
            { name: 'config', mountPath: '/etc/prometheus' },
            ...(rules === undefined ? [] : [{ name: 'rules', mountPath: '/etc/prometheus/rules' }]),
            { name: 'data', mountPath: '/prometheus' },
          ],
        },
      ],
      volumes: [
        { name: 'config', configMap: { name: `${name}-config` } },
        ...(rules === undefined ? [] : [{ name: 'rules', configMap: { name: `${name}-rules` } }]),
      ],
      volumeClaimTemplates: [claim('data', '20Gi')],
    }),
  ];
}

/** A dashboard panel graphing one PromQL expression from the platform Prometheus. */
function panel(
  id: number,
  type: 'stat' | 'timeseries',
  title: string,
  grid: [number, number, number, number],
  expr: string,
) {
  const [x, y, w, h] = grid;
  return {
    id,
    type,
    title,
    gridPos: { x, y, w, h },
    datasource: { type: 'prometheus', uid: 'platform' },
    targets: [{ expr }],
  };
}

const OVERVIEW_DASHBOARD = {
  title: 'Cluster overview',
  uid: 'kaas-overview',
  schemaVersion: 39,
  time: { from: 'now-6h', to: 'now' },
  panels: [
    panel(
      1,
      'stat',
      'Nodes ready',
      [0, 0, 6, 4],
      'sum(kube_node_status_condition{condition="Ready",status="true"})',
    ),
    panel(
      2,
      'timeseries',
      'CPU usage by namespace',
      [6, 0, 18, 8],
      'sum by (namespace) (rate(container_cpu_usage_seconds_total{container!=""}[5m]))',
    ),
    panel(
      3,
      'timeseries',
      'etcd WAL fsync p99',
      [0, 8, 12, 8],
      'histogram_quantile(0.99, sum by (instance, le) (rate(etcd_disk_wal_fsync_duration_seconds_bucket[5m])))',
    ),
  ],
};

function grafana(ctx: ResolvedContext): KubernetesObject[] {
  const datasources = stringify({
    apiVersion: 1,
    datasources: [
      {
        name: 'Platform',
        uid: 'platform',
        type: 'prometheus',
        access: 'proxy',
        url: `http://prometheus-platform.${NS}.svc:9090`,
        isDefault: true,
      },
      {
        name: 'Apps',
        uid: 'apps',
        type: 'prometheus',
        access: 'proxy',
        url: `http://prometheus-apps.${NS}.svc:9090`,
      },
    ],
  });
  const providers = stringify({
    apiVersion: 1,
    providers: [
      { name: 'kaas', folder: 'kaas', type: 'file', options: { path: '/var/lib/grafana/dashboards' } },
    ],
  });
  return [
    typed<IConfigMap>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta(ADDON, 'grafana-datasources', { namespace: NS, component: 'grafana' }),
      data: { 'datasources.yaml': datasources },
    }),
    typed<IConfigMap>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta(ADDON, 'grafana-dashboards', { namespace: NS, component: 'grafana' }),
      data: { 'providers.yaml': providers, 'overview.json': JSON.stringify(OVERVIEW_DASHBOARD, null, 2) },
    }),
    service(ADDON, 'grafana', NS, [{ name: 'http', port: 3000 }]),
    ...deployment({
      addon: ADDON,
      name: 'grafana',
      namespace: NS,
      replicas: ctx.replicas.grafana,
      securityContext: { runAsUser: 472, runAsNonRoot: true, fsGroup: 472 },
      containers: [
        {
          name: 'grafana',
          image: ctx.images.grafana,
          env: [
            {
              name: 'GF_SERVER_ROOT_URL',
              value: `https://${serviceHost('grafana', ctx.clusterName, ctx.dnsDomain)}/`,
            },
            { name: 'GF_PATHS_PROVISIONING', value: '/etc/grafana/provisioning' },
            { name: 'GF_AUTH_ANONYMOUS_ENABLED', value: 'false' },
            {
              name: 'GF_SECURITY_ADMIN_PASSWORD',
              valueFrom: { secretKeyRef: { name: GRAFANA_ADMIN_SECRET, key: 'password' } },
            },
          ],
          ports: [{ name: 'http', containerPort: 3000, protocol: 'TCP' }],
          readinessProbe: { httpGet: { path: '/api/health', port: 'http' }, periodSeconds: 10 },
          resources: resources('100m', '128Mi', '500m', '512Mi'),
          volumeMounts: [
            { name: 'datasources', mountPath: '/etc/grafana/provisioning/datasources' },
            { name: 'dashboards', mountPath: '/etc/grafana/provisioning/dashboards' },
            { name: 'dashboards', mountPath: '/var/lib/grafana/dashboards' },
          ],
        },
      ],
      volumes: [
        { name: 'datasources', configMap: { name: 'grafana-datasources' } },
        { name: 'dashboards', configMap: { name: 'grafana-dashboards' } },
      ],
    }),
  ];
}

/** Secret (kaas-system) with key `password` for Grafana's admin user. */
export const GRAFANA_ADMIN_SECRET = 'kaas-grafana-admin';

/**
 * Two Prometheus servers (platform: control plane, nodes, etcd, with alert rules; apps: tenant
 * workloads), kube-state-metrics for node conditions, Grafana with both as datasources, and
 * Ingresses `grafana.` and `prometheus.<cluster>.<domain>` (Prometheus behind basic auth).
 * No Alertmanager: alerts fire in Prometheus and show in Grafana, but nothing routes them out.
 */
export function monitoringAddon(ctx: ResolvedContext): KubernetesObject[] {
  return [
    ...prometheus(ctx, 'prometheus-platform', platformConfig(ctx), alertRules()),
    ...prometheus(ctx, 'prometheus-apps', appsConfig(ctx), undefined),
    ...serviceIdentity(ADDON, 'kube-state-metrics', NS, [
      {
        apiGroups: [''],
        resources: ['nodes', 'pods', 'namespaces', 'persistentvolumes', 'persistentvolumeclaims', 'services'],
        verbs: ['list', 'watch'],
      },
      {
        apiGroups: ['apps'],
        resources: ['deployments', 'daemonsets', 'statefulsets', 'replicasets'],
        verbs: ['list', 'watch'],
      },
    ]),
    service(ADDON, 'kube-state-metrics', NS, [{ name: 'http', port: 8080 }]),
    ...deployment({
      addon: ADDON,
      name: 'kube-state-metrics',
      namespace: NS,
      replicas: 1,
      serviceAccountName: 'kube-state-metrics',
      securityContext: { runAsUser: 65534, runAsNonRoot: true },
      containers: [
        {
          name: 'kube-state-metrics',
          image: ctx.images.kubeStateMetrics,
          args: [
            '--resources=nodes,pods,namespaces,persistentvolumes,persistentvolumeclaims,services,deployments,daemonsets,statefulsets,replicasets',
          ],
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10 },
          resources: resources('50m', '64Mi', '250m', '256Mi'),
        },
      ],
    }),
    ...grafana(ctx),
    ingress(ADDON, 'grafana', NS, serviceHost('grafana', ctx.clusterName, ctx.dnsDomain), {
      service: 'grafana',
      port: 3000,
    }),
    ingress(
      ADDON,
      'prometheus',
      NS,
      serviceHost('prometheus', ctx.clusterName, ctx.dnsDomain),
      { service: 'prometheus-platform', port: 9090 },
      basicAuth(),
    ),
  ];
}
