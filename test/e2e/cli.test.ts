/**
 * The kaas CLI as a newcomer runs it against `kaas dev`: the built bin/kaas.mjs in child
 * processes, configured only by the `.kaas/env` kaas dev wrote (sourced by a real shell), talking
 * to kaas dev's server, whose job worker builds clusters on its embedded cloud (cloudsim).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readClientConfig } from '../../src/auth/clientConfig.ts';
import type { RunningDev } from '../../src/cli/dev.ts';
import { ensureClients, osc } from '../conformance/osc.ts';
import { spawnKaas } from '../support/cli.ts';
import { startTestDev } from '../support/dev.ts';
import { sourcedEnv } from '../support/shellEnv.ts';

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

let home: string;
let dataDir: string;
let dev: RunningDev;
/** Exactly what `source .kaas/env` gives the user's shell, and a HOME of its own. */
let env: Record<string, string>;

const kaas = (
  args: string[],
  input: { stdin?: string; tty?: boolean } = {},
  over: Record<string, string> = {},
) => spawnKaas(args, { ...env, ...over }, input);

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'kaas-e2e-cli-'));
  dataDir = join(home, 'project', '.kaas');
  mkdirSync(dataDir, { recursive: true });
  dev = await startTestDev(dataDir);
  env = { ...sourcedEnv(dev.envFile), HOME: home };
}, 60_000);
afterAll(async () => {
  await dev?.close();
});

