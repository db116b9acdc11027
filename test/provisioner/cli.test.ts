/**
 * `kaas cluster …` as a user runs it: the real commands (in-process, and as a real process for
 * Ctrl-C) against a real `kaas serve` over TLS with its job worker, on cloudsim. The CLI never runs
 * a job: every job here is run by the server's worker.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configDir, readClientConfig, writeClientConfig } from '../../src/auth/client.ts';
import { createCa, issueServerCert } from '../../src/auth/pki.ts';
import { probeApi } from '../../src/cli/provisioner.ts';
import { startServer, type RunningServer } from '../../src/cli/serve.ts';
import { startCloudsim, type Cloudsim } from '../../src/cloudsim/index.ts';
import { createLogger } from '../../src/log.ts';
import { openStore, type Store } from '../../src/store/db.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';
import { listJobSteps } from '../../src/store/listJobSteps.ts';
import { updateProvisionedCluster } from '../../src/store/updateProvisionedCluster.ts';
import { waitFor } from '../ha/support.ts';
import { runKaas, spawnKaas } from '../support/cli.ts';
import { adminEnv } from '../support/openstack.ts';
import {
  TEST_SECRET_KEY,
  testCloud,
  testProvisioner,
  testReleaseDeps,
  testSpec,
  testWebhook,
} from './support.ts';

let sim: Cloudsim;
let server: RunningServer;
let store: Store;
let dir: string;
let caFile: string;
/** Where admin (cluster admin and kaas operator) and bob (a member of the project) log in. */
let adminDir: string;
let bobDir: string;
let serverEnv: Record<string, string>;
/** The server's log (info): its request lines show what the CLI sent. */
let serverLog = '';

beforeAll(async () => {
  sim = await startCloudsim({ port: 0, bootTimeMs: 20 });
  dir = mkdtempSync(join(tmpdir(), 'kaas-cli-'));
  adminDir = join(dir, 'admin');
  bobDir = join(dir, 'bob');
  const project = sim.seedProject({ name: 'admin' });
  const admin = sim.seedUser({ name: 'admin', password: 'secret' });
  sim.assignRole({ projectId: project.id, roleId: sim.seedRole('kaas-operator').id, userId: admin.id });
  const bob = sim.seedUser({ name: 'bob', password: 'bob-password' });
  sim.assignRole({ projectId: project.id, roleId: sim.seedRole('member').id, userId: bob.id });

  const ca = await createCa({ commonName: 'kaas-cli-test' });
  const cert = await issueServerCert({ ca, hosts: ['127.0.0.1'] });
  caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, ca.certPem);
  writeFileSync(join(dir, 'tls.crt'), cert.certPem);
  writeFileSync(join(dir, 'tls.key'), cert.keyPem);

  serverEnv = {
    KAAS_DATABASE_URL: `sqlite:${join(dir, 'kaas.db')}`,
    KAAS_SECRET_KEY: TEST_SECRET_KEY.toString('base64'),
    ...adminEnv(sim.authUrl),
  };
  store = openStore(serverEnv.KAAS_DATABASE_URL as string);
  await migrateToLatest(store.db as never);
  // Two clusters are queued before the server starts (so its first Keystone sync sees their
  // project); ok1's create succeeds, bad1's fails on a flavor the cloud does not have yet.
  const p = testProvisioner(store, testCloud(sim), await testWebhook());
  const adminRoleId = sim.seedRole('admin').id;
  for (const [name, flavor] of [
    ['ok1', 'm1.small'],
    ['bad1', 'm1.later'],
  ] as const) {
    await p.createCluster(
      testSpec(name, 1, { adminRoleId, nodeGroups: [{ name: 'default', count: 1, flavor }] }),
      { waitForApi: false },
    );
  }
  server = await startServer(
    {
      ...serverEnv,
      PORT: '0',
      KAAS_WORKER_POLL_MS: '20',
      KAAS_TLS_CERT_FILE: join(dir, 'tls.crt'),
      KAAS_TLS_KEY_FILE: join(dir, 'tls.key'),
      KAAS_OPERATOR_ROLE: 'kaas-operator',
    },
    {
      logger: createLogger({
        level: 'info',
        destination: new Writable({
          write(chunk, _enc, done) {
            serverLog += String(chunk);
            done();
          },
        }),
      }),
      cwd: dir,
      home: dir,
      provisioner: { webhook: await testWebhook(), pollIntervalMs: 20, ...testReleaseDeps() },
    },
  );
}, 60_000);
afterAll(async () => {
  await server?.close();
  await store?.close();
  await sim?.close();
});

