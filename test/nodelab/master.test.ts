/**
 * Real nodes booted by kaas's own user data. The provisioner creates a one-master, one-worker
 * cluster on a cloudsim listening on the nodelab bridge (so the cloud's Swift is reachable from the
 * nodes, as it is from real servers); kaas stages the release build.sh packed (real kubeadm,
 * kubelet, kubectl of the default version) and renders each server's user data with its TempURL.
 * nodelab boots master-0 from exactly that user data: cloud-init installs the release and runs
 * `kubeadm init`. Then the API answers /readyz (anonymous, as kaas's authentication config
 * allows), kaas's networking service (flannel, rendered by src/addons) makes the Node Ready and,
 * once the cloud controller initialized the Node (kaas.ts), CoreDNS runs. The worker then boots from its own user data and joins (`kubeadm join` with the
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
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_IMAGES, fromRepository } from '../../src/addons/images.ts';
import { DONE_MARKER } from '../../src/bootstrap/node.ts';
import { tagsFor } from '../../src/cluster/names.ts';
import type { ClusterSpec } from '../../src/cluster/spec.ts';
import { kubeBinary } from '../../src/dev/kube/binaries.ts';
import { KUBERNETES_RELEASES } from '../../src/versions/index.ts';
import type { CloudController } from '../kubelab/cloudcontroller.ts';
import {
  kubeletSysctls,
  MINUTE,
  startNodelabCloudController,
  startNodelabKaas,
  until,
  type NodelabKaas,
} from './kaas.ts';
import {
  hostTraces,
  lockHost,
  nodelabCache,
  NO_TRACES,
  startNodelab,
  type LabNode,
  type Nodelab,
} from './node.ts';
import { bootServer } from './watch.ts';

const run = promisify(execFile);
/** The cluster's node network: the bridge stands in for it (apart from kubelab's 10.240.0.5). */
const CIDR = '10.241.0.0/24';

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

  it("runs one lab at a time: a dead holder's lock is taken over, a second lab of this process refused", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kaas-nodelab-lock-'));
    const path = join(dir, 'lock');
    try {
      // No process has a pid above the kernel's pid_max (at most 2^22).
      await writeFile(path, String(2 ** 22 + 1));
      const unlock = await lockHost(path);
      expect(await readFile(path, 'utf8')).toBe(String(process.pid));
      await expect(lockHost(path)).rejects.toThrow('this process already runs a nodelab: stop it first');
      await unlock();
      expect(existsSync(path)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
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
    expect(await hostTraces()).toEqual(NO_TRACES);
  }, 120_000);
});

describe('nodelab: a cluster from kaas user data', () => {
  let kaas: NodelabKaas | undefined;
  let occm: CloudController | undefined;
  afterAll(async () => {
    await occm?.stop();
    await kaas?.stop();
  });

  it(
    'master-0 runs kubeadm init and gets Ready, a worker joins, pods talk across nodes, the host is left clean',
    async () => {
      kaas = await startNodelabKaas(CIDR);
      const { lab, cloud, provisioner, auth, users, work, imageRepository, busybox } = kaas;
      const { alice, adminRole, password } = users;
      const { cluster, job } = await kaas.createCluster('nl0', 1);
      await provisioner.runUntilIdle();
      expect((await provisioner.getJob(job.id)).job.state).toBe('succeeded');
      const servers = await cloud.nova.listServers({ tags: tagsFor(cluster.id) });
      const server = servers.find((s) => s.name.endsWith('-master-0'));
      const worker = servers.find((s) => s !== server);
      if (!server || !worker) throw new Error('the provisioner did not create master-0 and a worker');
      const booted = Date.now();
      const node: LabNode = await bootServer(lab, cloud, server);
      const bootMs = Date.now() - booted;
      expect(await node.readFile(DONE_MARKER)).toBe('');
      const address = node.address;
      kaas.apiAddress = address;
      const { kubectl, apply, ready, applyPodNetwork, caPem } = await kaas.breakGlass(cluster.id);

      // kubeadm waited for the API to be live; readiness (informers, etcd) may follow a moment later.
      await until('/readyz', 2 * MINUTE, async () => {
        const readyz = await anonymousGet(address, '/readyz', caPem);
        return readyz.status === 200 ? readyz : undefined;
      });
      expect(await anonymousGet(address, '/readyz', caPem)).toEqual({ status: 200, body: 'ok' });
      // Anonymous requests reach only the health paths kaas's authentication config lists.
      expect((await anonymousGet(address, '/api', caPem)).status).toBe(401);

      // CoreDNS's pods, which kubeadm deploys, in the given kubectl output format.
      const kubeDnsPods = (output: string) =>
        kubectl('get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=kube-dns', '-o', output);
      const spec = (await provisioner.getCluster(cluster.id)).spec as ClusterSpec;
      expect(spec.network.nodeCidr).toBe(CIDR);
      // kaas's networking service as the provisioner renders it, applied as kaas applies it: with
      // the cluster's break-glass certificate (kubeadm's admin.conf is no system:master, and kaas's
      // namespace policy keeps all others out of kube-system).
      await applyPodNetwork();
      // The cloud controller initializes the Nodes (their kubelets register them tainted until then).
      occm = await startNodelabCloudController(kaas, cluster.id);
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
      // Every image master-0 runs was pulled from the cluster's image repository (the lab's
      // registry): kubeadm's, the sandbox's (containerd's sandbox_image) and flannel's.
      const pulled = (await node.exec(['ctr', '-n', 'k8s.io', 'images', 'ls', '-q']))
        .split('\n')
        .filter((name) => name && !name.startsWith('sha256:'));
      expect(pulled.filter((name) => !name.startsWith(`${imageRepository}/`))).toEqual([]);
      expect(pulled).toEqual(
        expect.arrayContaining([
          `${imageRepository}/kube-apiserver:v${spec.kubernetesVersion}`,
          `${imageRepository}/pause:${KUBERNETES_RELEASES.find((r) => r.patch === spec.kubernetesVersion)?.images.pause}`,
          fromRepository(DEFAULT_IMAGES.flannel, imageRepository),
        ]),
      );

      // The worker joins with kaas's worker user data (kubeadm join with the cluster's token).
      const workerBooted = Date.now();
      const workerNode = await bootServer(lab, cloud, worker);
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
      await apply({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'nodelab-probe', namespace: 'default' },
        spec: {
          nodeName: worker.name,
          restartPolicy: 'Never',
          containers: [
            {
              name: 'probe',
              image: busybox,
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
      });
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

      await occm.stop();
      await lab.stop();
      expect(await hostTraces()).toEqual(NO_TRACES);
      // The kubelet set these kernel-wide on start; the lab put them back.
      expect(await kubeletSysctls()).toEqual(kaas.sysctlsBefore);
    },
    15 * MINUTE,
  );
});
