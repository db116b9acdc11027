import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { InputError } from '../errors.ts';
import { bootstrapInput, WEBHOOK_KUBECONFIG } from '../../test/bootstrap/fixtures.ts';
import { renderCloudConfig } from './cloudinit.ts';
import { KUBERNETES_RELEASES } from '../versions/index.ts';
import type { BootstrapInput } from './input.ts';
import { decodeEnrolledFiles, ENROLLMENT_PATH, firstBootContent, KUBEADM_CONFIG_PATH } from './node.ts';

interface WriteFile {
  path: string;
  content: string;
  permissions: string;
  owner: string;
}

function render(input: BootstrapInput) {
  const text = renderCloudConfig(input);
  const config = parse(text) as { write_files: WriteFile[]; runcmd: string[][]; packages: string[] } & Record<
    string,
    unknown
  >;
  const file = (path: string) => config.write_files.find((f) => f.path === path);
  return { text, config, file };
}

/** The kubeadm config the node gets from its enrollment. */
function kubeadmDocs(input: BootstrapInput): Record<string, unknown>[] {
  const files = decodeEnrolledFiles(firstBootContent(input).enrolled);
  const kubeadm = files.find((f) => f.path === KUBEADM_CONFIG_PATH)!;
  return parseAllDocuments(kubeadm.content).map((d) => d.toJSON());
}

const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const PUBLIC = '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n';
const key = (name: string) => `-----BEGIN PRIVATE KEY-----\n${name}\n-----END PRIVATE KEY-----\n`;