/** Runs `kaas …` in-process as `config` (a KAAS_CONFIG_DIR) trusting the server's CA. */
const kaas = (config: string, args: string[], over: Record<string, string> = {}) =>
  runKaas(args, { KAAS_CONFIG_DIR: config, KAAS_CA_FILE: caFile, ...over });

const login = (config: string, user: string, password: string) =>
  kaas(config, ['login', '--url', server.url, '--username', user], { KAAS_PASSWORD: password });

/** The cluster and its last job as `kaas cluster show -o json` prints them. */
async function show(ref: string) {
  const r = await kaas(adminDir, ['cluster', 'show', ref, '-o', 'json']);
  expect(r.code, r.stderr).toBe(0);
  const data = JSON.parse(r.stdout) as {
    cluster: { status: string; spec: { nodeGroups: { count: number }[] } };
    operations: { id: string; kind: string; state: string }[];
  };
  return {
    cluster: data.cluster,
    job: { job: data.operations[0] as { id: string; kind: string; state: string } },
  };
}

/** Runs `kaas cluster <args> --no-wait -o json` as admin: the job it queued, which must be a `kind`. */
async function queuedJob(args: string[], kind: string) {
  const queued = await kaas(adminDir, ['cluster', ...args, '--no-wait', '-o', 'json']);
  expect(queued.code, queued.stderr).toBe(0);
  const job = JSON.parse(queued.stdout) as { id: string; kind: string; state: string };
  expect(job).toMatchObject({ kind, state: 'queued' });
  return { job, stderr: queued.stderr };
}

/** The environment of a `bin/kaas.mjs` process logged in as admin. */
const cliEnv = () => ({ HOME: dir, KAAS_CONFIG_DIR: adminDir, KAAS_CA_FILE: caFile });

/** The project kaas builds clusters in (its servers' project). */
function kaasProject(): string {
  const server = [...sim.state.servers.values()].find((x) => x.metadata['kaas-cluster'] !== undefined);
  if (!server) throw new Error('no kaas server in cloudsim yet');
  return server.projectId;
}

/**
 * Runs `during` while servers booted meanwhile stay in BUILD (a condition the test ends, rather
 * than a boot time the CLI must beat), then lets the cluster's servers finish booting at once.
 */
async function withBootsHeld<T>(clusterId: string | (() => string), during: () => Promise<T>): Promise<T> {
  sim.knobs.bootTimeMs = 3_600_000;
  try {
    return await during();
  } finally {
    sim.knobs.bootTimeMs = 20;
    const id = typeof clusterId === 'string' ? clusterId : clusterId();
    for (const server of sim.state.servers.values())
      if (server.metadata['kaas-cluster'] === id) server.activeAt = Math.min(server.activeAt, Date.now());
  }
}

/** Waits until the server's worker has finished the job `jobId` of `ref` (seen through the CLI). */
const jobOver = (ref: string, jobId: string) =>
  waitFor(
    `job ${jobId} of ${ref} to finish`,
    async () => {
      const view = await show(ref);
      return view.job.job.id === jobId && !['queued', 'running'].includes(view.job.job.state)
        ? view
        : undefined;
    },
    60_000,
    100,
  );

