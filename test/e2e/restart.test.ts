/**
 * `kaas dev` stopped and started again on the same `.kaas/`: a real process (test/support/devProcess.ts,
 * the dev command as bin/kaas.mjs runs it) stopped with SIGTERM, and the kaas CLI configured only
 * by the `.kaas/env` it wrote. The embedded cloud comes back as it was, so the database still
 * agrees with it: tokens, clusters and their servers, the admin's view. When the two cannot agree,
 * kaas dev says so and `--reset` starts afresh.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { tagsFor } from '../../src/cluster/names.ts';
import { spawnKaas } from '../support/cli.ts';
import { devAdminCli, devBuilderCloud, spawnDev } from '../support/dev.ts';
import { freePort } from '../../src/dev/kube/ports.ts';
import type { ServiceProcess } from '../support/process.ts';
import { sourcedEnv } from '../support/shellEnv.ts';

let home: string;
let project: string;
let port: number;

/** Starts `kaas dev <args>` in `project` (so its state is `project/.kaas`) on `port`; ready with its env file. */
function startDevProcess(args: string[] = [], over: Record<string, string> = {}): ServiceProcess {
  return spawnDev({ cwd: project, home, port, args, env: over });
}

/** Stops a kaas dev as a service manager would (SIGTERM) and expects a clean exit. */
async function stop(dev: ServiceProcess): Promise<void> {
  dev.kill('SIGTERM');
  expect(await dev.exited, dev.output()).toEqual({ code: 0, signal: null });
}

let running: ServiceProcess | undefined;
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'kaas-e2e-restart-'));
  project = join(home, 'project');
  mkdirSync(project);
  port = await freePort();
});
afterAll(async () => {
  running?.kill('SIGKILL');
});

