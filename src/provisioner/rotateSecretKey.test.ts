import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { describeOnEngines } from '../../test/support/databases.ts';
import { sealV1 } from '../../test/support/sealV1.ts';
import { findClusterSecret } from '../store/findClusterSecret.ts';
import { insertClusterSecret } from '../store/insertClusterSecret.ts';
import { rotateSecretKey } from './rotateSecretKey.ts';
import { open, seal, sealedKeyId, secretKeyId } from './secretbox.ts';

const NOW = '2030-01-01T00:00:00.000Z';

describeOnEngines('secret key rotation', ({ store }) => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const keys = { current: newKey, previous: oldKey };

  it('re-seals every secret under the new key, old records without a key id included; a rerun changes nothing', async () => {
    const { db } = store();
    // More than one page (200), to cover the paging.
    for (let i = 0; i < 205; i++) {
      const id = `c${String(i).padStart(3, '0')}`;
      const sealed =
        i % 3 === 0
          ? sealV1(oldKey, `material ${id}`, id)
          : seal(i % 3 === 1 ? oldKey : newKey, `material ${id}`, id);
      await insertClusterSecret({ db, clusterId: id, sealed, now: NOW });
    }
    const current = await findClusterSecret({ db, clusterId: 'c002' });
    expect(await rotateSecretKey({ db, keys })).toEqual({
      keyId: secretKeyId(newKey),
      resealed: 137,
      alreadyCurrent: 68,
      skipped: 0,
      failed: [],
    });
    for (const id of ['c000', 'c001', 'c002', 'c204']) {
      const sealed = (await findClusterSecret({ db, clusterId: id }))!;
      expect(sealedKeyId(sealed)).toBe(secretKeyId(newKey));
      // The new key alone now opens it: KAAS_SECRET_KEY_PREVIOUS can go.
      expect(open(newKey, sealed, id)).toBe(`material ${id}`);
    }
    expect(await findClusterSecret({ db, clusterId: 'c002' })).toBe(current);
    expect(await rotateSecretKey({ db, keys })).toMatchObject({ resealed: 0, alreadyCurrent: 205 });
  });

  it('reports a record under an unknown key and leaves it, while rotating the others', async () => {
    const { db } = store();
    const stranger = seal(randomBytes(32), 'lost', 'c1');
    await insertClusterSecret({ db, clusterId: 'c1', sealed: stranger, now: NOW });
    await insertClusterSecret({ db, clusterId: 'c2', sealed: seal(oldKey, 'kept', 'c2'), now: NOW });
    const report = await rotateSecretKey({ db, keys });
    expect(report).toMatchObject({ resealed: 1, alreadyCurrent: 0 });
    expect(report.failed).toEqual([
      {
        clusterId: 'c1',
        code: 'secret_key_mismatch',
        message: expect.stringContaining(`sealed with key id ${sealedKeyId(stranger)}`),
      },
    ]);
    expect(await findClusterSecret({ db, clusterId: 'c1' })).toBe(stranger);
    expect(open(newKey, (await findClusterSecret({ db, clusterId: 'c2' }))!, 'c2')).toBe('kept');
  });
});
