/**
 * The operator's release settings, read from the environment by every command that runs jobs
 * (`kaas serve`, `kaas dev`, the cluster commands): KAAS_RELEASE_MIRROR points the whole version
 * catalogue at a mirror, KAAS_RELEASE_CACHE says where verified downloads are kept. No setting
 * names a release for one cluster.
 */
import { isAbsolute } from 'node:path';
import { InputError } from '../errors.ts';
import type { ProvisionerDeps } from '../provisioner/provisioner.ts';
import { parseReleaseMirror } from '../provisioner/release.ts';

/** Provisioner deps from KAAS_RELEASE_MIRROR and KAAS_RELEASE_CACHE; a bad value is an InputError naming it. */
export function releaseDepsFromEnv(
  env: Record<string, string | undefined>,
): Pick<ProvisionerDeps, 'releaseMirror' | 'releaseCacheDir'> {
  const mirror = env.KAAS_RELEASE_MIRROR?.trim();
  const cache = env.KAAS_RELEASE_CACHE?.trim();
  if (cache && !isAbsolute(cache)) {
    throw new InputError(`KAAS_RELEASE_CACHE must be an absolute directory, got "${cache}"`, {
      code: 'invalid_config',
      field: 'KAAS_RELEASE_CACHE',
    });
  }
  return {
    ...(mirror ? { releaseMirror: parseReleaseMirror(mirror) } : {}),
    ...(cache ? { releaseCacheDir: cache } : {}),
  };
}