describe('renderCloudConfig', () => {
  it('starts with the cloud-config header and installs the node packages', () => {
    const { text, config } = render(bootstrapInput('worker'));
    expect(text.startsWith('#cloud-config\n')).toBe(true);
    expect(config.package_update).toBe(true);
    expect(config.packages).toContain('containerd');
    expect(config.runcmd).toEqual([['/var/lib/kaas/bootstrap.sh']]);
    expect(config.hostname).toBe('kaas-prod-default-0');
    expect(config.ssh_authorized_keys).toHaveLength(1);
  });

  it('downloads the release through the TempURL and verifies its sha256 before use', () => {
    const input = bootstrapInput('worker');
    const script = render(input).file('/var/lib/kaas/bootstrap.sh')!;
    expect(script.permissions).toBe('0700');
    expect(script.owner).toBe('root:root');
    expect(script.content).toContain(`RELEASE_URL='${input.release.url}'`);
    const download = script.content.indexOf('curl -fsSL');
    const verify = script.content.indexOf('sha256sum -c -');
    const extract = script.content.indexOf('tar -xzf');
    expect(download).toBeGreaterThan(0);
    expect(verify).toBeGreaterThan(download);
    expect(extract).toBeGreaterThan(verify);
    expect(script.content).toContain('kubeadm join --config /var/lib/kaas/kubeadm.yaml');
    expect(script.content).not.toContain('kubeadm init');
  });

  it.each(KUBERNETES_RELEASES.map((r) => [r.patch, r.images.pause]))(
    'points containerd of a %s node at the release pause image %s before restarting it',
    (patch, pause) => {
      const input = bootstrapInput('worker');
      const spec = { ...input.spec, kubernetesVersion: patch };
      const script = render({ ...input, spec }).file('/var/lib/kaas/bootstrap.sh')!.content;
      const sandbox = script.indexOf(
        `sed -i 's#sandbox_image = .*#sandbox_image = "registry.k8s.io/pause:${pause}"#' /etc/containerd/config.toml`,
      );
      expect(sandbox).toBeGreaterThan(script.indexOf('containerd config default'));
      expect(script.indexOf('systemctl restart containerd')).toBeGreaterThan(sandbox);
    },
  );

  it.each(KUBERNETES_RELEASES.map((r) => [r.patch, r.kubeadmApiVersion]))(
    'renders %s with kubeadm %s, list extraArgs and structured anonymous auth',
    (patch, kubeadmApi) => {
      const [init, cluster, kubelet] = kubeadmDocs(bootstrapInput('init', 'debian', patch));
      expect(init).toMatchObject({ apiVersion: kubeadmApi, kind: 'InitConfiguration' });
      expect(cluster).toMatchObject({ kind: 'ClusterConfiguration', kubernetesVersion: `v${patch}` });
      const apiServer = cluster!.apiServer as { extraArgs: { name: string; value: string }[] };
      expect(apiServer.extraArgs).toEqual([
        { name: 'authorization-mode', value: 'Node,RBAC' },
        {
          name: 'authentication-token-webhook-config-file',
          value: '/etc/kubernetes/kaas/webhook-kubeconfig.yaml',
        },
        { name: 'authentication-token-webhook-version', value: 'v1' },
        { name: 'authentication-token-webhook-cache-ttl', value: '30s' },
        { name: 'authentication-config', value: '/etc/kubernetes/kaas/authentication-config.yaml' },
      ]);
      // kubeadm picks its own release's etcd, CoreDNS and pause images; kaas does not pin them.
      expect(cluster).not.toHaveProperty('etcd');
      expect(cluster).not.toHaveProperty('dns');
      expect(kubelet).toMatchObject({ kind: 'KubeletConfiguration', clusterDNS: ['10.96.0.10'] });
      const auth = parse(
        render(bootstrapInput('init', 'debian', patch)).file(
          '/etc/kubernetes/kaas/authentication-config.yaml',
        )!.content,
      );
      expect(auth).toEqual({
        apiVersion: 'apiserver.config.k8s.io/v1beta1',
        kind: 'AuthenticationConfiguration',
        anonymous: {
          enabled: true,
          conditions: [
            { path: '/livez' },
            { path: '/readyz' },
            { path: '/healthz' },
            { path: '/api/v1/namespaces/kube-public/configmaps/cluster-info' },
          ],
        },
      });
    },
  );

  it('honours a custom webhook cache TTL', () => {
    const input = { ...bootstrapInput('init'), webhook: { kubeconfig: WEBHOOK_KUBECONFIG, cacheTtl: '2m' } };
    const args = (kubeadmDocs(input)[1]!.apiServer as { extraArgs: { name: string; value: string }[] })
      .extraArgs;
    expect(args).toContainEqual({ name: 'authentication-token-webhook-cache-ttl', value: '2m' });
  });

  it('writes the webhook kubeconfig on the first master and applies nothing through the API', () => {
    const { file, config } = render(bootstrapInput('init'));
    expect(file('/etc/kubernetes/kaas/webhook-kubeconfig.yaml')).toMatchObject({
      content: WEBHOOK_KUBECONFIG,
      permissions: '0600',
    });
    // flannel and the cluster-admin binding are the networking and rbac addons' alone.
    expect(config.write_files.map((f) => f.path).filter((p) => /flannel|cluster-admin/.test(p))).toEqual([]);
    const script = file('/var/lib/kaas/bootstrap.sh')!.content;
    expect(script).toContain('kubeadm init --config /var/lib/kaas/kubeadm.yaml --upload-certs');
    expect(script).not.toContain('kubectl apply');
  });

  it('joins other masters as control plane with the certificate key', () => {
    const [join] = kubeadmDocs(bootstrapInput('join-control-plane'));
    expect(join).toMatchObject({
      kind: 'JoinConfiguration',
      discovery: {
        bootstrapToken: {
          apiServerEndpoint: '10.240.0.5:6443',
          token: 'abcdef.0123456789abcdef',
          caCertHashes: [`sha256:${'b'.repeat(64)}`],
        },
      },
      controlPlane: {
        certificateKey: 'c'.repeat(64),
        localAPIEndpoint: { advertiseAddress: '__KAAS_NODE_IP__' },
      },
    });
    const { file } = render(bootstrapInput('join-control-plane'));
    expect(file('/etc/kubernetes/kaas/webhook-kubeconfig.yaml')).toBeDefined();
  });

  it('registers worker labels sorted and keeps master-only files off workers', () => {
    const [join] = kubeadmDocs(bootstrapInput('worker'));
    expect(join!.controlPlane).toBeUndefined();
    expect((join!.nodeRegistration as { kubeletExtraArgs: unknown }).kubeletExtraArgs).toEqual([
      { name: 'cloud-provider', value: 'external' },
      { name: 'node-ip', value: '__KAAS_NODE_IP__' },
      { name: 'node-labels', value: 'node.kubernetes.io/pool=a,tier=web' },
    ]);
    const { file } = render(bootstrapInput('worker'));
    expect(file('/etc/kubernetes/kaas/webhook-kubeconfig.yaml')).toBeUndefined();
  });

  it('quotes the overlay interface into the script and omits ssh keys when none are given', () => {
    const base = bootstrapInput('worker');
    const input = { ...base, spec: { ...base.spec, overlayInterface: 'ens4' }, sshAuthorizedKeys: [] };
    const { config, file } = render(input);
    expect(file('/var/lib/kaas/bootstrap.sh')!.content).toContain(`OVERLAY_IFACE='ens4'`);
    expect(config.ssh_authorized_keys).toBeUndefined();
  });

  it('takes kubeadm images and the pod sandbox image from the image repository', () => {
    const pause = KUBERNETES_RELEASES.find((r) => r.patch === bootstrapInput('init').spec.kubernetesVersion)!
      .images.pause;
    const upstream = render(bootstrapInput('init')).file('/var/lib/kaas/bootstrap.sh')!.content;
    expect(upstream).toContain(`sandbox_image = "registry.k8s.io/pause:${pause}"`);
    expect(kubeadmDocs(bootstrapInput('init'))[1]).not.toHaveProperty('imageRepository');

    for (const role of ['init', 'worker'] as const) {
      const base = bootstrapInput(role);
      const input = { ...base, spec: { ...base.spec, imageRepository: 'registry.example:5000/mirror' } };
      const script = render(input).file('/var/lib/kaas/bootstrap.sh')!.content;
      expect(script).toContain(`sandbox_image = "registry.example:5000/mirror/pause:${pause}"`);
      expect(script).not.toContain('registry.k8s.io');
      // Joining nodes read the ClusterConfiguration (and its repository) from the cluster.
      if (role === 'init') {
        expect(kubeadmDocs(input)[1]).toMatchObject({
          kind: 'ClusterConfiguration',
          imageRepository: 'registry.example:5000/mirror',
        });
      }
    }
    const base = bootstrapInput('worker');
    expect(() =>
      render({ ...base, spec: { ...base.spec, imageRepository: "r.example/m'; reboot" } }),
    ).toThrow(expect.objectContaining({ field: 'spec.imageRepository' }));
  });

  it('refuses Flatcar specs', () => {
    expect(() => renderCloudConfig(bootstrapInput('worker', 'flatcar'))).toThrow(
      expect.objectContaining({ field: 'spec.os', message: expect.stringContaining('renderIgnition') }),
    );
  });

  it('is deterministic and pinned by snapshots', () => {
    const master = renderCloudConfig(bootstrapInput('init'));
    expect(renderCloudConfig(bootstrapInput('init'))).toBe(master);
    expect(master).toMatchSnapshot('master');
    expect(renderCloudConfig(bootstrapInput('worker'))).toMatchSnapshot('worker');
  });

  it.each(['init', 'join-control-plane', 'worker'] as const)(
    'writes no join secret or private key into the user data of a %s node, only its enrollment',
    (role) => {
      const input = bootstrapInput(role);
      const withKeys = {
        ...input,
        ...(role === 'init'
          ? {
              clusterCa: { certPem: CERT, keyPem: key('CLUSTER') },
              etcdCa: { certPem: CERT, keyPem: key('ETCD') },
              frontProxyCa: { certPem: CERT, keyPem: key('PROXY') },
              serviceAccountKey: { publicKeyPem: PUBLIC, keyPem: key('SERVICEACCOUNT') },
            }
          : {}),
      };
      const { text, file } = render(withKeys);
      const secrets = [input.join.token, input.join.certificateKey, 'PRIVATE KEY'].filter(
        (s): s is string => s !== undefined,
      );
      for (const secret of secrets) expect(text).not.toContain(secret);
      expect(file(KUBEADM_CONFIG_PATH)).toBeUndefined();
      expect(file(ENROLLMENT_PATH)).toMatchObject({ permissions: '0600' });
      expect(file(ENROLLMENT_PATH)!.content).toBe(
        `ENROLL_URL='${input.enrollment!.url}'\nENROLL_CREDENTIAL='${input.enrollment!.credential}'\n`,
      );
      // The node fetches them: kubeadm's config with the token, and master-0's keys.
      const enrolled = decodeEnrolledFiles(firstBootContent(withKeys).enrolled);
      expect(enrolled.map((f) => [f.path, f.mode.toString(8)])).toEqual([
        [KUBEADM_CONFIG_PATH, '600'],
        ...(role === 'init'
          ? ['ca', 'etcd/ca', 'front-proxy-ca', 'sa'].map((k) => [`/etc/kubernetes/pki/${k}.key`, '600'])
          : []),
      ]);
      expect(enrolled[0]!.content).toContain(input.join.token);
    },
  );

  it('keeps pods off the metadata service over IPv4 and IPv6, and starts no kubelet without that guard', () => {
    const { file } = render(bootstrapInput('worker'));
    const rules = file('/etc/kaas/metadata-guard.nft')!.content;
    expect(rules).toContain('iifname != "lo" ip daddr 169.254.169.254 counter drop');
    expect(rules).toContain('iifname != "lo" ip6 daddr fe80::a9fe:a9fe counter drop');
    const kubelet = file('/etc/systemd/system/kubelet.service')!.content;
    expect(kubelet).toContain('Requires=kaas-metadata-guard.service');
    expect(kubelet).toMatch(/^After=.*kaas-metadata-guard\.service$/m);
  });

  it('refuses to render user data without an enrollment', () => {
    const { enrollment: _, ...input } = bootstrapInput('worker');
    expect(() => renderCloudConfig(input)).toThrow(
      expect.objectContaining({ field: 'enrollment', message: expect.stringContaining('no join secrets') }),
    );
  });

  it('throws InputError without echoing secrets', () => {
    const input = bootstrapInput('init');
    const bad = { ...input, join: { ...input.join, token: 'SECRET-TOKEN' } };
    expect(() => renderCloudConfig(bad)).toThrow(InputError);
    try {
      renderCloudConfig(bad);
    } catch (error) {
      expect((error as Error).message).not.toContain('SECRET-TOKEN');
    }
  });
});
