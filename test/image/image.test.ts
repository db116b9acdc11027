/**
 * The OCI image of `kaas serve` (deploy/image/build.sh), built twice to the same digest and run
 * once with Debian's podman (and runc) as the chart runs it: as user 10001 on a read-only root filesystem
 * with a tmpfs /tmp, against a real PostgreSQL and cloudsim's Keystone, until /healthz and /readyz
 * answer 200; then stopped with SIGTERM. Podman keeps its own vfs storage under the image cache, so
 * it needs no daemon and no overlay support. A cold run builds the Debian base and the production
 * dependencies (minutes); a warm run reuses both.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudsim, type Cloudsim } from '../../src/cloudsim/index.ts';
import { cloudEnv } from '../ha/support.ts';
import { freshDatabaseUrl } from '../support/databases.ts';
import { freePort } from '../../src/dev/kube/ports.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CACHE = process.env.KAAS_IMAGE_CACHE ?? '/var/cache/kaas-image';
// Lower case only: podman 4.3 names an image pulled from an OCI layout after the layout's path.
const dir = join(tmpdir(), `kaas-image-${randomBytes(6).toString('hex')}`);
mkdirSync(dir);

/** Podman on storage of its own (vfs: works inside containers and on any filesystem). */
const PODMAN = [
  '--root',
  join(CACHE, 'podman'),
  // Podman records these paths in its storage and refuses others later: fixed, not per run.
  '--runroot',
  '/run/kaas-image-podman',
  '--tmpdir',
  '/run/kaas-image-podman/libpod',
  '--storage-driver',
  'vfs',
  // runc, not crun: crun refuses the hybrid cgroup hierarchy of some CI machines.
  '--runtime',
  'runc',
];

function podman(...args: string[]): string {
  return execFileSync('podman', [...PODMAN, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

/** What the container wrote, stdout and stderr (podman logs replays them on its own two). */
function logs(name: string): string {
  const result = spawnSync('podman', [...PODMAN, 'logs', name], { encoding: 'utf8' });
  return `${result.stdout}${result.stderr}`;
}

function build(out: string): { ref: string; digest: string } {
  const printed = execFileSync('bash', [join(ROOT, 'deploy/image/build.sh'), out], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [ref, digest] = printed.trim().split(' ');
  if (!ref || !digest) throw new Error(`deploy/image/build.sh printed "${printed}"`);
  return { ref, digest };
}

let sim: Cloudsim;
let image: { ref: string; digest: string };
beforeAll(async () => {
  const tools = ['podman', 'runc'];
  const missing = tools.filter((tool) => {
    try {
      execFileSync(tool, ['--version'], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    if (process.getuid?.() !== 0) throw new Error(`missing: apt-get install -y ${missing.join(' ')}`);
    execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '-qq', ...missing], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  sim = await startCloudsim({ port: 0, bootTimeMs: 20 });
  image = build(join(dir, 'oci'));
}, 1_800_000);
afterAll(async () => {
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the kaas image', () => {
  it('builds reproducibly: a second build has the same digest', { timeout: 600_000 }, () => {
    expect(image.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(build(join(dir, 'again'))).toEqual(image);
  });

  it('is the image the Helm chart runs by default', () => {
    const values = parse(readFileSync(join(ROOT, 'deploy/helm/kaas/values.yaml'), 'utf8')) as {
      image: { repository: string; tag: string };
    };
    expect(image.ref).toBe(`${values.image.repository}:${values.image.tag}`);
  });

  it(
    'serves /healthz and /readyz on PostgreSQL as a non-root user on a read-only root',
    { timeout: 600_000 },
    async () => {
      const id = podman('pull', '--quiet', `oci:${join(dir, 'oci')}:${image.ref}`);
      const port = await freePort();
      const env = {
        ...cloudEnv(sim.authUrl),
        KAAS_DATABASE_URL: await freshDatabaseUrl('postgres'),
        KAAS_SECRET_KEY: randomBytes(32).toString('base64'),
        HOST: '127.0.0.1',
        PORT: String(port),
      };
      const name = `kaas-image-test-${randomBytes(4).toString('hex')}`;
      podman(
        'run',
        '--detach',
        '--name',
        name,
        '--read-only',
        '--tmpfs',
        '/tmp',
        '--network',
        'host',
        '--cap-drop',
        'all',
        // Limits below the machine's: podman's defaults are above what a sandboxed CI machine lets a
        // container set.
        '--ulimit',
        'nofile=4096:4096',
        '--ulimit',
        'nproc=4096:4096',
        ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
        id,
      );
      try {
        const url = `http://127.0.0.1:${port}`;
        const deadline = Date.now() + 60_000;
        let health: Response | undefined;
        while (!health) {
          health = await fetch(`${url}/healthz`).catch(async (error: unknown) => {
            if (Date.now() > deadline) {
              throw new Error(`kaas did not serve in 60 s:\n${logs(name)}`, { cause: error });
            }
            await new Promise((r) => setTimeout(r, 250));
            return undefined;
          });
        }
        expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);
        const ready = await fetch(`${url}/readyz`);
        expect([ready.status, await ready.json()]).toEqual([200, { status: 'ok' }]);
        // Runs as the chart's user, cannot write its own files, and its native module loads.
        expect(podman('exec', name, 'id', '-u')).toBe('10001');
        expect(() => podman('exec', name, 'touch', '/app/written')).toThrow(/Read-only file system/);
        expect(
          podman(
            'exec',
            name,
            'node',
            '-e',
            "console.log(new (require('/app/node_modules/better-sqlite3'))(':memory:').prepare('select 1 as x').get().x)",
          ),
        ).toBe('1');
        podman('stop', '--time', '20', name);
        expect(podman('inspect', '--format', '{{.State.ExitCode}}', name)).toBe('0');
        expect(logs(name)).toMatch(/kaas: stopped in \d+ ms/);
      } finally {
        podman('rm', '--force', name);
        // Each commit makes a new image: keep only the cached base in the store, not every build.
        podman('rmi', '--force', id);
      }
    },
  );
});
