import { beforeAll, describe, expect, it } from 'vitest';
import { isOpenStackError } from '../../src/openstack/index.ts';
import { targets, useHarness } from './targets.ts';

describe.each(targets.filter((t) => t.services.includes('load-balancer')))(
  'Octavia contract on $name',
  (target) => {
    const h = useHarness(target, 'lb');
    let subnetId: string;

    beforeAll(async () => {
      const net = await h.cloud.neutron.networks.create({ name: `${h.prefix}-net` });
      h.defer(() => h.cloud.neutron.networks.delete(net.id, { ignoreMissing: true }));
      const sub = await h.cloud.neutron.subnets.create({
        network_id: net.id,
        ip_version: 4,
        cidr: '10.79.0.0/24',
      });
      h.defer(() => h.cloud.neutron.subnets.delete(sub.id, { ignoreMissing: true }));
      subnetId = sub.id;
    });

    it('load balancer, listener, pool, member, health monitor; list by tags; cascade delete', async () => {
      const { octavia } = h.cloud;
      const tag = `${h.prefix}-cluster`;
      const wait = { timeoutMs: 60_000, intervalMs: 200 };
      const lb = await octavia.createLoadBalancer({
        name: `${h.prefix}-lb`,
        vipSubnetId: subnetId,
        tags: [tag],
      });
      // Waits: the VIP port goes only when the worker has deleted the load balancer, and the network with it.
      h.defer(async () => {
        await octavia.deleteLoadBalancer(lb.id, { cascade: true, ignoreMissing: true });
        await octavia.waitForLoadBalancerDeleted(lb.id, wait);
      });
      const active = await octavia.waitForLoadBalancer(lb.id, 'ACTIVE', wait);
      expect(active.vip_subnet_id).toBe(subnetId);
      expect(active.vip_address).toMatch(/^10\.79\.0\./);
      // The VIP is a Neutron port on the VIP subnet, owned by Octavia and removed with the load balancer.
      const vipPort = await h.cloud.neutron.ports.get(active.vip_port_id);
      expect(vipPort.fixed_ips).toContainEqual(
        expect.objectContaining({ subnet_id: subnetId, ip_address: active.vip_address }),
      );
      const listener = await octavia.createListener({
        loadBalancerId: lb.id,
        name: `${h.prefix}-api`,
        protocol: 'TCP',
        protocolPort: 6443,
      });
      await octavia.waitForLoadBalancer(lb.id, 'ACTIVE', wait);
      expect((await octavia.getListener(listener.id)).protocol_port).toBe(6443);
      const dup = await octavia
        .createListener({
          loadBalancerId: lb.id,
          name: `${h.prefix}-dup`,
          protocol: 'TCP',
          protocolPort: 6443,
        })
        .catch((e) => e);
      expect(isOpenStackError(dup, 'openstack_conflict')).toBe(true);
      const pool = await octavia.createPool({
        name: `${h.prefix}-pool`,
        protocol: 'TCP',
        listenerId: listener.id,
      });
      await octavia.waitForLoadBalancer(lb.id, 'ACTIVE', wait);
      const member = await octavia.createMember(pool.id, {
        address: '10.79.0.10',
        protocolPort: 6443,
        subnetId,
      });
      await octavia.waitForLoadBalancer(lb.id, 'ACTIVE', wait);
      const second = await octavia.createMember(pool.id, {
        address: '10.79.0.11',
        protocolPort: 6443,
        subnetId,
      });
      await octavia.waitForLoadBalancer(lb.id, 'ACTIVE', wait);
      // Members come up ACTIVE, and one goes alone (a master replacement swaps them one at a time).
      expect((await octavia.listMembers(pool.id)).map((m) => [m.id, m.provisioning_status])).toEqual([
        [member.id, 'ACTIVE'],
        [second.id, 'ACTIVE'],
      ]);
      await octavia.deleteMember(pool.id, second.id);
      await octavia.waitForLoadBalancer(lb.id, 'ACTIVE', wait);
      expect((await octavia.listMembers(pool.id)).map((m) => m.id)).toEqual([member.id]);
      const hm = await octavia.createHealthMonitor({
        poolId: pool.id,
        type: 'TCP',
        delay: 5,
        timeout: 3,
        maxRetries: 3,
      });
      await octavia.waitForLoadBalancer(lb.id, 'ACTIVE', wait);
      expect((await octavia.getHealthMonitor(hm.id)).type).toBe('TCP');
      expect((await octavia.getPool(pool.id)).healthmonitor_id).toBe(hm.id);
      expect((await octavia.listLoadBalancers({ tags: [tag] })).map((x) => x.id)).toEqual([lb.id]);
      expect(await octavia.listLoadBalancers({ tags: [tag, `${h.prefix}-other`] })).toEqual([]);
      expect((await octavia.getLoadBalancer(lb.id)).tags).toEqual([tag]);
      const withChildren = await octavia.deleteLoadBalancer(lb.id).catch((e) => e);
      expect(isOpenStackError(withChildren, 'openstack_bad_request')).toBe(true);
      await octavia.deleteLoadBalancer(lb.id, { cascade: true });
      await octavia.waitForLoadBalancerDeleted(lb.id, wait);
      const err = await octavia.getLoadBalancer(lb.id).catch((e) => e);
      expect(isOpenStackError(err, 'openstack_not_found')).toBe(true);
      const portErr = await h.cloud.neutron.ports.get(active.vip_port_id).catch((e) => e);
      expect(isOpenStackError(portErr, 'openstack_not_found')).toBe(true);
    }, 180_000);

    it('refuses a load balancer on a missing subnet (400) and answers 404 for a missing one', async () => {
      const { octavia } = h.cloud;
      const missing = '00000000-0000-4000-8000-000000000000';
      const bad = await octavia
        .createLoadBalancer({ name: `${h.prefix}-bad`, vipSubnetId: missing })
        .catch((e) => e);
      expect(isOpenStackError(bad, 'openstack_bad_request')).toBe(true);
      const none = await octavia.getLoadBalancer(missing).catch((e) => e);
      expect(isOpenStackError(none, 'openstack_not_found')).toBe(true);
    });
  },
);

