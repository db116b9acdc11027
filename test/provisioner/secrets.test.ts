import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { decodeEnrolledFiles, KUBEADM_CONFIG_PATH } from '../../src/bootstrap/node.ts';
import type { Cloud } from '../../src/openstack/index.ts';
import { findClusterEndpoint } from '../../src/store/findClusterEndpoint.ts';
import { storeEnroller } from '../../src/dev/kube/nodes.ts';
import { cloudsimSuite, testProvisioner, testSpec, TEST_SECRET_KEY, TEST_VERSION } from './support.ts';

const suite = cloudsimSuite();

const options = () => ({ waitForApi: false });

describe('cluster secrets and endpoint', () => {
  it('generates PKI and join material, keeps it sealed, and hands it to nodes through user data', async () => {
    const s = await suite.store();
    const p = testProvisioner(s, suite.cloud, suite.webhook);
    const { cluster } = await p.createCluster(testSpec('sec1', 1), {
      waitForApi: false,
    });
    const raw = await s.db.selectFrom('cluster_secrets').selectAll().execute();
    expect(raw).toHaveLength(1);
    const column = raw[0]?.sealed ?? '';
    expect(column).not.toMatch(/BEGIN|PRIVATE|CERTIFICATE|kubeconfig|token/i);

    await p.runUntilIdle();
    expect((await p.getCluster(cluster.id)).status).toBe('ready');
    const kubeconfig = parse(await p.adminKubeconfig('sec1'));
    const caPem = Buffer.from(
      kubeconfig.clusters[0].cluster['certificate-authority-data'],
      'base64',
    ).toString();
    expect(caPem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const token = /token: ([a-z0-9]{6}\.[a-z0-9]{16})/;

    const [master] = await suite.cloud.nova.listServers({ name: '^kaas-sec1-master-0$' });
    const masterData = (await suite.cloud.nova.getServerUserData(master?.id as string)) ?? '';
    const [worker] = await suite.cloud.nova.listServers({ name: '^kaas-sec1-default-0$' });
    const workerData = (await suite.cloud.nova.getServerUserData(worker?.id as string)) ?? '';
    // User data holds no secret: each node fetches its kubeadm config (and master-0 its keys) once.
    for (const data of [masterData, workerData]) {
      expect(data).not.toMatch(token);
      expect(data).not.toContain('PRIVATE KEY');
      expect(data).toContain(`/enroll/${cluster.id}`);
    }
    const enroll = storeEnroller(s.db);
    const masterFiles = decodeEnrolledFiles((await enroll(masterData)) ?? '');
    const workerFiles = decodeEnrolledFiles((await enroll(workerData)) ?? '');
    const joinToken = token.exec(workerFiles.map((f) => f.content).join('\n'))?.[1] as string;
    expect(joinToken).toBeDefined();
    expect(masterFiles.find((f) => f.path === KUBEADM_CONFIG_PATH)?.content).toContain(joinToken);
    expect(masterFiles.map((f) => f.path)).toContain('/etc/kubernetes/pki/ca.key');
    expect(workerFiles.map((f) => f.path)).toEqual([KUBEADM_CONFIG_PATH]);
    expect(masterData).toContain(`/tokenreview/${cluster.id}`);
    // Redeemed once: a second try is refused.
    expect(await enroll(masterData)).toBeUndefined();
    expect(column).not.toContain(joinToken);
    // The kaas store holds neither the token nor the CA certificate text in any provisioner table.
    const jobs = JSON.stringify(await s.db.selectFrom('job_steps').selectAll().execute());
    expect(jobs).not.toContain(joinToken);

    const endpoint = await findClusterEndpoint({ db: s.db, clusterId: cluster.id });
    expect(endpoint).toMatchObject({
      apiUrl: expect.stringMatching(/^https:\/\/[\d.]+:6443$/),
      caCertPem: caPem,
      kubernetesVersion: TEST_VERSION,
      nodeCount: 2,
      provisioningState: 'ready',
    });
    expect(kubeconfig.clusters[0].cluster.server).toBe(endpoint?.apiUrl);
    // The API certificate names the floating IP the endpoint (and the admin kubeconfig) use.
    const fip = new URL(endpoint?.apiUrl as string).hostname;
    const kubeadmOf = (files: { path: string; content: string }[]) =>
      files.find((f) => f.path === KUBEADM_CONFIG_PATH)?.content ?? '';
    expect(kubeadmOf(masterFiles)).toMatch(new RegExp(`certSANs:\\n\\s+- ${fip.replace(/\./g, '\\.')}`));
    expect(kubeadmOf(workerFiles)).not.toContain('certSANs');

    await p.resizeCluster('sec1', 'default', 2);
    expect((await findClusterEndpoint({ db: s.db, clusterId: cluster.id }))?.provisioningState).toBe(
      'resizing',
    );
    await p.runUntilIdle();
    expect(await findClusterEndpoint({ db: s.db, clusterId: cluster.id })).toMatchObject({
      nodeCount: 3,
      provisioningState: 'ready',
      apiUrl: endpoint?.apiUrl,
    });

    // During a key rotation (KAAS_SECRET_KEY new, KAAS_SECRET_KEY_PREVIOUS old) both keys open.
    const rotating = testProvisioner(s, suite.cloud, suite.webhook, {
      secretKey: randomBytes(32),
      previousSecretKey: TEST_SECRET_KEY,
    });
    // Each break-glass kubeconfig carries a certificate issued on the spot; the cluster is the same.
    const clusterOf = async (q: typeof p) => parse(await q.adminKubeconfig('sec1')).clusters;
    expect(await clusterOf(rotating)).toEqual(await clusterOf(p));
    const stranger = testProvisioner(s, suite.cloud, suite.webhook, { secretKey: randomBytes(32) });
    await expect(stranger.adminKubeconfig('sec1')).rejects.toMatchObject({
      code: 'secret_key_mismatch',
      message: expect.stringContaining('KAAS_SECRET_KEY'),
    });
    // A job run with the wrong key fails clearly instead of booting nodes without secrets.
    await stranger.resizeCluster('sec1', 'default', 3);
    await stranger.runUntilIdle();
    const [failed] = await stranger.listJobs('sec1');
    expect(failed?.error).toMatchObject({ code: 'secret_key_mismatch' });
    expect((await p.getCluster('sec1')).status).toBe('failed');
    expect((await findClusterEndpoint({ db: s.db, clusterId: cluster.id }))?.provisioningState).toBe(
      'failed',
    );

    // Delete needs no secrets, and forgets them.
    await p.retryJob(cluster.id, failed?.id as string);
    await p.runUntilIdle();
    await p.deleteCluster('sec1');
    await p.runUntilIdle();
    expect(await s.db.selectFrom('cluster_secrets').selectAll().execute()).toEqual([]);
    expect(await findClusterEndpoint({ db: s.db, clusterId: cluster.id })).toMatchObject({
      apiUrl: null,
      nodeCount: 0,
      provisioningState: 'deleted',
    });
    await expect(p.adminKubeconfig('sec1')).rejects.toMatchObject({ code: 'cluster_not_found' });
  });

  it('refuses the admin kubeconfig before the API endpoint is known, and reports a failed create', async () => {
    const s = await suite.store();
    const p = testProvisioner(s, suite.cloud, suite.webhook);
    const { cluster } = await p.createCluster(
      testSpec('sec2', 1, { masterFlavor: 'no-such-flavor' }),
      options(),
    );
    await expect(p.adminKubeconfig('sec2')).rejects.toMatchObject({ code: 'cluster_not_ready' });
    await p.runUntilIdle();
    expect(await findClusterEndpoint({ db: s.db, clusterId: cluster.id })).toMatchObject({
      provisioningState: 'failed',
      apiUrl: null,
    });
    await p.deleteCluster('sec2');
    await p.runUntilIdle();
  });
});

describe('3 masters on a cloud without Octavia', () => {
  it('falls back to a floating IP on master-0 with a warning, and deletes cleanly', async () => {
    const s = await suite.store();
    const noOctavia: Cloud = {
      ...suite.cloud,
      session: {
        ...suite.cloud.session,
        endpoint: async (type: string, ...rest: unknown[]) => {
          if (type === 'load-balancer') throw new Error('no load-balancer service in the catalog');
          return (suite.cloud.session.endpoint as (...a: unknown[]) => Promise<string>)(type, ...rest);
        },
      } as Cloud['session'],
    };
    const p = testProvisioner(s, noOctavia, suite.webhook);
    const { cluster, job } = await p.createCluster(testSpec('ha1', 1, { masters: 3 }), options());
    await p.runUntilIdle();
    const view = await p.getJob(job.id);
    expect(view.job.error).toBeNull();
    expect(view.job.state).toBe('succeeded');
    expect(view.events.map((e) => e.message)).toContain(
      'no Octavia in the catalog: the API endpoint is master-0 (no load balancing)',
    );
    const lb = view.steps.find((st) => st.stepId === 'load-balancer')?.output as { fallback?: string };
    expect(lb.fallback).toBe('master-0');
    const port = view.steps.find((st) => st.stepId === 'master-port-0')?.output as { id: string };
    const fips = await suite.cloud.neutron.floatingIps.list({ tags: [`kaas-cluster=${cluster.id}`] });
    expect(fips.map((f) => f.port_id)).toEqual([port.id]);
    expect(await suite.cloud.octavia.listLoadBalancers({ tags: [`kaas-cluster=${cluster.id}`] })).toEqual([]);
    await p.deleteCluster('ha1');
    await p.runUntilIdle();
    expect(await suite.cloud.nova.listServers({ tags: [`kaas-cluster=${cluster.id}`] })).toEqual([]);
  });
});
