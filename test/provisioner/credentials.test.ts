/**
 * Per-cluster OpenStack credentials on cloudsim: create gives the cluster an application credential
 * of kaas's own user (not of whoever asked), restricted to `member` and sealed at rest; deleting
 * the person's Keystone user changes nothing for the cluster, its resize or its delete; delete
 * removes the credential. Nothing of the secret reaches the log, the job or the cluster view.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { CLOUD_CA_KEY, CLOUD_CONFIG_DIR } from '../../src/addons/cloudconf.ts';
import { CLOUD_CONFIG_SECRET } from '../../src/addons/storage.ts';
import { createCa } from '../../src/auth/pki.ts';
import { registerClusterCommands } from '../../src/cli/cluster.ts';
import { openProvisionerFromEnv } from '../../src/cli/provisioner.ts';
import { createLogger } from '../../src/log.ts';
import { isOpenStackError } from '../../src/openstack/index.ts';
import type { ClusterCredential, ClusterMaterial } from '../../src/provisioner/material.ts';
import type { ExecDeps } from '../../src/provisioner/steps/context.ts';
import { cloudSecrets } from '../../src/provisioner/steps/credential.ts';
import type { JobView, Provisioner } from '../../src/provisioner/provisioner.ts';
import { open } from '../../src/provisioner/secretbox.ts';
import { findClusterSecret } from '../../src/store/findClusterSecret.ts';
import { updateProvisionedCluster } from '../../src/store/updateProvisionedCluster.ts';
import { sink } from '../support/cli.ts';
import { adminEnv } from '../support/openstack.ts';
import {
  cloudsimSuite,
  testCloud,
  testProvisioner,
  testReleaseDeps,
  testSpec,
  TEST_SECRET_KEY,
} from './support.ts';

const suite = cloudsimSuite();

/** Everything the provisioner logged, at debug level. */
const log = sink();
const logger = createLogger({ level: 'debug', destination: log.stream });

async function sealedMaterial(db: Parameters<typeof findClusterSecret>[0]['db'], clusterId: string) {
  const sealed = (await findClusterSecret({ db, clusterId })) as string;
  return {
    sealed,
    material: JSON.parse(open({ current: TEST_SECRET_KEY }, sealed, clusterId)) as ClusterMaterial,
  };
}

/** Deletes the cluster and runs the job, which must succeed. */
async function deleteCluster(p: Provisioner, clusterId: string): Promise<JobView> {
  const del = await p.deleteCluster(clusterId);
  await p.runUntilIdle();
  const view = await p.getJob(del.id);
  expect(view.job.state).toBe('succeeded');
  return view;
}

const credentialRemoval = (view: JobView) => view.steps.find((s) => s.stepId === 'delete:credential')?.output;