describe('kaas dev across restarts', () => {
  it('keeps tokens, clusters and their servers, and the admin view', async () => {
    running = startDevProcess();
    const envFile = await running.ready;
    const { env, kaas, secret } = await devAdminCli(envFile, home, 'ci');
    const created = await kaas(['cluster', 'create', '--name', 'keep', '--workers', '1']);
    expect(created.code, created.stderr).toBe(0);
    const clusterId = /^keep (c[0-9a-f]{12}) succeeded$/m.exec(created.stdout)?.[1] as string;
    expect(clusterId, created.stdout).toBeTruthy();

    const review = async () => {
      const res = await fetch(`${env.KAAS_URL}/tokenreview/${clusterId}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token: secret },
        }),
      });
      return (await res.json()) as { status: { authenticated: boolean; user?: { username: string } } };
    };
    const overview = () =>
      fetch(`${env.KAAS_URL}/api/v1/clusters/${clusterId}/admin/overview`, {
        headers: { authorization: `Bearer ${secret}` },
      });
    const servers = async () => {
      const cloud = devBuilderCloud({ cloud: { authUrl: cloudAuthUrl(env) } });
      return (await cloud.nova.listServers({ tags: tagsFor(clusterId) })).map((s) => s.id).sort();
    };
    const panel = await panelLogin(env.KAAS_URL as string);
    expect((await panel('PUT', '/api/v1/session/active-cluster', { clusterId })).status).toBe(200);
    const menu = async (session: typeof panel) => (await session('GET', '/api/v1/clusters')).json();
    const before = {
      review: await review(),
      servers: await servers(),
      admin: (await overview()).status,
      menu: await menu(panel),
    };
    // The Administration menu shows for the active cluster its user administers.
    expect(before.menu).toEqual({
      activeClusterId: clusterId,
      items: [expect.objectContaining({ isAdmin: true })],
    });
    expect(before.review.status).toMatchObject({ authenticated: true, user: { username: 'admin' } });
    expect(before.servers).toHaveLength(2);
    expect(before.admin).toBe(200);

    await stop(running);
    running = startDevProcess();
    expect(await running.ready).toBe(envFile);
    expect(running.output()).toMatch(/embedded cloud: +restored from \.kaas\/cloudsim/);
    const again = { ...sourcedEnv(envFile), HOME: home };
    expect(cloudAuthUrl(again)).toBe(cloudAuthUrl(env));

    expect(await review()).toEqual(before.review);
    const list = await kaas(['cluster', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^keep +${clusterId} +ready `, 'm'));
    expect(await servers()).toEqual(before.servers);
    expect((await overview()).status).toBe(200);
    // The panel session from before the restart, and a new login, see it as before.
    expect(await menu(panel)).toEqual(before.menu);
    expect(await menu(await panelLogin(env.KAAS_URL as string))).toEqual(before.menu);
    const shown = await kaas(['cluster', 'show', 'keep', '-o', 'json']);
    expect(JSON.parse(shown.stdout).cluster).toMatchObject({ id: clusterId, status: 'ready' });
    await stop(running);
    running = undefined;
  }, 180_000);

  it('says when the database and the cloud disagree, and --reset starts afresh', async () => {
    // A project of its own, where admin logged in once (the database then names admin's user).
    project = join(home, 'other-project');
    mkdirSync(project);
    running = startDevProcess();
    const first = { ...sourcedEnv(await running.ready), HOME: home };
    const once = await spawnKaas(['login', '--username', 'admin', '--password-stdin'], first, {
      stdin: 'admin\n',
    });
    expect(once.code, once.stderr).toBe(0);
    await stop(running);
    running = undefined;
    const cloudState = join(project, '.kaas', 'cloudsim');
    rmSync(cloudState, { recursive: true });
    const refused = startDevProcess();
    expect(await refused.exited).toEqual({ code: 6, signal: null });
    expect(refused.output()).toMatch(
      /^kaas: the database and the embedded cloud in \.kaas do not agree: the database names 0 project\(s\) and \d+ user\(s\) the cloud does not have \(its state \.kaas\/cloudsim\/state\.json is missing\)\. `kaas dev --reset` removes both/m,
    );
    // Nothing was written: the database is as it was, and no cloud state appeared.
    expect(existsSync(join(cloudState, 'state.json'))).toBe(false);

    // --reset on a busy port refuses before it removes anything.
    const busy = createServer();
    const busyPort = await freePort();
    await new Promise<void>((resolve) => busy.listen(busyPort, '127.0.0.1', resolve));
    const refusedReset = startDevProcess(['--reset'], { PORT: String(busyPort) });
    expect(await refusedReset.exited).toEqual({ code: 2, signal: null });
    busy.close();
    expect(refusedReset.output()).toContain(`port ${busyPort} on 127.0.0.1 is in use`);
    expect(refusedReset.output()).not.toContain('removing');
    expect(existsSync(join(project, '.kaas', 'kaas.db'))).toBe(true);

    running = startDevProcess(['--reset', '--log-format', 'text']);
    const envFile = await running.ready;
    const output = running.output();
    for (const [name, what] of [
      ['kaas.db', 'the database'],
      ['secret.key', "the key sealing the clusters' secrets"],
      ['cli', 'the kaas CLI login'],
    ])
      expect(output).toContain(`kaas dev --reset: removing .kaas/${name} (${what}`);
    expect(output).toMatch(/embedded cloud: +new, kept in \.kaas\/cloudsim/);
    // Readable log lines at a terminal's request: time, level, message, fields; no JSON.
    expect(output).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}Server listening at /m);
    expect(output).not.toMatch(/^\{"level"/m);

    const env: Record<string, string> = { ...sourcedEnv(envFile), HOME: home };
    const stale = await spawnKaas(['cluster', 'list'], env);
    expect([stale.code, stale.stderr]).toEqual([3, expect.stringContaining('kaas login')]);
    const login = await spawnKaas(['login', '--username', 'admin', '--password-stdin'], env, {
      stdin: 'admin\n',
    });
    expect(login.code, login.stderr).toBe(0);
    const list = await spawnKaas(['cluster', 'list', '-o', 'json'], env);
    expect(JSON.parse(list.stdout)).toMatchObject({ items: [] });
    await stop(running);
    running = undefined;

    // The other way round: the database deleted, the cloud kept.
    rmSync(join(project, '.kaas', 'kaas.db'));
    const noDatabase = startDevProcess();
    expect(await noDatabase.exited).toEqual({ code: 6, signal: null });
    expect(noDatabase.output()).toContain(
      "the database .kaas/kaas.db is missing while the cloud's state remains. `kaas dev --reset`",
    );
  }, 240_000);
});

/** Logs in to the control panel as admin; returns a caller with its session cookie and CSRF token. */
async function panelLogin(base: string) {
  const res = await fetch(`${base}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: 'admin', domain: 'Default' }),
  });
  expect(res.status).toBe(200);
  const cookie = res.headers
    .getSetCookie()
    .find((c) => c.startsWith('kaas_session='))
    ?.split(';')[0] as string;
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  return (method: string, path: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: {
        cookie,
        'x-csrf-token': csrfToken,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
}

/** The embedded cloud's Keystone URL, from the clouds.yaml the env file names. */
function cloudAuthUrl(env: Record<string, string>): string {
  const clouds = parse(readFileSync(env.OS_CLIENT_CONFIG_FILE as string, 'utf8')) as {
    clouds: Record<string, { auth: { auth_url: string } }>;
  };
  return clouds.clouds[env.OS_CLOUD as string]?.auth.auth_url as string;
}
