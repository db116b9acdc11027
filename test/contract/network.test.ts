import { describe, expect, it } from 'vitest';
import { isOpenStackError } from '../../src/openstack/index.ts';
import { targets, useHarness } from './targets.ts';

describe.each(targets.filter((t) => t.services.includes('network')))(
  'Neutron contract on $name',
  (target) => {
    const h = useHarness(target, 'net');

    it('network, subnet, router + interface, security group + rules, port, tags, external network and floating IP', async () => {
      const { neutron } = h.cloud;
      const tag = `${h.prefix}-cluster`;

      const net = await neutron.networks.create({ name: `${h.prefix}-net` });
      h.defer(() => neutron.networks.delete(net.id, { ignoreMissing: true }));
      expect(await neutron.networks.setTags(net.id, [tag, 'kaas'])).toEqual(
        expect.arrayContaining([tag, 'kaas']),
      );
      expect((await neutron.networks.list({ tags: [tag] })).map((n) => n.id)).toEqual([net.id]);
      expect((await neutron.networks.list({ tags: [tag, 'absent'] })).map((n) => n.id)).toEqual([]);
      expect((await neutron.networks.get(net.id)).name).toBe(`${h.prefix}-net`);

      const sub = await neutron.subnets.create({
        network_id: net.id,
        ip_version: 4,
        cidr: '10.78.0.0/24',
        name: `${h.prefix}-sub`,
      });
      h.defer(() => neutron.subnets.delete(sub.id, { ignoreMissing: true }));
      expect(sub).toMatchObject({ cidr: '10.78.0.0/24', gateway_ip: '10.78.0.1' });

      const sg = await neutron.securityGroups.create({ name: `${h.prefix}-sg`, description: 'kube api' });
      h.defer(() => neutron.securityGroups.delete(sg.id, { ignoreMissing: true }));
      const rule = await neutron.securityGroupRules.create({
        security_group_id: sg.id,
        direction: 'ingress',
        ethertype: 'IPv4',
        protocol: 'tcp',
        port_range_min: 6443,
        port_range_max: 6443,
        remote_ip_prefix: '0.0.0.0/0',
      });
      expect(
        (await neutron.securityGroupRules.list({ security_group_id: sg.id })).map((x) => x.id),
      ).toContain(rule.id);
      await neutron.securityGroups.setTags(sg.id, [tag]);
      expect((await neutron.securityGroups.list({ tags: [tag] })).map((x) => x.id)).toEqual([sg.id]);

      const port = await neutron.ports.create({
        network_id: net.id,
        name: `${h.prefix}-port`,
        security_groups: [sg.id],
      });
      h.defer(() => neutron.ports.delete(port.id, { ignoreMissing: true }));
      expect(port.security_groups).toEqual([sg.id]);
      expect(port.fixed_ips[0]?.subnet_id).toBe(sub.id);
      await neutron.ports.setTags(port.id, [tag]);
      expect((await neutron.ports.list({ tags: [tag] })).map((x) => x.id)).toEqual([port.id]);

      const ext = await neutron.networks.create({
        name: `${h.prefix}-ext`,
        'router:external': true,
        'provider:network_type': 'vxlan',
      });
      h.defer(() => neutron.networks.delete(ext.id, { ignoreMissing: true }));
      const extSub = await neutron.subnets.create({
        network_id: ext.id,
        ip_version: 4,
        cidr: '172.31.250.0/24',
        enable_dhcp: false,
        name: `${h.prefix}-ext-sub`,
      });
      h.defer(() => neutron.subnets.delete(extSub.id, { ignoreMissing: true }));
      expect((await neutron.networks.list({ 'router:external': true })).map((n) => n.id)).toContain(ext.id);

      const router = await neutron.routers.create({ name: `${h.prefix}-router` });
      h.defer(() => neutron.routers.delete(router.id, { ignoreMissing: true }));
      const withGw = await neutron.setRouterGateway(router.id, ext.id);
      expect(withGw.external_gateway_info?.network_id).toBe(ext.id);
      h.defer(() =>
        neutron.setRouterGateway(router.id, null).catch((e) => {
          if (!isOpenStackError(e, 'openstack_not_found')) throw e;
        }),
      );
      const itf = await neutron.addRouterInterface(router.id, { subnetId: sub.id });
      expect(itf.subnet_id).toBe(sub.id);
      h.defer(() =>
        neutron.removeRouterInterface(router.id, { subnetId: sub.id }).catch((e) => {
          if (!isOpenStackError(e, 'openstack_not_found')) throw e;
        }),
      );

      const fip = await neutron.floatingIps.create({ floating_network_id: ext.id, port_id: port.id });
      h.defer(() => neutron.floatingIps.delete(fip.id, { ignoreMissing: true }));
      expect(fip.floating_ip_address).toMatch(/^172\.31\.250\./);
      expect(fip.fixed_ip_address).toBe(port.fixed_ips[0]?.ip_address);
      expect((await neutron.floatingIps.list({ port_id: port.id })).map((x) => x.id)).toEqual([fip.id]);

      await neutron.floatingIps.delete(fip.id);
      await neutron.removeRouterInterface(router.id, { subnetId: sub.id });
      expect((await neutron.setRouterGateway(router.id, null)).external_gateway_info).toBeNull();
      await neutron.routers.delete(router.id);
      await neutron.ports.delete(port.id);
      await neutron.securityGroups.delete(sg.id);
      const err = await neutron.securityGroups.get(sg.id).catch((e) => e);
      expect(isOpenStackError(err, 'openstack_not_found')).toBe(true);
    }, 90_000);
  },
);
