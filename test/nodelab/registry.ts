/**
 * nodelab's image registry: Debian's `docker-registry` (the distribution registry), one per run,
 * listening only on the lab bridge's host address with a certificate from a test CA, its storage in
 * a temporary directory. It serves what an air-gapped operator's mirror would: every image
 * test/nodelab/build.sh made (both releases' control plane, kube-proxy, etcd, pause and CoreDNS;
 * flannel, its CNI plugin and busybox), pushed once per run with skopeo under the names a cluster
 * whose `imageRepository` is {@link LabRegistry.repository} asks for: kubeadm's own images as that
 * release's kubeadm lists them (`kubeadm config images list --config`), every other image re-rooted
 * as src/addons does (`fromRepository`). Nodes trust the test CA through their root's CA store
 * (node.sh), as an operator's image would have it baked in; kaas's user data knows nothing of it.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fromRepository } from '../../src/addons/images.ts';
import type { KeyPair } from '../../src/auth/pki.ts';
import { issueServerCert } from '../../src/auth/pki.ts';
import { freePort } from '../../src/dev/kube/ports.ts';
import { kubeBinary } from '../../src/dev/kube/binaries.ts';
import { KUBERNETES_RELEASES } from '../../src/versions/index.ts';

const run = promisify(execFile);
/** The path under the registry's address that clusters take their images from. */
const REPOSITORY_PATH = 'nodelab';
/** Pushes running at once (the machine has two cores; skopeo mostly waits on the registry). */
const PUSHES_AT_ONCE = 3;

/** A running registry. */
export interface LabRegistry {
  /** `<host>:<port>` */
  readonly address: string;
  /** What clusters set as their `imageRepository`: `<address>/nodelab`. */
  readonly repository: string;
  /** Stops the registry process (its storage goes with the directory it was given). */
  stop(): Promise<void>;
}

/** GET `url` trusting only `caPem`; resolves with the status. */
function statusOf(url: string, caPem: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: caPem, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Starts a registry on `host` (a port picked here) serving TLS with a certificate `ca` signs, its
 * configuration, storage and log under `dir`; resolves once it answers `/v2/`.
 */
export async function startRegistry(options: {
  host: string;
  ca: KeyPair;
  dir: string;
}): Promise<LabRegistry> {
  const { host, ca, dir } = options;
  await mkdir(join(dir, 'storage'), { recursive: true });
  const cert = await issueServerCert({ ca, hosts: [host], days: 2 });
  await writeFile(join(dir, 'tls.crt'), cert.certPem);
  await writeFile(join(dir, 'tls.key'), cert.keyPem, { mode: 0o600 });
  const address = `${host}:${await freePort()}`;
  // distribution's configuration (YAML; JSON is YAML). Access logs off: a push is hundreds of lines.
  const config = {
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: join(dir, 'storage') } },
    http: { addr: address, tls: { certificate: join(dir, 'tls.crt'), key: join(dir, 'tls.key') } },
  };
  await writeFile(join(dir, 'config.yml'), JSON.stringify(config));
  const child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-8000)));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.once('error', (error) => (stderr += String(error)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
      throw new Error(`docker-registry exited before it served ${address}: ${stderr}`);
    }
    if ((await statusOf(`https://${address}/v2/`, ca.certPem).catch(() => 0)) === 200) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not answer on ${address} in 30 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { address, repository: `${address}/${REPOSITORY_PATH}`, stop };
}

/** The images release `patch`'s kubeadm deploys, from `repository` or (undefined) upstream. */
async function kubeadmImages(patch: string, repository: string | undefined, dir: string): Promise<string[]> {
  const release = KUBERNETES_RELEASES.find((r) => r.patch === patch);
  if (!release)
    throw new Error(`nodelab's cache holds images of ${patch}, which the catalogue does not list`);
  const config = join(
    dir,
    `kubeadm-images-${patch}-${repository === undefined ? 'upstream' : 'mirror'}.yaml`,
  );
  await writeFile(
    config,
    [
      `apiVersion: ${release.kubeadmApiVersion}`,
      'kind: ClusterConfiguration',
      `kubernetesVersion: v${patch}`,
      ...(repository === undefined ? [] : [`imageRepository: ${repository}`]),
      '',
    ].join('\n'),
  );
  const { stdout } = await run(kubeBinary('kubeadm', patch), [
    'config',
    'images',
    'list',
    '--config',
    config,
  ]);
  return stdout.split('\n').filter(Boolean);
}

/** The name build.sh gave the image in OCI tarball `tarball` (containerd's name annotation). */
async function tarballImage(tarball: string): Promise<string> {
  const { stdout } = await run('tar', ['-xOf', tarball, './index.json']);
  const index = JSON.parse(stdout) as { manifests: { annotations?: Record<string, string> }[] };
  const name = index.manifests[0]?.annotations?.['io.containerd.image.name'];
  if (!name) throw new Error(`${tarball} names no image`);
  return name;
}

/**
 * Pushes every image under `images` (build.sh's `<version>/<image>.tar`) to `registry`, each under
 * the name a cluster with its repository pulls: kubeadm's images as that version's kubeadm names
 * them, the others re-rooted. Resolves with the names pushed. Throws when a version's kubeadm asks
 * for an image build.sh did not make.
 */
export async function pushImages(options: {
  registry: LabRegistry;
  caPem: string;
  images: string;
  dir: string;
}): Promise<string[]> {
  const { registry, images, dir } = options;
  const certDir = join(dir, 'skopeo-certs');
  await mkdir(certDir, { recursive: true });
  await writeFile(join(certDir, 'ca.crt'), options.caPem);
  // Target name → tarball (releases share some images, pause for one: pushed once).
  const pushes = new Map<string, string>();
  for (const version of (await readdir(images)).sort()) {
    const upstream = await kubeadmImages(version, undefined, dir);
    const mirrored = await kubeadmImages(version, registry.repository, dir);
    const targets = new Set<string>();
    for (const file of (await readdir(join(images, version))).filter((f) => f.endsWith('.tar')).sort()) {
      const tarball = join(images, version, file);
      const name = await tarballImage(tarball);
      const kubeadm = upstream.indexOf(name);
      const target = kubeadm < 0 ? fromRepository(name, registry.repository) : (mirrored[kubeadm] as string);
      targets.add(target);
      pushes.set(target, tarball);
    }
    const missing = mirrored.filter((m) => !targets.has(m));
    if (missing.length > 0) {
      throw new Error(`kubeadm ${version} deploys ${missing.join(', ')}: run bash test/nodelab/build.sh`);
    }
  }
  const push = async ([target, tarball]: [string, string]) => {
    await run('skopeo', [
      'copy',
      '--quiet',
      '--dest-cert-dir',
      certDir,
      `oci-archive:${tarball}`,
      `docker://${target}`,
    ]);
  };
  const queue = [...pushes];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) await push(next);
  };
  await Promise.all(Array.from({ length: PUSHES_AT_ONCE }, worker));
  return [...pushes.keys()];
}
