/**
 * The master-replacement executors (src/provisioner/steps/controlplane.ts) one by one, on their
 * failure paths too: a kubelab made from a 3-master cluster's material, the cluster's resources on
 * cloudsim, and its real etcd behind the masters' etcd pods, reached through the API as kaas does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { clusterNames } from '../../src/cluster/names.ts';
import { apiLoadBalancer, type PlanResource } from '../../src/cluster/plan.ts';
import { clusterApiFor } from '../../src/provisioner/addons/client.ts';
import { etcdThroughApi } from '../../src/provisioner/etcdroute.ts';
import { jobCertificateKey, kubeadmCertsObjects } from '../../src/provisioner/kubeadmcerts.ts';
import { createKubeClient, type KubeAccess, type KubeClient } from '../../src/provisioner/kubeclient.ts';
import type { ExecDeps } from '../../src/provisioner/steps/context.ts';
import * as controlplane from '../../src/provisioner/steps/controlplane.ts';
import { DEFAULT_RELEASE, KUBERNETES_RELEASES } from '../../src/versions/index.ts';
import { freePort } from '../../src/dev/kube/ports.ts';
import {
  breakGlassAccess,
  installKubeadmAddons,
  labExecDeps,
  provisionOnKubelab,
  type ClusterLab,
} from './clusterlab.ts';
import { cloudsimSuite } from './support.ts';

type Res<T extends PlanResource['type']> = Extract<PlanResource, { type: T }>;

const suite = cloudsimSuite();
const NAME = 'cp';
const names = clusterNames(NAME);
const masters = [0, 1, 2].map(names.master);
let c: ClusterLab;
let access: KubeAccess;
const clients: KubeClient[] = [];

beforeAll(async () => {
  c = await provisionOnKubelab(suite, {
    name: NAME,
    workers: 0,
    etcd: true,
    spec: { masters: 3, loadBalancer: 'octavia' },
  });
  access = await breakGlassAccess(c, NAME);
}, 180_000);

afterAll(async () => {
  for (const k of clients) await k.close();
  await c?.stop();
});

/** An executor's dependencies as an upgrade job of this cluster gets them; `server` is where its API is. */
function execDeps(over: { server?: string; etcd?: boolean; waitTimeoutMs?: number } = {}): ExecDeps {
  const server = over.server ?? c.lab.url;
  const kube = createKubeClient({ ...access, server });
  clients.push(kube);
  const material = {
    ca: { certPem: access.caPem, keyPem: c.master0.clusterCa!.keyPem },
    etcdCa: c.master0.etcdCa!,
    frontProxyCa: c.master0.frontProxyCa!,
    serviceAccountKey: c.master0.serviceAccountKey!,
  };
  return {
    ...labExecDeps(suite, c, { url: server, kube, waitTimeoutMs: over.waitTimeoutMs ?? 20_000 }),
    addons: {
      db: c.store.db,
      access: { caPem: access.caPem, certPem: access.certPem, keyPem: access.keyPem },
      clusterApi: (a) => clusterApiFor({ ...a, server }),
    },
    kubeadmCerts: () =>
      kubeadmCertsObjects({ ...material, certificateKey: jobCertificateKey(material, 'job-test') }),
    ...(over.etcd === false
      ? {}
      : {
          etcd: (dial: readonly string[]) =>
            etcdThroughApi({ access: { ...access, server }, etcdCa: material.etcdCa, masters: dial }),
        }),
  };
}

const etcdStep = (member: string, dial = masters): Res<'etcd-member'> => ({
  type: 'etcd-member',
  name: member,
  tags: [],
  params: { member, masters: [...dial] },
});

/** A step of `type` named after the cluster, with no tags, as the plan makes the cluster-wide ones. */
const clusterStep = <T extends 'kubeadm-config' | 'kubeadm-addons' | 'kubeadm-certs'>(
  type: T,
  params: Res<T>['params'],
): Res<T> => ({ type, name: NAME, tags: [], params }) as Res<T>;

