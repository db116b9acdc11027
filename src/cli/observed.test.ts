import { describe, expect, it } from 'vitest';
import type { ObservedState } from '../provisioner/observe.ts';
import { describeObserved } from './observed.ts';

describe('describeObserved', () => {
  it('prints Ready/total per group and the kubelet versions the Nodes report', () => {
    expect(
      describeObserved({
        checkedAt: '2030-01-01T00:00:00.000Z',
        reachable: true,
        nodes: { ready: 3, total: 4 },
        groups: [
          { name: 'masters', ready: 1, total: 1, kubeletVersions: ['v1.36.2'] },
          { name: 'default', ready: 2, total: 3, kubeletVersions: ['v1.35.4', 'v1.36.2'] },
          { name: 'gpu', ready: 0, total: 0, kubeletVersions: [] },
        ],
      }),
    ).toEqual([
      'nodes 3/4 Ready (observed 2030-01-01T00:00:00.000Z)',
      '  masters  1/1 Ready  kubelet v1.36.2',
      '  default  2/3 Ready  kubelet v1.35.4, v1.36.2',
      '  gpu      0/0 Ready  kubelet -',
    ]);
  });

  /** An observation of an API that could not be read, with `extra` facts. */
  const unread = (extra: Partial<ObservedState>): ObservedState => ({
    checkedAt: '2030-01-01T00:00:00.000Z',
    reachable: false,
    nodes: { ready: 0, total: 0 },
    groups: [],
    ...extra,
  });

  it('says plainly that the API could not be reached, and why', () => {
    expect(describeObserved(unread({ reason: 'connect ECONNREFUSED 10.0.0.5:6443' }))).toEqual([
      'API unreachable: connect ECONNREFUSED 10.0.0.5:6443 (checked 2030-01-01T00:00:00.000Z)',
    ]);
  });

  it('says a cluster without a Kubernetes API has none, rather than calling it unreachable', () => {
    expect(
      describeObserved(
        unread({ noApi: true, reason: "the embedded cloud's servers do not boot Kubernetes" }),
      ),
    ).toEqual(["no Kubernetes API: the embedded cloud's servers do not boot Kubernetes"]);
  });

  it('says a cluster still being created has no API yet, rather than calling it unreachable', () => {
    expect(describeObserved(unread({ notYet: true, reason: 'the cluster is creating' }))).toEqual([
      'no API yet: the cluster is creating',
    ]);
  });
});
