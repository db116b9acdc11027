/**
 * How a Keystone user is named to Kubernetes (TokenReview `user.username`):
 * - `auto` (default): unique across Keystone domains. Users of the default domain whose name has
 *   no `@` keep their plain name (`alice`); everyone else is `name@domain` (`alice@Engineering`,
 *   `bob@example.com@Default`), so two `alice`s of two domains are two Kubernetes users.
 * - `name@domain`: always `name@domain`.
 * - `name`: the bare name, as before; only safe with a single domain (users of different domains
 *   with one name become one Kubernetes user).
 * Uniqueness of `auto` relies on domain names without `@`: the domain is what follows the last `@`.
 */
export type UsernameFormat = 'auto' | 'name@domain' | 'name';

/** Keystone's own default domain (id `default`), whose users keep plain names under `auto`. */
export const DEFAULT_DOMAIN_NAME = 'Default';

/** The Kubernetes user name of a Keystone user under `format` (see {@link UsernameFormat}). */
export function kubernetesUsername(
  user: { name: string; domainName: string },
  format: UsernameFormat,
  defaultDomainName: string = DEFAULT_DOMAIN_NAME,
): string {
  if (format === 'name') return user.name;
  if (format === 'auto' && user.domainName === defaultDomainName && !user.name.includes('@'))
    return user.name;
  return `${user.name}@${user.domainName}`;
}
