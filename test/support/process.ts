import { spawn } from 'node:child_process';

/** A kaas command in a Node process of its own (so SIGTERM and SIGKILL are real). */
export interface ServiceProcess {
  pid: number;
  /** Resolves with the first group of the `ready` pattern once the process printed it. */
  ready: Promise<string>;
  /** Everything it wrote so far (stdout + stderr), for failure messages. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

const TSX = import.meta.resolve('tsx');

/**
 * Runs the TypeScript `script` (through tsx, found from any `cwd`) with `args`, only `env` plus
 * PATH as its environment, and watches its output for `ready`.
 */
export function spawnService(
  script: string,
  args: string[],
  options: { cwd: string; env: Record<string, string>; ready: RegExp },
): ServiceProcess {
  const child = spawn(process.execPath, ['--import', TSX, script, ...args], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = options.ready.exec(out);
      if (match?.[1]) resolve(match[1]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(({ code, signal }) =>
      reject(new Error(`${script} exited (${code ?? signal}) before it was ready:\n${out}`)),
    );
  });
  ready.catch(() => undefined);
  return {
    pid: child.pid as number,
    ready,
    output: () => out,
    exited,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}
