import { PassThrough, Writable } from 'node:stream';
import { Command, CommanderError } from 'commander';
import { registerClusterCommands } from '../../src/cli/cluster.ts';
import { reportError } from '../../src/cli/exit.ts';
import { registerLoginCommand } from '../../src/cli/login.ts';

function sink() {
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
 * KAAS_CA_FILE, KAAS_PASSWORD…), errors mapped to exit codes by the CLI's one mapping.
 */
export async function runKaas(args: string[], env: Record<string, string>): Promise<CliRun> {
  const out = sink();
  const err = sink();
  const program = new Command('kaas').exitOverride().configureOutput({
    writeOut: (s) => void out.stream.write(s),
    writeErr: (s) => void err.stream.write(s),
  });
  registerClusterCommands(program, { env, stdout: out.stream, stderr: err.stream, pollMs: 50 });
  const stdin = new PassThrough();
  stdin.end();
  registerLoginCommand(program, { env, stdin, stdout: out.stream, stderr: err.stream });
  let code = 0;
  try {
    await program.parseAsync(['node', 'kaas', ...args]);
  } catch (error) {
    code = error instanceof CommanderError ? error.exitCode : reportError(error, err.stream);
  }
  return { code, stdout: out.box.text, stderr: err.box.text };
}
