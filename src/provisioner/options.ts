/**
 * Provisioning choices that are not part of the cluster's own description: how long node-join URLs
 * live, whether to wait for a Kubernetes API. Where the release comes from is not one of them: only
 * the version catalogue (or the operator's mirror of it, src/provisioner/release.ts) names it.
 */
import { InputError } from '../errors.ts';

/** Options stored with a cluster and applied to every job of it. */
export interface ProvisionOptions {
  /**
   * Wait for the API's /healthz after the first master boots (default true). Only false skips it:
   * on a cloud whose servers never really boot (Nova's fake driver, cloudsim) the wait would
   * otherwise fail with `api_unreachable`.
   */
  waitForApi: boolean;
  /** Lifetime of the release TempURL nodes download through; default one year, re-signed on resize. */
  tempUrlTtlSeconds: number;
  /**
   * True (default): the external network must exist. False: when it is missing the router gets no
   * gateway and the API has no floating IP (the first master's fixed IP is the endpoint).
   */
  requireExternalNetwork: boolean;
  /** True when kaas generated or uploaded the keypair, so delete removes it. */
  ownsKeypair: boolean;
}

/** One year: long enough that nodes joining months later can still fetch the release. */
export const DEFAULT_TEMPURL_TTL_SECONDS = 365 * 24 * 3600;

const KNOWN = ['waitForApi', 'tempUrlTtlSeconds', 'requireExternalNetwork'];

/**
 * Option names that would say where a release comes from. A per-cluster path or URL would let
 * whoever creates a cluster stage any file kaas can read (its clouds.yaml) behind a TempURL.
 */
const RELEASE_LIKE = /release|source|mirror|artifact|tarball|url|path/i;

/**
 * Validates loose options (API body, CLI flags) into ProvisionOptions. Unknown names are refused
 * rather than ignored, and any that would name a release source with `release_source_not_allowed`.
 */
export function parseOptions(input: Record<string, unknown>, ownsKeypair: boolean): ProvisionOptions {
  for (const name of Object.keys(input)) {
    if (KNOWN.includes(name)) continue;
    if (RELEASE_LIKE.test(name)) {
      throw new InputError(
        `${name} is not accepted: releases come only from the version catalogue (the operator may point it at a mirror with KAAS_RELEASE_MIRROR)`,
        { code: 'release_source_not_allowed', field: name },
      );
    }
    throw new InputError(`${name} is not a known option; options: ${KNOWN.join(', ')}`, {
      code: 'unknown_option',
      field: name,
    });
  }
  const bool = (name: string, fallback: boolean): boolean => {
    const v = input[name];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') throw new InputError(`${name} must be true or false`, { field: name });
    return v;
  };
  const ttl = input.tempUrlTtlSeconds ?? DEFAULT_TEMPURL_TTL_SECONDS;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 3600) {
    throw new InputError('tempUrlTtlSeconds must be an integer of at least 3600', {
      field: 'tempUrlTtlSeconds',
    });
  }
  return {
    waitForApi: bool('waitForApi', true),
    tempUrlTtlSeconds: ttl,
    requireExternalNetwork: bool('requireExternalNetwork', true),
    ownsKeypair,
  };
}
