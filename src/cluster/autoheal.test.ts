import { describe, expect, it } from 'vitest';
import { testSpec } from '../../test/provisioner/support.ts';
import { describeAutoHeal, keepAutoHeal, setAutoHeal } from './autoheal.ts';
import { healPolicy } from './heal.ts';
import type { ClusterSpec } from './spec.ts';
import { validateSpec } from './validate.ts';

const spec = validateSpec(
  testSpec('sw', 2, {
    nodeGroups: [
      { name: 'default', count: 2, flavor: 'm1.small' },
      { name: 'gpu', count: 1, flavor: 'm1.small' },
    ],
  }),
);
const group = (s: ClusterSpec, name: string) => s.nodeGroups.find((g) => g.name === name)!;

describe('the auto-heal switches', () => {
  it('turn healing off and on for the cluster or one group, as healPolicy reads them', () => {
    const off = setAutoHeal(spec, { autoHeal: false });
    expect(off.autoHeal).toBe(false);
    expect(healPolicy(off, group(off, 'default')).enabled).toBe(false);
    expect(setAutoHeal(off, { autoHeal: true }).autoHeal).toBe(true);

    const gpuOff = setAutoHeal(spec, { autoHeal: false, group: 'gpu' });
    expect(healPolicy(gpuOff, group(gpuOff, 'gpu')).enabled).toBe(false);
    expect(healPolicy(gpuOff, group(gpuOff, 'default')).enabled).toBe(true);
    expect(group(gpuOff, 'default')).toBe(group(spec, 'default'));
    // Nothing else of the spec moves.
    expect({ ...gpuOff, nodeGroups: [] }).toEqual({ ...spec, nodeGroups: [] });
  });

  it('refuse a group the cluster does not have, naming the field and the groups it has', () => {
    expect(() => setAutoHeal(spec, { autoHeal: false, group: 'masters' })).toThrow(
      expect.objectContaining({
        field: 'group',
        code: 'group_not_found',
        message: expect.stringContaining('(it has default, gpu)'),
      }),
    );
  });

  it("are kept when a job that started before the flip finishes, with the job's own changes", () => {
    // A resize of default to 5 planned from the spec before the admin turned gpu and the cluster off.
    const resized: ClusterSpec = {
      ...spec,
      nodeGroups: spec.nodeGroups.map((g) => (g.name === 'default' ? { ...g, count: 5 } : g)),
    };
    const stored = setAutoHeal(setAutoHeal(spec, { autoHeal: false, group: 'gpu' }), { autoHeal: false });
    const kept = keepAutoHeal(resized, stored);
    expect(kept.autoHeal).toBe(false);
    expect(group(kept, 'gpu').autoHeal).toBe(false);
    expect(group(kept, 'default').count).toBe(5);
    // Switched back on (explicitly) while the job ran: the job's absent switch does not win either.
    expect(keepAutoHeal(stored, setAutoHeal(stored, { autoHeal: true })).autoHeal).toBe(true);
    // Nothing flipped: the job's spec as it is.
    expect(keepAutoHeal(resized, spec)).toEqual(resized);
  });

  it('read as on, off, or on with the groups that are off', () => {
    expect(describeAutoHeal(spec)).toBe('on');
    expect(describeAutoHeal(setAutoHeal(spec, { autoHeal: false }))).toBe('off');
    expect(describeAutoHeal(setAutoHeal(spec, { autoHeal: false, group: 'gpu' }))).toBe(
      'on (off for group gpu)',
    );
  });
});
