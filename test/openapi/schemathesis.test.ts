import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDev } from '../../src/cli/dev.ts';
import { openStore, type Store } from '../../src/store/db.ts';
import { TEST_SECRET_KEY, testProvisioner, testSpec, testWebhook } from '../provisioner/support.ts';
import { devBuilderCloud, finishedJob, startTestDev } from '../support/dev.ts';

/**
 * schemathesis (from PyPI) against a real `kaas dev` (cloudsim, SQLite, the job worker), signed in
 * as the demo's cluster admin with a session cookie and the CSRF header, as the panel is: every
 * operation of /openapi.json, 0 server errors, 0 answers that break their schema. The `{id}` of
 * cluster routes is a cluster kaas dev's worker built on cloudsim, so the lifecycle handlers run.
 */
const here = fileURLToPath(new URL('.', import.meta.url));
const CHECKS = 'not_a_server_error,response_schema_conformance';
const MAX_EXAMPLES = '15';

let dataDir: string;
let dev: RunningDev;
let store: Store;
let config: string;
let st: string;
let session: { cookie: string; csrf: string };

beforeAll(async () => {
  st = execFileSync('bash', [join(here, 'schemathesis.sh')], { encoding: 'utf8' }).trim();
  dataDir = join(mkdtempSync(join(tmpdir(), 'kaas-openapi-')), '.kaas');
  mkdirSync(dataDir, { mode: 0o700 });
  // The key the provisioner below seals its cluster's secrets with, so dev's worker opens them.
  writeFileSync(join(dataDir, 'secret.key'), TEST_SECRET_KEY.toString('base64'), { mode: 0o600 });
  dev = await startTestDev(dataDir);
  config = await provisionedClusterConfig();
  const login = await fetch(`${dev.url}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: 'admin', domain: 'Default' }),
  });
  expect(login.status).toBe(200);
  const cookie = /kaas_session=[^;]+/.exec(login.headers.get('set-cookie') ?? '')?.[0] ?? '';
  session = { cookie, csrf: ((await login.json()) as { csrfToken: string }).csrfToken };
}, 300_000);

afterAll(async () => {
  await store?.close();
  await dev?.close();
  if (dataDir) rmSync(join(dataDir, '..'), { recursive: true, force: true });
});

/**
 * Queues a cluster (kaas dev itself refuses creation: no https webhook) as the demo's admins'
 * cluster, waits for dev's worker to build it, and writes the schemathesis config naming it.
 */
async function provisionedClusterConfig(): Promise<string> {
  store = openStore(`sqlite:${join(dataDir, 'kaas.db')}`);
  const cloud = devBuilderCloud(dev);
  const adminRoleId = dev.cloud.state.findRoleByName('kubernetes-admins')?.id;
  const p = testProvisioner(store, cloud, await testWebhook());
  const { cluster, job } = await p.createCluster(testSpec('openapi', 1, { adminRoleId }), {
    waitForApi: false,
  });
  const done = await finishedJob(dev, job.id, 60_000);
  expect(done.job.state).toBe('succeeded');
  const file = join(dataDir, 'schemathesis.toml');
  writeFileSync(
    file,
    [
      '# The run signs in with the session cookie and CSRF header; generated credentials would only',
      '# exercise the 401 answer of every operation.',
      '[generation]',
      'with-security-parameters = false',
      '',
      '[parameters]',
      `"path.id" = "${cluster.id}"`,
      `"path.jobId" = "${job.id}"`,
      '',
    ].join('\n'),
  );
  return file;
}

/** Runs `st run` over the operations `filter` selects; resolves with its exit code and output. */
function schemathesis(filter: string[]): Promise<{ code: number; output: string }> {
  const args = [
    '--config-file',
    config,
    '--no-color',
    'run',
    `${dev.url}/openapi.json`,
    '--checks',
    CHECKS,
    '--max-examples',
    MAX_EXAMPLES,
    '--phases',
    'examples,coverage,fuzzing,stateful',
    '--seed',
    '1',
    // One worker: with more, hypothesis parses sources in parallel threads and Python 3.11.7's
    // ast module fails ("AST constructor recursion depth mismatch", a tool error, not a finding).
    '--workers',
    '1',
    '--request-timeout',
    '10',
    '--header',
    `Cookie: ${session.cookie}`,
    '--header',
    `X-CSRF-Token: ${session.csrf}`,
    ...filter,
  ];
  // Run in the data directory: schemathesis keeps its cache (.schemathesis/) in the working directory.
  const options = { cwd: dataDir, maxBuffer: 16 * 1024 * 1024, timeout: 150_000 };
  return new Promise((resolve) => {
    execFile(st, args, options, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

/** How many operations a run tested, from its summary. */
function tested(output: string): number {
  return Number(/Tested: +(\d+)/.exec(output)?.[1] ?? 0);
}

/** How many operations a run selected, from its summary. */
function selected(output: string): number {
  return Number(/Selected: +(\d+)\//.exec(output)?.[1] ?? -1);
}

describe('schemathesis against kaas dev', () => {
  it('finds no server error and no answer that breaks its schema, on any operation', async () => {
    // Deleting the cluster and logging out end what the other operations work on: they go last.
    const last = ['deleteApiV1ClustersId', 'postApiV1Logout'];
    const rest = await schemathesis(last.flatMap((id) => ['--exclude-operation-id', id]));
    expect(rest.code, rest.output).toBe(0);
    const ending = await schemathesis(last.flatMap((id) => ['--include-operation-id', id]));
    expect(ending.code, ending.output).toBe(0);
    for (const run of [rest, ending]) expect(tested(run.output)).toBe(selected(run.output));
    expect(selected(rest.output) + selected(ending.output)).toBeGreaterThanOrEqual(30);
  }, 240_000);
});
