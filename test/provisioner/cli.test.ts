import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Command, CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCa, issueServerCert } from '../../src/auth/pki.ts';
import { openProvisionerFromEnv, probeApi, registerClusterCommands } from '../../src/cli/cluster.ts';
import { reportError } from '../../src/cli/exit.ts';
import { startCloudsim, type Cloudsim } from '../../src/cloudsim/index.ts';
import { openStore } from '../../src/store/db.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';
import { up as panelTablesUp } from '../../src/store/migrations/0005_panel.ts';
import { adminEnv } from '../support/openstack.ts';
import { fakeRelease, logger, TEST_VERSION } from './support.ts';

let sim: Cloudsim;
let dir: string;
let env: Record<string, string>;
let release: string;

beforeAll(async () => {
  sim = await startCloudsim({ port: 0, bootTimeMs: 20 });
  dir = mkdtempSync(join(tmpdir(), 'kaas-cli-'));
  const caFile = join(dir, 'kaas-ca.pem');
  writeFileSync(caFile, (await createCa({ commonName: 'kaas-cli-test' })).certPem);
  env = {
    KAAS_DATABASE_URL: `sqlite:${join(dir, 'db', 'kaas.db')}`,
    KAAS_SECRET_KEY: randomBytes(32).toString('base64'),
    KAAS_URL: 'https://kaas.example.com',
    KAAS_CA_FILE: caFile,
    ...adminEnv(sim.authUrl),
    KUBE_ADMIN_ROLE_ID: '9fe2ff9ee4384b1894a90878d3e92bab',
    KUBE_IMAGE: 'debian-12',
    KUBE_MASTER_FLAVOR: 'm1.small',
    KUBE_NODE_FLAVOR: 'm1.small',
    EXTERNAL_NETWORK: 'public',
  };
  // The control-panel tables the provisioner reports to (migration 0005 is not in the migrator yet).
  const store = openStore(env.KAAS_DATABASE_URL as string);
  await migrateToLatest(store.db as never);
  await panelTablesUp(store.db as never);
  await store.close();
  release = fakeRelease();
});
afterAll(async () => {
  await sim.close();
});

function sink() {
  const box = { text: '' };
  const stream = new Writable({
    write(chunk, _enc, done) {
      box.text += String(chunk);
      done();
    },
  });
  return { box, stream };
}

/** Runs `kaas …` in-process; returns the exit code main.ts would set and both streams. */
async function kaas(args: string[], over: Record<string, string> = {}) {
  const out = sink();
  const err = sink();
  const program = new Command('kaas').exitOverride().configureOutput({
    writeOut: (s) => void out.stream.write(s),
    writeErr: (s) => void err.stream.write(s),
  });
  const e = { ...env, ...over };
  registerClusterCommands(program, {
    open: () => openProvisionerFromEnv(e, { logger, cwd: dir, home: dir, pollIntervalMs: 50 }),
    env: e,
    stdout: out.stream,
    stderr: err.stream,
  });
  let code = 0;
  try {
    await program.parseAsync(['node', 'kaas', ...args]);
  } catch (error) {
    code = error instanceof CommanderError ? error.exitCode : reportError(error, err.stream);
  }
  return { code, stdout: out.box.text, stderr: err.box.text };
}

