import { createHash } from 'node:crypto';

/** Namespace of every managed service. */
export const KAAS_NAMESPACE = 'kaas-system';

/** Namespaces tenants may not write to (enforced by the ValidatingAdmissionPolicy in namespaces.ts). */
export const PROTECTED_NAMESPACES: readonly string[] = [KAAS_NAMESPACE, 'kube-system'];

/**
 * Joins parts into a DNS-1123 label: lower-case, invalid runs turned into '-', at most `max`
 * characters. When it must cut, it keeps a prefix and appends 8 hex chars of the SHA-256 of the
 * full joined name, so two long inputs never collide on a shared prefix and the same input
 * always yields the same name.
 */
export function dnsName(parts: readonly string[], max = 63): string {
  const full = parts.join('-');
  const clean = full
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (clean === full && full.length <= max) return full;
  // Rewritten or too long: the hash of the original keeps e.g. "a_b" and "a.b" distinct.
  return withHash(clean === '' ? 'x' : clean, full, max);
}

function withHash(base: string, full: string, max: number): string {
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  const room = max - hash.length - 1;
  const prefix = base.slice(0, room).replace(/-+$/g, '');
  return prefix === '' ? hash : `${prefix}-${hash}`;
}

/** `<service>.<cluster>.<dnsDomain>`: where a managed service's Ingress answers. */
export function serviceHost(service: string, clusterName: string, dnsDomain: string): string {
  return `${service}.${clusterName}.${dnsDomain}`;
}
