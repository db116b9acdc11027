import { describe, expect, it } from 'vitest';
import { bootstrapInput } from '../../../test/bootstrap/fixtures.ts';
import { ADDONS } from '../../addons/index.ts';
import type { ClusterSpec } from '../../cluster/spec.ts';
import { addonContext } from './addons.ts';

const cloud = { authUrl: 'https://keystone.example:5000/v3', region: 'R' };
const { spec } = bootstrapInput('init');
const withBounds = (minSize: number, maxSize: number): ClusterSpec => ({
  ...spec,
  nodeGroups: spec.nodeGroups.map((g) => ({ ...g, minSize, maxSize })),
});
const wanted = (s: ClusterSpec, address?: string) =>
  ADDONS.find((a) => a.name === 'cluster-autoscaler')!.wanted!(
    addonContext(s, 'c1', cloud, undefined, address),
  );

describe('the cluster-autoscaler service', () => {
  it('is installed only when a group has maxSize above minSize and kaas serves the autoscaler', () => {
    const count = spec.nodeGroups[0]!.count;
    expect(wanted(withBounds(count, count + 2), 'kaas.example.com:9443')).toBe(true);
    expect(
      addonContext(withBounds(count, count + 2), 'c1', cloud, undefined, 'kaas.example.com:9443'),
    ).toMatchObject({
      autoscaler: { address: 'kaas.example.com:9443' },
    });
    expect(wanted(withBounds(count, count), 'kaas.example.com:9443')).toBe(false);
    expect(wanted(spec, 'kaas.example.com:9443')).toBe(false);
    expect(wanted(withBounds(count, count + 2))).toBe(false);
  });
});
