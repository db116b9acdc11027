import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IIngressClass } from 'kubernetes-models/networking.k8s.io/v1/IngressClass';
import type { ResolvedContext } from './context.ts';
import { KAAS_NAMESPACE } from './names.ts';
import { deployment, meta, resources, service, typed, type KubernetesObject } from './objects.ts';
import { namespacedRole, serviceIdentity } from './rbac-helpers.ts';

const ADDON = 'ingress';
const NAME = 'ingress-nginx-controller';

/**
 * ingress-nginx behind an Octavia LoadBalancer Service, default IngressClass `nginx`. Admission
 * webhook and metrics Service of the upstream chart are left out: the webhook needs a generated
 * certificate, which a pure renderer cannot mint.
 */
export function ingressAddon(ctx: ResolvedContext): KubernetesObject[] {
  const ns = KAAS_NAMESPACE;
  return [
    ...serviceIdentity(ADDON, NAME, ns, [
      {
        apiGroups: [''],
        resources: ['configmaps', 'endpoints', 'nodes', 'pods', 'secrets', 'namespaces'],
        verbs: ['list', 'watch'],
      },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get'] },
      { apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch'] },
      {
        apiGroups: ['networking.k8s.io'],
        resources: ['ingresses', 'ingressclasses'],
        verbs: ['get', 'list', 'watch'],
      },
      { apiGroups: ['networking.k8s.io'], resources: ['ingresses/status'], verbs: ['update'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch', 'get'] },
    ]),
    ...namespacedRole(ADDON, NAME, ns, [
      { apiGroups: [''], resources: ['configmaps', 'pods', 'secrets', 'endpoints'], verbs: ['get'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
    ]),
    typed<IConfigMap>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta(ADDON, NAME, { namespace: ns, component: NAME }),
      data: {
        'allow-snippet-annotations': 'false',
        'proxy-body-size': '0',
        'use-forwarded-headers': 'false',
      },
    }),
    typed<IIngressClass>({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: meta(ADDON, 'nginx', {
        component: NAME,
        annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' },
      }),
      spec: { controller: 'k8s.io/ingress-nginx' },
    }),
    ...deployment({
      addon: ADDON,
      name: NAME,
      namespace: ns,
      replicas: ctx.replicas.ingress,
      serviceAccountName: NAME,
      terminationGracePeriodSeconds: 300,
      containers: [
        {
          name: 'controller',
          image: ctx.images.ingressNginx,
          args: [
            '/nginx-ingress-controller',
            `--publish-service=$(POD_NAMESPACE)/${NAME}`,
            '--election-id=ingress-nginx-leader',
            '--controller-class=k8s.io/ingress-nginx',
            '--ingress-class=nginx',
            `--configmap=$(POD_NAMESPACE)/${NAME}`,
            '--watch-ingress-without-class=false',
          ],
          env: [
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
          ],
          ports: [
            { name: 'http', containerPort: 80, protocol: 'TCP' },
            { name: 'https', containerPort: 443, protocol: 'TCP' },
            { name: 'metrics', containerPort: 10254, protocol: 'TCP' },
          ],
          readinessProbe: { httpGet: { path: '/healthz', port: 10254 }, periodSeconds: 10 },
          livenessProbe: {
            httpGet: { path: '/healthz', port: 10254 },
            periodSeconds: 10,
            failureThreshold: 5,
          },
          securityContext: {
            runAsUser: 101,
            runAsNonRoot: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
          },
          resources: resources('100m', '90Mi', '1', '512Mi'),
        },
      ],
    }),
    service(
      ADDON,
      NAME,
      ns,
      [
        { name: 'http', port: 80, targetPort: 'http' },
        { name: 'https', port: 443, targetPort: 'https' },
      ],
      { type: 'LoadBalancer' },
    ),
  ];
}
