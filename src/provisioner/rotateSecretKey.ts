import { KaasError } from '../errors.ts';
import type { Db } from '../store/db.ts';
import { listClusterSecrets } from '../store/listClusterSecrets.ts';
import { replaceClusterSecret } from '../store/replaceClusterSecret.ts';
import { open, seal, sealedKeyId, secretKeyId, type SecretKeys } from './secretbox.ts';

/** What a rotation did: how many secrets it re-sealed, found already current, or could not open. */
export interface RotationReport {
  keyId: string;
  resealed: number;
  alreadyCurrent: number;
  /** Rows that changed or vanished while being re-sealed (a cluster deleted meanwhile); left as they are. */
  skipped: number;
  failed: { clusterId: string; code: string; message: string }[];
}

const PAGE = 200;

/**
 * Re-seals every stored cluster secret under `keys.current`: each is opened with the key its id
 * names (current or previous; one without an id with either) and written back under the current
 * key, row by row, so replicas keep opening every row throughout (they hold both keys). Idempotent:
 * rows already under the current key are left alone, so a rerun finishes an interrupted rotation.
 * A row no held key opens is reported, never changed.
 */
export async function rotateSecretKey({ db, keys }: { db: Db; keys: SecretKeys }): Promise<RotationReport> {
  const keyId = secretKeyId(keys.current);
  const report: RotationReport = { keyId, resealed: 0, alreadyCurrent: 0, skipped: 0, failed: [] };
  let after: string | undefined;
  for (;;) {
    const page = await listClusterSecrets({ db, after, limit: PAGE });
    for (const { clusterId, sealed } of page) {
      if (sealedKeyId(sealed) === keyId) {
        report.alreadyCurrent++;
        continue;
      }
      let plaintext: string;
      try {
        plaintext = open(keys, sealed, clusterId);
      } catch (error) {
        if (!(error instanceof KaasError)) throw error;
        report.failed.push({ clusterId, code: error.code, message: error.message });
        continue;
      }
      const replaced = await replaceClusterSecret({
        db,
        clusterId,
        previous: sealed,
        sealed: seal(keys, plaintext, clusterId),
      });
      if (replaced) report.resealed++;
      else report.skipped++;
    }
    if (page.length < PAGE) return report;
    after = page[page.length - 1]!.clusterId;
  }
}