describe.each(targets.filter((t) => t.services.includes('volumev3')))(
  'Cinder contract on $name',
  (target) => {
    const h = useHarness(target, 'vol');

    it('volume create → available, list, delete → 404', async () => {
      const { cinder } = h.cloud;
      const v = await cinder.createVolume({ name: `${h.prefix}-etcd`, size: 1, metadata: { role: 'etcd' } });
      h.defer(() => cinder.deleteVolume(v.id, { ignoreMissing: true }));
      expect(v.status).toBe('creating');
      const ready = await cinder.waitForVolumeStatus(v.id, 'available', {
        timeoutMs: 30_000,
        intervalMs: 200,
      });
      expect(ready).toMatchObject({ size: 1, metadata: { role: 'etcd' } });
      expect((await cinder.listVolumes({ name: `${h.prefix}-etcd` })).map((x) => x.id)).toEqual([v.id]);
      await cinder.deleteVolume(v.id);
      await cinder.waitForVolumeDeleted(v.id, { timeoutMs: 30_000, intervalMs: 200 });
      const err = await cinder.getVolume(v.id).catch((e) => e);
      expect(isOpenStackError(err, 'openstack_not_found')).toBe(true);
    });

    it('snapshot create → available, list by volume; a volume with snapshots is deleted only with cascade', async () => {
      const { cinder } = h.cloud;
      const wait = { timeoutMs: 60_000, intervalMs: 200 };
      const v = await cinder.createVolume({ name: `${h.prefix}-data`, size: 1 });
      h.defer(() => cinder.deleteVolume(v.id, { ignoreMissing: true, cascade: true }));
      await cinder.waitForVolumeStatus(v.id, 'available', wait);
      const snap = await cinder.createSnapshot({ volumeId: v.id, name: `${h.prefix}-snap` });
      expect(snap).toMatchObject({ volume_id: v.id, size: 1, status: 'creating' });
      expect(await cinder.waitForSnapshotStatus(snap.id, 'available', wait)).toMatchObject({
        name: `${h.prefix}-snap`,
      });
      expect((await cinder.listSnapshots({ volumeId: v.id })).map((x) => x.id)).toEqual([snap.id]);
      const refused = await cinder.deleteVolume(v.id).catch((e) => e);
      expect(isOpenStackError(refused, 'openstack_bad_request')).toBe(true);
      expect((refused as Error).message).toMatch(/have snapshots/);
      await cinder.deleteVolume(v.id, { cascade: true });
      await cinder.waitForVolumeDeleted(v.id, wait);
      await cinder.waitForSnapshotDeleted(snap.id, wait);
      expect(await cinder.listSnapshots({ volumeId: v.id })).toEqual([]);
      const none = await cinder.getSnapshot(snap.id).catch((e) => e);
      expect(isOpenStackError(none, 'openstack_not_found')).toBe(true);
    }, 120_000);

    it('refuses a volume of size 0 (400) and answers 404 for a missing one', async () => {
      const { cinder } = h.cloud;
      const bad = await cinder.createVolume({ name: `${h.prefix}-zero`, size: 0 }).catch((e) => e);
      expect(isOpenStackError(bad, 'openstack_bad_request')).toBe(true);
      const none = await cinder.getVolume('00000000-0000-4000-8000-000000000000').catch((e) => e);
      expect(isOpenStackError(none, 'openstack_not_found')).toBe(true);
    });
  },
);

