import { stringify } from 'yaml';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import { credentialPodAnnotations } from './cloudconf.ts';
import type { ResolvedContext } from './context.ts';
import { KAAS_NAMESPACE, serviceHost } from './names.ts';
import {
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

const ADDON = 'registry';
const NS = KAAS_NAMESPACE;

/**
 * Secret (kaas-system) with the registry's generated credentials: keys coreSecret, jobserviceSecret,
 * csrfKey, adminPassword, dbPassword, registryHttpSecret, tokenKey (PEM private key), tokenCert.
 * A pure renderer cannot mint secrets; the applier creates this once and keeps it.
 */
export const REGISTRY_SECRET = 'kaas-registry-secrets';

/** Default size of the Harbor database volume. */
export const REGISTRY_DB_SIZE = '10Gi';

function fromSecret(name: string, key: string, secret = REGISTRY_SECRET): IEnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}

/** docker-distribution config: Swift storage in the cluster's container, Harbor token auth. */
function registryConfig(ctx: ResolvedContext, host: string): string {
  return stringify({
    version: 0.1,
    log: { level: 'info', fields: { service: 'registry' } },
    storage: {
      swift: {
        authurl: ctx.swift.authUrl,
        region: ctx.swift.region,
        container: `${ctx.swift.containerPrefix}-registry`,
        authversion: 3,
      },
      cache: { layerinfo: 'redis' },
      maintenance: { uploadpurging: { enabled: true, age: '168h', interval: '24h', dryrun: false } },
      delete: { enabled: true },
      redirect: { disable: true },
    },
    redis: { addr: `harbor-redis.${NS}.svc:6379`, db: 2 },
    http: { addr: ':5000', relativeurls: false },
    auth: {
      token: {
        issuer: 'harbor-token-issuer',
        realm: `https://${host}/service/token`,
        rootcertbundle: '/etc/registry/root.crt',
        service: 'harbor-registry',
      },
    },
    validation: { disabled: true },
    compatibility: { schema1: { enabled: true } },
  });
}

/**
 * A reduced Harbor at `registry.<cluster>.<domain>`: core (API, auth, token service), registry
 * (docker-distribution, images in Swift), portal (UI), database (PostgreSQL, 10Gi PVC) and
 * redis (cache only, no volume). Omitted: jobservice (so no replication, retention or garbage
 * collection jobs), registryctl, Trivy scanning, exporter.
 */
