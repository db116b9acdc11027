/**
 * Every kubeadm document kaas renders goes through the real kubeadm of its Kubernetes minor (built
 * by test/kubelab/build.sh from the Go module proxy): `kubeadm config validate` for each supported
 * minor × node role × user-data format, then master-0's config through the init phases that need
 * no container runtime (`certs all`, `control-plane all --dry-run`), checking that kubeadm keeps
 * kaas's cluster CA and writes a kube-apiserver wired to the TokenReview webhook. Everything kubeadm
 * writes goes to a temp dir; /etc/kubernetes must be left as it was.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { createCa, type KeyPair } from '../../src/auth/pki.ts';
import { renderCloudConfig } from '../../src/bootstrap/cloudinit.ts';
import { renderIgnition } from '../../src/bootstrap/ignition.ts';
import {
  DEFAULT_WEBHOOK_CACHE_TTL,
  KAAS_CONFIG_DIR,
  WEBHOOK_KUBECONFIG_PATH,
  type BootstrapInput,
  type NodeRole,
} from '../../src/bootstrap/input.ts';
import { AUTHENTICATION_CONFIG_PATH, NODE_IP_PLACEHOLDER } from '../../src/bootstrap/kubeadm.ts';
import {
  decodeEnrolledFiles,
  firstBootContent,
  KUBEADM_CONFIG_PATH,
  SCRIPT_PATH,
} from '../../src/bootstrap/node.ts';
import { KUBERNETES_RELEASES } from '../../src/versions/index.ts';
import { bootstrapInput } from '../bootstrap/fixtures.ts';
import { kubeBinary } from '../../src/dev/kube/binaries.ts';
import { userDataFiles } from '../../src/dev/kube/nodes.ts';

const ROLES: NodeRole[] = ['init', 'join-control-plane', 'worker'];
const FORMATS = ['cloud-init', 'ignition'] as const;
type Format = (typeof FORMATS)[number];
/** What the bootstrap script puts in place of NODE_IP_PLACEHOLDER: the overlay interface's IPv4. */
const NODE_IP = '10.240.0.7';
const KUBEADM_TIMEOUT_MS = 60_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (killed after the timeout); never rejects, the exit code tells. */
function run(command: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        timeout: KUBEADM_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, ...env },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The files of a node's user data and its enrollment, as the node would write them, by path. */
function renderedFiles(input: BootstrapInput, format: Format): Map<string, string> {
  const files = userDataFiles(format === 'cloud-init' ? renderCloudConfig(input) : renderIgnition(input));
  for (const file of decodeEnrolledFiles(firstBootContent(input).enrolled))
    files.set(file.path, file.content);
  return files;
}

/** The kubeadm config file of a node, with the node IP substituted as the bootstrap script does. */
function kubeadmConfig(input: BootstrapInput, format: Format): string {
  const text = renderedFiles(input, format).get(KUBEADM_CONFIG_PATH);
  if (text === undefined) throw new Error(`the user data has no ${KUBEADM_CONFIG_PATH}`);
  expect(text).toContain(NODE_IP_PLACEHOLDER);
  return text.replaceAll(NODE_IP_PLACEHOLDER, NODE_IP);
}

function nodeInput(
  role: NodeRole,
  format: Format,
  patch: string,
  cas?: { clusterCa: KeyPair; etcdCa: KeyPair; frontProxyCa: KeyPair; serviceAccountKey: ServiceAccountKey },
): BootstrapInput {
  const input = bootstrapInput(role, format === 'ignition' ? 'flatcar' : 'debian', patch);
  const pair = (ca: KeyPair) => ({ certPem: ca.certPem, keyPem: ca.keyPem });
  return cas
    ? {
        ...input,
        clusterCa: pair(cas.clusterCa),
        etcdCa: pair(cas.etcdCa),
        frontProxyCa: pair(cas.frontProxyCa),
        serviceAccountKey: cas.serviceAccountKey,
      }
    : input;
}

type ServiceAccountKey = { publicKeyPem: string; keyPem: string };

/** A listing of a directory tree (path, size, mtime), to prove kubeadm left it alone. */
function treeState(root: string): string[] {
  if (!existsSync(root)) return ['absent'];
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = statSync(path);
      out.push(`${path} ${st.size} ${st.mtimeMs}`);
      if (st.isDirectory()) walk(path);
    }
  };
  walk(root);
  return out;
}

let dir: string;
let clusterCa: KeyPair;
let etcdCa: KeyPair;
let frontProxyCa: KeyPair;
let serviceAccountKey: ServiceAccountKey;
const etcKubernetes = treeState('/etc/kubernetes');
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kaas-kubeadm-'));
  clusterCa = await createCa({ commonName: 'kubernetes' });
  etcdCa = await createCa({ commonName: 'etcd-ca' });
  frontProxyCa = await createCa({ commonName: 'front-proxy-ca' });
  const sa = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  serviceAccountKey = { publicKeyPem: sa.publicKey, keyPem: sa.privateKey };
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  expect(treeState('/etc/kubernetes')).toEqual(etcKubernetes);
});