describe('kaas cluster (CLI) against cloudsim', () => {
  it('creates from a spec file + flags + env, lists, shows, resizes, writes kubeconfigs and deletes', async () => {
    const spec = join(dir, 'spec.yaml');
    writeFileSync(spec, `name: cli1\nkubernetesVersion: ${TEST_VERSION}\ndnsDomain: apps.example.com\n`);
    const kubeconfig = join(dir, 'admin.kubeconfig');
    const created = await kaas([
      'cluster',
      'create',
      '-f',
      spec,
      '--workers',
      '2',
      '--release',
      release,
      '--no-wait-for-api',
    ]);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^cli1 c[0-9a-f]{12} succeeded\n$/);
    expect(created.stderr).toContain('BEGIN OPENSSH PRIVATE KEY');
    expect(created.stderr).toMatch(/info +workers:default: step done/);

    const list = await kaas(['cluster', 'list', '-o', 'json']);
    expect(list.code).toBe(0);
    const items = JSON.parse(list.stdout).items as {
      name: string;
      status: string;
      spec: { nodeGroups: { count: number }[] };
    }[];
    expect(items).toEqual([expect.objectContaining({ name: 'cli1', status: 'ready' })]);
    expect(items[0]?.spec.nodeGroups[0]?.count).toBe(2);

    const show = await kaas(['cluster', 'show', 'cli1']);
    expect(show.stdout).toMatch(/cli1 \(c[0-9a-f]+\) ready, Kubernetes /);
    expect(show.stdout).toContain(`ready, Kubernetes ${TEST_VERSION}\n`);
    expect(show.stdout).toMatch(/last job job-[0-9a-f]+ create succeeded \((\d+)\/\1 steps done\)/);
    expect(show.stdout).toContain('  done     network');

    const resized = await kaas(['cluster', 'resize', 'cli1', '--count', '3', '-o', 'json']);
    expect(resized.code).toBe(0);
    expect(JSON.parse(resized.stdout)).toMatchObject({ kind: 'resize', state: 'succeeded' });
    expect((await kaas(['cluster', 'resize', 'cli1', '--count', '3'])).code).toBe(6);
    expect((await kaas(['cluster', 'resize', 'cli1', '--count', 'many'])).code).toBe(2);

    const admin = await kaas(['cluster', 'kubeconfig', 'cli1', '--admin', '--file', kubeconfig]);
    expect(admin.code).toBe(0);
    expect(statSync(kubeconfig).mode & 0o777).toBe(0o600);
    const doc = parse(readFileSync(kubeconfig, 'utf8'));
    expect(doc.users[0].user['client-key-data']).toBeTruthy();
    const again = await kaas(['cluster', 'kubeconfig', 'cli1', '--admin', '--file', kubeconfig]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists');
    expect((await kaas(['cluster', 'kubeconfig', 'cli1'])).code).toBe(2);
    const printed = await kaas(['cluster', 'kubeconfig', 'cli1', '--admin']);
    expect(parse(printed.stdout).clusters[0].cluster.server).toBe(doc.clusters[0].cluster.server);

    const deleted = await kaas(['cluster', 'delete', 'cli1']);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toMatch(/delete succeeded/);
    expect(JSON.parse((await kaas(['cluster', 'list', '-o', 'json'])).stdout).items).toEqual([]);
    expect((await kaas(['cluster', 'show', 'cli1'])).code).toBe(5);
  });

  it('writes the admin kubeconfig at create (0600), refusing an existing file up front', async () => {
    const path = join(dir, 'cli2.kubeconfig');
    const args = [
      'cluster',
      'create',
      '--name',
      'cli2',
      '--workers',
      '1',
      '--release',
      release,
      '--no-wait-for-api',
    ];
    const created = await kaas([...args, '--admin-kubeconfig', path]);
    expect(created.code).toBe(0);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(created.stderr).toContain(`break-glass admin kubeconfig written to ${path}`);
    const refused = await kaas([
      'cluster',
      'create',
      '--name',
      'cli3',
      '--release',
      release,
      '--admin-kubeconfig',
      path,
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('already exists');
    expect(JSON.parse((await kaas(['cluster', 'list', '-o', 'json'])).stdout).items).toHaveLength(1);
    expect((await kaas(['cluster', 'delete', 'cli2'])).code).toBe(0);
  });

  it('exits with clear codes: bad spec from env (2), failed job (7) then retry, missing key (2)', async () => {
    const bad = await kaas(['cluster', 'create', '--name', 'cli4', '--release', release], {
      NUM_NODES: 'lots',
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('NUM_NODES');

    const failed = await kaas(
      ['cluster', 'create', '--name', 'cli5', '--workers', '1', '--release', release, '--no-wait-for-api'],
      { KUBE_NODE_FLAVOR: 'no-such-flavor' },
    );
    expect(failed.code).toBe(7);
    expect(failed.stderr).toMatch(
      /failed at workers:default: flavor no-such-flavor does not exist.*kaas cluster retry/,
    );
    const retried = await kaas(['cluster', 'retry', 'cli5']);
    expect(retried.code).toBe(7);
    expect((await kaas(['cluster', 'delete', 'cli5'])).code).toBe(0);

    const noKey = await kaas(['cluster', 'list'], { KAAS_SECRET_KEY: '' });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('KAAS_SECRET_KEY');
    const noWebhook = await kaas(['cluster', 'create', '--name', 'cli6', '--release', release], {
      KAAS_URL: '',
      KAAS_CA_FILE: '',
    });
    expect(noWebhook.code).toBe(2);
    expect(noWebhook.stderr).toContain('KAAS_URL');
    const half = await kaas(['cluster', 'list'], { KAAS_CA_FILE: '' });
    expect([half.code, half.stderr]).toEqual([2, expect.stringContaining('set both KAAS_URL')]);
    const unreadable = await kaas(['cluster', 'list'], { KAAS_CA_FILE: join(dir, 'missing.pem') });
    expect([unreadable.code, unreadable.stderr]).toEqual([
      2,
      expect.stringContaining('cannot read KAAS_CA_FILE'),
    ]);
    const notPem = await kaas(['cluster', 'list'], { KAAS_CA_FILE: release });
    expect([notPem.code, notPem.stderr]).toEqual([2, expect.stringContaining('PEM certificate')]);
    const badFile = await kaas(['cluster', 'create', '-f', join(dir, 'missing.yaml'), '--release', release]);
    expect([badFile.code, badFile.stderr]).toEqual([2, expect.stringContaining('cannot read cluster spec')]);
  });
});

describe('probeApi', () => {
  it('trusts only the cluster CA for /healthz', async () => {
    const ca = await createCa({ commonName: 'kubernetes-probe' });
    const other = await createCa({ commonName: 'someone-else' });
    const cert = await issueServerCert({ ca, hosts: ['127.0.0.1'] });
    const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
    try {
      const signal = new AbortController().signal;
      expect(await probeApi(url, signal, ca.certPem)).toBe(200);
      await expect(probeApi(url, signal, other.certPem)).rejects.toThrow();
      await expect(probeApi(url, signal)).rejects.toThrow();
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
