/**
 * The operator's release settings, read from the environment by every command that runs jobs
 * (`kaas serve`, `kaas dev`, the cluster commands): KAAS_RELEASE_MIRROR points the whole version
 * catalogue at a mirror, KAAS_RELEASE_CACHE says where verified downloads are kept,
 * KAAS_IMAGE_REPOSITORY is the image repository new clusters get unless they name one. No setting
 * names a release for one cluster.
 */
import { isAbsolute } from 'node:path';
import { checkImageRepository } from '../cluster/validate.ts';
import { InputError } from '../errors.ts';
import type { ProvisionerDeps } from '../provisioner/provisioner.ts';
import { parseReleaseMirror } from '../provisioner/release.ts';

/** The provisioner deps releaseDepsFromEnv sets. */
export type ReleaseDeps = Pick<ProvisionerDeps, 'releaseMirror' | 'releaseCacheDir' | 'imageRepository'>;

/**
 * Provisioner deps from KAAS_RELEASE_MIRROR, KAAS_RELEASE_CACHE and KAAS_IMAGE_REPOSITORY; a bad
 * value is an InputError naming it.
 */
export function releaseDepsFromEnv(env: Record<string, string | undefined>): ReleaseDeps {
  const mirror = env.KAAS_RELEASE_MIRROR?.trim();
  const cache = env.KAAS_RELEASE_CACHE?.trim();
  const repository = env.KAAS_IMAGE_REPOSITORY?.trim();
  if (cache && !isAbsolute(cache)) {
    throw new InputError(`KAAS_RELEASE_CACHE must be an absolute directory, got "${cache}"`, {
      code: 'invalid_config',
      field: 'KAAS_RELEASE_CACHE',
    });
  }
  return {
    ...(mirror ? { releaseMirror: parseReleaseMirror(mirror) } : {}),
    ...(cache ? { releaseCacheDir: cache } : {}),
    ...(repository ? { imageRepository: imageRepositoryFromEnv(repository) } : {}),
  };
}

function imageRepositoryFromEnv(value: string): string {
  try {
    return checkImageRepository(value, 'KAAS_IMAGE_REPOSITORY');
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new InputError(message, { code: 'invalid_config', field: 'KAAS_IMAGE_REPOSITORY', cause: error });
  }
}