describe("a cluster's own OpenStack identity", () => {
  it("create makes it for kaas's user, restricted to member, sealed; the asker's user deleted, resize and delete still work; delete removes it", async () => {
    const { cloud } = suite;
    const ks = cloud.keystone;
    const kaas = await cloud.session.token();
    // The person who asks for the cluster: a member of kaas's project, later deleted.
    const member = (await ks.listRoles({ name: 'member' }))[0]!;
    const asker = await ks.createUser({ name: 'cred-asker', password: 'asker-Pw-1' });
    await ks.assignProjectRole({ projectId: kaas.project!.id, roleId: member.id, userId: asker.id });

    const store = await suite.store();
    const p = testProvisioner(store, cloud, suite.webhook, { logger });
    const { cluster, job } = await p.createCluster(testSpec('cred1', 1), { waitForApi: false });
    await p.runUntilIdle();
    const created = await p.getJob(job.id);
    expect(created.job.state).toBe('succeeded');

    const { sealed, material } = await sealedMaterial(store.db, cluster.id);
    const credential = material.credential!;
    expect(credential).toMatchObject({ userId: kaas.user.id, projectId: kaas.project!.id });
    expect(credential.name).toMatch(new RegExp(`^kaas-cluster-${cluster.id}-[0-9a-f]{8}$`));
    expect(credential.secret.length).toBeGreaterThan(20);
    // Sealed at rest: the row holds neither the secret nor the id in clear.
    expect(sealed).not.toContain(credential.secret);
    expect(sealed).not.toContain(credential.id);
    const step = created.steps.find((s) => s.stepId === 'credential');
    expect(step?.output).toEqual({ id: credential.id, userId: kaas.user.id, roles: ['member'], orphans: [] });
    // kaas's user holds no load-balancer_member here: the credential goes without, and create says so.
    expect(created.events.filter((e) => e.level === 'warn').map((e) => e.message)).toContain(
      `kaas's user holds no load-balancer_member on project ${kaas.project!.name}: the cluster's credential goes without, so under Octavia's default policy its cloud controller cannot make load balancers; grant it, then rotate the cluster's credentials`,
    );

    // Keystone's view: kaas's user owns it, with member only; it authenticates to kaas's project.
    const [listed] = await ks.listApplicationCredentials(kaas.user.id, { name: credential.name });
    expect(listed?.roles.map((r) => r.name)).toEqual(['member']);
    const used = await ks.authenticateApplicationCredential({ id: credential.id, secret: credential.secret });
    expect(used).toMatchObject({ userId: kaas.user.id, projectId: kaas.project!.id });
    expect(used.roles.map((r) => r.name)).not.toContain('admin');

    await ks.deleteUser(asker.id);
    const resize = await p.resizeCluster(cluster.id, 'default', 2);
    await p.runUntilIdle();
    expect((await p.getJob(resize.id)).job.state).toBe('succeeded');
    await expect(
      ks.authenticateApplicationCredential({ id: credential.id, secret: credential.secret }),
    ).resolves.toMatchObject({ userId: kaas.user.id });

    const view = JSON.stringify([await p.getCluster(cluster.id), await p.getJob(resize.id), created]);
    const deleted = await deleteCluster(p, cluster.id);
    expect(credentialRemoval(deleted)).toEqual({ removed: 1, ids: [credential.id] });
    expect(await ks.listApplicationCredentials(kaas.user.id, { name: credential.name })).toEqual([]);
    const refused = await ks
      .authenticateApplicationCredential({ id: credential.id, secret: credential.secret })
      .catch((e: unknown) => e);
    expect(isOpenStackError(refused, 'openstack_unauthorized')).toBe(true);

    // Secrets never in logs or API responses.
    expect(log.box.text.length).toBeGreaterThan(0);
    expect(log.box.text).not.toContain(credential.secret);
    expect(view + JSON.stringify(deleted)).not.toContain(credential.secret);
  });

  it('a credential left by a crash between Keystone and the seal is deleted; one deleted behind kaas does not stop delete', async () => {
    const ks = suite.cloud.keystone;
    // Granted load-balancer_member (Octavia's default policy wants it for load balancers), kaas
    // passes it on; a new session, since a token's roles are those held when it was issued.
    const admin = await suite.cloud.session.token();
    const lbMember = await ks.createRole({ name: 'load-balancer_member' });
    await ks.assignProjectRole({ projectId: admin.project!.id, roleId: lbMember.id, userId: admin.user.id });
    const cloud = testCloud(suite.sim);
    const kaas = await cloud.session.token();
    const store = await suite.store();
    const p = testProvisioner(store, cloud, suite.webhook, { logger });
    const { cluster, job } = await p.createCluster(testSpec('cred2', 0), { waitForApi: false });
    // What a create that died right after Keystone answered leaves: a credential nobody holds.
    const orphan = await ks.createApplicationCredential(kaas.user.id, {
      name: `kaas-cluster-${cluster.id}-0rphan00`,
      roles: [{ name: 'member' }],
    });
    await p.runUntilIdle();
    const created = await p.getJob(job.id);
    expect(created.job.state).toBe('succeeded');
    const first = (await sealedMaterial(store.db, cluster.id)).material.credential!;
    expect(created.steps.find((s) => s.stepId === 'credential')?.output).toMatchObject({
      id: first.id,
      roles: ['member', 'load-balancer_member'],
      orphans: [orphan.id],
    });
    expect(created.events.filter((e) => e.stepId === 'credential' && e.level === 'warn')).toEqual([]);
    expect((await ks.listApplicationCredentials(kaas.user.id)).map((c) => c.id)).not.toContain(orphan.id);

    // Someone deletes the cluster's credential in Keystone: delete still succeeds, removing nothing.
    await ks.deleteApplicationCredential(kaas.user.id, first.id);
    expect(credentialRemoval(await deleteCluster(p, cluster.id))).toEqual({ removed: 0, ids: [] });
  });

  it('kaas cluster rotate-credentials --direct queues the rotation as the operator; a rotation whose services were not moved keeps the old credential', async () => {
    const { cloud } = suite;
    const ks = cloud.keystone;
    const kaas = await cloud.session.token();
    const dir = await mkdtemp(join(tmpdir(), 'kaas-rotate-'));
    const env = {
      ...adminEnv(suite.sim.authUrl),
      KAAS_DATABASE_URL: `sqlite:${join(dir, 'kaas.db')}`,
      KAAS_SECRET_KEY: TEST_SECRET_KEY.toString('base64'),
    };
    const opened = await openProvisionerFromEnv(env, {
      logger,
      webhook: suite.webhook,
      ...testReleaseDeps(),
    });
    try {
      const { cluster } = await opened.provisioner.createCluster(testSpec('cred3', 0), { waitForApi: false });
      await opened.provisioner.runUntilIdle();
      const rotate = async (...args: string[]) => {
        const out = sink();
        const err = sink();
        const program = new Command('kaas').exitOverride();
        registerClusterCommands(program, { env, stdout: out.stream, stderr: err.stream, pollMs: 20 });
        const error = await program
          .parseAsync(['node', 'kaas', 'cluster', 'rotate-credentials', '--direct', ...args])
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        return { error, stdout: out.box.text, stderr: err.box.text };
      };

      // kaas does not reach this cluster's API: refused, nothing queued.
      const refused = await rotate('cred3');
      expect(refused.error).toMatchObject({ code: 'cluster_api_not_reached' });
      expect((await opened.provisioner.listJobs('cred3')).map((j) => j.kind)).toEqual(['create']);

      const record = await opened.provisioner.getCluster('cred3', { observe: false });
      await updateProvisionedCluster({
        db: opened.store.db,
        id: cluster.id,
        status: 'ready',
        options: { ...record.options, waitForApi: true },
        now: new Date().toISOString(),
      });
      const queued = await rotate('cred3', '--no-wait', '--output', 'json');
      expect(queued.error).toBeUndefined();
      const job = JSON.parse(queued.stdout) as { id: string; kind: string; state: string };
      expect(job).toMatchObject({ kind: 'rotate', state: 'queued' });
      expect(queued.stderr).toContain(`job ${job.id} queued`);
      const audited = await opened.store.db
        .selectFrom('audit_events')
        .select(['action', 'outcome'])
        .execute();
      expect(audited.map((e) => [e.action, e.outcome])).toEqual(
        expect.arrayContaining([
          ['cluster.credentials.rotate', 'success'],
          ['cluster.credentials.rotate', 'failure'],
        ]),
      );

      // A worker runs it, but the cluster API never answers: the services still hold the old
      // credential, so it is kept (and still works) and the job fails saying so.
      const { material: before } = await sealedMaterial(opened.store.db, cluster.id);
      const worker = testProvisioner(opened.store, cloud, suite.webhook, { logger });
      await worker.runUntilIdle();
      const view = await worker.getJob(job.id);
      expect(view.job.state).toBe('failed');
      expect(view.job.error).toMatchObject({
        stepId: 'credential:retire',
        code: 'credential_not_rolled_out',
      });
      const { material: during } = await sealedMaterial(opened.store.db, cluster.id);
      expect(during.retiredCredential?.id).toBe(before.credential?.id);
      expect(during.credential?.id).not.toBe(before.credential?.id);
      await expect(
        ks.authenticateApplicationCredential({
          id: before.credential!.id,
          secret: before.credential!.secret,
        }),
      ).resolves.toMatchObject({ userId: kaas.user.id });

      // Delete removes both.
      expect(credentialRemoval(await deleteCluster(worker, cluster.id))).toMatchObject({ removed: 2 });
      expect(
        (await ks.listApplicationCredentials(kaas.user.id)).filter((c) => c.name.includes(cluster.id)),
      ).toEqual([]);
      expect(log.box.text).not.toContain(during.credential!.secret);
    } finally {
      await opened.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
  it("the cloud's private CA (clouds.yaml cacert / OS_CACERT) goes into the cluster's cloud-config Secret, named by ca-file; an unreadable one fails clearly", async () => {
    const store = await suite.store();
    const p = testProvisioner(store, suite.cloud, suite.webhook, { logger });
    const { cluster } = await p.createCluster(testSpec('cred4', 0), { waitForApi: false });
    await p.runUntilIdle();
    const spec = (await p.getCluster(cluster.id, { observe: false })).spec;
    const dir = await mkdtemp(join(tmpdir(), 'kaas-cacert-'));
    try {
      const caPem = (await createCa({ commonName: 'private-cloud-ca' })).certPem;
      const cacert = join(dir, 'cloud-ca.pem');
      await writeFile(cacert, caPem);
      const secretsWith = (file: string) =>
        cloudSecrets(
          {
            cloud: testCloud({ ...suite.cloud.session.config, cacert: file }),
            spec,
            clusterId: cluster.id,
          } as unknown as ExecDeps,
          { id: 'ac-id', secret: 'ac-secret' } as ClusterCredential,
        );
      const [cloudConfig] = await secretsWith(cacert);
      expect(cloudConfig?.metadata).toMatchObject({ namespace: 'kube-system', name: CLOUD_CONFIG_SECRET });
      const data = Object.fromEntries(
        Object.entries((cloudConfig as unknown as { data: Record<string, string> }).data).map(([k, v]) => [
          k,
          Buffer.from(v, 'base64').toString(),
        ]),
      );
      expect(data[CLOUD_CA_KEY]).toBe(caPem);
      expect(data['cloud.conf']).toContain(`ca-file = "${CLOUD_CONFIG_DIR}/${CLOUD_CA_KEY}"`);
      // kaas without a private CA: no ca-file, no CA key.
      const [plain] = await cloudSecrets(
        { cloud: suite.cloud, spec, clusterId: cluster.id } as unknown as ExecDeps,
        { id: 'ac-id', secret: 'ac-secret' } as ClusterCredential,
      );
      expect(Object.keys((plain as unknown as { data: object }).data)).toEqual(['cloud.conf']);

      const notPem = join(dir, 'not.pem');
      await writeFile(notPem, 'not a certificate');
      await expect(secretsWith(notPem)).rejects.toMatchObject({ code: 'cacert_unreadable', field: 'cacert' });
      const gone = join(dir, 'gone.pem');
      await writeFile(gone, caPem);
      const cloud = testCloud({ ...suite.cloud.session.config, cacert: gone });
      await rm(gone);
      await expect(
        cloudSecrets(
          { cloud, spec, clusterId: cluster.id } as unknown as ExecDeps,
          { id: 'ac-id', secret: 'ac-secret' } as ClusterCredential,
        ),
      ).rejects.toThrow(/cannot read the cloud's CA bundle .*gone\.pem \(clouds\.yaml cacert \/ OS_CACERT\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    await deleteCluster(p, cluster.id);
  });
});
