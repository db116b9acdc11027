import { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryDirectory } from '../../test/auth/memoryDirectory.ts';
import { createAuthService, type AuthService } from '../auth/service.ts';
import { readClientConfig } from '../auth/client.ts';
import { createLogger } from '../log.ts';
import { buildApp } from '../server/app.ts';
import { openStore, type Store } from '../store/db.ts';
import { insertCluster } from '../store/insertCluster.ts';
import { migrateToLatest } from '../store/migrate.ts';
import { registerCredentialCommand } from './credential.ts';
import { registerLoginCommand, type AuthCliDeps } from './login.ts';
import { registerTokenCommand } from './token.ts';

function capture() {
  let text = '';
  const stream = new Writable({
    write: (c, _e, cb) => {
      text += c.toString();
      cb();
    },
  });
  return { stream, text: () => text };
}

describe('kaas login / token / credential', () => {
  let store: Store;
  let auth: AuthService;
  let app: FastifyInstance;
  let url: string;
  let dir: string;
  let now = new Date('2030-01-01T00:00:00Z');

  beforeAll(async () => {
    store = openStore('sqlite::memory:');
    await migrateToLatest(store.db);
    await insertCluster({
      db: store.db,
      cluster: {
        id: 'c1',
        name: 'prod',
        projectId: 'p1',
        projectName: 'proj',
        adminRoleIds: [],
        createdAt: now.toISOString(),
      },
    });
    const ks = memoryDirectory();
    ks.addUser('u1', 'alice', 'pw-alice');
    ks.setRoles('p1', [{ userId: 'u1', roleId: 'r-member', roleName: 'member' }]);
    const logger = createLogger({ level: 'silent' });
    auth = createAuthService({ store, directory: ks.directory, logger, now: () => now });
    await auth.sync();
    app = await buildApp({ store, logger, now: () => now, auth });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    dir = mkdtempSync(join(tmpdir(), 'kaas-cli-'));
  });
  afterAll(async () => {
    await auth.close();
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(args: string[], env: Record<string, string> = {}, input = '') {
    const out = capture();
    const err = capture();
    const stdin = new PassThrough();
    stdin.end(input);
    const deps: AuthCliDeps = {
      env: { KAAS_CONFIG_DIR: dir, ...env },
      stdin,
      stdout: out.stream,
      stderr: err.stream,
    };
    const program = new Command('kaas').exitOverride();
    registerLoginCommand(program, deps);
    registerTokenCommand(program, deps);
    registerCredentialCommand(program, deps, () => now);
    await program.parseAsync(['node', 'kaas', ...args]);
    return { stdout: out.text(), stderr: err.text() };
  }

  it('refuses to work before login', async () => {
    await expect(run(['credential'])).rejects.toThrow(/run `kaas login` first/);
  });

  it('logs in from prompts and saves a 0600 config with a token', async () => {
    const r = await run(['login'], {}, `${url}\nalice\npw-alice\n`);
    expect(r.stderr).toContain('logged in as alice (Default)');
    expect(r.stderr).not.toContain('pw-alice');
    expect(statSync(join(dir, 'config.json')).mode & 0o777).toBe(0o600);
    expect(readClientConfig(dir)).toMatchObject({
      url,
      user: { id: 'u1', name: 'alice' },
      token: expect.stringMatching(/^kaas_/),
    });
  });

  it('refuses a wrong password and a bad URL', async () => {
    await expect(
      run(['login', '--url', url, '--username', 'alice'], { KAAS_PASSWORD: 'nope' }),
    ).rejects.toThrow(/wrong username or password/);
    await expect(
      run(['login', '--url', 'ftp://x', '--username', 'a'], { KAAS_PASSWORD: 'p' }),
    ).rejects.toThrow(/--url must start with https:\/\//);
    // Plain http only to this machine (kaas dev): a token never crosses a network in clear.
    await expect(
      run(['login', '--username', 'a'], { KAAS_URL: 'http://kaas.example.com', KAAS_PASSWORD: 'p' }),
    ).rejects.toThrow(/^KAAS_URL must start with https:\/\/ \(http:\/\/ only on 127.0.0.1 or localhost/);
  });

  it('a new login replaces the token of the previous one instead of piling them up', async () => {
    const before = readClientConfig(dir);
    const again = await run(['login', '--url', url, '--username', 'alice'], { KAAS_PASSWORD: 'pw-alice' });
    expect(again.stderr).toContain(`revoked the token of your previous login (${before.tokenId})`);
    const after = readClientConfig(dir);
    expect(after.tokenId).not.toBe(before.tokenId);
    const ids = (
      JSON.parse((await run(['token', 'list', '-o', 'json'])).stdout) as { items: { id: string }[] }
    ).items.map((t) => t.id);
    expect(ids).toContain(after.tokenId);
    expect(ids).not.toContain(before.tokenId);
    // The revoked token is refused, with the way out.
    const res = await fetch(`${url}/api/v1/tokens`, { headers: { authorization: `Bearer ${before.token}` } });
    expect(res.status).toBe(401);
  });

  it('creates (with the password), lists and deletes tokens', async () => {
    const pw = { KAAS_PASSWORD: 'pw-alice' };
    const created = JSON.parse(
      (await run(['token', 'create', '--name', 'ci', '--expires-in-days', '7', '-o', 'json'], pw)).stdout,
    );
    expect(created).toMatchObject({ name: 'ci', expiresAt: '2030-01-08T00:00:00.000Z' });
    expect(created.clusters).toBeUndefined();
    const list = await run(['token', 'list']);
    expect(list.stdout).toMatch(new RegExp(`^${created.id}  ci  `, 'm'));
    expect(list.stdout).not.toContain(created.token);
    await run(['token', 'delete', created.id]);
    expect((await run(['token', 'list', '-o', 'json'])).stdout).not.toContain(created.id);
    await expect(run(['token', 'delete', created.id])).rejects.toThrow(/no token/);
    await expect(run(['token', 'create', '--name', 'x', '--expires-in-days', 'many'], pw)).rejects.toThrow(
      /whole number/,
    );
    // The server's limit is told in terms of the flag, not the API's field name.
    await expect(run(['token', 'create', '--name', 'x', '--expires-in-days', '1000'], pw)).rejects.toThrow(
      /^--expires-in-days must be a whole number from 1 to 730$/,
    );
  });

  it('token create asks for the password, restricts to --cluster, and refuses a wrong password', async () => {
    const r = await run(
      ['token', 'create', '--name', 'prod-only', '--cluster', 'prod', '--password-stdin'],
      {},
      'pw-alice\n',
    );
    expect(r.stdout).toMatch(/^kaas_/);
    expect(r.stderr).toContain('(clusters c1)');
    expect(r.stderr).not.toContain('pw-alice');
    expect((await run(['token', 'list'])).stdout).toMatch(/ prod-only +\S+ +- +c1\n/);
    await expect(
      run(['token', 'create', '--name', 'x', '--cluster', 'nope'], { KAAS_PASSWORD: 'pw-alice' }),
    ).rejects.toThrow(/no cluster "nope"/);
    await expect(run(['token', 'create', '--name', 'x'], { KAAS_PASSWORD: 'wrong' })).rejects.toThrow(
      /wrong username or password/,
    );
  });

  it('the saved API token cannot mint a token by itself (403 session_required)', async () => {
    const config = readClientConfig(dir);
    const res = await fetch(`${url}/api/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${config.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'minted', expiresInDays: 730 }),
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('session_required');
  });

  it('prints an ExecCredential from the cached token without contacting kaas', async () => {
    await app.close();
    const r = await run(['credential']);
    const config = readClientConfig(dir);
    expect(JSON.parse(r.stdout)).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: config.token, expirationTimestamp: config.expiresAt },
    });
    // The panel's exec kubeconfig calls `kaas credential --cluster <id>` with KAAS_URL set.
    const viaPanel = await run(['credential', '--cluster', 'c1'], { KAAS_URL: `${config.url}/` });
    expect(viaPanel.stdout).toBe(r.stdout);
    await expect(
      run(['credential', '--cluster', 'c1'], { KAAS_URL: 'https://other.example' }),
    ).rejects.toThrow(/logged in to .* not https:\/\/other.example/);
    now = new Date(config.expiresAt);
    await expect(run(['credential'])).rejects.toThrow(/expired/);
    writeFileSync(join(dir, 'config.json'), '{');
    await expect(run(['credential'])).rejects.toThrow(/not valid JSON/);
  });
});
