import { describe, expect, it } from 'vitest';
import { OpenStackError } from '../../openstack/index.ts';
import type { StepContext } from '../engine.ts';
import { mapLimit, outputOf, poll, single, withRetries, type ExecDeps } from './context.ts';

const ctx = (outputs: Record<string, unknown> = {}): StepContext => ({
  job: {} as StepContext['job'],
  previousOutput: undefined,
  outputs: new Map(Object.entries(outputs)),
  signal: new AbortController().signal,
  checkpoint: async () => undefined,
  event: async () => undefined,
});
const unavailable = () =>
  new OpenStackError('nova 503', {
    code: 'openstack_unavailable',
    service: 'compute',
    method: 'POST',
    url: 'x',
  });

describe('step helpers', () => {
  it('retries transient OpenStack failures and gives up after the limit', async () => {
    let calls = 0;
    const deps = { sleep: async () => undefined, ctx: ctx() };
    expect(
      await withRetries(deps, 'x', async () => (++calls < 3 ? Promise.reject(unavailable()) : 'ok')),
    ).toBe('ok');
    await expect(withRetries(deps, 'x', () => Promise.reject(unavailable()), 2)).rejects.toThrow('nova 503');
    await expect(withRetries(deps, 'x', () => Promise.reject(new Error('bug')))).rejects.toThrow('bug');
  });
  it('starts no attempt once the job signal aborted, even mid-backoff', async () => {
    const controller = new AbortController();
    const calls: number[] = [];
    const deps = {
      // The lease is lost while the step backs off between two attempts.
      sleep: async () => controller.abort(),
      ctx: { ...ctx(), signal: controller.signal },
    };
    await expect(
      withRetries(deps, 'create server', async () => {
        calls.push(calls.length);
        throw unavailable();
      }),
    ).rejects.toMatchObject({ code: 'aborted', message: expect.stringContaining('create server') });
    expect(calls).toHaveLength(1);
    await expect(withRetries(deps, 'again', async () => 'never')).rejects.toMatchObject({ code: 'aborted' });
  });
  it('refuses twins and missing outputs', () => {
    expect(() => single([{ id: 'a' }, { id: 'b' }], 'network', 'n')).toThrow(/found 2 networks named n/);
    expect(() => outputOf({ ctx: ctx() }, 'network')).toThrow(/no output/);
  });
  it('times out a poll with the thing it waited for', async () => {
    let t = 0;
    const deps = {
      now: () => new Date((t += 1000)),
      sleep: async () => undefined,
      waitTimeoutMs: 2500,
      pollIntervalMs: 1,
      ctx: ctx(),
    } as unknown as ExecDeps;
    await expect(poll(deps, 'servers to boot', async () => undefined)).rejects.toMatchObject({
      code: 'wait_timeout',
      message: expect.stringContaining('servers to boot'),
    });
  });
  it('bounds concurrency and reports the first failure after all settle', async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    const work = async (n: number) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 2));
      running--;
      seen.push(n);
      if (n === 3) throw new Error('three');
      return n;
    };
    await expect(mapLimit([1, 2, 3, 4, 5, 6], 2, work)).rejects.toThrow('three');
    expect(peak).toBe(2);
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