describe.each(targets.filter((t) => t.services.includes('load-balancer') && t.services.includes('volumev3')))(
  'Octavia and Cinder quotas on $name',
  (target) => {
    const h = useHarness(target, 'quota');

    // In a project of its own: a zero quota on the shared admin project would fail everyone else's runs.
    it('an exhausted load-balancer or volume quota is openstack_quota_exceeded', async () => {
      const ks = h.cloud.keystone;
      const project = await ks.createProject({ name: `${h.prefix}-p`, description: 'kaas contract quotas' });
      h.defer(() => ks.deleteProject(project.id));
      const [admin] = await ks.listRoles({ name: 'admin' });
      const me = await h.cloud.session.token();
      await ks.assignProjectRole({ projectId: project.id, userId: me.user.id, roleId: admin!.id });
      const { session } = h.cloud;
      await session.request('load-balancer', 'PUT', `/v2/lbaas/quotas/${project.id}`, {
        json: { quota: { loadbalancer: 0 } },
      });
      await session.request('volumev3', 'PUT', `/os-quota-sets/${project.id}`, {
        json: { quota_set: { volumes: 0 } },
      });

      const env: Record<string, string> = { ...h.env, OS_PROJECT_ID: project.id };
      delete env.OS_PROJECT_NAME;
      delete env.OS_PROJECT_DOMAIN_NAME;
      const inProject = h.cloudFor(env);
      const net = await inProject.neutron.networks.create({ name: `${h.prefix}-net` });
      h.defer(() => inProject.neutron.networks.delete(net.id, { ignoreMissing: true }));
      const sub = await inProject.neutron.subnets.create({
        network_id: net.id,
        ip_version: 4,
        cidr: '10.81.0.0/24',
      });
      h.defer(() => inProject.neutron.subnets.delete(sub.id, { ignoreMissing: true }));
      const lb = await inProject.octavia
        .createLoadBalancer({ name: `${h.prefix}-lb`, vipSubnetId: sub.id })
        .catch((e) => e);
      expect(isOpenStackError(lb, 'openstack_quota_exceeded')).toBe(true);
      const vol = await inProject.cinder.createVolume({ name: `${h.prefix}-vol`, size: 1 }).catch((e) => e);
      expect(isOpenStackError(vol, 'openstack_quota_exceeded')).toBe(true);
    }, 120_000);
  },
);
