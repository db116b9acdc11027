import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Builds dist/cli (scripts/build.mjs, about a second) before any test runs, so tests that spawn
 * `bin/kaas.mjs` run the code under test, never an older build — also for `npx vitest run <file>`.
 */
export default function setup(): void {
  const script = fileURLToPath(new URL('../../scripts/build.mjs', import.meta.url));
  execFileSync(process.execPath, [script], { stdio: 'inherit' });
}
