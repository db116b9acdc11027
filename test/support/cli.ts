import { spawn } from 'node:child_process';
import { PassThrough, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { registerClusterCommands } from '../../src/cli/cluster.ts';
import { reportError } from '../../src/cli/exit.ts';
import { registerLoginCommand } from '../../src/cli/login.ts';

/** A stream that keeps what is written to it, in `box.text`. */
export function sink() {
  const box = { text: '' };
  const stream = new Writable({
    write(chunk, _enc, done) {
      box.text += String(chunk);
      done();
    },
  });
  return { box, stream };
}

/** What one in-process `kaas …` run ended with: main.ts' exit code and both streams. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `kaas login|cluster …` in-process with `env` as its whole environment (KAAS_CONFIG_DIR,
 * KAAS_CA_FILE, KAAS_PASSWORD…), errors mapped to exit codes by the CLI's one mapping; stdin holds
 * `input.text` and is a terminal when `input.tty`.
 */
export async function runKaas(
  args: string[],
  env: Record<string, string>,
  input: { tty?: boolean; text?: string } = {},
): Promise<CliRun> {
  const out = sink();
  const err = sink();
  const program = new Command('kaas').exitOverride().configureOutput({
    writeOut: (s) => void out.stream.write(s),
    writeErr: (s) => void err.stream.write(s),
  });
  const stdin = Object.assign(new PassThrough(), { isTTY: input.tty === true });
  stdin.end(input.text ?? '');
  registerClusterCommands(program, { env, stdin, stdout: out.stream, stderr: err.stream, pollMs: 50 });
  registerLoginCommand(program, { env, stdin, stdout: out.stream, stderr: err.stream });
  let code = 0;
  try {
    await program.parseAsync(['node', 'kaas', ...args]);
  } catch (error) {
    code = reportError(error, err.stream);
  }
  return { code, stdout: out.box.text, stderr: err.box.text };
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Runs the built `bin/kaas.mjs` as a user's shell would: a child process with `env` as its whole
 * environment (plus PATH), `stdin` piped in (not a terminal). `tty` runs it under `script(1)` so
 * stdin is a terminal; its output then arrives on stdout, stderr included. `interruptOn` sends it
 * SIGINT (a user's Ctrl-C) once its stderr matches.
 */
export function spawnKaas(
  args: string[],
  env: Record<string, string>,
  input: { stdin?: string; tty?: boolean; interruptOn?: RegExp } = {},
): Promise<CliRun> {
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const [command, argv] = input.tty
    ? ['script', ['-qec', [process.execPath, 'bin/kaas.mjs', ...args].map(quote).join(' '), '/dev/null']]
    : [process.execPath, ['bin/kaas.mjs', ...args]];
  const child = spawn(command as string, argv as string[], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  let interrupted = false;
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
    if (!interrupted && input.interruptOn?.test(stderr) === true) {
      interrupted = true;
      child.kill('SIGINT');
    }
  });
  child.stdin.end(input.stdin ?? '');
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
