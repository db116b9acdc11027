/**
 * README.md's "First ten minutes", replayed as a newcomer types it. Its first block (`npm start`) is
 * `kaas dev` in a project directory of its own (test/support/devProcess.ts: what `npm start` runs
 * once it has built kaas), with one difference the test machine needs: the Kubernetes release comes
 * from the suites' mirror, not dl.k8s.io. Its second block runs line by line in one bash on a
 * terminal (so `kaas login` prompts for the password, which the test types), with nothing set but
 * PATH and HOME: every command and variable comes from the README's lines. A README step this test
 * has no expectation for fails the test, so the two cannot drift apart.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { spawnDev } from '../support/dev.ts';
import { freePort } from '../../src/dev/kube/ports.ts';
import type { ServiceProcess } from '../support/process.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The shell blocks of the README section headed `title`, each as its command lines (comments dropped). */
function sectionBlocks(title: string): string[][] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README.md has no section "${title}"`);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) =>
    (m[1] as string)
      .split('\n')
      .map((line) => line.replace(/\s+#.*$/, '').trim())
      .filter((line) => line !== '' && !line.startsWith('#')),
  );
}

/**
 * Runs `lines` in one bash on a terminal in `cwd`; when the output ends with a prompt of `answers`,
 * types its answer. Each line's output and exit code.
 */
async function replay(
  lines: string[],
  cwd: string,
  env: Record<string, string>,
  answers: Record<string, string> = {},
): Promise<{ line: string; code: number; output: string }[]> {
  const script = join(cwd, '.readme-steps.sh');
  writeFileSync(script, lines.map((line, i) => `${line}\nprintf '\\n@@step ${i} %s@@\\n' "$?"\n`).join(''));
  const child = spawn('script', ['-qec', `bash ${script}`, '/dev/null'], {
    cwd,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let answered = 0;
  const onData = (c: Buffer) => {
    out += c.toString();
    const prompt = Object.keys(answers).find((p) => out.slice(answered).trimEnd().endsWith(p.trimEnd()));
    if (prompt) {
      answered = out.length;
      child.stdin.write(answers[prompt]);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  out = out.replace(/\r\n/g, '\n');
  const steps: { line: string; code: number; output: string }[] = [];
  let from = 0;
  lines.forEach((line, i) => {
    const marker = new RegExp(`\\n@@step ${i} (\\d+)@@\\n`).exec(out.slice(from));
    if (!marker) throw new Error(`the README step "${line}" never finished:\n${out}`);
    steps.push({ line, code: Number(marker[1]), output: out.slice(from, from + marker.index) });
    from += marker.index + marker[0].length;
  });
  return steps;
}

let dev: ServiceProcess | undefined;
afterAll(() => dev?.kill('SIGKILL'));

describe("README's first ten minutes", () => {
  it('runs as written: start, log in, create a cluster, list, show, kubeconfig, delete', async () => {
    const [start, cli, ...more] = sectionBlocks('First ten minutes');
    expect(more).toEqual([]);
    // The first block is `npm start`, which builds kaas and runs `kaas dev`.
    expect(start).toEqual(['npm start']);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: { start: string };
    };
    expect(pkg.scripts.start).toBe('node scripts/start.mjs');
    expect(readFileSync(join(ROOT, 'scripts/start.mjs'), 'utf8')).toContain("['bin/kaas.mjs', 'dev'");

    const home = mkdtempSync(join(tmpdir(), 'kaas-e2e-readme-'));
    const project = join(home, 'kaas');
    mkdirSync(project);
    dev = spawnDev({ cwd: project, home, port: await freePort() });
    await dev.ready;

    // A shell with nothing of kaas's set; the README's own comment gives the password.
    const shell = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: home, TERM: 'dumb' };
    const steps = await replay(cli as string[], project, shell, { 'Password:': 'admin\n' });
    const expectations: Record<string, (output: string) => void> = {
      'source .kaas/env': (output) => expect(output).toBe(''),
      'kaas login --username admin': (output) => {
        expect(output).toContain('logged in as admin');
        // The terminal does not show the password as it is typed.
        expect(output).not.toContain('admin\n\n');
        expect(output).toMatch(/^Password: *\n/);
      },
      'kaas cluster create --name first --workers 1 --kubernetes-version 1.35.4': (output) =>
        expect(output).toMatch(/^first c[0-9a-f]{12} succeeded$/m),
      'kaas cluster list': (output) => expect(output).toMatch(/^first +c[0-9a-f]{12} +ready +[\d.]+ +1 *$/m),
      'kaas cluster show first': (output) => {
        expect(output).toMatch(/^first \(c[0-9a-f]{12}\) ready, Kubernetes [\d.]+$/m);
        expect(output).toContain("no Kubernetes API: the embedded cloud's servers do not boot Kubernetes");
        expect(output).toMatch(/create succeeded/);
      },
      'kaas cluster kubeconfig first --admin > first.yaml': (output) => {
        expect(output).toBe('');
        const config = parse(readFileSync(join(project, 'first.yaml'), 'utf8')) as {
          clusters: { cluster: { server: string } }[];
          users: { user: Record<string, string> }[];
        };
        expect(config.clusters[0]?.cluster.server).toMatch(/^https:\/\//);
        expect(config.users[0]?.user['client-key-data']).toBeTruthy();
      },
      'kaas cluster delete first --yes': (output) => expect(output).toMatch(/delete succeeded/),
    };
    for (const step of steps) {
      const expectation = expectations[step.line.replace(/\s+/g, ' ')];
      if (!expectation) throw new Error(`README step "${step.line}" has no expectation in this test`);
      expect([step.line, step.code], step.output).toEqual([step.line, 0]);
      expectation(step.output.trim());
    }
    // What the README promises of the steps as a whole: the cluster is gone again.
    const after = await replay(['source .kaas/env', 'kaas cluster list -o json'], project, shell);
    expect((JSON.parse(after[1]?.output ?? '') as { items: unknown[] }).items).toEqual([]);
  }, 300_000);
});