export function registryAddon(ctx: ResolvedContext): KubernetesObject[] {
  const host = serviceHost('registry', ctx.clusterName, ctx.dnsDomain);
  const secretVolume = (name: string, items: { key: string; path: string }[]) => ({
    name,
    secret: { secretName: REGISTRY_SECRET, items },
  });
  return [
    typed<IConfigMap>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta(ADDON, 'harbor-registry-config', { namespace: NS, component: 'harbor-registry' }),
      data: { 'config.yml': registryConfig(ctx, host) },
    }),
    typed<IConfigMap>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta(ADDON, 'harbor-core-config', { namespace: NS, component: 'harbor-core' }),
      data: {
        'app.conf': [
          'appname = Harbor',
          'runmode = prod',
          'enablegzip = true',
          '',
          '[prod]',
          'httpport = 8080',
          '',
        ].join('\n'),
      },
    }),
    service(ADDON, 'harbor-database', NS, [{ name: 'postgres', port: 5432 }]),
    ...statefulSet({
      addon: ADDON,
      name: 'harbor-database',
      namespace: NS,
      replicas: 1,
      serviceName: 'harbor-database',
      securityContext: { runAsUser: 999, fsGroup: 999 },
      containers: [
        {
          name: 'database',
          image: ctx.images.harborDb,
          env: [
            fromSecret('POSTGRES_PASSWORD', 'dbPassword'),
            { name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' },
          ],
          ports: [{ name: 'postgres', containerPort: 5432, protocol: 'TCP' }],
          readinessProbe: { exec: { command: ['/docker-healthcheck.sh'] }, periodSeconds: 10 },
          resources: resources('100m', '256Mi', '1', '1Gi'),
          volumeMounts: [{ name: 'data', mountPath: '/var/lib/postgresql/data' }],
        },
      ],
      volumeClaimTemplates: [claim('data', REGISTRY_DB_SIZE)],
    }),
    service(ADDON, 'harbor-redis', NS, [{ name: 'redis', port: 6379 }]),
    ...deployment({
      addon: ADDON,
      name: 'harbor-redis',
      namespace: NS,
      replicas: 1,
      securityContext: { runAsUser: 999, fsGroup: 999 },
      containers: [
        {
          name: 'redis',
          image: ctx.images.harborRedis,
          ports: [{ name: 'redis', containerPort: 6379, protocol: 'TCP' }],
          readinessProbe: { tcpSocket: { port: 6379 }, periodSeconds: 10 },
          resources: resources('50m', '64Mi', '500m', '512Mi'),
        },
      ],
    }),
    service(ADDON, 'harbor-registry', NS, [{ name: 'registry', port: 5000 }]),
    ...deployment({
      addon: ADDON,
      name: 'harbor-registry',
      namespace: NS,
      replicas: 1,
      securityContext: { runAsUser: 10000, fsGroup: 10000 },
      ...credentialPodAnnotations(ctx),
      containers: [
        {
          name: 'registry',
          image: ctx.images.harborRegistry,
          args: ['serve', '/etc/registry/config.yml'],
          env: [
            fromSecret('REGISTRY_HTTP_SECRET', 'registryHttpSecret'),
            fromSecret(
              'REGISTRY_STORAGE_SWIFT_APPLICATIONCREDENTIALID',
              'OS_APPLICATION_CREDENTIAL_ID',
              ctx.swift.credentialSecretName,
            ),
            fromSecret(
              'REGISTRY_STORAGE_SWIFT_APPLICATIONCREDENTIALSECRET',
              'OS_APPLICATION_CREDENTIAL_SECRET',
              ctx.swift.credentialSecretName,
            ),
          ],
          ports: [{ name: 'registry', containerPort: 5000, protocol: 'TCP' }],
          readinessProbe: { httpGet: { path: '/', port: 'registry' }, periodSeconds: 10 },
          resources: resources('100m', '256Mi', '1', '1Gi'),
          volumeMounts: [
            { name: 'config', mountPath: '/etc/registry/config.yml', subPath: 'config.yml' },
            { name: 'token-cert', mountPath: '/etc/registry/root.crt', subPath: 'root.crt' },
          ],
        },
      ],
      volumes: [
        { name: 'config', configMap: { name: 'harbor-registry-config' } },
        secretVolume('token-cert', [{ key: 'tokenCert', path: 'root.crt' }]),
      ],
    }),
    service(ADDON, 'harbor-core', NS, [{ name: 'http', port: 80, targetPort: 8080 }]),
    ...deployment({
      addon: ADDON,
      name: 'harbor-core',
      namespace: NS,
      replicas: ctx.replicas.registryCore,
      securityContext: { runAsUser: 10000, fsGroup: 10000 },
      containers: [
        {
          name: 'core',
          image: ctx.images.harborCore,
          env: [
            { name: 'EXT_ENDPOINT', value: `https://${host}` },
            { name: 'CORE_URL', value: `http://harbor-core.${NS}.svc` },
            { name: 'CORE_LOCAL_URL', value: 'http://127.0.0.1:8080' },
            { name: 'TOKEN_SERVICE_URL', value: `http://harbor-core.${NS}.svc/service/token` },
            { name: 'PORTAL_URL', value: `http://harbor-portal.${NS}.svc` },
            { name: 'REGISTRY_URL', value: `http://harbor-registry.${NS}.svc:5000` },
            { name: 'REGISTRY_STORAGE_PROVIDER_NAME', value: 'swift' },
            { name: 'DATABASE_TYPE', value: 'postgresql' },
            { name: 'POSTGRESQL_HOST', value: `harbor-database.${NS}.svc` },
            { name: 'POSTGRESQL_PORT', value: '5432' },
            { name: 'POSTGRESQL_USERNAME', value: 'postgres' },
            fromSecret('POSTGRESQL_PASSWORD', 'dbPassword'),
            { name: 'POSTGRESQL_DATABASE', value: 'registry' },
            { name: 'POSTGRESQL_SSLMODE', value: 'disable' },
            { name: '_REDIS_URL_CORE', value: `redis://harbor-redis.${NS}.svc:6379/0` },
            { name: '_REDIS_URL_REG', value: `redis://harbor-redis.${NS}.svc:6379/2` },
            { name: 'WITH_TRIVY', value: 'false' },
            { name: 'CONFIG_PATH', value: '/etc/core/app.conf' },
            fromSecret('CORE_SECRET', 'coreSecret'),
            fromSecret('JOBSERVICE_SECRET', 'jobserviceSecret'),
            fromSecret('CSRF_KEY', 'csrfKey'),
            fromSecret('HARBOR_ADMIN_PASSWORD', 'adminPassword'),
          ],
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          readinessProbe: { httpGet: { path: '/api/v2.0/ping', port: 'http' }, periodSeconds: 10 },
          resources: resources('100m', '256Mi', '1', '1Gi'),
          volumeMounts: [
            { name: 'config', mountPath: '/etc/core/app.conf', subPath: 'app.conf' },
            { name: 'token-key', mountPath: '/etc/core/private_key.pem', subPath: 'private_key.pem' },
          ],
        },
      ],
      volumes: [
        { name: 'config', configMap: { name: 'harbor-core-config' } },
        secretVolume('token-key', [{ key: 'tokenKey', path: 'private_key.pem' }]),
      ],
    }),
    service(ADDON, 'harbor-portal', NS, [{ name: 'http', port: 80, targetPort: 8080 }]),
    ...deployment({
      addon: ADDON,
      name: 'harbor-portal',
      namespace: NS,
      replicas: ctx.replicas.registryPortal,
      containers: [
        {
          name: 'portal',
          image: ctx.images.harborPortal,
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 10 },
          resources: resources('50m', '64Mi', '250m', '256Mi'),
        },
      ],
    }),
    ingress(
      ADDON,
      'registry',
      NS,
      host,
      [
        ...['/api/', '/service/', '/v2/', '/c/'].map((path) => ({ path, service: 'harbor-core', port: 80 })),
        { path: '/', service: 'harbor-portal', port: 80 },
      ],
      { 'nginx.ingress.kubernetes.io/proxy-body-size': '0' },
    ),
  ];
}
