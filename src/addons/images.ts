/**
 * Pinned images of every managed service. Tags are exact releases (never `latest`) so a re-render
 * never changes what runs; a cluster may take them all from its image repository (fromRepository)
 * and override one key with another pinned image.
 */
export const DEFAULT_IMAGES = {
  ingressNginx: 'registry.k8s.io/ingress-nginx/controller:v1.11.5',
  prometheus: 'quay.io/prometheus/prometheus:v2.55.1',
  kubeStateMetrics: 'registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.13.0',
  grafana: 'docker.io/grafana/grafana:11.3.1',
  elasticsearch: 'docker.elastic.co/elasticsearch/elasticsearch:8.15.3',
  kibana: 'docker.elastic.co/kibana/kibana:8.15.3',
  fluentBit: 'cr.fluentbit.io/fluent/fluent-bit:3.1.9',
  harborCore: 'docker.io/goharbor/harbor-core:v2.11.1',
  harborRegistry: 'docker.io/goharbor/registry-photon:v2.11.1',
  harborPortal: 'docker.io/goharbor/harbor-portal:v2.11.1',
  harborDb: 'docker.io/goharbor/harbor-db:v2.11.1',
  harborRedis: 'docker.io/goharbor/redis-photon:v2.11.1',
  flannel: 'ghcr.io/flannel-io/flannel:v0.26.4',
  flannelCniPlugin: 'ghcr.io/flannel-io/flannel-cni-plugin:v1.6.2-flannel1',
  // cloud-provider-openstack v1.36.0 and the sidecars its cinder-csi-plugin chart pins (Kubernetes 1.35–1.37).
  cloudController: 'registry.k8s.io/provider-os/openstack-cloud-controller-manager:v1.36.0',
  cinderCsi: 'registry.k8s.io/provider-os/cinder-csi-plugin:v1.36.0',
  csiProvisioner: 'registry.k8s.io/sig-storage/csi-provisioner:v5.3.0',
  csiAttacher: 'registry.k8s.io/sig-storage/csi-attacher:v4.10.0',
  csiResizer: 'registry.k8s.io/sig-storage/csi-resizer:v1.14.0',
  csiLivenessProbe: 'registry.k8s.io/sig-storage/livenessprobe:v2.17.0',
  csiNodeDriverRegistrar: 'registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.15.0',
  velero: 'docker.io/velero/velero:v1.14.1',
  veleroPluginOpenstack: 'docker.io/lirt/velero-plugin-for-openstack:v0.7.1',
  etcd: 'registry.k8s.io/etcd:3.5.15-0',
  curl: 'docker.io/curlimages/curl:8.10.1',
  clusterAutoscaler: 'registry.k8s.io/autoscaling/cluster-autoscaler:v1.34.0',
} as const;

/** Name of one overridable image. */
export type ImageKey = keyof typeof DEFAULT_IMAGES;

/**
 * `image` (`host/path:tag`) as a mirror at `repository` serves it: the registry host is replaced by
 * the repository and the path and tag are kept (`docker.io/grafana/grafana:11.3.1` under
 * `registry.example:5000/mirror` is `registry.example:5000/mirror/grafana/grafana:11.3.1`).
 */
export function fromRepository(image: string, repository: string): string {
  return `${repository}/${image.slice(image.indexOf('/') + 1)}`;
}
