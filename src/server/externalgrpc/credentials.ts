/**
 * TLS of kaas's externalgrpc server: kaas's own server certificate, and client certificates checked
 * against the CAs of every cluster kaas runs (a bundle re-read every `refreshMs`, so a new cluster's
 * autoscaler is let in without a restart). A connection without a certificate from one of those CAs
 * fails in the TLS handshake. Which cluster a caller may act on is then read from its certificate
 * (`clusterOfPeer`): its subject names the cluster, and that cluster's own CA must have issued it
 * (any cluster's CA passes the handshake; only the named cluster's passes here).
 */
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { experimental, type ServerCredentials } from '@grpc/grpc-js';
import { AuthError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { AUTOSCALER_ORGANIZATION } from '../../provisioner/autoscale.ts';

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** Server credentials whose client CAs follow `cas()`; `refresh` re-reads them now. */
export interface ClusterCaCredentials {
  credentials: ServerCredentials;
  /** Re-reads the cluster CAs and hands the bundle to the TLS server when it changed. */
  refresh(): Promise<void>;
  /** The CA certificate (PEM) of cluster `id`, as last read. */
  caOf(id: string): string | undefined;
  stop(): void;
}

/**
 * Credentials for kaas's externalgrpc server. Resolves once the CAs were read (the server must not
 * listen before: it would drop every connection until then).
 */
export async function clusterCaCredentials(input: {
  identity: { certPem: string; keyPem: string };
  cas: () => Promise<Map<string, string>>;
  refreshMs: number;
  logger: Logger;
}): Promise<ClusterCaCredentials> {
  const caListeners = new Set<CaListener>();
  const identity = {
    certificate: Buffer.from(input.identity.certPem),
    privateKey: Buffer.from(input.identity.keyPem),
  };
  let known = new Map<string, string>();
  let bundle = '';
  // One provider gives both updates, so grpc-js' argument order does not matter.
  const provider: experimental.CertificateProvider = {
    addCaCertificateListener(listener) {
      caListeners.add(listener);
      process.nextTick(listener, { caCertificate: Buffer.from(bundle) });
    },
    removeCaCertificateListener: (listener) => caListeners.delete(listener),
    addIdentityCertificateListener(listener: IdentityListener) {
      process.nextTick(listener, identity);
    },
    removeIdentityCertificateListener: () => undefined,
  };
  async function refresh() {
    known = await input.cas();
    const next = [...known.values()].join('\n');
    if (next === bundle) return;
    bundle = next;
    for (const listener of caListeners) listener({ caCertificate: Buffer.from(bundle) });
  }
  await refresh();
  const timer = setInterval(() => {
    refresh().catch((error: unknown) =>
      input.logger.warn({ err: error }, 'cannot re-read the cluster CAs for the externalgrpc server'),
    );
  }, input.refreshMs);
  timer.unref();
  return {
    credentials: experimental.createCertificateProviderServerCredentials(provider, provider, true),
    refresh,
    caOf: (id) => known.get(id),
    stop: () => clearInterval(timer),
  };
}

/** One field of a certificate subject (node gives repeated fields as an array). */
function subjectField(subject: PeerCertificate['subject'] | undefined, key: 'O' | 'CN'): string | undefined {
  const value = (subject as Record<string, string | string[]> | undefined)?.[key];
  return Array.isArray(value) ? undefined : value;
}

/**
 * The cluster a caller's certificate is for: subject `O=kaas:autoscaler, CN=<cluster id>`, issued
 * by that cluster's CA. AuthError (`autoscaler_certificate_refused`) otherwise.
 */
export function clusterOfPeer(
  peer: PeerCertificate | undefined,
  caOf: (id: string) => string | undefined,
): string {
  const refuse = (why: string): never => {
    throw new AuthError(`client certificate refused: ${why}`, { code: 'autoscaler_certificate_refused' });
  };
  if (!peer?.raw) return refuse('none was presented');
  if (subjectField(peer.subject, 'O') !== AUTOSCALER_ORGANIZATION) {
    return refuse(`its subject is not O=${AUTOSCALER_ORGANIZATION}`);
  }
  const clusterId = subjectField(peer.subject, 'CN') ?? '';
  const caPem = caOf(clusterId);
  if (!caPem) return refuse(`no cluster ${JSON.stringify(clusterId)}`);
  const cert = new X509Certificate(peer.raw);
  const ca = new X509Certificate(caPem);
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) {
    return refuse(`cluster ${clusterId}'s CA did not issue it`);
  }
  return clusterId;
}
