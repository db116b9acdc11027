import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.ts';
import { restorePlan } from './backups.ts';

describe('restorePlan', () => {
  it('describes the restore steps in order with a Velero Restore', () => {
    const plan = restorePlan({ backupName: 'daily-20250101030000' });
    expect(plan.map((s) => s.step)).toEqual(['check-backup', 'create-restore', 'wait-restore', 'verify']);
    expect(plan[1]!.object).toEqual({
      apiVersion: 'velero.io/v1',
      kind: 'Restore',
      metadata: {
        name: 'restore-daily-20250101030000',
        namespace: 'kaas-system',
        labels: {
          'app.kubernetes.io/managed-by': 'kaas',
          'app.kubernetes.io/name': 'velero',
          'kaas.io/addon': 'backups',
        },
      },
      spec: {
        backupName: 'daily-20250101030000',
        includedNamespaces: ['*'],
        excludedNamespaces: ['kaas-system', 'kube-system'],
        restorePVs: true,
        existingResourcePolicy: 'none',
      },
    });
  });

  it('is deterministic', () => {
    expect(JSON.stringify(restorePlan({ backupName: 'b1' }))).toBe(
      JSON.stringify(restorePlan({ backupName: 'b1' })),
    );
  });

  it('rejects names that are not Velero backup names', () => {
    expect(() => restorePlan({ backupName: 'Bad Name' })).toThrow(InputError);
    expect(() => restorePlan({ backupName: '' })).toThrow(InputError);
  });
});
