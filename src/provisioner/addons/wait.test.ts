import { describe, expect, it } from 'vitest';
import { pollUntil } from './wait.ts';

/** A fake clock that sleeping advances. */
function clock() {
  let t = 0;
  const slept: number[] = [];
  return {
    slept,
    deps: {
      now: () => new Date(t),
      sleep: async (ms: number) => {
        slept.push(ms);
        t += ms;
      },
    },
  };
}

describe('pollUntil', () => {
  it('returns true as soon as the check passes', async () => {
    const c = clock();
    let calls = 0;
    expect(await pollUntil(c.deps, 1000, 100, async () => ++calls === 3)).toBe(true);
    expect(c.slept).toEqual([100, 100]);
  });

  it('gives up at the deadline after a last look, never sleeping past it', async () => {
    const c = clock();
    let calls = 0;
    expect(await pollUntil(c.deps, 250, 100, async () => (++calls, false))).toBe(false);
    expect(c.slept).toEqual([100, 100, 50]);
    expect(calls).toBe(4);
  });

  it('looks once with a zero timeout', async () => {
    const c = clock();
    expect(await pollUntil(c.deps, 0, 100, async () => false)).toBe(false);
    expect(c.slept).toEqual([]);
  });
});
