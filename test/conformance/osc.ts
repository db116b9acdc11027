import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startCloudsim } from '../../src/cloudsim/index.ts';
import { parseOpenrc } from '../contract/targets.ts';
import { freePort } from '../../src/dev/kube/ports.ts';

/** What one `openstack` run printed and how it ended. */
export interface OscResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The openstack CLI with one set of OS_* credentials. */
export interface Osc {
  /** Runs `openstack <args>`; never throws for a non-zero exit. */
  run(args: string[]): Promise<OscResult>;
  /** Runs `openstack <args> -f json` and parses its output; throws with stderr when the command fails. */
  json<T = Record<string, unknown>>(args: string[]): Promise<T>;
  /** Runs a command that prints nothing (delete, add, set); throws with stderr when it fails. */
  ok(args: string[]): Promise<void>;
  /** Runs a command that must fail; returns its stderr. */
  fails(args: string[]): Promise<string>;
  close(): void;
}

/** A cloud the conformance suite drives: a member user (as `kaas dev` hands out) and an admin. */
export interface ConformanceTarget {
  name: 'lab' | 'cloudsim';
  start(): Promise<{ member: Record<string, string>; admin: Record<string, string>; stop(): Promise<void> }>;
}

const INSTALL = fileURLToPath(new URL('./install-clients.sh', import.meta.url));
const SESSION = fileURLToPath(new URL('./osc-session.py', import.meta.url));

/**
 * Installs Debian's openstackclient and octaviaclient when missing; returns the Python interpreter
 * the `openstack` command runs with (its shebang).
 */
export function ensureClients(): string {
  const bin = execFileSync('bash', [INSTALL], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  const shebang = /^#!\s*(\S+)/.exec(readFileSync(bin, 'utf8'))?.[1];
  if (!shebang) throw new Error(`${bin} has no interpreter line`);
  return shebang;
}

/**
 * The openstack CLI for `env` (only PATH, HOME and the OS_* variables reach it): one Python process
 * that runs each command through openstackclient's own entry point, one at a time, so a command costs
 * the client's work and not its start-up (osc-session.py).
 */
export function osc(python: string, env: Record<string, string>): Osc {
  const child = spawn(python, [SESSION], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const waiting: ((r: OscResult) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(JSON.parse(line) as OscResult));
  // A session that dies answers what it still owes as failed commands, so no case waits forever.
  lines.on('close', () => {
    for (const resolve of waiting.splice(0)) resolve({ code: -1, stdout: '', stderr: 'osc-session exited' });
  });
  let queue: Promise<unknown> = Promise.resolve();
  const run = (args: string[]) => {
    const next = queue.then(
      () =>
        new Promise<OscResult>((resolve, reject) => {
          if (child.exitCode !== null) return reject(new Error(`osc-session exited (${child.exitCode})`));
          waiting.push(resolve);
          child.stdin.write(`${JSON.stringify(args)}\n`);
        }),
    );
    queue = next.catch(() => undefined);
    return next;
  };
  const must = async (args: string[]) => {
    const r = await run(args);
    if (r.code !== 0) throw new Error(`openstack ${args.join(' ')} → exit ${r.code}: ${r.stderr.trim()}`);
    return r;
  };
  return {
    run,
    json: async <T>(args: string[]) => JSON.parse((await must([...args, '-f', 'json'])).stdout) as T,
    ok: async (args) => void (await must(args)),
    fails: async (args) => {
      const r = await run(args);
      if (r.code === 0) throw new Error(`openstack ${args.join(' ')} succeeded: ${r.stdout.trim()}`);
      return r.stderr;
    },
    close: () => child.stdin.end(),
  };
}

const LAB_OPENRC = '/var/lib/oslab/admin-openrc.sh';

/** The real lab: its admin-openrc (or the OS_* variables of this process) for both roles. */
export const labTarget: ConformanceTarget = {
  name: 'lab',
  async start() {
    const env = process.env.OS_AUTH_URL
      ? Object.fromEntries(
          Object.entries(process.env).filter(
            (e): e is [string, string] => e[0].startsWith('OS_') && e[1] !== undefined,
          ),
        )
      : parseOpenrc(readFileSync(LAB_OPENRC, 'utf8'));
    return { member: env, admin: env, stop: async () => undefined };
  },
};

/**
 * cloudsim seeded as `kaas dev` seeds it: the demo user, member (and load-balancer_member) of project demo, beside the
 * bootstrap admin. Provisioning takes a moment, as on the lab, so the clients' waits are exercised.
 */
export const cloudsimTarget: ConformanceTarget = {
  name: 'cloudsim',
  async start() {
    const sim = await startCloudsim({ port: await freePort(), bootTimeMs: 300, provisionDelayMs: 300 });
    const demo = sim.seedProject({ name: 'demo' });
    const member = sim.seedRole('member');
    const user = sim.seedUser({ name: 'demo', password: 'demo' });
    sim.assignRole({ projectId: demo.id, roleId: member.id, userId: user.id });
    // Octavia's default policy wants load-balancer_member beside member, as a cloud grants it to LBaaS users.
    const lbMember = sim.seedRole('load-balancer_member');
    sim.assignRole({ projectId: demo.id, roleId: lbMember.id, userId: user.id });
    const env = (name: string, password: string, project: string) => ({
      OS_AUTH_URL: sim.authUrl,
      OS_USERNAME: name,
      OS_PASSWORD: password,
      OS_PROJECT_NAME: project,
      OS_USER_DOMAIN_NAME: 'Default',
      OS_PROJECT_DOMAIN_NAME: 'Default',
      OS_REGION_NAME: 'RegionOne',
      OS_IDENTITY_API_VERSION: '3',
    });
    return {
      member: env('demo', 'demo', 'demo'),
      admin: env('admin', 'secret', 'admin'),
      stop: () => sim.close(),
    };
  },
};

/** Targets to run: both by default; `KAAS_CONFORMANCE_TARGETS=cloudsim` (comma list) narrows the run. */
export const targets: ConformanceTarget[] = [labTarget, cloudsimTarget].filter(
  (t) =>
    !process.env.KAAS_CONFORMANCE_TARGETS || process.env.KAAS_CONFORMANCE_TARGETS.split(',').includes(t.name),
);
