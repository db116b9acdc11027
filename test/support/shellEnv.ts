import { execFileSync } from 'node:child_process';

/** The variables a real shell has after `. file` (what `source .kaas/env` gives a user), on a bare PATH. */
export function sourcedEnv(file: string): Record<string, string> {
  const printed = execFileSync('sh', ['-c', '. "$1" && env -0', 'sh', file], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    encoding: 'utf8',
  });
  return Object.fromEntries(
    printed
      .split('\0')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}
