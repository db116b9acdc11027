// `npm run build` (JavaScript part): bundles the CLI, and with it the server `kaas serve` runs, into
// dist/cli with esbuild. npm packages stay external (node_modules at run time); every command is
// its own chunk, loaded by src/cli/main.ts only when that command runs.
//
// Safe to run while another process runs the previous build (two vitest runs in one tree): files
// whose bytes did not change are left alone, new ones are written beside the old ones and renamed
// into place, and the entry (main.js) is replaced last.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Same depth as src/cli, so the sources' `new URL('../../web/dist', import.meta.url)` still finds the panel.
const outdir = join(root, 'dist', 'cli');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/cli/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  // npm packages load from node_modules at run time, except commander, which every command starts
  // with: bundled, it skips Node's CommonJS loader (a third of `kaas credential`'s start-up).
  external: Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter(
    (name) => name !== 'commander',
  ),
  // commander is CommonJS: its require() of Node's own modules needs a require in an ES module.
  banner: {
    js: "import { createRequire as kaasCreateRequire } from 'node:module';\nconst require = kaasCreateRequire(import.meta.url);",
  },
  sourcemap: 'linked',
  write: false,
  logLevel: 'warning',
});

mkdirSync(outdir, { recursive: true });
const unchanged = (path, contents) => {
  try {
    return Buffer.compare(readFileSync(path), contents) === 0;
  } catch {
    return false;
  }
};
const place = (file) => {
  if (unchanged(file.path, file.contents)) return;
  const temporary = `${file.path}.${process.pid}.tmp`;
  writeFileSync(temporary, file.contents);
  renameSync(temporary, file.path);
};
// Files the sources read next to themselves (`new URL('./x', import.meta.url)`) sit next to the chunks.
const besideSources = ['src/server/externalgrpc/externalgrpc.proto'].map((source) => ({
  path: join(outdir, basename(source)),
  contents: readFileSync(join(root, source)),
}));
const entry = join(outdir, 'main.js');
for (const file of [...besideSources, ...result.outputFiles]) if (file.path !== entry) place(file);
for (const file of result.outputFiles) if (file.path === entry) place(file);
// Chunks of older builds: nothing imports them any more.
const wanted = new Set([...besideSources, ...result.outputFiles].map((f) => basename(f.path)));
for (const name of readdirSync(outdir))
  if (!wanted.has(name) && !name.endsWith('.tmp')) rmSync(join(outdir, name));
