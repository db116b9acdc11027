/**
 * Provisioning choices that are not part of the cluster's own description: where the release
 * tarball comes from, how long node-join URLs live, whether to wait for a Kubernetes API.
 */
import { InputError } from '../errors.ts';

/** Options stored with a cluster and applied to every job of it. */
export interface ProvisionOptions {
  /** Path or http(s) URL of `kubernetes-server-linux-amd64.tar.gz`; staged in Swift by sha256. */
  releaseSource: string;
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

/** Validates loose options (API body, CLI flags) into ProvisionOptions. */
export function parseOptions(input: Record<string, unknown>, ownsKeypair: boolean): ProvisionOptions {
  const source = input.releaseSource;
  if (typeof source !== 'string' || source.trim() === '') {
    throw new InputError('releaseSource must be the path or URL of kubernetes-server-linux-amd64.tar.gz', {
      field: 'releaseSource',
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
    releaseSource: source,
    waitForApi: bool('waitForApi', true),
    tempUrlTtlSeconds: ttl,
    requireExternalNetwork: bool('requireExternalNetwork', true),
    ownsKeypair,
  };
}