describe('master-replacement executors', () => {
  it('finds the cluster’s network, subnet, load balancer and server group as they are, and never makes one', async () => {
    const deps = execDeps();
    const tags = [`kaas-cluster=${c.clusterId}`];
    const lb = await controlplane.verifyExisting(deps, apiLoadBalancer(names, tags));
    expect(lb).toMatchObject({ vipAddress: expect.any(String), poolId: expect.any(String) });
    expect(
      await controlplane.verifyExisting(deps, { type: 'network', name: names.network, tags, params: {} }),
    ).toMatchObject({
      id: expect.any(String),
    });
    const before = (await suite.cloud.neutron.networks.list({})).length;
    await expect(
      controlplane.verifyExisting(deps, { type: 'network', name: 'kaas-cp-nope', tags, params: {} }),
    ).rejects.toMatchObject({ code: 'resource_missing', message: expect.stringContaining('kaas-cp-nope') });
    await expect(
      controlplane.verifyExisting(deps, {
        type: 'server-group',
        name: 'kaas-cp-nope',
        tags,
        params: { policy: 'soft-anti-affinity' },
      }),
    ).rejects.toMatchObject({ code: 'resource_missing' });
    expect((await suite.cloud.neutron.networks.list({})).length).toBe(before);
  });

  it('points kubeadm-config at the new version once, and fails at once when the API does not answer', async () => {
    const deps = execDeps();
    const step = clusterStep('kubeadm-config', { kubernetesVersion: '9.9.9' });
    const first = await controlplane.updateKubeadmConfig(deps, step);
    expect(first).toMatchObject({ to: 'v9.9.9', changed: true });
    expect(first.from).toMatch(/^v1\./);
    expect(await controlplane.updateKubeadmConfig(deps, step)).toEqual({
      from: 'v9.9.9',
      to: 'v9.9.9',
      changed: false,
    });
    const config = await c.lab.request('GET', '/api/v1/namespaces/kube-system/configmaps/kubeadm-config');
    const cluster = parseYaml(
      (config.body as { data: Record<string, string> }).data['ClusterConfiguration']!,
    ) as Record<string, unknown>;
    // Only the version moved: the endpoint and the API certificate's names stay.
    expect(cluster).toMatchObject({ kubernetesVersion: 'v9.9.9', clusterName: NAME });
    await controlplane.updateKubeadmConfig(deps, {
      ...step,
      params: { kubernetesVersion: first.from.slice(1) },
    });

    const closed = execDeps({ server: `https://127.0.0.1:${await freePort()}` });
    await expect(controlplane.updateKubeadmConfig(closed, step)).rejects.toMatchObject({
      code: 'api_unreachable',
      message: expect.stringContaining('cannot update kubeadm-config'),
    });
    const bare = { ...deps };
    delete bare.kube;
    await expect(controlplane.updateKubeadmConfig(bare, step)).rejects.toMatchObject({
      code: 'cluster_secrets_missing',
    });
  });

  it('refuses to guess when kubeadm-config has no ClusterConfiguration', async () => {
    const path = '/api/v1/namespaces/kube-system/configmaps/kubeadm-config';
    const saved = (await c.lab.request('GET', path)).body as { data: Record<string, string> };
    await c.lab.request('DELETE', path);
    try {
      await expect(
        controlplane.updateKubeadmConfig(
          execDeps(),
          clusterStep('kubeadm-config', { kubernetesVersion: '9.9.9' }),
        ),
      ).rejects.toMatchObject({ code: 'kubeadm_config_missing' });
    } finally {
      const res = await c.lab.request('POST', '/api/v1/namespaces/kube-system/configmaps', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'kubeadm-config', namespace: 'kube-system' },
        data: saved.data,
      });
      expect(res.status).toBe(201);
    }
  });

  it('moves kubeadm’s kube-proxy and CoreDNS to the new version’s images, as kubeadm upgrade apply does', async () => {
    const deps = execDeps();
    const step = clusterStep('kubeadm-addons', {
      kubernetesVersion: DEFAULT_RELEASE.patch,
      coreDns: DEFAULT_RELEASE.images.coredns,
    });
    // A cluster whose network plugin replaced kube-proxy: said, nothing made.
    expect(await controlplane.updateKubeadmAddons(deps, step)).toEqual({
      'kube-proxy': 'absent',
      coredns: 'absent',
    });
    // The add-ons as the real kubeadm deploys them on a cluster one minor behind.
    const from = KUBERNETES_RELEASES[KUBERNETES_RELEASES.indexOf(DEFAULT_RELEASE) - 1]!;
    await installKubeadmAddons(c.lab, from.patch, masters[0]!);
    const image = async (kind: 'daemonsets' | 'deployments', name: string) =>
      (
        (await c.lab.request('GET', `/apis/apps/v1/namespaces/kube-system/${kind}/${name}`)).body as {
          spec: { template: { spec: { containers: { name: string; image: string }[] } } };
        }
      ).spec.template.spec.containers.find((x) => x.name === name)?.image;
    const proxyBefore = await image('daemonsets', 'kube-proxy');
    expect(proxyBefore).toBe(`registry.k8s.io/kube-proxy:v${from.patch}`);
    const out = await controlplane.updateKubeadmAddons(deps, step);
    expect(out).toEqual({
      'kube-proxy': { from: proxyBefore, to: `registry.k8s.io/kube-proxy:v${DEFAULT_RELEASE.patch}` },
      coredns: {
        from: await image('deployments', 'coredns'),
        to: `registry.k8s.io/coredns/coredns:${DEFAULT_RELEASE.images.coredns}`,
      },
    });
    expect(await image('daemonsets', 'kube-proxy')).toBe(
      `registry.k8s.io/kube-proxy:v${DEFAULT_RELEASE.patch}`,
    );
    expect(await image('deployments', 'coredns')).toBe(
      `registry.k8s.io/coredns/coredns:${DEFAULT_RELEASE.images.coredns}`,
    );
    // Again: nothing to change.
    expect(await controlplane.updateKubeadmAddons(deps, step)).toMatchObject({
      'kube-proxy': { to: `registry.k8s.io/kube-proxy:v${DEFAULT_RELEASE.patch}` },
    });
  });

  it('uploads kubeadm-certs with its Role and binding, reports no secret, and removes them again', async () => {
    const deps = execDeps();
    const step = clusterStep('kubeadm-certs', {});
    const out = await controlplane.uploadKubeadmCerts(deps, step);
    expect(out).toEqual({
      uploaded: [
        'Secret kube-system/kubeadm-certs',
        'Role kube-system/kubeadm:kubeadm-certs',
        'RoleBinding kube-system/kubeadm:kubeadm-certs',
      ],
    });
    const secret = await c.lab.request('GET', '/api/v1/namespaces/kube-system/secrets/kubeadm-certs');
    expect(Object.keys((secret.body as { data: Record<string, string> }).data).sort()).toEqual([
      'ca.crt',
      'ca.key',
      'etcd-ca.crt',
      'etcd-ca.key',
      'front-proxy-ca.crt',
      'front-proxy-ca.key',
      'sa.key',
      'sa.pub',
    ]);
    expect(JSON.stringify(out)).not.toContain('PRIVATE KEY');
    expect(await controlplane.deleteKubeadmCerts(deps, step)).toMatchObject({ removed: 3 });
    expect(await controlplane.deleteKubeadmCerts(deps, step)).toEqual({ removed: 0, ids: [] });
    expect((await c.lab.request('GET', '/api/v1/namespaces/kube-system/secrets/kubeadm-certs')).status).toBe(
      404,
    );
    const bare = { ...deps };
    delete bare.kubeadmCerts;
    await expect(controlplane.uploadKubeadmCerts(bare, step)).rejects.toMatchObject({
      code: 'cluster_secrets_missing',
    });
  });

  it('takes a master out of the load balancer and Neutron, idempotently', async () => {
    const deps = execDeps();
    const tags = [`kaas-cluster=${c.clusterId}`];
    const port = names.masterPort(2);
    const member: Res<'lb-member'> = {
      type: 'lb-member',
      name: port,
      tags,
      params: { loadBalancer: names.apiLoadBalancer, port },
    };
    const [lb] = await suite.cloud.octavia.listLoadBalancers({ name: names.apiLoadBalancer });
    const pool = lb!.pools[0]!.id;
    expect(await suite.cloud.octavia.listMembers(pool)).toHaveLength(3);
    expect(await controlplane.deleteLbMember(deps, member)).toMatchObject({ removed: 1 });
    expect(await controlplane.deleteLbMember(deps, member)).toEqual({ removed: 0, ids: [] });
    expect(await suite.cloud.octavia.listMembers(pool)).toHaveLength(2);
    // The port of a server still running stays attached until the server goes; here: a spare one.
    const spare = await suite.cloud.neutron.ports.create({
      name: names.masterPort(7),
      network_id: (await suite.cloud.neutron.networks.list({ name: names.network }))[0]!.id,
    });
    await suite.cloud.neutron.ports.setTags(spare.id, tags);
    const portStep: Res<'port'> = {
      type: 'port',
      name: names.masterPort(7),
      tags,
      params: { network: names.network, subnet: names.subnet, securityGroups: [] },
    };
    expect(await controlplane.deletePort(deps, portStep)).toEqual({ removed: 1, ids: [spare.id] });
    expect(await controlplane.deletePort(deps, portStep)).toEqual({ removed: 0, ids: [] });
  });

  it('waits for a joining member and fails naming the members when it never comes', async () => {
    const deps = execDeps({ waitTimeoutMs: 1_500 });
    expect(await controlplane.waitEtcdMember(deps, etcdStep(masters[0]!))).toMatchObject({
      member: masters[0],
      members: masters,
    });
    const never = await controlplane
      .waitEtcdMember(deps, etcdStep(names.master(9), [...masters, names.master(9)]))
      .catch((e: Error) => e);
    expect(never).toMatchObject({ code: 'etcd_member_not_ready' });
    expect((never as Error).message).toMatch(
      /^etcd member kaas-cp-master-9 joined and healthy not seen after \d+ s: no member named kaas-cp-master-9 yet; members: /,
    );
    for (const m of masters) expect((never as Error).message).toContain(m);
    const none = execDeps({ etcd: false });
    await expect(controlplane.waitEtcdMember(none, etcdStep(masters[0]!))).rejects.toMatchObject({
      code: 'control_plane_certs_missing',
    });
  });

  it('refuses to remove a member while another is down, and removes it (once) when etcd keeps quorum', async () => {
    const deps = execDeps({ waitTimeoutMs: 30_000 });
    await c.etcd!.stopMember(masters[2]!);
    await expect(controlplane.removeEtcdMember(deps, etcdStep(masters[1]!))).rejects.toMatchObject({
      code: 'etcd_member_unhealthy',
      message: expect.stringContaining(masters[2]!),
    });
    const etcd = etcdThroughApi({ access, etcdCa: c.master0.etcdCa!, masters });
    try {
      expect((await etcd.members()).map((m) => m.name).sort()).toEqual(masters);
    } finally {
      await etcd.close();
    }
    // The stopped member can go instead: the two others keep quorum.
    const removed = await controlplane.removeEtcdMember(deps, etcdStep(masters[2]!));
    expect(removed).toMatchObject({
      member: masters[2],
      removed: true,
      members: masters.slice(0, 2),
      healthy: 2,
    });
    expect(await controlplane.removeEtcdMember(deps, etcdStep(masters[2]!))).toMatchObject({
      removed: false,
      healthy: 2,
    });
  }, 120_000);
});
