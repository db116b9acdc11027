import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { ResolvedContext } from './context.ts';
import { KAAS_NAMESPACE, serviceHost } from './names.ts';
import * as k8s from './objects.ts';
import { serviceIdentity } from './rbac-helpers.ts';

const ADDON = 'logging';
const NS = KAAS_NAMESPACE;
const ES_URL = `http://elasticsearch.${NS}.svc:9200`;

/** Fluent Bit: tail container logs, add Kubernetes metadata, ship to Elasticsearch. */
const FLUENT_BIT_CONF = [
  '[SERVICE]',
  '    Flush        5',
  '    Log_Level    info',
  '    Parsers_File /fluent-bit/etc/parsers.conf',
  '    HTTP_Server  On',
  '    HTTP_Listen  0.0.0.0',
  '    HTTP_Port    2020',
  '',
  '[INPUT]',
  '    Name              tail',
  '    Path              /var/log/containers/*.log',
  '    multiline.parser  cri, docker',
  '    Tag               kube.*',
  '    Mem_Buf_Limit     50MB',
  '    Skip_Long_Lines   On',
  '    DB                /var/fluent-bit/state/flb_kube.db',
  '',
  '[FILTER]',
  '    Name                kubernetes',
  '    Match               kube.*',
  '    Merge_Log           On',
  '    Keep_Log            Off',
  '    K8S-Logging.Exclude On',
  '',
  '[OUTPUT]',
  '    Name                es',
  '    Match               kube.*',
  '    Host                elasticsearch.kaas-system.svc',
  '    Port                9200',
  '    Logstash_Format     On',
  '    Logstash_Prefix     logs',
  '    Suppress_Type_Name  On',
  '    Replace_Dots        On',
  '    Retry_Limit         False',
  '',
].join('\n');

/**
 * Elasticsearch (StatefulSet; single-node unless replicas > 1), Fluent Bit on every node and
 * Kibana at `kibana.<cluster>.<domain>` behind basic auth. Elasticsearch security is off: it is
 * reachable only inside the cluster, and the only way in from outside is the guarded Ingress.
 */
export function loggingAddon(ctx: ResolvedContext): k8s.KubernetesObject[] {
  const esReplicas = ctx.replicas.elasticsearch;
  const esDiscovery =
    esReplicas === 1
      ? [{ name: 'discovery.type', value: 'single-node' }]
      : [
          { name: 'discovery.seed_hosts', value: 'elasticsearch-headless' },
          {
            name: 'cluster.initial_master_nodes',
            value: Array.from({ length: esReplicas }, (_, i) => `elasticsearch-${i}`).join(','),
          },
        ];
  return [
    k8s.service(ADDON, 'elasticsearch', NS, [{ name: 'http', port: 9200 }]),
    k8s.service(
      ADDON,
      'elasticsearch',
      NS,
      [
        { name: 'http', port: 9200 },
        { name: 'transport', port: 9300 },
      ],
      { headless: true, name: 'elasticsearch-headless' },
    ),
    ...k8s.statefulSet({
      addon: ADDON,
      name: 'elasticsearch',
      namespace: NS,
      replicas: esReplicas,
      serviceName: 'elasticsearch-headless',
      securityContext: { fsGroup: 1000, runAsUser: 1000, runAsNonRoot: true },
      containers: [
        {
          name: 'elasticsearch',
          image: ctx.images.elasticsearch,
          env: [
            { name: 'node.name', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'cluster.name', value: `kaas-${ctx.clusterName}` },
            ...esDiscovery,
            { name: 'xpack.security.enabled', value: 'false' },
            { name: 'node.store.allow_mmap', value: 'false' },
            { name: 'ES_JAVA_OPTS', value: '-Xms1g -Xmx1g' },
          ],
          ports: [
            { name: 'http', containerPort: 9200, protocol: 'TCP' },
            { name: 'transport', containerPort: 9300, protocol: 'TCP' },
          ],
          readinessProbe: {
            httpGet: { path: '/_cluster/health?local=true', port: 'http' },
            periodSeconds: 10,
          },
          resources: k8s.resources('500m', '2Gi', '2', '2Gi'),
          volumeMounts: [{ name: 'data', mountPath: '/usr/share/elasticsearch/data' }],
        },
      ],
      volumeClaimTemplates: [k8s.claim('data', '50Gi')],
    }),
    ...serviceIdentity(ADDON, 'fluent-bit', NS, [
      { apiGroups: [''], resources: ['namespaces', 'pods'], verbs: ['get', 'list', 'watch'] },
    ]),
    k8s.typed<IConfigMap>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: k8s.meta(ADDON, 'fluent-bit-config', { namespace: NS, component: 'fluent-bit' }),
      data: { 'fluent-bit.conf': FLUENT_BIT_CONF },
    }),
    ...k8s.daemonSet({
      addon: ADDON,
      name: 'fluent-bit',
      namespace: NS,
      serviceAccountName: 'fluent-bit',
      tolerations: [{ operator: 'Exists' }],
      containers: [
        {
          name: 'fluent-bit',
          image: ctx.images.fluentBit,
          ports: [{ name: 'http', containerPort: 2020, protocol: 'TCP' }],
          resources: k8s.resources('50m', '64Mi', '500m', '256Mi'),
          volumeMounts: [
            { name: 'config', mountPath: '/fluent-bit/etc/fluent-bit.conf', subPath: 'fluent-bit.conf' },
            { name: 'varlog', mountPath: '/var/log', readOnly: true },
            { name: 'state', mountPath: '/var/fluent-bit/state' },
          ],
        },
      ],
      volumes: [
        { name: 'config', configMap: { name: 'fluent-bit-config' } },
        { name: 'varlog', hostPath: { path: '/var/log' } },
        { name: 'state', hostPath: { path: '/var/lib/fluent-bit', type: 'DirectoryOrCreate' } },
      ],
    }),
    k8s.service(ADDON, 'kibana', NS, [{ name: 'http', port: 5601 }]),
    ...k8s.deployment({
      addon: ADDON,
      name: 'kibana',
      namespace: NS,
      replicas: ctx.replicas.kibana,
      containers: [
        {
          name: 'kibana',
          image: ctx.images.kibana,
          env: [
            { name: 'ELASTICSEARCH_HOSTS', value: ES_URL },
            {
              name: 'SERVER_PUBLICBASEURL',
              value: `https://${serviceHost('kibana', ctx.clusterName, ctx.dnsDomain)}`,
            },
          ],
          ports: [{ name: 'http', containerPort: 5601, protocol: 'TCP' }],
          readinessProbe: { httpGet: { path: '/api/status', port: 'http' }, periodSeconds: 10 },
          resources: k8s.resources('200m', '512Mi', '1', '1Gi'),
        },
      ],
    }),
    k8s.ingress(
      ADDON,
      'kibana',
      NS,
      serviceHost('kibana', ctx.clusterName, ctx.dnsDomain),
      { service: 'kibana', port: 5601 },
      k8s.basicAuth(),
    ),
  ];
}
