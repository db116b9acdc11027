// `npm start`: installs the npm dependencies when needed, builds kaas (dist/cli) and the control
// panel (web/dist) so they match the sources, then runs `kaas dev`.
import { execFileSync, spawn } from 'node:child_process';

execFileSync(process.execPath, ['scripts/ensure-deps.mjs'], { stdio: 'inherit' });
execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
execFileSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--logLevel', 'warn'], {
  stdio: 'inherit',
});
// `npm start -- --reset` passes its arguments on to kaas dev.
const child = spawn(process.execPath, ['bin/kaas.mjs', 'dev', ...process.argv.slice(2)], {
  stdio: 'inherit',
});
child.on('exit', (code) => process.exit(code ?? 1));
