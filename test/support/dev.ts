import { startDev, type RunningDev } from '../../src/cli/dev.ts';
import type { JobView } from '../../src/provisioner/provisioner.ts';
import { createLogger, type Logger } from '../../src/log.ts';
import { waitFor } from '../ha/support.ts';
import { testCloud, testReleaseDeps, testReleaseMirror } from '../provisioner/support.ts';
import { resolveCloudConfig } from '../../src/openstack/config.ts';
import type { Cloud } from '../../src/openstack/index.ts';
import { freePort } from '../../src/dev/kube/ports.ts';
import { spawnKaas, type CliRun } from './cli.ts';
import { spawnService, type ServiceProcess } from './process.ts';
import { sourcedEnv } from './shellEnv.ts';

/** `kaas dev` as tests run it: a free port, quick polls, the test release mirror; silent unless given a logger. */
export async function startTestDev(dataDir: string, logger?: Logger): Promise<RunningDev> {
  return startDev({
    dataDir,
    port: await freePort(),
    logger: logger ?? createLogger({ level: 'silent' }),
    workerPollMs: 20,
    provisioner: { pollIntervalMs: 20, ...testReleaseDeps() },
  });
}

/** kaas dev's cloud as its job workers use it (the demo project's builder user). */
export function devBuilderCloud(dev: { cloud: { authUrl: string } }): Cloud {
  return testCloud(
    resolveCloudConfig({
      env: {
        OS_AUTH_URL: dev.cloud.authUrl,
        OS_USERNAME: 'kaas-provisioner',
        OS_PASSWORD: 'kaas-provisioner-dev',
        OS_PROJECT_NAME: 'demo',
        OS_USER_DOMAIN_NAME: 'Default',
        OS_PROJECT_DOMAIN_NAME: 'Default',
        OS_REGION_NAME: 'RegionOne',
      },
    }),
  );
}

/** The job once kaas dev's worker has finished it, whatever the outcome. */
export function finishedJob(dev: RunningDev, jobId: string, timeoutMs: number): Promise<JobView> {
  return waitFor(
    'kaas dev to finish the job',
    async () => {
      const view = await dev.provisioner.getJob(jobId);
      return ['queued', 'running'].includes(view.job.state) ? undefined : view;
    },
    timeoutMs,
  );
}

const DEV_PROCESS = new URL('./devProcess.ts', import.meta.url).pathname;

/**
 * `kaas dev <args>` as a process of its own (test/support/devProcess.ts) in `cwd`, so its state is
 * `cwd/.kaas`, on `port` with the test release mirror; `ready` resolves with the env file it printed.
 */
export function spawnDev(options: {
  cwd: string;
  home: string;
  port: number;
  args?: string[];
  env?: Record<string, string>;
}): ServiceProcess {
  const mirror = testReleaseMirror();
  return spawnService(DEV_PROCESS, options.args ?? [], {
    cwd: options.cwd,
    env: {
      HOME: options.home,
      PORT: String(options.port),
      KAAS_RELEASE_MIRROR: mirror.dir,
      KAAS_RELEASE_CACHE: mirror.cacheDir,
      KAAS_TEST_RELEASE_CATALOGUE: mirror.catalogueFile,
      ...options.env,
    },
    ready: /^ {2}source (\S+)$/m,
  });
}

/**
 * The CLI as a user of a running `kaas dev` has it after sourcing `.kaas/env` (HOME = `home`):
 * logged in as admin, with a fresh API token named `tokenName`, whose secret is returned.
 */
export async function devAdminCli(
  envFile: string,
  home: string,
  tokenName: string,
): Promise<{
  env: Record<string, string>;
  kaas: (args: string[], stdin?: string) => Promise<CliRun>;
  secret: string;
}> {
  const env: Record<string, string> = { ...sourcedEnv(envFile), HOME: home };
  const kaas = (args: string[], stdin = '') => spawnKaas(args, env, { stdin });
  const asAdmin = async (args: string[]) => {
    const run = await kaas(args, 'admin\n');
    if (run.code !== 0) throw new Error(`kaas ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
    return run.stdout;
  };
  await asAdmin(['login', '--username', 'admin', '--password-stdin']);
  const secret = (await asAdmin(['token', 'create', '--name', tokenName, '--password-stdin'])).trim();
  return { env, kaas, secret };
}
