import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDev, type RunningDev } from '../../src/cli/dev.ts';
import { createLogger } from '../../src/log.ts';
import { freePort } from '../support/ports.ts';

/**
 * schemathesis (from PyPI) against a real `kaas dev` (cloudsim, SQLite, the job worker), signed in
 * as the demo's cluster admin with a session cookie and the CSRF header, as the panel is: every
 * operation of /openapi.json, 0 server errors, 0 answers that break their schema.
 */
const here = fileURLToPath(new URL('.', import.meta.url));
const CHECKS = 'not_a_server_error,response_schema_conformance';
const MAX_EXAMPLES = '15';

let dataDir: string;
let dev: RunningDev;
let st: string;
let session: { cookie: string; csrf: string };

beforeAll(async () => {
  st = execFileSync('bash', [join(here, 'schemathesis.sh')], { encoding: 'utf8' }).trim();
  dataDir = join(mkdtempSync(join(tmpdir(), 'kaas-openapi-')), '.kaas');
  mkdirSync(dataDir, { mode: 0o700 });
  dev = await startDev({ dataDir, port: await freePort(), logger: createLogger({ level: 'silent' }) });
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
  await dev?.close();
  if (dataDir) rmSync(join(dataDir, '..'), { recursive: true, force: true });
});

/** Runs `st run` over the operations `filter` selects; resolves with its exit code and output. */
function schemathesis(filter: string[]): Promise<{ code: number; output: string }> {
  const args = [
    '--config-file',
    join(here, 'schemathesis.toml'),
    '--no-color',
    'run',
    `${dev.url}/openapi.json`,
    '--checks',
    CHECKS,
    '--max-examples',
    MAX_EXAMPLES,
    // The coverage phase of schemathesis 4.32.5 dies inside hypothesis on this document ("AST
    // constructor recursion depth mismatch"), a runtime error of the tool, not a finding.
    '--phases',
    'examples,fuzzing,stateful',
    '--seed',
    '1',
    '--workers',
    '2',
    '--request-timeout',
    '10',
    '--header',
    `Cookie: ${session.cookie}`,
    '--header',
    `X-CSRF-Token: ${session.csrf}`,
    ...filter,
  ];
  return new Promise((resolve) => {
    execFile(st, args, { maxBuffer: 16 * 1024 * 1024, timeout: 150_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

describe('schemathesis against kaas dev', () => {
  it('finds no server error and no answer that breaks its schema, on any operation', async () => {
    // Logging out ends the session the other operations run in: it goes last, on its own.
    const rest = await schemathesis(['--exclude-path', '/api/v1/logout']);
    expect(rest.output).toMatch(/\d+ operations? tested|Tested operations|API Operations/i);
    expect(rest.code, rest.output).toBe(0);
    const logout = await schemathesis(['--include-path', '/api/v1/logout']);
    expect(logout.code, logout.output).toBe(0);
  }, 170_000);
});
