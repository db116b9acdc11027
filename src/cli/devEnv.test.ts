import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sourcedEnv } from '../../test/support/shellEnv.ts';
import { loadCloudConfig } from '../openstack/index.ts';
import { DEV_CLOUD, writeDevEnv } from './devEnv.ts';

describe('kaas dev env files', () => {
  it('writes clouds.yaml and env (0600) that a shell and the cloud loader read back', () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), "kaas-dev env 'q'-")), '.kaas');
    mkdirSync(dataDir);
    const envFile = writeDevEnv({
      dataDir,
      kaasUrl: 'http://127.0.0.1:8080',
      authUrl: 'http://127.0.0.1:5000/v3',
      user: { name: 'admin', password: 'admin', project: 'demo' },
      specDefaults: { KUBE_IMAGE: 'debian-12' },
      cli: { node: process.execPath, script: join(dataDir, "kaas 'cli'.mjs") },
    });
    expect(envFile).toBe(join(dataDir, 'env'));
    for (const file of ['env', 'clouds.yaml']) expect(statSync(join(dataDir, file)).mode & 0o777).toBe(0o600);
    // Sourced by a real shell, even from a path with spaces and quotes.
    const vars = sourcedEnv(envFile);
    expect(vars).toMatchObject({
      KAAS_URL: 'http://127.0.0.1:8080',
      KAAS_CONFIG_DIR: join(dataDir, 'cli'),
      OS_CLOUD: DEV_CLOUD,
      OS_CLIENT_CONFIG_FILE: join(dataDir, 'clouds.yaml'),
      KAAS_DATABASE_URL: `sqlite:${join(dataDir, 'kaas.db')}`,
      KAAS_SECRET_KEY_FILE: join(dataDir, 'secret.key'),
      KAAS_WAIT_FOR_API: 'false',
      KUBE_IMAGE: 'debian-12',
    });
    const config = loadCloudConfig({ env: vars, cwd: tmpdir(), home: tmpdir() });
    expect(config).toMatchObject({
      cloudName: DEV_CLOUD,
      auth: { authUrl: 'http://127.0.0.1:5000/v3', username: 'admin', projectName: 'demo' },
    });
    expect(readFileSync(join(dataDir, 'clouds.yaml'), 'utf8')).toContain('password: admin');
    // `kaas` on PATH, once however often the file is sourced, runs the given script with its arguments.
    writeFileSync(join(dataDir, "kaas 'cli'.mjs"), 'console.log(JSON.stringify(process.argv.slice(2)));\n');
    expect(statSync(join(dataDir, 'bin', 'kaas')).mode & 0o777).toBe(0o700);
    const twice = execFileSync(
      'sh',
      ['-c', '. "$1" && . "$1" && echo "$PATH" && kaas a "b c"', 'sh', envFile],
      {
        env: { PATH: '/usr/bin:/bin' },
        encoding: 'utf8',
      },
    ).split('\n');
    expect(twice[0]).toBe(`${join(dataDir, 'bin')}:/usr/bin:/bin`);
    expect(twice[1]).toBe('["a","b c"]');
  });
});
