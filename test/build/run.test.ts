/**
 * `kaas serve` (on PostgreSQL) and `kaas dev` from the compiled build, started as users and the
 * chart start them: `bin/kaas.mjs` in its own process, answering HTTP, stopping on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudsim, type Cloudsim } from '../../src/cloudsim/index.ts';
import { cloudEnv } from '../ha/support.ts';
import { freshDatabaseUrl } from '../support/databases.ts';
import { startPostgres } from '../support/postgres.ts';

const BIN = fileURLToPath(new URL('../../bin/kaas.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kaas-run-'));
let sim: Cloudsim;
beforeAll(async () => {
  sim = await startCloudsim({ port: 0, bootTimeMs: 20 });
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `kaas <command>` until it prints the URL `ready` captures; stop() sends SIGTERM and returns the exit code. */
function start(command: string, env: Record<string, string>, ready: RegExp) {
  const child = spawn(process.execPath, [BIN, command], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = ready.exec(out);
      if (match?.[1]) resolve(match[1]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => reject(new Error(`kaas ${command} exited (${code}) before serving:\n${out}`)));
  });
  url.catch(() => undefined);
  return {
    url,
    output: () => out,
    async stop(): Promise<number | null> {
      child.kill('SIGTERM');
      return exited;
    },
    kill: () => child.exitCode === null && child.kill('SIGKILL'),
  };
}

describe('the compiled kaas', () => {
  it('serves (kaas serve on PostgreSQL) and stops cleanly on SIGTERM', { timeout: 120_000 }, async () => {
    const serve = start(
      'serve',
      {
        ...cloudEnv(sim.authUrl),
        KAAS_DATABASE_URL: await freshDatabaseUrl('postgres'),
        KAAS_SECRET_KEY: randomBytes(32).toString('base64'),
        KAAS_WORKER_POLL_MS: '50',
      },
      /kaas serving on (\S+)/,
    );
    try {
      const url = await serve.url;
      const health = await fetch(`${url}/healthz`);
      expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);
      // The API is there too, backed by the store and Keystone (cloudsim): a wrong password is a 401.
      const login = await fetch(`${url}/api/v1/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: 'wrong', domain: 'Default' }),
      });
      expect(login.status).toBe(401);
      expect(await serve.stop(), serve.output()).toBe(0);
      expect(serve.output()).toMatch(/kaas: stopped in \d+ ms/);
    } finally {
      serve.kill();
    }
  });

  it(
    'survives a PostgreSQL restart: /readyz is 503 while it is down, 200 after',
    { timeout: 120_000 },
    async () => {
      const postgres = await startPostgres();
      const serve = start(
        'serve',
        {
          ...cloudEnv(sim.authUrl),
          KAAS_DATABASE_URL: postgres.url,
          KAAS_SECRET_KEY: randomBytes(32).toString('base64'),
          KAAS_WORKER_POLL_MS: '50',
        },
        /kaas serving on (\S+)/,
      );
      const ready = async (url: string) => {
        const res = await fetch(`${url}/readyz`);
        return [res.status, (await res.json()) as unknown];
      };
      try {
        const url = await serve.url;
        expect(await ready(url)).toEqual([200, { status: 'ok' }]);
        await postgres.pause();
        // Let the worker loop and the Keystone sync hit the outage too.
        await new Promise((r) => setTimeout(r, 500));
        const [status, body] = await ready(url).catch((error: unknown) => {
          throw new Error(`kaas serve died with PostgreSQL:\n${serve.output()}`, { cause: error });
        });
        expect(status).toBe(503);
        expect(body).toMatchObject({ error: { code: 'database_unavailable' } });
        expect((await fetch(`${url}/healthz`)).status).toBe(200);
        await postgres.resume();
        expect(await ready(url)).toEqual([200, { status: 'ok' }]);
        expect(await serve.stop(), serve.output()).toBe(0);
      } finally {
        serve.kill();
        await postgres.stop();
      }
    },
  );

  it('runs kaas dev (what npm start runs): the demo users log in', { timeout: 120_000 }, async () => {
    const dev = start('dev', {}, /kaas control panel: (\S+)\//);
    try {
      const url = await dev.url;
      const login = await fetch(`${url}/api/v1/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: 'admin', domain: 'Default' }),
      });
      expect(login.status, await login.text()).toBe(200);
      expect(await dev.stop(), dev.output()).toBe(0);
    } finally {
      dev.kill();
    }
  });
});
