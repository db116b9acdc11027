import { execFileSync } from 'node:child_process';

/**
 * Builds dist/cli (scripts/build.mjs, about a second) before any test runs, so tests that spawn
 * `bin/kaas.mjs` run the code under test, never an older build — also for `npx vitest run <file>`.
 */
export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
}
