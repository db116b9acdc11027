import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

/** First-load budget for the control panel: gzipped JS referenced by index.html. */
const FIRST_LOAD_BUDGET_BYTES = 250 * 1024;

/**
 * Prints the gzipped size of the JavaScript a browser fetches on the first load (the entry script
 * plus its modulepreloads, as index.html references them) and fails the build over budget, so
 * bundle growth is seen at review time rather than by users.
 */
function firstLoadSize(): Plugin {
  let outDir = '';
  return {
    name: 'kaas-first-load-size',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      const html = readFileSync(join(outDir, 'index.html'), 'utf8');
      const scripts = [
        ...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="([^"]+\.js)"/g),
      ].map((m) => m[1] as string);
      let total = 0;
      for (const src of scripts) {
        const size = gzipSync(readFileSync(join(outDir, src.replace(/^\//, '')))).length;
        total += size;
        console.log(`  ${src}  ${(size / 1024).toFixed(1)} KB gzipped`);
      }
      const verdict = total <= FIRST_LOAD_BUDGET_BYTES ? 'within' : 'OVER';
      console.log(
        `first-load JS: ${(total / 1024).toFixed(1)} KB gzipped (${verdict} the ${FIRST_LOAD_BUDGET_BYTES / 1024} KB budget)`,
      );
      if (total > FIRST_LOAD_BUDGET_BYTES) throw new Error('control panel first-load JS is over budget');
    },
  };
}

/**
 * Control panel build: sources in web/, output in web/dist (served by src/server/routes/static.ts).
 * A build is always a production build, even when started from a test runner that set NODE_ENV=test
 * (which would otherwise mix the development JSX transform with production React).
 */
export default defineConfig(({ command }) => ({
  root: 'web',
  base: '/',
  publicDir: 'public',
  plugins: [firstLoadSize()],
  oxc: { jsx: { runtime: 'automatic', development: command === 'serve' } },
  define: command === 'build' ? { 'process.env.NODE_ENV': JSON.stringify('production') } : {},
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: {
    proxy: { '/api': process.env.KAAS_URL ?? 'http://127.0.0.1:8080' },
  },
}));
