// Installs the npm dependencies when package-lock.json changed since the last install by this script.
// Native modules (better-sqlite3) build against Debian's Node headers when present, so nothing is
// downloaded from outside the npm registry.
import { execSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`kaas needs Node.js >= 20.19; this machine has ${process.versions.node}.`);
  process.exit(1);
}
const marker = 'node_modules/.kaas-installed';
const want = createHash('sha256').update(readFileSync('package-lock.json')).digest('hex');
if (!existsSync(marker) || readFileSync(marker, 'utf8') !== want) {
  const env = { ...process.env };
  if (existsSync('/usr/include/node/node.h')) env.npm_config_nodedir = '/usr';
  console.error('installing npm dependencies (npm ci)…');
  execSync('npm ci --no-audit --no-fund', { stdio: 'inherit', env });
  writeFileSync(marker, want);
}
