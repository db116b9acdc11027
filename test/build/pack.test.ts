/**
 * The installable CLI: `npm pack` makes a tarball that `npm install -g` puts on PATH as `kaas`, and
 * the installed copy answers kubectl (`kaas credential`) and `kaas --help`. The install is a real
 * one (dependencies from the npm cache `npm ci` filled, else the registry), so it is slow on a busy
 * machine; nothing else in the suite depends on it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { writeClientConfig } from '../../src/auth/clientConfig.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kaas-pack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const npm = (args: string[]) =>
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: ROOT,
    encoding: 'utf8',
    // Not the settings of an `npm test` around this run (npm exports them as npm_config_*).
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name))),
      npm_config_update_notifier: 'false',
    },
  });

describe('npm pack', () => {
  it(
    'makes a tarball that installs kaas on PATH; the installed kaas answers kubectl',
    { timeout: 900_000 },
    () => {
      // dist/cli is fresh (vitest's globalSetup built it); prepack's `npm run build` would also rebuild
      // web/dist under other tests' feet, so it is skipped here and checked by what the tarball holds.
      const [packed] = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', dir])) as {
        filename: string;
        files: { path: string }[];
      }[];
      const files = packed!.files.map((f) => f.path);
      expect(files).toEqual(expect.arrayContaining(['bin/kaas.mjs', 'dist/cli/main.js', 'package.json']));
      for (const chunk of readdirSync(join(ROOT, 'dist', 'cli')))
        expect(files).toContain(`dist/cli/${chunk}`);
      expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);

      const prefix = join(dir, 'prefix');
      npm(['install', '--global', '--prefix', prefix, '--prefer-offline', join(dir, packed!.filename)]);
      const bin = join(prefix, 'bin');
      expect(existsSync(join(bin, 'kaas'))).toBe(true);

      const config = join(dir, 'config');
      const env = { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH}`, KAAS_CONFIG_DIR: config };
      const kaas = (...args: string[]) => spawnSync('kaas', args, { env, encoding: 'utf8', cwd: dir });

      const help = kaas('--help');
      expect(help.status).toBe(0);
      for (const command of ['dev', 'login', 'token', 'credential', 'cluster', 'serve'])
        expect(help.stdout).toContain(command);

      const notLoggedIn = kaas('credential');
      expect(notLoggedIn.status).toBe(3);
      expect(notLoggedIn.stderr).toMatch(/not logged in: run `kaas login` first \(not_logged_in\)/);

      writeClientConfig(config, {
        url: 'https://kaas.example.com',
        token: 'kaas_installed',
        tokenId: 'tok-1',
        expiresAt: '2099-01-01T00:00:00.000Z',
        user: { id: 'u1', name: 'alice', domain: 'Default' },
      });
      const credential = kaas('credential', '--cluster', 'c1');
      expect(credential.status).toBe(0);
      expect(JSON.parse(credential.stdout)).toEqual({
        apiVersion: 'client.authentication.k8s.io/v1',
        kind: 'ExecCredential',
        status: { token: 'kaas_installed', expirationTimestamp: '2099-01-01T00:00:00.000Z' },
      });
    },
  );
});