describe('kaas cluster against a kaas server', () => {
  it('refuses clearly before login, on a wrong or unreachable server and with an untrusted certificate', async () => {
    const none = await kaas(join(dir, 'nobody'), ['cluster', 'list']);
    expect([none.code, none.stderr]).toEqual([3, expect.stringContaining('run `kaas login` first')]);

    // The server's certificate is verified: without its CA, login does not talk to it.
    const untrusted = await kaas(adminDir, ['login', '--url', server.url, '--username', 'admin'], {
      KAAS_PASSWORD: 'secret',
      KAAS_CA_FILE: '',
    });
    expect([untrusted.code, untrusted.stderr]).toEqual([7, expect.stringContaining('cannot reach kaas at')]);
    expect(untrusted.stderr).not.toContain('secret');

    const ok = await login(adminDir, 'admin', 'secret');
    expect([ok.code, ok.stderr]).toEqual([0, expect.stringContaining('logged in as admin')]);
    expect((await login(bobDir, 'bob', 'bob-password')).code).toBe(0);

    const wrong = await kaas(adminDir, ['cluster', 'list'], { KAAS_URL: 'https://kaas.elsewhere.example' });
    expect([wrong.code, wrong.stderr]).toEqual([
      3,
      expect.stringContaining('not https://kaas.elsewhere.example'),
    ]);

    const saved = readClientConfig(configDir({ KAAS_CONFIG_DIR: adminDir }));
    const gone = join(dir, 'gone');
    writeClientConfig(gone, { ...saved, url: 'https://127.0.0.1:9' });
    const down = await kaas(gone, ['cluster', 'list']);
    expect([down.code, down.stderr]).toEqual([
      7,
      expect.stringContaining('cannot reach kaas at https://127.0.0.1:9'),
    ]);

    const revoked = join(dir, 'revoked');
    writeClientConfig(revoked, { ...saved, token: 'kaas_not-a-real-token' });
    const denied = await kaas(revoked, ['cluster', 'list']);
    expect([denied.code, denied.stderr]).toEqual([3, expect.stringContaining('(invalid_token)')]);
    expect(denied.stderr).toContain('it was revoked or has expired; run `kaas login`');

    const ca = await kaas(adminDir, ['cluster', 'list'], { KAAS_CA_FILE: join(dir, 'tls.key') });
    expect([ca.code, ca.stderr]).toEqual([2, expect.stringContaining('KAAS_CA_FILE must hold a PEM')]);
  });

  it('lists and shows what the server built; members and strangers get 403 and 404', async () => {
    const created = await waitFor(
      'the server to build ok1',
      async () => {
        const r = await kaas(adminDir, ['cluster', 'list', '-o', 'json']);
        const items = r.code === 0 ? (JSON.parse(r.stdout).items as { name: string; status: string }[]) : [];
        return items.find((c) => c.name === 'ok1' && c.status === 'ready') ? items : undefined;
      },
      60_000,
      100,
    );
    expect(created.map((c) => c.name).sort()).toEqual(['bad1', 'ok1']);
    const list = await kaas(adminDir, ['cluster', 'list']);
    expect(list.stdout).toMatch(/^ok1 +c[0-9a-f]{12} +ready +[\d.]+ +1$/m);

    const text = await kaas(adminDir, ['cluster', 'show', 'ok1']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^ok1 \(c[0-9a-f]+\) ready, Kubernetes /);
    expect(text.stdout).toMatch(/last job job-[0-9a-f]+ create succeeded \((\d+)\/\1 steps done\)/);
    expect(text.stdout).toContain('  done     network');
    // cloudsim's servers never boot a Kubernetes API: show says so plainly, with the reason.
    expect(text.stdout).toMatch(/^API unreachable: .+ \(checked \d{4}-/m);

    const bobList = await kaas(bobDir, ['cluster', 'list']);
    expect(bobList.stdout).toMatch(/^ok1 +c[0-9a-f]{12} +- +- +-$/m);
    const bobShow = await kaas(bobDir, ['cluster', 'show', 'ok1']);
    expect([bobShow.code, bobShow.stderr]).toEqual([4, expect.stringContaining('needs its admin role')]);
    expect((await kaas(bobDir, ['cluster', 'resize', 'ok1', '--count', '3'])).code).toBe(4);
    const spec = join(dir, 'bob1.json');
    writeFileSync(spec, JSON.stringify(testSpec('bob1', 1)));
    const bobCreate = await kaas(bobDir, ['cluster', 'create', '-f', spec, '--no-wait-for-api']);
    expect([bobCreate.code, bobCreate.stderr]).toEqual([4, expect.stringContaining('kaas operators')]);

    const missing = await kaas(adminDir, ['cluster', 'show', 'nope']);
    expect([missing.code, missing.stderr]).toEqual([5, expect.stringContaining('no cluster "nope"')]);
    // Releases come only from the version catalogue: there is no flag to name one.
    const release = await kaas(adminDir, ['cluster', 'create', '--name', 'r1', '--release', '/etc/passwd']);
    expect([release.code, release.stderr]).toEqual([
      2,
      expect.stringContaining("unknown option '--release'"),
    ]);
  });

  it('--no-wait returns the queued job at once and the server runs it', async () => {
    const { job, stderr } = await queuedJob(['resize', 'ok1', '--count', '2'], 'resize');
    expect(stderr).toBe('');
    // No CLI runs anything from here on: the server's worker takes the job.
    const done = await jobOver('ok1', job.id);
    expect(done.job.job.state).toBe('succeeded');
    expect(done.cluster.spec.nodeGroups[0]?.count).toBe(2);

    const same = await kaas(adminDir, ['cluster', 'resize', 'ok1', '--count', '2']);
    expect([same.code, same.stderr]).toEqual([6, expect.stringContaining('already has 2 node(s)')]);
    expect((await kaas(adminDir, ['cluster', 'resize', 'ok1', '--count', 'many'])).code).toBe(2);
    const version = (await show('ok1')).cluster as unknown as { spec: { kubernetesVersion: string } };
    const upgrade = await kaas(adminDir, [
      'cluster',
      'upgrade',
      'ok1',
      '--version',
      version.spec.kubernetesVersion,
    ]);
    expect([upgrade.code, upgrade.stderr]).toEqual([0, expect.stringContaining('already runs Kubernetes')]);
  });

  it('Ctrl-C while following detaches: the CLI says so and exits 130, the server finishes the job', async () => {
    const { id } = (await show('ok1')).cluster as unknown as { id: string };
    const detached = await withBootsHeld(id, () =>
      spawnKaas(['cluster', 'resize', 'ok1', '--count', '3'], cliEnv(), { interruptOn: / info +\S+: / }),
    );
    expect(detached.code, detached.stderr).toBe(130);
    const jobId = /job (job-[0-9a-f]+) \(resize\) keeps running on the server/.exec(detached.stderr)?.[1];
    expect(jobId, detached.stderr).toBeDefined();
    expect(detached.stderr).toContain('follow it with `kaas cluster show ok1`');
    expect(detached.stdout).toBe('');
    const done = await jobOver('ok1', jobId as string);
    expect(done.job.job.state).toBe('succeeded');
    expect(done.cluster.spec.nodeGroups[0]?.count).toBe(3);
  }, 150_000);

  it('Ctrl-C on a followed create detaches; the server runs the job on until Nova refuses a worker; retry through the CLI resumes at that step', async () => {
    const project = kaasProject();
    const inProject = () => [...sim.state.servers.values()].filter((x) => x.projectId === project).length;
    // Room for the master only: Nova refuses the workers by its instance quota.
    sim.knobs.quotas.projects[project] = { ...sim.knobs.quotas.defaults, instances: inProject() + 1 };
    try {
      const spec = join(dir, 'cc1.json');
      writeFileSync(spec, JSON.stringify(testSpec('cc1', 1, { adminRoleId: sim.seedRole('admin').id })));
      let clusterId = '';
      const detached = await withBootsHeld(
        () => clusterId,
        async () => {
          const run = await spawnKaas(['cluster', 'create', '-f', spec, '--no-wait-for-api'], cliEnv(), {
            interruptOn: / info +master-0: step started/,
          });
          clusterId = ((await show('cc1')).cluster as unknown as { id: string }).id;
          return run;
        },
      );
      expect(detached.code, detached.stderr).toBe(130);
      const jobId = /job (job-[0-9a-f]+) \(create\) keeps running on the server/.exec(detached.stderr)?.[1];
      expect(jobId, detached.stderr).toBeDefined();
      expect(detached.stderr).toContain('follow it with `kaas cluster show cc1`');
      const stepsOf = async () =>
        new Map(
          (await listJobSteps({ db: store.db, jobId: jobId as string })).map((x) => [x.stepId, x] as const),
        );
      // The CLI is gone while master-0 still boots; the server alone takes the job on from here.
      const atDetach = await stepsOf();
      expect(atDetach.get('master-0')?.state).toBe('running');

      const failed = await jobOver('cc1', jobId as string);
      expect([failed.job.job.state, failed.cluster.status]).toEqual(['failed', 'failed']);
      const afterFailure = await stepsOf();
      expect(afterFailure.get('master-0')?.state).toBe('done');
      expect(afterFailure.get('workers:default')).toMatchObject({
        state: 'failed',
        error: { message: expect.stringMatching(/[Qq]uota exceeded for instances/) as unknown },
      });

      sim.knobs.quotas.projects[project] = { ...sim.knobs.quotas.defaults };
      const retried = await spawnKaas(['cluster', 'retry', 'cc1'], cliEnv());
      expect(retried.code, retried.stderr).toBe(0);
      expect(retried.stderr).toMatch(/resuming \(attempt 2\), \d+\/\d+ steps already done/);
      expect(retried.stderr).toMatch(/ info +workers:default: step done/);
      const after = await stepsOf();
      expect([...after.values()].filter((x) => x.state !== 'done')).toEqual([]);
      // Every step done before the failure kept its one run; the failed step ran once more.
      for (const [stepId, before] of afterFailure) {
        const runs = after.get(stepId)?.runs;
        if (before.state === 'done') expect([stepId, runs]).toEqual([stepId, 1]);
        if (before.state === 'failed') expect([stepId, runs]).toEqual([stepId, before.runs + 1]);
      }
      const servers = [...sim.state.servers.values()].filter((x) => x.metadata['kaas-cluster'] === clusterId);
      // One master and the one worker: no server twice across the two attempts.
      expect(servers.map((x) => x.metadata['kaas-role'] ?? x.metadata['kaas-group']).sort()).toEqual([
        'default',
        'master',
      ]);
      expect((await show('cc1')).cluster.status).toBe('ready');
      expect((await kaas(adminDir, ['cluster', 'delete', 'cc1', '--yes'])).code).toBe(0);
    } finally {
      sim.knobs.quotas.projects[project] = { ...sim.knobs.quotas.defaults };
    }
  }, 150_000);

  it('a failed job exits 7 with the way out; retry once the cause is fixed succeeds', async () => {
    await waitFor(
      'bad1 to fail',
      async () => ((await show('bad1')).cluster.status === 'failed' ? true : undefined),
      60_000,
      100,
    );
    const again = await kaas(adminDir, ['cluster', 'retry', 'bad1']);
    expect(again.code).toBe(7);
    expect(again.stderr).toMatch(/failed at workers:default: .*m1\.later.*run `kaas cluster retry bad1`/);
    expect(again.stderr).toMatch(/ error +workers:default: /);

    sim.state.flavors.set('9', { id: '9', name: 'm1.later', vcpus: 1, ram: 2048, disk: 20 });
    const retried = await kaas(adminDir, ['cluster', 'retry', 'bad1', '-o', 'json']);
    expect(retried.code, retried.stderr).toBe(0);
    expect(JSON.parse(retried.stdout)).toMatchObject({ kind: 'create', state: 'succeeded' });
    expect((await show('bad1')).cluster.status).toBe('ready');
    const twice = await kaas(adminDir, ['cluster', 'retry', 'bad1']);
    expect([twice.code, twice.stderr]).toEqual([6, expect.stringContaining('(job_not_failed)')]);
  });

  it('an operator creates: --no-wait returns the queued job at once, the server builds the cluster', async () => {
    const spec = join(dir, 'cli1.json');
    writeFileSync(spec, JSON.stringify(testSpec('cli1', 1, { adminRoleId: sim.seedRole('admin').id })));
    const queued = await kaas(adminDir, [
      'cluster',
      'create',
      '-f',
      spec,
      '--no-wait-for-api',
      '--no-wait',
      '-o',
      'json',
    ]);
    expect(queued.code, queued.stderr).toBe(0);
    const { cluster, job } = JSON.parse(queued.stdout) as {
      cluster: { name: string };
      job: { id: string; state: string };
    };
    expect([cluster.name, job.state]).toEqual(['cli1', 'queued']);
    expect(queued.stderr).toContain('BEGIN OPENSSH PRIVATE KEY');
    const done = await jobOver('cli1', job.id);
    expect([done.job.job.state, done.cluster.status]).toEqual(['succeeded', 'ready']);

    const followed = await kaas(adminDir, [
      'cluster',
      'create',
      '--name',
      'cli2',
      '-f',
      spec,
      '--no-wait-for-api',
    ]);
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stdout).toMatch(/^cli2 c[0-9a-f]{12} succeeded\n$/);
    expect(followed.stderr).toMatch(/ info +workers:default: /);
    for (const name of ['cli1', 'cli2'])
      expect((await kaas(adminDir, ['cluster', 'delete', name, '--yes'])).code).toBe(0);
  });

  it('set --auto-heal turns healing off and on for the cluster or a group, shown by show; bad values name the flag', async () => {
    const off = await kaas(adminDir, ['cluster', 'set', 'ok1', '--auto-heal', 'off']);
    expect([off.code, off.stdout], off.stderr).toEqual([0, 'ok1 auto-heal off\n']);
    const shown = await kaas(adminDir, ['cluster', 'show', 'ok1']);
    expect(shown.stdout).toContain('\nauto-heal off\n');
    await kaas(adminDir, ['cluster', 'set', 'ok1', '--auto-heal', 'on']);
    const group = await kaas(adminDir, [
      'cluster',
      'set',
      'ok1',
      '--auto-heal',
      'off',
      '--group',
      'default',
      '-o',
      'json',
    ]);
    expect(group.code, group.stderr).toBe(0);
    expect(JSON.parse(group.stdout).spec).toMatchObject({
      autoHeal: true,
      nodeGroups: [{ autoHeal: false }],
    });
    expect((await kaas(adminDir, ['cluster', 'show', 'ok1'])).stdout).toContain(
      '\nauto-heal on (off for group default)\n',
    );

    const nope = await kaas(adminDir, ['cluster', 'set', 'ok1', '--auto-heal', 'off', '--group', 'gpu']);
    expect([nope.code, nope.stderr]).toEqual([2, expect.stringContaining('(--group)')]);
    const maybe = await kaas(adminDir, ['cluster', 'set', 'ok1', '--auto-heal', 'maybe']);
    expect([maybe.code, maybe.stderr]).toEqual([2, expect.stringContaining('use on or off')]);
    const member = await kaas(bobDir, ['cluster', 'set', 'ok1', '--auto-heal', 'off']);
    expect([member.code, member.stderr]).toEqual([4, expect.stringContaining('(forbidden)')]);
    await kaas(adminDir, ['cluster', 'set', 'ok1', '--auto-heal', 'on', '--group', 'default']);
    expect((await kaas(adminDir, ['cluster', 'show', 'ok1'])).stdout).toContain('\nauto-heal on\n');
  });

  it('set --min-workers/--max-workers changes the bounds: at once inside them, else by a followed job into them; show says so; bad values name the flag', async () => {
    expect((await show('ok1')).cluster.spec.nodeGroups[0]).toMatchObject({ count: 3 });
    // Autoscaling turned on (the minimum defaults to the size, 3): a job, followed.
    const on = await kaas(adminDir, ['cluster', 'set', 'ok1', '--max-workers', '5']);
    expect([on.code, on.stdout], on.stderr).toEqual([
      0,
      expect.stringMatching(/^job-[0-9a-f]+ resize succeeded\n$/),
    ]);
    expect(on.stderr).toMatch(/ addons: /);
    expect((await kaas(adminDir, ['cluster', 'show', 'ok1'])).stdout).toContain(
      '\nautoscaling default 3..5\n',
    );
    // Still autoscaled, the size inside: at once, no job.
    const wider = await kaas(adminDir, ['cluster', 'set', 'ok1', '--max-workers', '6']);
    expect([wider.code, wider.stdout], wider.stderr).toEqual([0, 'ok1 autoscaling default 3..6\n']);
    const json = await kaas(adminDir, ['cluster', 'set', 'ok1', '--min-workers', '3', '-o', 'json']);
    expect(JSON.parse(json.stdout).spec.nodeGroups[0]).toMatchObject({ count: 3, minSize: 3, maxSize: 6 });
    // The size below the new minimum: resized into the bounds.
    const up = await kaas(adminDir, ['cluster', 'set', 'ok1', '--min-workers', '4', '--group', 'default']);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toMatch(/ workers:default: /);
    expect((await show('ok1')).cluster.spec.nodeGroups[0]).toMatchObject({
      count: 4,
      minSize: 4,
      maxSize: 6,
    });

    for (const [args, code, said] of [
      [['--min-workers', '7', '--max-workers', '6'], 2, '--min-workers 7 leaves no size'],
      [['--max-workers', '1'], 2, '--max-workers 1 leaves no size: the minimum would be 4'],
      [['--max-workers', 'many'], 2, '--max-workers must be a whole number'],
      [['--max-workers', '3', '--group', 'gpu'], 2, '--group "gpu" is not a node group of ok1'],
      [[], 2, 'give --auto-heal, or --min-workers and/or --max-workers'],
      [['--auto-heal', 'on', '--max-workers', '3'], 2, 'not both at once'],
    ] as const) {
      const bad = await kaas(adminDir, ['cluster', 'set', 'ok1', ...args]);
      expect([bad.code, bad.stderr], args.join(' ')).toEqual([code, expect.stringContaining(said)]);
    }
    const member = await kaas(bobDir, ['cluster', 'set', 'ok1', '--max-workers', '5']);
    expect([member.code, member.stderr]).toEqual([4, expect.stringContaining('(forbidden)')]);

    // Pinned back at 1: shrunk, and no longer autoscaled.
    const off = await kaas(adminDir, ['cluster', 'set', 'ok1', '--min-workers', '1', '--max-workers', '1']);
    expect(off.code, off.stderr).toBe(0);
    const shown = await kaas(adminDir, ['cluster', 'show', 'ok1']);
    expect(shown.stdout).toContain('\nautoscaling off\n');
    expect((await show('ok1')).cluster.spec.nodeGroups[0]).toMatchObject({
      count: 1,
      minSize: 1,
      maxSize: 1,
    });
  });

  it('rotate-credentials goes through the server as the caller: members 403, refusals as the server says, the job queued and audited', async () => {
    const member = await kaas(bobDir, ['cluster', 'rotate-credentials', 'ok1']);
    expect([member.code, member.stderr]).toEqual([4, expect.stringContaining('(forbidden)')]);
    // ok1 was made with waitForApi=false: kaas cannot move its services onto a new credential.
    const unreached = await kaas(adminDir, ['cluster', 'rotate-credentials', 'ok1']);
    expect([unreached.code, unreached.stderr]).toEqual([
      6,
      expect.stringContaining('(cluster_api_not_reached)'),
    ]);

    const { id, options } = (await show('ok1')).cluster as unknown as { id: string; options: object };
    const reachable = (waitForApi: boolean) =>
      updateProvisionedCluster({
        db: store.db,
        id,
        status: 'ready',
        options: { ...options, waitForApi },
        now: new Date().toISOString(),
      });
    await reachable(true);
    try {
      const { job } = await queuedJob(['rotate-credentials', 'ok1'], 'rotate');
      expect(serverLog).toContain(`"method":"POST","url":"/api/v1/clusters/${id}/rotate-credentials"`);
      const audited = await store.db
        .selectFrom('audit_events')
        .select(['outcome', 'actor_name', 'details'])
        .where('action', '=', 'cluster.credentials.rotate')
        .orderBy('at')
        .execute();
      expect(audited.map((e) => [e.outcome, e.actor_name])).toEqual([
        ['failure', 'bob@Default'],
        ['failure', 'admin@Default'],
        ['success', 'admin@Default'],
      ]);
      expect(JSON.parse(audited[2]!.details)).toMatchObject({ jobId: job.id });
      // The server's worker runs it; cloudsim's servers run no Kubernetes, so the services never
      // move and the job stops before deleting the old credential.
      const over = await jobOver('ok1', job.id);
      expect(over.job.job.state).toBe('failed');
    } finally {
      await reachable(false);
    }
  });

  it('writes the break-glass kubeconfig from the database only, then deletes through the server', async () => {
    const local = { ...serverEnv, KAAS_CONFIG_DIR: adminDir };
    const file = join(dir, 'ok1.kubeconfig');
    const admin = await kaas(adminDir, ['cluster', 'kubeconfig', 'ok1', '--admin', '--file', file], local);
    expect(admin.code, admin.stderr).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(parse(readFileSync(file, 'utf8')).users[0].user['client-key-data']).toBeTruthy();
    const over = await kaas(adminDir, ['cluster', 'kubeconfig', 'ok1', '--admin', '--file', file], local);
    expect([over.code, over.stderr]).toEqual([2, expect.stringContaining('already exists')]);
    expect((await kaas(adminDir, ['cluster', 'kubeconfig', 'ok1'], local)).code).toBe(2);
    expect((await kaas(adminDir, ['cluster', 'kubeconfig', 'nope', '--admin'], local)).code).toBe(5);
    const okId = ((await show('ok1')).cluster as unknown as { id: string }).id;
    const audited = await store.db
      .selectFrom('audit_events')
      .select(['action', 'outcome', 'target', 'cluster_id', 'actor_name'])
      .where('action', '=', 'cluster.kubeconfig.admin')
      .orderBy('at')
      .execute();
    const by = expect.stringContaining('@');
    expect(audited).toEqual([
      {
        action: 'cluster.kubeconfig.admin',
        outcome: 'success',
        target: 'ok1',
        cluster_id: okId,
        actor_name: by,
      },
      {
        action: 'cluster.kubeconfig.admin',
        outcome: 'failure',
        target: 'nope',
        cluster_id: null,
        actor_name: by,
      },
    ]);
    const noKey = await kaas(adminDir, ['cluster', 'kubeconfig', 'ok1', '--admin'], {
      ...local,
      KAAS_SECRET_KEY: '',
    });
    expect([noKey.code, noKey.stderr]).toEqual([2, expect.stringContaining('KAAS_SECRET_KEY')]);

    const { id } = (await show('ok1')).cluster as unknown as { id: string };
    const deleted = await kaas(adminDir, ['cluster', 'delete', 'ok1', '--delete-volumes', '--yes']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(serverLog).toContain(`"method":"DELETE","url":"/api/v1/clusters/${id}?deleteVolumes=true"`);
    expect(serverLog).not.toContain(readClientConfig(adminDir).token);
    expect(deleted.stdout).toMatch(/^job-[0-9a-f]+ delete succeeded\n$/);
    expect(deleted.stderr).toMatch(/ info +\S+: /);
    expect((await kaas(adminDir, ['cluster', 'show', 'ok1'])).code).toBe(5);
    const queued = await kaas(adminDir, ['cluster', 'delete', 'bad1', '--no-wait', '--yes']);
    expect(queued.stdout).toMatch(/^job-[0-9a-f]+ delete queued\n$/);
    await waitFor(
      'bad1 to be deleted',
      async () => ((await kaas(adminDir, ['cluster', 'show', 'bad1'])).code === 5 ? true : undefined),
      60_000,
      100,
    );
    expect(sim.state.servers.size).toBe(0);
  });
});

describe('probeApi', () => {
  it('trusts only the cluster CA for /healthz', async () => {
    const ca = await createCa({ commonName: 'kubernetes-probe' });
    const other = await createCa({ commonName: 'someone-else' });
    const cert = await issueServerCert({ ca, hosts: ['127.0.0.1'] });
    const https = createServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(https.address() as AddressInfo).port}/healthz`;
    try {
      const signal = new AbortController().signal;
      expect(await probeApi(url, signal, ca.certPem)).toBe(200);
      await expect(probeApi(url, signal, other.certPem)).rejects.toThrow();
      await expect(probeApi(url, signal)).rejects.toThrow();
    } finally {
      https.closeAllConnections();
      await new Promise<void>((resolve) => https.close(() => resolve()));
    }
  });
});
