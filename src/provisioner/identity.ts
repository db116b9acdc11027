/**
 * kaas's own identity on each cluster: user `kaas` in group `kaas:cluster-admins`, which the
 * ClusterRoleBinding `kaas:identity` binds to `cluster-admin` through RBAC, so a cluster's
 * admins can see and revoke it (deleting the binding stops kaas; it does not re-create it).
 *
 * Nothing long-lived is stored: kaas holds the cluster CA and issues its client certificate on
 * demand, valid 30 days, kept in memory and reissued once less than 10 days are left. A
 * `system:masters` certificate is only ever issued for one day: to make the binding during create
 * (before it exists nothing else could), and as the operator's audited break-glass kubeconfig.
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { KubernetesObject } from '../addons/index.ts';
import { ttlCache } from '../auth/cache.ts';
import { issueClientCert, type KeyPair } from '../auth/pki.ts';

export const KAAS_USER = 'kaas';
export const KAAS_GROUP = 'kaas:cluster-admins';
/** Not `kaas:cluster-admin`: that name is the old bootstrap admin binding, which the rbac addon deletes. */
export const KAAS_BINDING = 'kaas:identity';
/** Lifetime of kaas's own certificate (at most 90 days, as the security baseline asks). */
export const IDENTITY_DAYS = 30;
const RENEW_WHEN_LEFT_MS = 10 * 24 * 3600_000;

/** Why a cluster answers kaas 401/403, and what brings kaas back. */
export function refusedMessage(status: number): string {
  return (
    `the cluster refuses kaas (${status} ${status === 401 ? 'Unauthorized' : 'Forbidden'} for user ${KAAS_USER}, group ${KAAS_GROUP}): ` +
    `if its admins deleted ClusterRoleBinding ${KAAS_BINDING}, an operator restores it (group ${KAAS_GROUP} → ClusterRole cluster-admin) ` +
    `with the break-glass kubeconfig (kaas cluster kubeconfig --admin), then retries`
  );
}

/** The binding that makes kaas cluster-admin; an admin revokes kaas by deleting it. */
export function kaasBinding(): KubernetesObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: KAAS_BINDING, labels: { 'app.kubernetes.io/managed-by': 'kaas' } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: KAAS_GROUP }],
  };
}

/**
 * kaas's certificate per cluster CA (by fingerprint), issued at most once at a time; bounded, and an
 * entry goes once its certificate is due for renewal, so clusters long deleted do not pile up.
 */
const issued = ttlCache<Promise<KeyPair>>({
  max: 1000,
  ttlMs: IDENTITY_DAYS * 24 * 3600_000 - RENEW_WHEN_LEFT_MS,
  now: Date.now,
});

/** kaas's client certificate for the cluster whose CA is `ca`, fresh for at least 10 more days. */
export async function kaasIdentity(ca: KeyPair, now: () => Date = () => new Date()): Promise<KeyPair> {
  const key = createHash('sha256').update(ca.certPem).digest('hex');
  const held = await issued.get(key)?.catch(() => undefined);
  if (held && Date.parse(new X509Certificate(held.certPem).validTo) - now().getTime() > RENEW_WHEN_LEFT_MS)
    return held;
  const fresh = issueClientCert({ ca, commonName: KAAS_USER, organization: KAAS_GROUP, days: IDENTITY_DAYS });
  issued.set(key, fresh);
  return fresh;
}

/** A one-day `system:masters` certificate: the binding's bootstrap and the break-glass kubeconfig. */
export function mastersCertificate(ca: KeyPair, commonName: string): Promise<KeyPair> {
  return issueClientCert({ ca, commonName, organization: 'system:masters', days: 1 });
}
