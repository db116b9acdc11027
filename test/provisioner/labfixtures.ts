/**
 * What a provisioner test on the real lab OpenStack makes before its cluster and removes after it:
 * a flavor and an image named after the cluster (the lab has none of its own), and an external
 * network, so the cluster gets a router gateway and its API a floating IP as on a real cloud.
 */
import { randomBytes } from 'node:crypto';
import type { Cloud } from '../../src/openstack/index.ts';
import type { Store } from '../../src/store/db.ts';
import { provisionerStore, testWebhook, type CloudsimSuite } from './support.ts';

export interface LabFixtures {
  /** What provisionOnKubelab needs: the lab cloud, a webhook target and stores closed by `remove`. */
  suite: Pick<CloudsimSuite, 'cloud' | 'webhook' | 'store'>;
  /** The spec fields naming them: master flavor, image, external network. */
  spec: { masterFlavor: string; image: string; externalNetwork: string };
  external: { id: string; subnetId: string };
  remove(): Promise<void>;
}

export async function labFixtures(cloud: Cloud, name: string): Promise<LabFixtures> {
  const stores: Store[] = [];
  const flavor = await cloud.nova.createFlavor({ name: `kaas-${name}`, ram: 512, vcpus: 1, disk: 1 });
  const image = await cloud.glance.createImage({
    name: `kaas-${name}`,
    diskFormat: 'raw',
    containerFormat: 'bare',
  });
  await cloud.glance.uploadImage(image.id, randomBytes(64 * 1024));
  const ext = await cloud.neutron.networks.create({
    name: `kaas-${name}-public`,
    'router:external': true,
    'provider:network_type': 'flat',
    'provider:physical_network': `kaas-${name}`,
  });
  const subnet = await cloud.neutron.subnets.create({
    network_id: ext.id,
    cidr: '198.51.100.0/24',
    ip_version: 4,
    enable_dhcp: false,
  });
  return {
    suite: {
      cloud,
      webhook: await testWebhook(),
      store: async () => {
        const s = await provisionerStore();
        stores.push(s);
        return s;
      },
    },
    spec: { masterFlavor: `kaas-${name}`, image: `kaas-${name}`, externalNetwork: `kaas-${name}-public` },
    external: { id: ext.id, subnetId: subnet.id },
    async remove() {
      await cloud.neutron.subnets.delete(subnet.id).catch(() => undefined);
      await cloud.neutron.networks.delete(ext.id).catch(() => undefined);
      await cloud.nova.deleteFlavor(flavor.id).catch(() => undefined);
      await cloud.glance.deleteImage(image.id, { ignoreMissing: true });
      for (const s of stores) await s.close();
    },
  };
}
