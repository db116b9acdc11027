import { describe, expect, it } from 'vitest';
import { createLogger } from '../log.ts';
import type { RunOutcome } from '../provisioner/engine.ts';
import { startWorkerLoop } from './worker.ts';

const logger = createLogger({ level: 'silent' });
const outcome = (jobId: string): RunOutcome => ({ jobId, state: 'succeeded', error: null });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('job worker loop', () => {
  it('runs jobs back to back and polls every idleMs when none is runnable', async () => {
    const queue = ['j1', 'j2'];
    const calls: number[] = [];
    const loop = startWorkerLoop({
      engine: {
        runNext: async () => {
          calls.push(Date.now());
          const id = queue.shift();
          return id === undefined ? undefined : outcome(id);
        },
      },
      logger,
      idleMs: 40,
    });
    await sleep(150);
    expect(await loop.stop(1_000)).toBe('stopped');
    // Two jobs without waiting, then idle polls about 40 ms apart.
    expect(calls.length).toBeGreaterThanOrEqual(4);
    expect(calls.length).toBeLessThanOrEqual(7);
    expect((calls[1] as number) - (calls[0] as number)).toBeLessThan(30);
    expect((calls[3] as number) - (calls[2] as number)).toBeGreaterThanOrEqual(35);
  });

  it('stop wakes an idle loop at once and lets the job in hand finish', async () => {
    let finish: (() => void) | undefined;
    let claims = 0;
    const loop = startWorkerLoop({
      engine: {
        runNext: () => {
          claims++;
          return new Promise<RunOutcome | undefined>((resolve) => {
            finish = () => resolve(outcome('j1'));
          });
        },
      },
      logger,
      idleMs: 60_000,
    });
    await sleep(10);
    const stopping = loop.stop(5_000);
    await sleep(20);
    finish?.();
    expect(await stopping).toBe('stopped');
    expect(claims).toBe(1);

    const idle = startWorkerLoop({ engine: { runNext: async () => undefined }, logger, idleMs: 60_000 });
    await sleep(10);
    const started = Date.now();
    expect(await idle.stop(5_000)).toBe('stopped');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('gives up on a job that outlasts the grace period', async () => {
    const loop = startWorkerLoop({
      engine: { runNext: () => new Promise<RunOutcome | undefined>(() => undefined) },
      logger,
      idleMs: 10,
    });
    await sleep(10);
    expect(await loop.stop(50)).toBe('abandoned');
  });

  it('logs a failing claim and keeps polling', async () => {
    const lines: string[] = [];
    const sink = createLogger({
      level: 'error',
      destination: {
        write: (line: string) => lines.push(line),
      } as unknown as NodeJS.WritableStream,
    });
    let calls = 0;
    const loop = startWorkerLoop({
      engine: {
        runNext: async () => {
          calls++;
          if (calls === 1) throw new Error('connection refused');
          return undefined;
        },
      },
      logger: sink,
      idleMs: 10,
    });
    await sleep(80);
    expect(await loop.stop(1_000)).toBe('stopped');
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(lines.join('')).toContain('claiming or running a job failed');
    expect(lines.join('')).toContain('connection refused');
  });
});