describe('CLI conventions', () => {
  it('kaas --version prints the version', async () => {
    expect(await kaas(['--version'])).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('kaas dev on a busy port says so and exits 2, having started nothing', async () => {
    const busy = await kaas(['dev'], {}, { PORT: new URL(dev.url).port });
    expect(busy).toEqual({
      code: 2,
      stdout: '',
      stderr: `kaas: port ${new URL(dev.url).port} on 127.0.0.1 is in use: stop what runs there or set PORT (port_in_use)\n`,
    });
  });

  it('usage errors exit 2 and name what was wrong', async () => {
    const flag = await kaas(['cluster', 'list', '--bogus']);
    expect([flag.code, flag.stderr]).toEqual([2, expect.stringContaining("unknown option '--bogus'")]);
    const command = await kaas(['clusters']);
    expect([command.code, command.stderr]).toEqual([
      2,
      expect.stringContaining("unknown command 'clusters'"),
    ]);
    const format = await kaas(['cluster', 'list', '-o', 'xml']);
    expect([format.code, format.stderr]).toEqual([
      2,
      expect.stringMatching(/--output <format>.*'xml' is invalid/),
    ]);
    expect(format.stderr).toContain('use one of text, wide, json, yaml');
    const missing = await kaas(['cluster', 'show']);
    expect([missing.code, missing.stderr]).toEqual([
      2,
      expect.stringContaining("missing required argument 'cluster'"),
    ]);
  });
});

describe('zero setup on the embedded cloud', () => {
  it('kaas dev wrote .kaas/env and .kaas/clouds.yaml readable by their owner only', () => {
    expect(dev.envFile).toBe(join(dataDir, 'env'));
    for (const file of ['env', 'clouds.yaml', 'secret.key'])
      expect(statSync(join(dataDir, file)).mode & 0o777).toBe(0o600);
    expect(env).toMatchObject({ KAAS_URL: dev.url, OS_CLOUD: 'kaas-dev' });
    const clouds = parse(readFileSync(join(dataDir, 'clouds.yaml'), 'utf8'));
    expect(clouds.clouds['kaas-dev'].auth.auth_url).toBe(dev.cloud.authUrl);
  });

  it('the openstack CLI works on every service with nothing but that env', async () => {
    const cli = osc(ensureClients(), env);
    try {
      // The conformance suite's cases run as a member of demo (test/conformance/osc.ts): the
      // env's user must hold what they need on every service, Swift and Octavia's policies included.
      for (const command of [
        'token issue',
        'catalog list',
        'flavor list',
        'image list',
        'server list',
        'keypair list',
        'quota show',
        'network list',
        'subnet list',
        'router list',
        'security group list',
        'port list',
        'floating ip list',
        'volume list',
        'volume type list',
        'volume snapshot list',
        'container list',
        'loadbalancer list',
      ]) {
        const run = await cli.run([...command.split(' '), '-f', 'json']);
        expect([command, run.code, run.stderr]).toEqual([command, 0, '']);
      }
      const [made] = await cli.json<{ container: string }[]>(['container', 'create', 'by-hand']);
      expect(made?.container).toBe('by-hand');
      await cli.ok(['container', 'delete', 'by-hand']);
    } finally {
      cli.close();
    }
  }, 300_000);

  it('login, create, list, show, break-glass kubeconfig and delete need nothing but that env', async () => {
    const login = await kaas(['login', '--username', 'admin', '--password-stdin'], { stdin: 'admin\n' });
    expect([login.code, login.stderr]).toEqual([0, expect.stringContaining('logged in as admin')]);
    expect(statSync(join(env.KAAS_CONFIG_DIR as string, 'config.json')).mode & 0o777).toBe(0o600);

    const created = await kaas(['cluster', 'create', '--name', 'first', '--workers', '1']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^first c[0-9a-f]{12} succeeded\n$/);
    const second = await kaas([
      'cluster',
      'create',
      '--name',
      'second-cluster',
      '--workers',
      '2',
      '--image-repository',
      'registry.example:5000/mirror',
      '--no-wait',
    ]);
    expect(second.code, second.stderr).toBe(0);
    const secondSpec = JSON.parse(
      (await kaas(['cluster', 'show', 'second-cluster', '-o', 'json'])).stdout,
    ) as {
      cluster: { spec: { imageRepository?: string } };
    };
    expect(secondSpec.cluster.spec.imageRepository).toBe('registry.example:5000/mirror');
    expect((await kaas(['cluster', 'show', 'second-cluster'])).stdout).toContain(
      '\nimages from registry.example:5000/mirror\n',
    );

    // Tables are aligned: every column starts where its header does.
    const list = await kaas(['cluster', 'list']);
    expect(list.code, list.stderr).toBe(0);
    const lines = list.stdout.trimEnd().split('\n');
    const header = lines[0] as string;
    expect(header).toMatch(/^NAME +ID +STATUS +VERSION +WORKERS$/);
    for (const column of ['ID', 'STATUS', 'VERSION', 'WORKERS']) {
      const at = header.indexOf(column);
      for (const line of lines.slice(1)) expect(line[at - 1], `${line} at ${column}`).toBe(' ');
      for (const line of lines.slice(1)) expect(line[at], `${line} at ${column}`).not.toBe(' ');
    }
    expect(lines.find((l) => l.startsWith('first '))).toMatch(/ ready +[\d.]+ +1$/);
    const wide = await kaas(['cluster', 'list', '-o', 'wide']);
    expect(wide.stdout).toMatch(/^NAME +ID +STATUS +VERSION +WORKERS +MASTERS +GROUPS +CREATED$/m);
    expect(wide.stdout).toMatch(/^first .* 1 +default:1xm1\.large +\d{4}-/m);
    const json = JSON.parse((await kaas(['cluster', 'list', '-o', 'json'])).stdout) as {
      items: { name: string }[];
    };
    const yaml = parse((await kaas(['cluster', 'list', '-o', 'yaml'])).stdout) as {
      items: { name: string }[];
    };
    // The same data (observed state and progress move between the two calls).
    const names = (list: { items: { name: string; id?: string }[] }) => list.items.map((c) => [c.name, c.id]);
    expect(names(yaml)).toEqual(names(json));
    expect(json.items.map((c) => c.name)).toEqual(expect.arrayContaining(['first', 'second-cluster']));

    // show -o json: the cluster and its operations; the plan only under --debug.
    const shown = await kaas(['cluster', 'show', 'first', '-o', 'json']);
    const view = JSON.parse(shown.stdout) as Record<string, unknown> & {
      cluster: Record<string, unknown>;
      operations: Record<string, unknown>[];
    };
    expect(Object.keys(view)).toEqual(['cluster', 'operations']);
    expect(view.cluster).toMatchObject({ name: 'first', status: 'ready' });
    expect(view.cluster).not.toHaveProperty('lastJob');
    expect(view.operations).toHaveLength(1);
    expect(Object.keys(view.operations[0] as object).sort()).toEqual(
      ['createdAt', 'error', 'id', 'kind', 'state', 'steps', 'updatedAt'].sort(),
    );
    expect(shown.stdout).not.toMatch(/"input"|"leaseOwner"|"output"/);
    const debug = JSON.parse((await kaas(['cluster', 'show', 'first', '-o', 'json', '--debug'])).stdout) as {
      debug: {
        lastJob: { job: { input: { steps: unknown[] } }; steps: { output: unknown }[]; events: unknown[] };
      };
    };
    expect(debug.debug.lastJob.job.input.steps.length).toBeGreaterThan(0);
    expect(debug.debug.lastJob.events.length).toBeGreaterThan(0);
    const showWide = await kaas(['cluster', 'show', 'first', '-o', 'wide']);
    expect(showWide.stdout).toMatch(/^ {2}STATE +STEP +STARTED +FINISHED$/m);
    const showYaml = parse((await kaas(['cluster', 'show', 'first', '-o', 'yaml'])).stdout) as typeof view;
    expect(showYaml.cluster.name).toBe('first');

    // The operator's break-glass path finds the database, key and cloud through the same env.
    const admin = await kaas(['cluster', 'kubeconfig', 'first', '--admin']);
    expect(admin.code, admin.stderr).toBe(0);
    expect(parse(admin.stdout).users[0].user['client-key-data']).toBeTruthy();

    // delete asks to type the name at a terminal, refuses without one unless --yes.
    const unknown = await kaas(['cluster', 'delete', 'nope']);
    expect([unknown.code, unknown.stderr]).toEqual([5, expect.stringContaining('no cluster "nope"')]);
    const piped = await kaas(['cluster', 'delete', 'first'], { stdin: 'first\n' });
    expect([piped.code, piped.stderr]).toEqual([
      2,
      expect.stringContaining('stdin is not a terminal; add --yes'),
    ]);
    const wrong = await kaas(['cluster', 'delete', 'first'], { tty: true, stdin: 'second-cluster\n' });
    expect([wrong.code, wrong.stdout]).toEqual([2, expect.stringContaining('Type "first" to confirm')]);
    expect(wrong.stdout).toContain('not deleted');
    expect((await kaas(['cluster', 'show', 'first'])).code).toBe(0);
    const typed = await kaas(['cluster', 'delete', 'first'], { tty: true, stdin: 'first\n' });
    expect(typed.code, typed.stdout).toBe(0);
    expect(typed.stdout).toMatch(/job-[0-9a-f]+ delete succeeded/);
    expect((await kaas(['cluster', 'show', 'first'])).code).toBe(5);
    const yes = await kaas(['cluster', 'delete', 'second-cluster', '--yes']);
    expect(yes.code, yes.stderr).toBe(0);
  }, 300_000);

  it('a new login revokes the previous token; a revoked login says to run kaas login', async () => {
    const old = join(home, 'old-login');
    mkdirSync(old, { mode: 0o700 });
    copyFileSync(join(env.KAAS_CONFIG_DIR as string, 'config.json'), join(old, 'config.json'));
    const before = readClientConfig(old);
    const again = await kaas(['login', '--username', 'admin', '--password-stdin'], { stdin: 'admin\n' });
    expect([again.code, again.stderr]).toEqual([
      0,
      expect.stringContaining(`revoked the token of your previous login (${before.tokenId})`),
    ]);
    const tokens = JSON.parse((await kaas(['token', 'list', '-o', 'json'])).stdout) as {
      items: { id: string }[];
    };
    expect(tokens.items.map((t) => t.id)).toEqual([readClientConfig(env.KAAS_CONFIG_DIR as string).tokenId]);
    const stale = await kaas(['cluster', 'list'], {}, { KAAS_CONFIG_DIR: old });
    expect([stale.code, stale.stderr]).toEqual([
      3,
      expect.stringContaining('revoked or has expired; run `kaas login`'),
    ]);
  });

  it('messages name the flag or variable the user typed', async () => {
    const days = await kaas(
      ['token', 'create', '--name', 'ci', '--expires-in-days', '1000', '--password-stdin'],
      {
        stdin: 'admin\n',
      },
    );
    expect([days.code, days.stderr]).toEqual([
      2,
      expect.stringContaining('kaas: --expires-in-days must be a whole number from 1 to 730'),
    ]);
    const url = await kaas(['login', '--username', 'admin'], {}, { KAAS_URL: 'http://kaas.example.com' });
    expect([url.code, url.stderr]).toEqual([
      2,
      expect.stringContaining('kaas: KAAS_URL must start with https://'),
    ]);
    const version = await kaas(['cluster', 'create', '--name', 'v1', '--kubernetes-version', '1.2.3']);
    expect([version.code, version.stderr]).toEqual([
      2,
      expect.stringMatching(/^kaas: --kubernetes-version /m),
    ]);
    const repo = await kaas([
      'cluster',
      'create',
      '--name',
      'v1',
      '--image-repository',
      'https://r.example/m',
    ]);
    expect([repo.code, repo.stderr]).toEqual([
      2,
      expect.stringMatching(/^kaas: --image-repository must not have a scheme/m),
    ]);
    const wait = await kaas(['cluster', 'create', '--name', 'v1'], {}, { KAAS_WAIT_FOR_API: 'no' });
    expect([wait.code, wait.stderr]).toEqual([
      2,
      expect.stringContaining('KAAS_WAIT_FOR_API must be true or false'),
    ]);
  });
});
