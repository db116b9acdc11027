/**
 * Checks rendered bootstrap data with the real validators from Debian 12:
 *   cloud-init (22.4) `cloud-init schema --config-file`  — apt package `cloud-init`
 *   ignition   (2.14) `ignition-validate`                — apt package `ignition`
 * cloud-init 22.4 does not flag unknown top-level keys, so those are also checked against the
 * schema file the same package installs. A missing tool fails the suite, naming the package.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createCa } from '../../src/auth/pki.ts';
import { renderCloudConfig } from '../../src/bootstrap/cloudinit.ts';
import { renderIgnition } from '../../src/bootstrap/ignition.ts';
import type { NodeRole } from '../../src/bootstrap/input.ts';
import { KUBERNETES_RELEASES } from '../../src/versions/index.ts';
import { bootstrapInput } from './fixtures.ts';

const CLOUD_INIT_SCHEMA =
  '/usr/lib/python3/dist-packages/cloudinit/config/schemas/schema-cloud-config-v1.json';
const ROLES: NodeRole[] = ['init', 'join-control-plane', 'worker'];
const VERSIONS = KUBERNETES_RELEASES.map((r) => r.patch);

function requireTool(command: string, aptPackage: string): void {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  if (found.status !== 0) {
    throw new Error(
      `${command} is not installed: install Debian's ${aptPackage} package (apt-get install -y --no-install-recommends ${aptPackage})`,
    );
  }
}

function run(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Top-level keys cloud-init knows, from the schema shipped with the installed cloud-init. */
function cloudInitTopLevelKeys(): Set<string> {
  if (!existsSync(CLOUD_INIT_SCHEMA)) {
    throw new Error(`${CLOUD_INIT_SCHEMA} is missing: install Debian's cloud-init package`);
  }
  const schema = JSON.parse(readFileSync(CLOUD_INIT_SCHEMA, 'utf8')) as {
    allOf: { $ref: string }[];
    $defs: Record<string, { properties?: Record<string, unknown> }>;
  };
  const keys = new Set<string>();
  for (const { $ref } of schema.allOf) {
    const def = schema.$defs[$ref.split('/').pop() as string];
    for (const key of Object.keys(def?.properties ?? {})) keys.add(key);
  }
  return keys;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kaas-bootstrap-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('cloud-init schema (Debian cloud-init)', () => {
  it('has the validator installed', () => {
    requireTool('cloud-init', 'cloud-init');
  });

  it('rejects a broken config, so a pass means something', () => {
    requireTool('cloud-init', 'cloud-init');
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, '#cloud-config\nwrite_files:\n  - path: /x\n    bogus: 1\n');
    const result = run('cloud-init', ['schema', '--config-file', file]);
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/bogus/);
  });

  const matrix = ROLES.flatMap((role) =>
    VERSIONS.flatMap((version) => (['debian', 'ubuntu'] as const).map((os) => [role, version, os] as const)),
  );
  it.each(matrix)('accepts %s %s on %s', (role, version, os) => {
    requireTool('cloud-init', 'cloud-init');
    const text = renderCloudConfig(bootstrapInput(role, os, version));
    const file = join(dir, `${role}-${version}-${os}.yaml`);
    writeFileSync(file, text);
    const result = run('cloud-init', ['schema', '--config-file', file]);
    expect(result.output).toContain('Valid cloud-config');
    expect(result.output).not.toMatch(/invalid|error|deprecat|warning/i);
    expect(result.status).toBe(0);
    const known = cloudInitTopLevelKeys();
    for (const key of Object.keys(parse(text) as object))
      expect(known.has(key), `unknown key ${key}`).toBe(true);
  });
});

describe('ignition-validate (Debian ignition)', () => {
  it('has the validator installed', () => {
    requireTool('ignition-validate', 'ignition');
  });

  it('rejects a broken config, so a pass means something', () => {
    requireTool('ignition-validate', 'ignition');
    const file = join(dir, 'broken.ign');
    writeFileSync(
      file,
      JSON.stringify({ ignition: { version: '3.3.0' }, storage: { files: [{ path: 'relative' }] } }),
    );
    expect(run('ignition-validate', [file]).status).not.toBe(0);
  });

  const matrix = ROLES.flatMap((role) => VERSIONS.map((version) => [role, version] as const));
  it.each(matrix)('accepts %s %s on flatcar without warnings', (role, version) => {
    requireTool('ignition-validate', 'ignition');
    const file = join(dir, `${role}-${version}.ign`);
    writeFileSync(file, renderIgnition(bootstrapInput(role, 'flatcar', version)));
    const result = run('ignition-validate', [file]);
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('first master with the kaas-made cluster CA', () => {
  let clusterCa: { certPem: string; keyPem: string };
  beforeAll(async () => {
    clusterCa = await createCa({ commonName: 'kubernetes-prod' });
  });

  it('passes cloud-init schema', () => {
    requireTool('cloud-init', 'cloud-init');
    const file = join(dir, 'init-ca.yaml');
    writeFileSync(file, renderCloudConfig({ ...bootstrapInput('init'), clusterCa }));
    const result = run('cloud-init', ['schema', '--config-file', file]);
    expect(result.output).toContain('Valid cloud-config');
    expect(result.status).toBe(0);
  });

  it('passes ignition-validate', () => {
    requireTool('ignition-validate', 'ignition');
    const file = join(dir, 'init-ca.ign');
    writeFileSync(file, renderIgnition({ ...bootstrapInput('init', 'flatcar'), clusterCa }));
    const result = run('ignition-validate', [file]);
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });
});
