import { describe, expect, it } from 'vitest';
import { testSpec } from '../../test/provisioner/support.ts';
import { setSizeBounds, type SizeBoundsChange } from './bounds.ts';
import { validateSpec } from './validate.ts';

const spec = validateSpec(
  testSpec('sb', 2, {
    nodeGroups: [
      { name: 'default', count: 2, flavor: 'm1.small' },
      { name: 'gpu', count: 1, minSize: 1, maxSize: 3, flavor: 'm1.small' },
    ],
  }),
);
const one = validateSpec(testSpec('one', 3));

describe("a node group's autoscaling bounds after create", () => {
  it('sets them, the one not given kept or at the count, and says whether the group is autoscaled', () => {
    const set = setSizeBounds(spec, { group: 'default', minSize: 1, maxSize: 4 });
    expect(set.spec.nodeGroups[0]).toMatchObject({ name: 'default', count: 2, minSize: 1, maxSize: 4 });
    expect(set).toMatchObject({ group: 'default', count: 2, autoscaled: { before: false, after: true } });
    // Nothing else moves.
    expect(set.spec.nodeGroups[1]).toBe(spec.nodeGroups[1]);
    expect({ ...set.spec, nodeGroups: [] }).toEqual({ ...spec, nodeGroups: [] });

    expect(setSizeBounds(spec, { group: 'gpu', maxSize: 5 }).spec.nodeGroups[1]).toMatchObject({
      minSize: 1,
      maxSize: 5,
    });
    expect(setSizeBounds(spec, { group: 'default', maxSize: 6 }).spec.nodeGroups[0]).toMatchObject({
      minSize: 2,
      maxSize: 6,
    });
    // Without `group`, the cluster's only group.
    expect(setSizeBounds(one, { minSize: 3, maxSize: 5 })).toMatchObject({ group: 'default', count: 3 });
    // min = max: not autoscaled any more.
    expect(setSizeBounds(spec, { group: 'gpu', minSize: 1, maxSize: 1 }).autoscaled).toEqual({
      before: true,
      after: false,
    });
  });

  it('brings the count into the new bounds: the nearest bound when it is outside', () => {
    expect(setSizeBounds(one, { minSize: 4, maxSize: 6 }).count).toBe(4);
    expect(setSizeBounds(one, { maxSize: 1 })).toMatchObject({
      count: 1,
      spec: { nodeGroups: [{ count: 3, minSize: 1, maxSize: 1 }] },
    });
    expect(setSizeBounds(one, { minSize: 5 }).spec.nodeGroups[0]).toMatchObject({ minSize: 5, maxSize: 5 });
    expect(setSizeBounds(one, { minSize: 0, maxSize: 0 }).count).toBe(0);
  });

  it('refuses bad bounds naming the field', () => {
    const cases: [SizeBoundsChange, string, RegExp][] = [
      [{ minSize: 2 }, 'group', /must name one of the node groups of sb: default, gpu/],
      [{ group: 'tpu', minSize: 2 }, 'group', /"tpu" is not a node group of sb; it has default, gpu/],
      [{ group: 'default' }, 'minSize', /minSize must be given, or maxSize, or both/],
      [{ group: 'default', minSize: -1 }, 'minSize', /from 0 to 1000, got -1/],
      [{ group: 'default', maxSize: 1.5 }, 'maxSize', /from 0 to 1000, got 1.5/],
      [{ group: 'default', maxSize: 1001 }, 'maxSize', /from 0 to 1000/],
      [{ group: 'default', minSize: 4, maxSize: 3 }, 'minSize', /minSize 4 leaves no size/],
      [{ group: 'gpu', maxSize: 0 }, 'maxSize', /maxSize 0 leaves no size: the minimum would be 1/],
      [{ group: 'gpu', minSize: 4 }, 'minSize', /minSize 4 leaves no size.*maximum 3/],
      // testSpec's node network is a /24: 248 addresses for servers.
      [
        { group: 'default', maxSize: 300 },
        'maxSize',
        /maxSize 300 is more than .*network.nodeCidr is too small/,
      ],
    ];
    for (const [change, field, message] of cases) {
      expect(() => setSizeBounds(spec, change), JSON.stringify(change)).toThrow(
        expect.objectContaining({ field, message: expect.stringMatching(message) }),
      );
    }
  });
});
