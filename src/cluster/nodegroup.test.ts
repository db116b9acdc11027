import { describe, expect, it } from 'vitest';
import { clusterNames } from './names.ts';
import { CONTROL_PLANE_LABEL, MASTERS_GROUP, nodeGroupOf, OTHER_GROUP } from './nodegroup.ts';

const group = (name: string) => ({ name, count: 2, flavor: 'f', image: 'i', labels: {} });
const spec = { name: 'prod', nodeGroups: [group('default'), group('gpu'), group('gpu-big')] };
const names = clusterNames('prod');

describe('nodeGroupOf', () => {
  it('counts masters by name or by the control-plane label', () => {
    expect(nodeGroupOf(spec, names.master(0), {})).toBe(MASTERS_GROUP);
    expect(nodeGroupOf(spec, 'hand-made', { [CONTROL_PLANE_LABEL]: '' })).toBe(MASTERS_GROUP);
  });
  it('finds the worker group by its server name, not confusing groups sharing a prefix', () => {
    expect(nodeGroupOf(spec, names.worker('default', 3), {})).toBe('default');
    expect(nodeGroupOf(spec, names.worker('gpu', 0), {})).toBe('gpu');
    expect(nodeGroupOf(spec, names.worker('gpu-big', 12), {})).toBe('gpu-big');
  });
  it('puts nodes of no group (another cluster, by hand) under other', () => {
    expect(nodeGroupOf(spec, 'kaas-prod-gone-0', {})).toBe(OTHER_GROUP);
    expect(nodeGroupOf(spec, 'kaas-test-default-0', {})).toBe(OTHER_GROUP);
    expect(nodeGroupOf(spec, 'kaas-prod-default-x', {})).toBe(OTHER_GROUP);
  });
  it('matches hashed long names exactly', () => {
    const long = { name: 'a'.repeat(40), nodeGroups: [group('g'.repeat(30))] };
    const n = clusterNames(long.name).worker('g'.repeat(30), 7);
    expect(n.length).toBeLessThanOrEqual(63);
    expect(nodeGroupOf(long, n, {})).toBe('g'.repeat(30));
  });
});
