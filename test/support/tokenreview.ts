/** The audience kube-apiserver asks for by default. */
export const AUDIENCE = 'https://kubernetes.default.svc.cluster.local';

/** A TokenReview request as kube-apiserver sends it to the webhook. */
export function reviewRequest(
  token: string,
  apiVersion = 'authentication.k8s.io/v1',
  audiences: string[] | undefined = [AUDIENCE],
) {
  return {
    kind: 'TokenReview',
    apiVersion,
    metadata: { creationTimestamp: null },
    spec: { token, ...(audiences ? { audiences } : {}) },
    status: { user: {} },
  };
}

/** The webhook's whole answer for `user`, authenticated for AUDIENCE. */
export function authenticatedAnswer(
  apiVersion: string,
  user: { username: string; uid: string; groups: string[]; extra: Record<string, string[]> },
) {
  return {
    apiVersion,
    kind: 'TokenReview',
    metadata: { creationTimestamp: null },
    status: { authenticated: true, audiences: [AUDIENCE], user },
  };
}