describe.each(KUBERNETES_RELEASES.map((r) => [r.patch, r] as const))('kubeadm %s', (patch, release) => {
  const kubeadm = () => kubeBinary('kubeadm', patch);
  const workDir = () => {
    const path = mkdtempSync(join(dir, `${patch}-`));
    return path;
  };

  it('is the release the catalogue names', async () => {
    const version = await run(kubeadm(), ['version', '-o', 'short']);
    expect(version).toMatchObject({ code: 0, stdout: `v${patch}\n` });
  });

  const matrix = ROLES.flatMap((role) => FORMATS.map((format) => [role, format] as const));
  it.each(matrix)('validates the %s config from %s user data', async (role, format) => {
    const file = join(workDir(), 'kubeadm.yaml');
    writeFileSync(file, kubeadmConfig(nodeInput(role, format, patch), format));
    const result = await run(kubeadm(), ['config', 'validate', '--config', file]);
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.code, result.stderr).toBe(0);
  });

  it('rejects a misspelled field and an unknown API version, so a pass means something', async () => {
    const good = kubeadmConfig(nodeInput('init', 'cloud-init', patch), 'cloud-init');
    const misspelled = join(workDir(), 'misspelled.yaml');
    writeFileSync(misspelled, good.replace('controlPlaneEndpoint:', 'controlPlaneEndpiont:'));
    const typo = await run(kubeadm(), ['config', 'validate', '--config', misspelled]);
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toMatch(/unknown field "controlPlaneEndpiont"/);

    const wrongApi = join(workDir(), 'wrong-api.yaml');
    writeFileSync(wrongApi, good.replaceAll(release.kubeadmApiVersion, 'kubeadm.k8s.io/v1beta9'));
    const api = await run(kubeadm(), ['config', 'validate', '--config', wrongApi]);
    expect(api.code).not.toBe(0);
    expect(api.stderr).toMatch(/v1beta9/);
  });

  it('deploys the etcd, CoreDNS and pause images the catalogue records', async () => {
    const file = join(workDir(), 'kubeadm.yaml');
    writeFileSync(file, kubeadmConfig(nodeInput('init', 'cloud-init', patch), 'cloud-init'));
    const images = await run(kubeadm(), ['config', 'images', 'list', '--config', file]);
    expect(images.code, images.stderr).toBe(0);
    const list = images.stdout.trim().split('\n');
    expect(list).toContain(`registry.k8s.io/kube-apiserver:v${patch}`);
    expect(list).toContain(`registry.k8s.io/etcd:${release.images.etcd}`);
    expect(list).toContain(`registry.k8s.io/coredns/coredns:${release.images.coredns}`);
    expect(list).toContain(`registry.k8s.io/pause:${release.images.pause}`);
  });

  it("takes every image from the cluster's image repository, the sandbox image under kubeadm's name", async () => {
    const repository = 'registry.example:5000/mirror';
    const base = nodeInput('init', 'cloud-init', patch);
    const input = { ...base, spec: { ...base.spec, imageRepository: repository } };
    const file = join(workDir(), 'kubeadm.yaml');
    writeFileSync(file, kubeadmConfig(input, 'cloud-init'));
    const images = await run(kubeadm(), ['config', 'images', 'list', '--config', file]);
    expect(images.code, images.stderr).toBe(0);
    const list = images.stdout.trim().split('\n').sort();
    expect(list).toEqual(
      [
        `coredns:${release.images.coredns}`,
        `etcd:${release.images.etcd}`,
        `kube-apiserver:v${patch}`,
        `kube-controller-manager:v${patch}`,
        `kube-proxy:v${patch}`,
        `kube-scheduler:v${patch}`,
        `pause:${release.images.pause}`,
      ].map((image) => `${repository}/${image}`),
    );
    // containerd runs pods on the pause image kubeadm expects (no second, upstream pause).
    const script = renderedFiles(input, 'cloud-init').get(SCRIPT_PATH) ?? '';
    expect(/sandbox_image = "([^"]+)"/.exec(script)?.[1]).toBe(`${repository}/pause:${release.images.pause}`);
  });

  it.each(FORMATS)(
    "runs master-0's %s config through init phases certs and control-plane (dry run)",
    async (format) => {
      const work = workDir();
      const pki = join(work, 'pki');
      const dryRun = join(work, 'dry-run');
      mkdirSync(dryRun);
      const files = renderedFiles(
        nodeInput('init', format, patch, { clusterCa, etcdCa, frontProxyCa, serviceAccountKey }),
        format,
      );
      // The cluster and etcd CAs go where master-0's user data puts them, under the test's certificatesDir.
      mkdirSync(join(pki, 'etcd'), { recursive: true });
      const shared = [
        'ca.crt',
        'ca.key',
        'etcd/ca.crt',
        'etcd/ca.key',
        'front-proxy-ca.crt',
        'front-proxy-ca.key',
        'sa.key',
        'sa.pub',
      ];
      for (const name of shared) {
        const content = files.get(`/etc/kubernetes/pki/${name}`);
        expect(content, `user data writes /etc/kubernetes/pki/${name}`).toBeDefined();
        writeFileSync(join(pki, name), content!, { mode: 0o600 });
      }
      const docs = parseAllDocuments(
        kubeadmConfig(
          nodeInput('init', format, patch, { clusterCa, etcdCa, frontProxyCa, serviceAccountKey }),
          format,
        ),
      );
      const cluster = docs.find((d) => d.get('kind') === 'ClusterConfiguration');
      expect(cluster).toBeDefined();
      cluster!.set('certificatesDir', pki);
      const config = join(work, 'kubeadm.yaml');
      writeFileSync(config, docs.map((d) => d.toString()).join(''));

      const certs = await run(kubeadm(), ['init', 'phase', 'certs', 'all', '--config', config]);
      expect(certs.code, certs.stderr).toBe(0);
      expect(certs.stdout).toMatch(/Using existing ca certificate authority/);
      expect(readFileSync(join(pki, 'ca.crt'), 'utf8')).toBe(clusterCa.certPem);
      expect(readFileSync(join(pki, 'ca.key'), 'utf8')).toBe(clusterCa.keyPem);
      // etcd's serving, peer and apiserver-client certificates all chain to kaas's etcd CA.
      expect(certs.stdout).toMatch(/Using existing etcd\/ca certificate authority/);
      expect(readFileSync(join(pki, 'etcd', 'ca.crt'), 'utf8')).toBe(etcdCa.certPem);
      const etcdCaKey = new X509Certificate(etcdCa.certPem).publicKey;
      for (const leaf of ['etcd/server.crt', 'etcd/peer.crt', 'apiserver-etcd-client.crt']) {
        expect(new X509Certificate(readFileSync(join(pki, leaf))).verify(etcdCaKey), leaf).toBe(true);
      }
      // The front-proxy client certificate chains to kaas's front-proxy CA; the sa keys are kept.
      expect(certs.stdout).toMatch(/Using existing front-proxy-ca certificate authority/);
      const frontProxyKey = new X509Certificate(frontProxyCa.certPem).publicKey;
      expect(
        new X509Certificate(readFileSync(join(pki, 'front-proxy-client.crt'))).verify(frontProxyKey),
      ).toBe(true);
      expect(readFileSync(join(pki, 'sa.key'), 'utf8')).toBe(serviceAccountKey.keyPem);
      expect(readFileSync(join(pki, 'sa.pub'), 'utf8')).toBe(serviceAccountKey.publicKeyPem);
      const ca = new X509Certificate(clusterCa.certPem);
      const serving = new X509Certificate(readFileSync(join(pki, 'apiserver.crt')));
      expect(serving.verify(ca.publicKey)).toBe(true);
      for (const san of ['IP Address:203.0.113.10', 'DNS:api.prod.example.com', `IP Address:${NODE_IP}`]) {
        expect(serving.subjectAltName).toContain(san);
      }

      const help = await run(kubeadm(), ['init', 'phase', 'control-plane', 'all', '--help']);
      expect(help.stdout, 'this kubeadm has no --dry-run for the control-plane phase').toContain('--dry-run');
      const controlPlane = await run(
        kubeadm(),
        ['init', 'phase', 'control-plane', 'all', '--dry-run', '--config', config],
        { KUBEADM_INIT_DRYRUN_DIR: dryRun },
      );
      expect(controlPlane.code, controlPlane.stderr).toBe(0);
      const manifest = join(dryRun, 'kube-apiserver.yaml');
      expect(existsSync(manifest), `kubeadm wrote no ${manifest}: ${controlPlane.stdout}`).toBe(true);
      const pod = parse(readFileSync(manifest, 'utf8')) as {
        spec: {
          containers: {
            command: string[];
            volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
          }[];
          volumes: { name: string; hostPath?: { path: string; type?: string } }[];
        };
      };
      const [apiserver] = pod.spec.containers;
      const flags = apiserver!.command.slice(1);
      for (const flag of [
        `--authentication-token-webhook-config-file=${WEBHOOK_KUBECONFIG_PATH}`,
        '--authentication-token-webhook-version=v1',
        `--authentication-token-webhook-cache-ttl=${DEFAULT_WEBHOOK_CACHE_TTL}`,
        `--authentication-config=${AUTHENTICATION_CONFIG_PATH}`,
        '--authorization-mode=Node,RBAC',
        `--client-ca-file=${join(pki, 'ca.crt')}`,
      ]) {
        expect(flags).toContain(flag);
      }
      // kube-apiserver refuses --anonymous-auth next to an authentication config with anonymous set.
      expect(flags.filter((f) => f.startsWith('--anonymous-auth'))).toEqual([]);
      expect(pod.spec.volumes).toContainEqual({
        name: 'kaas-config',
        hostPath: { path: KAAS_CONFIG_DIR, type: 'Directory' },
      });
      expect(apiserver!.volumeMounts).toContainEqual({
        name: 'kaas-config',
        mountPath: KAAS_CONFIG_DIR,
        readOnly: true,
      });
    },
  );
});
