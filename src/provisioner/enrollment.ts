/**
 * Node enrollment: a node's user data carries a single-use, short-lived credential instead of its
 * join secrets and keys; at first boot the node trades it at kaas (`POST /enroll/<cluster id>`)
 * for them. The store holds the credential's hash and the answer sealed with a key derived from the
 * credential, so neither a leaked database nor a read of the user data after first boot (or after
 * the lifetime) yields the secrets.
 */
import { createHash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { parse } from 'yaml';
import type { Enrollment } from '../bootstrap/input.ts';
import { InputError } from '../errors.ts';
import type { Db } from '../store/db.ts';
import { insertEnrollment } from '../store/insertEnrollment.ts';
import { redeemEnrollment } from '../store/redeemEnrollment.ts';
import { open, seal } from './secretbox.ts';

/** How long a node may take from the render of its user data to its enrollment: one hour. */
export const DEFAULT_ENROLLMENT_TTL_MS = 60 * 60_000;

/** Stores the answer a node's enrollment gets (SaveEnrollment in production binds it to the store). */
export type SaveEnrollment = (enrollment: {
  clusterId: string;
  nodeName: string;
  credential: string;
  /** The answer (encodeEnrolledFiles), kept sealed under the credential. */
  files: string;
}) => Promise<void>;

/** A fresh credential: 32 random bytes, base64url. */
export function newEnrollmentCredential(): string {
  return randomBytes(32).toString('base64url');
}

function hashOf(credential: string): string {
  return createHash('sha256').update(credential).digest('hex');
}

function keyOf(credential: string): Buffer {
  return Buffer.from(hkdfSync('sha256', credential, '', 'kaas enrollment files', 32));
}

/**
 * Where a cluster's nodes enroll: the TokenReview webhook's kaas (its kubeconfig's server and CA),
 * at `/enroll/<cluster id>` beside `/tokenreview/<cluster id>`.
 */
export function enrollmentTarget(webhookKubeconfig: string): Omit<Enrollment, 'credential'> {
  const cluster = (
    parse(webhookKubeconfig) as {
      clusters?: { cluster?: { server?: string; 'certificate-authority-data'?: string } }[];
    }
  ).clusters?.[0]?.cluster;
  const server = cluster?.server ?? '';
  const url = server.replace(/\/tokenreview\/([^/]+)$/, '/enroll/$1');
  if (url === server) {
    throw new InputError('the webhook kubeconfig names no /tokenreview/<cluster> URL to enroll nodes at', {
      code: 'webhook_not_configured',
    });
  }
  const ca = cluster?.['certificate-authority-data'];
  return { url, ...(ca ? { caPem: Buffer.from(ca, 'base64').toString('utf8') } : {}) };
}

/** Saves enrollments in `db`, each valid for `ttlMs` from `now()`. */
export function enrollmentStore(db: Db, now: () => Date, ttlMs = DEFAULT_ENROLLMENT_TTL_MS): SaveEnrollment {
  return async ({ clusterId, nodeName, credential, files }) => {
    const at = now();
    await insertEnrollment({
      db,
      enrollment: {
        secret_hash: hashOf(credential),
        cluster_id: clusterId,
        node: nodeName,
        files: seal(keyOf(credential), files, `${clusterId}/${nodeName}`),
        created_at: at.toISOString(),
        expires_at: new Date(at.getTime() + ttlMs).toISOString(),
      },
    });
  };
}

/** Why an enrollment was refused (no detail beyond this reaches the caller). */
export type EnrollmentRefusal = 'unknown' | 'expired';

/**
 * Redeems `credential` for a node of `clusterId`: its files and node name, once. Unknown, already
 * redeemed or another cluster's credential is `unknown`; past its lifetime `expired` (and gone).
 */
export async function redeem(
  db: Db,
  now: Date,
  clusterId: string,
  credential: string,
): Promise<{ node: string; files: string } | { refused: EnrollmentRefusal }> {
  const secretHash = hashOf(credential);
  const row = await redeemEnrollment({ db, clusterId, secretHash });
  // The row was found by its hash; comparing again in constant time costs nothing and keeps
  // the check independent of how the database compares strings.
  if (!row || !timingSafeEqual(Buffer.from(row.secret_hash), Buffer.from(secretHash))) {
    return { refused: 'unknown' };
  }
  if (Date.parse(row.expires_at) <= now.getTime()) return { refused: 'expired' };
  return { node: row.node, files: open(keyOf(credential), row.files, `${clusterId}/${row.node}`) };
}
