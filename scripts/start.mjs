// `npm start`: installs the npm dependencies when needed, builds the control panel, then runs `kaas dev`.
import { execFileSync, spawn } from 'node:child_process';

execFileSync(process.execPath, ['scripts/ensure-deps.mjs'], { stdio: 'inherit' });
// The control panel is served from web/dist; build it (a few seconds) so it matches the sources.
execFileSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--logLevel', 'warn'], {
  stdio: 'inherit',
});
const child = spawn(process.execPath, ['bin/kaas.mjs', 'dev'], { stdio: 'inherit' });
child.on('exit', (code) => process.exit(code ?? 1));
