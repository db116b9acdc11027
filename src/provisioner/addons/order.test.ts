import { describe, expect, it } from 'vitest';
import type { KubernetesObject } from '../../addons/index.ts';
import { applyPhases, groupOf, phaseOf } from './order.ts';

const o = (apiVersion: string, kind: string, name = kind.toLowerCase()): KubernetesObject => ({
  apiVersion,
  kind,
  metadata: { name },
});

describe('apply order', () => {
  it('knows the core group', () => {
    expect(groupOf('v1')).toBe('');
    expect(groupOf('apps/v1')).toBe('apps');
  });

  it('phases namespaces and CRDs, RBAC, config, workloads, then custom resources', () => {
    expect(phaseOf(o('v1', 'Namespace'))).toBe(0);
    expect(phaseOf(o('apiextensions.k8s.io/v1', 'CustomResourceDefinition'))).toBe(0);
    expect(phaseOf(o('v1', 'ServiceAccount'))).toBe(1);
    expect(phaseOf(o('rbac.authorization.k8s.io/v1', 'RoleBinding'))).toBe(1);
    expect(phaseOf(o('v1', 'ConfigMap'))).toBe(2);
    expect(phaseOf(o('storage.k8s.io/v1', 'StorageClass'))).toBe(2);
    expect(phaseOf(o('apps/v1', 'DaemonSet'))).toBe(3);
    expect(phaseOf(o('batch/v1', 'CronJob'))).toBe(3);
    expect(phaseOf(o('velero.io/v1', 'Schedule'))).toBe(4);
  });

  it('groups by phase keeping the renderer order inside each phase', () => {
    const objects = [
      o('velero.io/v1', 'Schedule'),
      o('apps/v1', 'Deployment', 'b'),
      o('v1', 'ConfigMap'),
      o('apps/v1', 'Deployment', 'a'),
      o('v1', 'ServiceAccount'),
      o('v1', 'Namespace'),
    ];
    expect(applyPhases(objects).map((p) => p.map((x) => x.metadata.name))).toEqual([
      ['namespace'],
      ['serviceaccount'],
      ['configmap'],
      ['b', 'a'],
      ['schedule'],
    ]);
    expect(applyPhases([])).toEqual([]);
  });
});
