// `npm start`: installs the npm dependencies when needed, then runs `kaas dev`.
import { execFileSync, spawn } from 'node:child_process';

execFileSync(process.execPath, ['scripts/ensure-deps.mjs'], { stdio: 'inherit' });
const child = spawn(process.execPath, ['bin/kaas.mjs', 'dev'], { stdio: 'inherit' });
child.on('exit', (code) => process.exit(code ?? 1));
