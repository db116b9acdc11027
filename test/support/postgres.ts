import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, chownSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../src/dev/kube/ports.ts';

/** A private PostgreSQL server started for the test run, on 127.0.0.1 and a port picked here. */
export interface TestPostgres {
  url: string;
  /** Stops the server for good and deletes its data. */
  stop(): Promise<void>;
  /** Stops the server, keeping its data, as a PostgreSQL restart or failover does to clients. */
  pause(): Promise<void>;
  /** Starts the paused server again, on the same port with the same data. */
  resume(): Promise<void>;
}

/** Finds Debian's PostgreSQL server binaries (newest major first). */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const dir = majors.map((m) => join(root, m, 'bin')).find((d) => existsSync(join(d, 'initdb')));
  if (!dir) {
    throw new Error(
      'PostgreSQL server not found under /usr/lib/postgresql: install it with `apt-get install -y postgresql` (scripts/test.sh does this when run as root)',
    );
  }
  return dir;
}

/** Starts a throwaway PostgreSQL cluster (fsync off: test data only) and waits until it accepts connections. */
export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'kaas-pg-'));
  const asRoot = process.getuid?.() === 0;
  // initdb and postgres refuse to run as root; run them as the postgres system user.
  const wrap = (cmd: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), 0);
  const [initCmd, initArgs] = wrap(join(bin, 'initdb'), [
    '-D',
    join(dir, 'data'),
    '-U',
    'kaas',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  execFileSync(initCmd, initArgs, { stdio: 'pipe' });
  const port = await freePort();
  const [cmd, args] = wrap(join(bin, 'postgres'), [
    '-D',
    join(dir, 'data'),
    '-k',
    dir,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    '-c',
    'max_connections=200',
  ]);
  // Spawned directly as the postgres user (not through runuser) so SIGINT reaches the server itself.
  const pgIds = asRoot
    ? {
        uid: Number(execFileSync('id', ['-u', 'postgres']).toString()),
        gid: Number(execFileSync('id', ['-g', 'postgres']).toString()),
      }
    : {};
  const url = `postgres://kaas@127.0.0.1:${port}/postgres`;
  const run = async (): Promise<ChildProcess> => {
    const child = spawn(asRoot ? join(bin, 'postgres') : cmd, asRoot ? args.slice(4) : args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...pgIds,
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`postgres exited early: ${stderr}`);
      const client = new pg.Client({ connectionString: url });
      try {
        await client.connect();
        await client.end();
        return child;
      } catch (error) {
        await client.end().catch(() => undefined);
        if (Date.now() > deadline)
          throw new Error(`postgres did not start in 30 s: ${stderr}`, { cause: error });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const halt = async (server: ChildProcess): Promise<void> => {
    if (server.exitCode !== null) return;
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGINT');
    await exited;
  };
  let child = await run();
  return {
    url,
    async stop() {
      await halt(child);
      rmSync(dir, { recursive: true, force: true });
    },
    pause: () => halt(child),
    async resume() {
      child = await run();
    },
  };
}
