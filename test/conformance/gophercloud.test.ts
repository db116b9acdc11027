/**
 * gophercloud, the library openstack-cloud-controller-manager and Cinder CSI are built on, against
 * cloudsim and the lab: a Go program (test/conformance/gophercloud/, built from the Go module proxy)
 * makes the calls they make and prints one line per check. Both targets run every check and must
 * pass each one; a check that cannot run on a target fails there.
 */
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { targets } from './osc.ts';

/** One check's line, as the program prints it. */
interface CheckResult {
  check: string;
  ok: boolean;
  ms: number;
  error?: string;
}

const BUILD = fileURLToPath(new URL('./gophercloud/build.sh', import.meta.url));

/** The lab's load balancers and volumes take their time; each check has ten minutes in the program. */
const RUN_TIMEOUT = 900_000;

/** Builds the program (about a minute cold, reused after) and returns its path. */
function buildProgram(): string {
  return execFileSync('bash', [BUILD], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/** Runs the program with `env` (plus PATH and HOME) without blocking this process, where cloudsim may serve it. */
function runProgram(bin: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      args,
      {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
        maxBuffer: 16 * 1024 * 1024,
        timeout: RUN_TIMEOUT,
      },
      (error, stdout, stderr) =>
        error ? reject(new Error(`${bin} ${args.join(' ')}: ${error.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

describe.each(targets)('gophercloud against $name', (target) => {
  let bin = '';
  let names: string[] = [];
  let results: CheckResult[] = [];
  let stop: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    bin = buildProgram();
    names = (await runProgram(bin, ['-list'], {})).trim().split('\n');
    const started = await target.start();
    stop = started.stop;
    const out = await runProgram(bin, [], started.member);
    results = out
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as CheckResult);
    for (const r of results)
      console.log(`${target.name} ${r.check}: ${r.ok ? 'ok' : 'FAILED'} in ${r.ms} ms`);
  }, RUN_TIMEOUT + 120_000);

  afterAll(() => stop(), 60_000);

  it('runs every check and each passes', () => {
    expect(names.length).toBeGreaterThan(10);
    const byName = new Map(results.map((r) => [r.check, r]));
    expect(
      names.map((check) => ({ check, ok: byName.get(check)?.ok, error: byName.get(check)?.error })),
    ).toEqual(names.map((check) => ({ check, ok: true, error: undefined })));
  });
});
