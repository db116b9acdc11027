/**
 * The build vitest's globalSetup made (scripts/build.mjs → dist/cli): what each command loads, and
 * bin/kaas.mjs in a copy that was never built.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = join(ROOT, 'dist', 'cli');

/** The packages and dist files `file` loads before running anything: its static imports, transitively. */
function staticGraph(file: string, seen = { files: new Set<string>(), packages: new Set<string>() }) {
  if (seen.files.has(file)) return seen;
  seen.files.add(file);
  const code = readFileSync(join(DIST, file), 'utf8');
  // esbuild's output: `import {…} from "x";` and `import "x";` (dynamic import() is what stays lazy).
  for (const m of code.matchAll(/^(?:import|export)\b(?:[^;"]*?\bfrom\s*)?\s*"([^"]+)";/gm)) {
    const spec = m[1]!;
    if (spec.startsWith('./')) staticGraph(spec.slice(2), seen);
    else if (!spec.startsWith('node:'))
      seen.packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
  }
  return seen;
}

/** The chunk main.js imports for a command (`import("./credential-XXXX.js")`). */
function commandChunk(name: string): string {
  const main = readFileSync(join(DIST, 'main.js'), 'utf8');
  const chunk = new RegExp(`import\\("\\./(${name}-[A-Z0-9]+\\.js)"\\)`).exec(main)?.[1];
  if (!chunk) throw new Error(`main.js does not load a ${name} chunk`);
  return chunk;
}

const HEAVY = [
  'fastify',
  'kysely',
  'pg',
  'better-sqlite3',
  '@kubernetes/client-node',
  'undici',
  'pino',
  'prom-client',
];

describe('the compiled CLI', () => {
  it('loads no npm package to start (commander is bundled), and only the saved login for kaas credential', () => {
    expect([...staticGraph('main.js').packages]).toEqual([]);
    const credential = staticGraph(commandChunk('credential'), staticGraph('main.js'));
    expect([...credential.packages]).toEqual([]);
    // The server and the store are there, in the chunks of the commands that need them.
    const serve = staticGraph(commandChunk('serve'));
    expect([...serve.packages]).toEqual(
      expect.arrayContaining(['fastify', 'kysely', 'pg', 'better-sqlite3']),
    );
    expect(HEAVY.filter((p) => credential.packages.has(p))).toEqual([]);
  });

  it('refuses to run from a copy that was never built, saying how to build it', () => {
    const copy = mkdtempSync(join(tmpdir(), 'kaas-unbuilt-'));
    try {
      mkdirSync(join(copy, 'bin'));
      copyFileSync(join(ROOT, 'bin', 'kaas.mjs'), join(copy, 'bin', 'kaas.mjs'));
      const run = spawnSync(process.execPath, [join(copy, 'bin', 'kaas.mjs'), 'credential'], {
        encoding: 'utf8',
      });
      expect(run.status).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/not built .*npm run build/);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
