import { generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { isOpenStackError } from '../../src/openstack/index.ts';
import { targets, testFlavor, testImage, useHarness } from './targets.ts';

/** An OpenSSH ed25519 public key line, built from node's SPKI export. */
function sshPublicKey(comment: string): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const blob = Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]);
  return `ssh-ed25519 ${blob.toString('base64')} ${comment}`;
}

describe.each(targets.filter((t) => t.services.includes('compute')))(
  'Nova + Glance contract on $name',
  (target) => {
    const h = useHarness(target, 'nova');
    const r: {
      flavor?: string;
      image?: string;
      network?: string;
      group?: string;
      key?: string;
      server?: string;
    } = {};

    beforeAll(async () => {
      const { neutron } = h.cloud;
      const net = await neutron.networks.create({ name: `${h.prefix}-net` });
      r.network = net.id;
      h.defer(() => neutron.networks.delete(net.id, { ignoreMissing: true }));
      const sub = await neutron.subnets.create({
        network_id: net.id,
        ip_version: 4,
        cidr: '10.77.0.0/24',
        name: `${h.prefix}-sub`,
      });
      h.defer(() => neutron.subnets.delete(sub.id, { ignoreMissing: true }));
      r.flavor = await testFlavor(h);
      r.image = await testImage(h, ['kaas-contract']);
    }, 60_000);

    it('Glance: the uploaded image is active and found by name', async () => {
      const img = await h.cloud.glance.findImageByName(`${h.prefix}-img`);
      expect(img).toMatchObject({ id: r.image, status: 'active', disk_format: 'raw' });
      expect((await h.cloud.glance.getImage(r.image as string)).size).toBe(64 * 1024);
      expect(await h.cloud.glance.findImageByName(`${h.prefix}-none`)).toBeUndefined();
    });

    it('flavors are listed, got by id and found by name', async () => {
      const f = await h.cloud.nova.getFlavor(r.flavor as string);
      expect(await h.cloud.nova.findFlavorByName(f.name)).toMatchObject({
        id: r.flavor,
        ram: f.ram,
        vcpus: f.vcpus,
      });
      expect(await h.cloud.nova.findFlavorByName(`${h.prefix}-none`)).toBeUndefined();
    });

    it('keypair import, get; server group create, get, list', async () => {
      const { nova } = h.cloud;
      const pub = sshPublicKey('kaas-contract');
      const kp = await nova.createKeypair({ name: `${h.prefix}-key`, publicKey: pub });
      r.key = kp.name;
      h.defer(() => nova.deleteKeypair(kp.name, { ignoreMissing: true }));
      expect(kp.fingerprint).toBeTruthy();
      expect((await nova.getKeypair(kp.name)).public_key.trim()).toBe(pub);
      const g = await nova.createServerGroup({ name: `${h.prefix}-sg`, policy: 'soft-anti-affinity' });
      r.group = g.id;
      h.defer(() => nova.deleteServerGroup(g.id, { ignoreMissing: true }));
      expect(g.policy).toBe('soft-anti-affinity');
      expect((await nova.getServerGroup(g.id)).name).toBe(`${h.prefix}-sg`);
      expect((await nova.listServerGroups()).some((x) => x.id === g.id)).toBe(true);
    });

    it('boots a server with user_data, metadata, tags, key and server group to ACTIVE; lists by tag; deletes to 404', async () => {
      const { nova } = h.cloud;
      const userData = '#cloud-config\nruncmd:\n  - echo kaas-contract\n';
      const tag = `${h.prefix}-cluster`;
      const { id } = await nova.createServer({
        name: `${h.prefix}-vm`,
        flavorRef: r.flavor as string,
        imageRef: r.image as string,
        networks: [{ uuid: r.network as string }],
        keyName: r.key as string,
        userData,
        metadata: { role: 'control-plane' },
        tags: [tag, 'kaas'],
        serverGroupId: r.group as string,
      });
      h.defer(async () => {
        await nova.deleteServer(id, { ignoreMissing: true });
        await nova.waitForServerDeleted(id, { timeoutMs: 30_000, intervalMs: 500 });
      });
      const s = await nova.waitForServerStatus(id, 'ACTIVE', { timeoutMs: 45_000, intervalMs: 500 });
      expect(s).toMatchObject({
        name: `${h.prefix}-vm`,
        key_name: r.key,
        metadata: { role: 'control-plane' },
      });
      expect([...(s.tags ?? [])].sort()).toEqual([tag, 'kaas'].sort());
      expect(Object.keys(s.addresses)).toEqual([`${h.prefix}-net`]);
      expect(await nova.getServerUserData(id)).toBe(userData);
      expect((await nova.getServerGroup(r.group as string)).members).toContain(id);
      expect((await nova.listServers({ tags: [tag] })).map((x) => x.id)).toEqual([id]);
      expect(await nova.listServers({ tags: [`${h.prefix}-other`] })).toEqual([]);
      await nova.deleteServer(id);
      await nova.waitForServerDeleted(id, { timeoutMs: 30_000, intervalMs: 500 });
      const err = await nova.getServer(id).catch((e) => e);
      expect(isOpenStackError(err, 'openstack_not_found')).toBe(true);
    }, 90_000);

    it('a missing server is openstack_not_found; deleting it with ignoreMissing succeeds', async () => {
      const err = await h.cloud.nova.getServer('00000000-0000-0000-0000-000000000000').catch((e) => e);
      expect(isOpenStackError(err, 'openstack_not_found')).toBe(true);
      expect(err.requestId).toMatch(/^req-/);
      await h.cloud.nova.deleteServer('00000000-0000-0000-0000-000000000000', { ignoreMissing: true });
    });
  },
);
