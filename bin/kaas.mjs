#!/usr/bin/env node
// The kaas command: runs the build in dist/cli (`npm run build`; `npm start`, `npm test` and
// `npm pack` build it first). No TypeScript is compiled at run time.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(
    'kaas: this copy is not built (no dist/cli/main.js): run `npm run build` in it first\n',
  );
  process.exitCode = 1;
} else {
  await import(main.href);
}
