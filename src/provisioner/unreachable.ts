/**
 * Why a cluster's API could not be reached, in words an operator can act on. undici (the
 * port-forward) reports a failed connection as `TypeError('fetch failed')` with the socket or TLS
 * error as its cause; @kubernetes/client-node (node-fetch) as a `FetchError` carrying that error's
 * `code` itself; an elapsed `AbortSignal.timeout` or an aborted call as a `TimeoutError`/`AbortError`.
 */

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/** A one-line reason for a failed request to a cluster's API (never includes credentials). */
export function unreachableReason(error: unknown): string {
  const e = error as { name?: string; message?: string; code?: string; cause?: unknown } | undefined;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError')
    return 'timeout: the API did not answer in time';
  const cause = (e?.cause ?? e) as { code?: string; message?: string; name?: string } | undefined;
  const code = cause?.code ?? '';
  if (cause?.name === 'TimeoutError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT')
    return 'timeout: the API did not answer in time';
  if (code === 'ECONNREFUSED') return 'connection refused: nothing listens on the API address';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return `DNS: the API host name does not resolve (${code})`;
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `no route to the API address (${code})`;
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return `connection reset by the API (${code})`;
  if (TLS_CODES.has(code) || /certificate|tls|ssl/i.test(cause?.message ?? ''))
    return `TLS: the API's certificate was refused (${code || cause?.message})`;
  return `unreachable: ${code || cause?.message || e?.message || String(error)}`;
}
