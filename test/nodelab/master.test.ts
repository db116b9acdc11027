/**
 * Real nodes booted by kaas's own user data. The provisioner creates a one-master, one-worker
 * cluster on a cloudsim listening on the nodelab bridge (so the cloud's Swift is reachable from the
 * nodes, as it is from real servers); kaas stages the release build.sh packed (real kubeadm,
 * kubelet, kubectl of the default version) and renders each server's user data with its TempURL.
 * nodelab boots master-0 from exactly that user data: cloud-init installs the release and runs
 * `kubeadm init`. Then the API answers /readyz (anonymous, as kaas's authentication config
 * allows), kaas's networking service (flannel, rendered by src/addons) makes the Node Ready and
 * CoreDNS runs. The worker then boots from its own user data and joins (`kubeadm join` with the
 * cluster's token); a pod on it reaches a CoreDNS pod on master-0 over flannel on eth2 and
 * resolves kubernetes.default. kaas itself serves the TokenReview webhook on the bridge (HTTPS,
 * its certificate from the CA master-0's user data names): a user who holds the cluster's admin
 * role on its project logs in to kaas with their password, creates an API token, and kubectl with
 * nothing but that token lists the Nodes as cluster-admin; a member's token is known but may not.
 * Stopping the nodes leaves nothing on the host.
 *
 * Before it, nodelab's own failure paths: a missing cache is a clear error naming the fix, a bad
 * network is refused, and a server whose user data fails reports cloud-init's failure and leaves
 * nothing behind.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { renderAddons } from '../../src/addons/index.ts';
import { keystoneDirectory } from '../../src/auth/directory.ts';
import { createCa, issueServerCert } from '../../src/auth/pki.ts';
import { createAuthService, type AuthService } from '../../src/auth/service.ts';
import { createLogger } from '../../src/log.ts';
import { buildApp } from '../../src/server/app.ts';
import { DONE_MARKER } from '../../src/bootstrap/node.ts';
import { startCloudsim, type Cloudsim } from '../../src/cloudsim/index.ts';
import { CLUSTER_DEFAULTS } from '../../src/cluster/defaults.ts';
import { tagsFor } from '../../src/cluster/names.ts';
import type { ClusterSpec } from '../../src/cluster/spec.ts';
import { adminKubeconfigYaml, type ClusterMaterial } from '../../src/provisioner/material.ts';
import { mastersCertificate } from '../../src/provisioner/identity.ts';
import { open } from '../../src/provisioner/secretbox.ts';
import { addonContext } from '../../src/provisioner/steps/addons.ts';
import type { Server } from '../../src/openstack/nova.ts';
import type { Store } from '../../src/store/db.ts';
import { findClusterSecret } from '../../src/store/findClusterSecret.ts';
import { KUBERNETES_RELEASES } from '../../src/versions/index.ts';
import { defaultPatch, kubeBinary } from '../kubelab/binaries.ts';
import {
  provisionerStore,
  testCloud,
  testProvisioner,
  testSpec,
  TEST_SECRET_KEY,
} from '../provisioner/support.ts';
import { NODES_DIR, nodelabCache, releaseMirror, startNodelab, type LabNode, type Nodelab } from './node.ts';

const run = promisify(execFile);
const VERSION = defaultPatch();
/** The cluster's node network: the bridge stands in for it (apart from kubelab's 10.240.0.5). */
const CIDR = '10.241.0.0/24';
const MINUTE = 60_000;
/** Kernel-wide settings the kubelet changes on start (see node.ts). */
const KUBELET_SYSCTLS = ['vm.overcommit_memory', 'kernel.panic', 'kernel.panic_on_oops'];

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** GET https://<address>:6443<path> trusting only `caPem`, without credentials. */
function anonymousGet(
  address: string,
  path: string,
  caPem: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: address, port: 6443, path, ca: caPem, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(last)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

// Before the master (this file's tests run in order): labs must not overlap, each restores the
// kernel-wide settings it found.
describe('nodelab failure paths', () => {
  const cache = process.env.NODELAB_CACHE;
  let lab: Nodelab | undefined;
  afterEach(async () => {
    process.env.NODELAB_CACHE = cache;
    if (cache === undefined) delete process.env.NODELAB_CACHE;
    await lab?.stop();
    lab = undefined;
  });

  it('names the build command when NODELAB_CACHE is unset or incomplete', async () => {
    delete process.env.NODELAB_CACHE;
    expect(() => nodelabCache()).toThrow(/NODELAB_CACHE is not set: run .*test\/nodelab\/build\.sh/);
    const empty = await mkdtemp(join(tmpdir(), 'kaas-nodelab-cache-'));
    try {
      process.env.NODELAB_CACHE = empty;
      expect(() => nodelabCache('1.37.2')).toThrow(
        `${empty}/images/1.37.2 is missing: run bash test/nodelab/build.sh`,
      );
    } finally {
      await rm(empty, { recursive: true });
    }
  });

  it('refuses a network that is not a /24', async () => {
    await expect(startNodelab({ cidr: '10.242.0.0/16' })).rejects.toThrow('nodelab networks are /24s');
  });

  it('reports a failing user data with cloud-init output and leaves nothing behind', async () => {
    nodelabCache();
    lab = await startNodelab({ cidr: '10.242.0.0/24' });
    const userData = '#cloud-config\nruncmd:\n- [sh, -c, "echo kaas-bootstrap-broke >&2; exit 3"]\n';
    await expect(lab.boot({ name: 'nl-broken', address: '10.242.0.9', userData })).rejects.toThrow(
      /nl-broken failed to boot:[\s\S]*cloud-init modules --mode=final failed/,
    );
    await lab.stop();
    lab = undefined;
    const { stdout } = await run('bash', [
      '-c',
      'ip -o link | grep -c " nl" || true; ls -d /sys/fs/cgroup/*/nodelab-nl-broken 2>/dev/null | wc -l',
    ]);
    expect(stdout.split('\n').filter(Boolean)).toEqual(['0', '0']);
    expect(await readdir(NODES_DIR).catch(() => [])).toEqual([]);
  }, 120_000);
});

describe('nodelab: a cluster from kaas user data', () => {
  let lab: Nodelab | undefined;
  let sim: Cloudsim | undefined;
  let store: Store | undefined;
  let work: string | undefined;
  let kaas: FastifyInstance | undefined;
  let auth: AuthService | undefined;
  afterAll(async () => {
    try {
      await lab?.stop();
    } finally {
      await kaas?.close();
      await auth?.close();
      await sim?.close();
      await store?.close();
      if (work) await rm(work, { recursive: true, force: true });
    }
  });

  it(
    'master-0 runs kubeadm init and gets Ready, a worker joins, pods talk across nodes, the host is left clean',
    async () => {
      const sysctls = () =>
        Promise.all(KUBELET_SYSCTLS.map((k) => readFile(`/proc/sys/${k.replaceAll('.', '/')}`, 'utf8')));
      const sysctlsBefore = await sysctls();
      lab = await startNodelab({ cidr: CIDR });
      sim = await startCloudsim({ port: 0, host: lab.gateway, bootTimeMs: 20 });
      const cloud = testCloud(sim);
      store = await provisionerStore();
      work = await mkdtemp(join(tmpdir(), 'kaas-nodelab-'));
      const mirror = releaseMirror();
      const tarball = join(mirror, `v${VERSION}`, 'kubernetes-server-linux-amd64.tar.gz');
      const sha256 = await sha256Of(tarball);
      const releaseCatalogue = KUBERNETES_RELEASES.map((r) =>
        r.patch === VERSION ? { ...r, artifact: { url: r.artifact.url, sha256 } } : r,
      );
      // The users: one holds the cluster's admin role on its project (the bootstrap project of
      // cloudsim, which the provisioner builds in), one only member.
      const project = [...sim.state.projects.values()].find((p) => p.name === 'admin');
      if (!project) throw new Error('cloudsim has no admin project');
      const adminRole = sim.seedRole('kubernetes-admins');
      const memberRole = [...sim.state.roles.values()].find((r) => r.name === 'member');
      const password = `pw-${Math.random().toString(36).slice(2)}`;
      const alice = sim.seedUser({ name: 'alice', password });
      const bob = sim.seedUser({ name: 'bob', password });
      sim.assignRole({ projectId: project.id, roleId: adminRole.id, userId: alice.id });
      sim.assignRole({ projectId: project.id, roleId: memberRole?.id ?? '', userId: bob.id });
      // kaas as its clusters reach it: HTTPS on the bridge, its certificate from kaas's CA.
      const kaasCa = await createCa({ commonName: 'kaas-nodelab' });
      const kaasCert = await issueServerCert({ ca: kaasCa, hosts: [lab.gateway] });
      const logger = createLogger({ level: process.env.KAAS_TEST_LOG ?? 'silent' });
      const now = () => new Date();
      auth = createAuthService({ store, directory: keystoneDirectory(cloud), logger, now });
      kaas = await buildApp(
        { store, logger, now, auth },
        { https: { key: kaasCert.keyPem, cert: kaasCert.certPem } },
      );
      await kaas.listen({ host: lab.gateway, port: 0 });
      const kaasUrl = `https://${lab.gateway}:${(kaas.server.address() as { port: number }).port}`;
      const provisioner = testProvisioner(
        store,
        cloud,
        { kaasUrl, caPem: kaasCa.certPem },
        {
          releaseMirror: mirror,
          releaseCacheDir: join(work, 'releases'),
          releaseCatalogue,
        },
      );
      const { cluster, job } = await provisioner.createCluster(
        testSpec('nl0', 1, {
          kubernetesVersion: VERSION,
          network: { ...CLUSTER_DEFAULTS.network, nodeCidr: CIDR },
          adminRoleId: adminRole.id,
        }),
        { waitForApi: false },
      );
      await provisioner.runUntilIdle();
      expect((await provisioner.getJob(job.id)).job.state).toBe('succeeded');
      const servers = await cloud.nova.listServers({ tags: tagsFor(cluster.id) });
      const server = servers.find((s) => s.name.endsWith('-master-0'));
      const worker = servers.find((s) => s !== server);
      if (!server || !worker) throw new Error('the provisioner did not create master-0 and a worker');
      // The cluster's material as the provisioner stored it: its CA, its break-glass certificate.
      const sealed = await findClusterSecret({ db: store.db, clusterId: cluster.id });
      if (!sealed) throw new Error('the provisioner stored no material');
      const material = JSON.parse(open(TEST_SECRET_KEY, sealed, cluster.id)) as ClusterMaterial;
      const bootInput = async (s: Server) => {
        const address = Object.values(s.addresses).flat()[0]?.addr;
        const userData = await cloud.nova.getServerUserData(s.id);
        if (!address || !userData) throw new Error(`${s.name} has no address or no user data`);
        return { name: s.name, address, userData };
      };
      const { address, userData } = await bootInput(server);

      const booted = Date.now();
      const node: LabNode = await lab.boot({ name: server.name, address, userData });
      const bootMs = Date.now() - booted;
      expect(await node.readFile(DONE_MARKER)).toBe('');

      const caPem = material.ca.certPem;
      // kubeadm waited for the API to be live; readiness (informers, etcd) may follow a moment later.
      await until('/readyz', 2 * MINUTE, async () => {
        const readyz = await anonymousGet(address, '/readyz', caPem);
        return readyz.status === 200 ? readyz : undefined;
      });
      expect(await anonymousGet(address, '/readyz', caPem)).toEqual({ status: 200, body: 'ok' });
      // Anonymous requests reach only the health paths kaas's authentication config lists.
      expect((await anonymousGet(address, '/api', caPem)).status).toBe(401);

      // kaas's networking service as the provisioner renders it, applied as kaas applies it: with
      // the cluster's break-glass certificate (kubeadm's admin.conf is no system:master, and kaas's
      // namespace policy keeps all others out of kube-system).
      const kubeconfig = join(work, 'break-glass.conf');
      await writeFile(
        kubeconfig,
        adminKubeconfigYaml({
          clusterName: 'nl0',
          server: `https://${address}:6443`,
          caPem: material.ca.certPem,
          cert: await mastersCertificate(material.ca, 'kaas-break-glass'),
        }),
        { mode: 0o600 },
      );
      const kubectl = (...args: string[]) =>
        run(kubeBinary('kubectl'), ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 16 << 20 });
      // CoreDNS's pods, which kubeadm deploys, in the given kubectl output format.
      const kubeDnsPods = (output: string) =>
        kubectl('get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=kube-dns', '-o', output);
      const spec = (await provisioner.getCluster(cluster.id)).spec as ClusterSpec;
      expect(spec.network.nodeCidr).toBe(CIDR);
      const addons = renderAddons(
        addonContext(spec, cluster.id, { authUrl: sim.authUrl, region: 'RegionOne' }),
        ['namespaces', 'rbac', 'networking'],
      );
      const manifest = join(work, 'networking.json');
      await writeFile(
        manifest,
        JSON.stringify({ apiVersion: 'v1', kind: 'List', items: addons.flatMap((a) => a.objects) }),
      );
      await kubectl('apply', '--server-side', '--field-manager=kaas', '-f', manifest);
      const ready = (name: string) =>
        until(`${name} Ready`, 5 * MINUTE, async () => {
          const { stdout } = await kubectl('get', 'node', name, '-o', 'json');
          const conditions = (
            JSON.parse(stdout) as { status: { conditions: { type: string; status: string }[] } }
          ).status.conditions;
          return conditions.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
        });
      await ready(server.name);
      const readyMs = Date.now() - booted;
      // CoreDNS, which kubeadm deploys, runs in pods with namespaces of their own (not host network).
      await until('CoreDNS running', 3 * MINUTE, async () => {
        const { stdout } = await kubeDnsPods('json');
        const pods = (
          JSON.parse(stdout) as {
            items: { metadata: { name: string }; status: { phase: string; podIP?: string } }[];
          }
        ).items;
        // A pod that started before flannel wrote its CNI config got containerd's default bridge
        // (10.88.0.0/16): recreated, as an operator would, it joins the pod network.
        for (const p of pods.filter((p) => p.status.podIP?.startsWith('10.88.')))
          await kubectl('delete', 'pod', '-n', 'kube-system', p.metadata.name, '--wait=false');
        const onOverlay = (p: (typeof pods)[number]) =>
          p.status.phase === 'Running' &&
          p.status.podIP !== undefined &&
          !p.status.podIP.startsWith('10.88.');
        return pods.length > 0 && pods.every(onOverlay) ? true : undefined;
      });
      const rss = await node.rssBytes();

      // The worker joins with kaas's worker user data (kubeadm join with the cluster's token).
      const workerBooted = Date.now();
      const workerNode = await lab.boot(await bootInput(worker));
      expect(await workerNode.readFile(DONE_MARKER)).toBe('');
      await ready(worker.name);
      const workerReadyMs = Date.now() - workerBooted;
      // A stand-in for the cloud's metadata service, served on the worker itself: the node reaches it,
      // its pods must not (kaas's metadata guard, loaded by the user data before the kubelet). It
      // stops by itself should the test fail before it is killed.
      const metadataPid = (
        await workerNode.exec([
          'bash',
          '-c',
          'ip addr add 169.254.169.254/32 dev lo && ' +
            '{ setsid timeout 600 python3 -m http.server --bind 169.254.169.254 80 > /dev/null 2>&1 < /dev/null & echo $!; }',
        ])
      ).trim();
      const nodeReaches = () =>
        workerNode.exec([
          'curl',
          '-s',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          '-m',
          '5',
          'http://169.254.169.254/',
        ]);
      await until('the metadata stand-in', MINUTE, async () =>
        (await nodeReaches()) === '200' ? true : undefined,
      );
      // A pod on the worker reaches a CoreDNS pod on master-0 over flannel (vxlan on eth2) and
      // resolves kubernetes.default through the cluster DNS Service.
      const { stdout: dnsPods } = await kubeDnsPods('jsonpath={.items[0].status.podIP}');
      const probe = join(work, 'probe.json');
      await writeFile(
        probe,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'nodelab-probe', namespace: 'default' },
          spec: {
            nodeName: worker.name,
            restartPolicy: 'Never',
            containers: [
              {
                name: 'probe',
                image: 'docker.io/library/busybox:stable',
                command: [
                  'sh',
                  '-c',
                  // busybox's nc and nslookup (its static wget needs glibc's NSS, absent here).
                  `printf 'GET /health HTTP/1.0\\r\\n\\r\\n' | nc -w 10 ${dnsPods} 8080 && nslookup kubernetes.default.svc.cluster.local ${spec.network.dnsIp} && ` +
                    `if printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 169.254.169.254 80; then echo metadata-reached; else echo metadata-blocked; fi`,
                ],
              },
            ],
          },
        }),
      );
      await kubectl('apply', '-f', probe);
      const phase = await until('the probe pod to finish', 3 * MINUTE, async () => {
        const { stdout } = await kubectl('get', 'pod', 'nodelab-probe', '-o', 'jsonpath={.status.phase}');
        return stdout === 'Succeeded' || stdout === 'Failed' ? stdout : undefined;
      });
      const { stdout: probeLog } = await kubectl('logs', 'nodelab-probe');
      expect({ phase, probeLog }).toMatchObject({
        phase: 'Succeeded',
        probeLog: expect.stringMatching(/^HTTP\/1\.[01] 200 OK/),
      });
      expect(probeLog).toContain('Address: 10.96.0.1');
      expect(probeLog).toContain('metadata-blocked');
      expect(await nodeReaches()).toBe('200');
      process.kill(Number(metadataPid));

      // kubectl with a kaas API token: kube-apiserver asks kaas's webhook, which answers with the
      // Keystone user and the IDs of their roles on the cluster's project as groups.
      await auth.sync();
      const caFile = join(work, 'cluster-ca.crt');
      await writeFile(caFile, caPem);
      const emptyConfig = join(work, 'empty.conf');
      await writeFile(emptyConfig, '');
      const tokenOf = async (name: string) => {
        const { session } = await auth!.login({ username: name, password, ip: '127.0.0.1' });
        const principal = { ...session, via: 'session' as const };
        return (await auth!.createToken(principal, { name: 'kubectl' })).token;
      };
      const asUser = (token: string, ...args: string[]) =>
        run(kubeBinary('kubectl'), [
          '--kubeconfig',
          emptyConfig,
          '--server',
          `https://${address}:6443`,
          '--certificate-authority',
          caFile,
          '--token',
          token,
          ...args,
        ]);
      const aliceToken = await tokenOf('alice');
      const { stdout: whoami } = await asUser(aliceToken, 'auth', 'whoami', '-o', 'json');
      expect(JSON.parse(whoami).status.userInfo).toMatchObject({
        username: 'alice',
        uid: alice.id,
        groups: expect.arrayContaining([adminRole.id]),
      });
      const { stdout: nodeList } = await asUser(aliceToken, 'get', 'nodes', '-o', 'json');
      const listed = (
        JSON.parse(nodeList) as {
          items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[] } }[];
        }
      ).items;
      expect(listed.map((n) => n.metadata.name).sort()).toEqual([server.name, worker.name].sort());
      expect(
        listed.every((n) => n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True')),
      ).toBe(true);
      // A member is who they are, but not cluster-admin; a token kaas never issued is nobody.
      const bobToken = await tokenOf('bob');
      const bobWho = JSON.parse((await asUser(bobToken, 'auth', 'whoami', '-o', 'json')).stdout);
      expect(bobWho.status.userInfo.username).toBe('bob');
      await expect(asUser(bobToken, 'get', 'nodes')).rejects.toThrow(/forbidden/i);
      await expect(asUser(`${aliceToken.slice(0, -4)}AAAA`, 'get', 'nodes')).rejects.toThrow(/Unauthorized/i);
      const workerRss = await workerNode.rssBytes();
      console.info(
        `nodelab: ${server.name} booted (cloud-init + kubeadm init) in ${Math.round(bootMs / 1000)} s, ` +
          `Ready after ${Math.round(readyMs / 1000)} s, ${Math.round(rss / 2 ** 20)} MiB resident; ` +
          `${worker.name} joined and Ready after ${Math.round(workerReadyMs / 1000)} s, ` +
          `${Math.round(workerRss / 2 ** 20)} MiB resident`,
      );

      await lab.stop();
      lab = undefined;
      const { stdout: left } = await run('bash', [
        '-c',
        'ip -o link | grep -c " nl" || true; ls -d /sys/fs/cgroup/*/nodelab-* 2>/dev/null | wc -l; grep -c kaas-nodelab /proc/self/mountinfo || true',
      ]);
      expect(left.split('\n').filter(Boolean)).toEqual(['0', '0', '0']);
      expect(await readdir(NODES_DIR).catch(() => [])).toEqual([]);
      // The kubelet set these kernel-wide on start; the lab put them back.
      expect(await sysctls()).toEqual(sysctlsBefore);
    },
    15 * MINUTE,
  );
});
