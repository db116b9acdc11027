/**
 * Configuration a master writes to disk during bootstrap for the kube-apiserver to read: the
 * structured AuthenticationConfiguration. A plain object, serialised with stable key order by the
 * caller. No Kubernetes API object is rendered here: everything kaas writes through the API (CNI,
 * RBAC, managed services) is an addon's (src/addons), so each object has one renderer.
 */

/**
 * Paths anonymous requests may reach. Health endpoints for load balancers and probes, and
 * the kube-public `cluster-info` ConfigMap: `kubeadm join` token discovery reads it anonymously
 * (it holds only the CA and endpoint, signed with the join token).
 */
export const ANONYMOUS_PATHS = [
  '/livez',
  '/readyz',
  '/healthz',
  '/api/v1/namespaces/kube-public/configmaps/cluster-info',
] as const;

/** Structured authentication config limiting anonymous access to ANONYMOUS_PATHS. */
export function authenticationConfiguration(): Record<string, unknown> {
  return {
    apiVersion: 'apiserver.config.k8s.io/v1beta1',
    kind: 'AuthenticationConfiguration',
    anonymous: { enabled: true, conditions: ANONYMOUS_PATHS.map((path) => ({ path })) },
  };
}
