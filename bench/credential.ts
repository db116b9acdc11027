/**
 * `kaas credential` as kubectl's exec plugin runs it, against a bare `node -e 0` measured in the
 * same run, interleaved: wall time (median, p90 and their ratios) and peak RSS. kubectl runs the
 * plugin before every request, so its start-up is the whole cost. Also `kaas --help`.
 * Goals: ≤ 1.5× node's wall time and ≤ 60 MiB. Needs the build (npm run bench:credential does it)
 * and /usr/bin/time (Debian's `time`) for the peak RSS of a child.
 *   npm run bench:credential [-- --runs 40]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { writeClientConfig } from '../src/auth/clientConfig.ts';
import { renderKubeconfig } from '../src/server/routes/panel.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '40' } } });
const runs = Number(values.runs);
const TIME = '/usr/bin/time';
if (!existsSync(TIME)) throw new Error(`${TIME} is missing (apt-get install time): it measures peak RSS`);
if (!existsSync(resolve('dist/cli/main.js'))) throw new Error('no build: run `npm run bench:credential`');

// `kaas` on PATH, as `npm install -g` leaves it: a link to bin/kaas.mjs, run through its shebang.
const dir = mkdtempSync(join(tmpdir(), 'kaas-bench-credential-'));
symlinkSync(resolve('bin/kaas.mjs'), join(dir, 'kaas'));
const kaasUrl = 'https://kaas.example.com';
writeClientConfig(join(dir, 'config'), {
  url: kaasUrl,
  token: `kaas_${'x'.repeat(43)}`,
  tokenId: 'tok-1',
  expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
  user: { id: 'u1', name: 'alice', domain: 'Default' },
});
// The exec stanza the panel's kubeconfig gives kubectl: command, args and env exactly as written there.
const kubeconfig = parse(
  renderKubeconfig({
    cluster: { id: 'c1', name: 'alpha' },
    endpoint: { apiUrl: 'https://203.0.113.10:6443', caCertPem: null },
    userName: 'alice',
    auth: { mode: 'exec', kaasUrl },
  }),
) as {
  users: { user: { exec: { command: string; args: string[]; env: { name: string; value: string }[] } } }[];
};
const exec = kubeconfig.users[0]!.user.exec;
const env = {
  ...process.env,
  PATH: `${dir}${delimiter}${process.env.PATH}`,
  KAAS_CONFIG_DIR: join(dir, 'config'),
  // What kubectl sets for a non-interactive call (provideClusterInfo: false).
  KUBERNETES_EXEC_INFO: JSON.stringify({
    kind: 'ExecCredential',
    apiVersion: 'client.authentication.k8s.io/v1',
    spec: { interactive: false },
  }),
  ...Object.fromEntries(exec.env.map((e) => [e.name, e.value])),
};

interface Run {
  ms: number;
  stdout: string;
  rssKiB?: number;
  cpuMs?: number;
}

/** One run of `command args` found on PATH; under /usr/bin/time when `measure` (RSS and CPU, not wall). */
function run(command: string, args: string[], measure: boolean): Promise<Run> {
  const [file, argv] = measure ? [TIME, ['-f', 'kaas-bench %M %U %S', command, ...args]] : [command, args];
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const child = spawn(file, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if (code !== 0) return fail(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr}`));
      const m = /kaas-bench (\d+) ([\d.]+) ([\d.]+)/.exec(stderr);
      done(
        m
          ? { ms, stdout, rssKiB: Number(m[1]), cpuMs: (Number(m[2]) + Number(m[3])) * 1000 }
          : { ms, stdout },
      );
    });
  });
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const at = (xs: number[], p: number) => sorted(xs)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

interface Case {
  name: string;
  command: string;
  args: string[];
  check(stdout: string): void;
}
const baseline: Case = {
  name: 'node -e 0',
  command: process.execPath,
  args: ['-e', '0'],
  check: () => undefined,
};
const cases: Case[] = [
  {
    name: `${exec.command} ${exec.args.join(' ')}`,
    command: exec.command,
    args: exec.args,
    check: (stdout) => {
      const credential = JSON.parse(stdout) as { kind?: string; status?: { token?: string } };
      if (credential.kind !== 'ExecCredential' || !credential.status?.token?.startsWith('kaas_'))
        throw new Error(`kaas credential printed no ExecCredential: ${stdout}`);
    },
  },
  {
    name: 'kaas --help',
    command: 'kaas',
    args: ['--help'],
    check: (stdout) => {
      if (!stdout.includes('credential')) throw new Error(`kaas --help does not list credential: ${stdout}`);
    },
  },
];

try {
  const all = [baseline, ...cases];
  for (const c of all) c.check((await run(c.command, c.args, false)).stdout); // warm the page cache
  const wall = new Map(all.map((c) => [c, [] as number[]]));
  const rss = new Map(all.map((c) => [c, [] as number[]]));
  const cpu = new Map(all.map((c) => [c, [] as number[]]));
  for (let i = 0; i < runs; i++) {
    for (const c of all) {
      const w = await run(c.command, c.args, false);
      c.check(w.stdout);
      wall.get(c)!.push(w.ms);
      const m = await run(c.command, c.args, true);
      rss.get(c)!.push(m.rssKiB!);
      cpu.get(c)!.push(m.cpuMs!);
    }
  }
  const base = wall.get(baseline)!;
  const line = (c: Case) => {
    const w = wall.get(c)!;
    const ratios =
      c === baseline
        ? ''
        : `  ×${(at(w, 0.5) / at(base, 0.5)).toFixed(2)} median ×${(at(w, 0.9) / at(base, 0.9)).toFixed(2)} p90`;
    return `  ${c.name.padEnd(34)} wall median ${at(w, 0.5).toFixed(1)} ms p90 ${at(w, 0.9).toFixed(1)} ms${ratios}  peak RSS ${(Math.max(...rss.get(c)!) / 1024).toFixed(1)} MiB  CPU median ${at(cpu.get(c)!, 0.5).toFixed(0)} ms`;
  };
  process.stdout.write(
    [
      `${runs} interleaved runs each (goal: ≤ 1.5× node's wall time, ≤ 60 MiB peak RSS):`,
      ...all.map(line),
      '',
    ].join('\n'),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
