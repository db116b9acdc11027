/**
 * nodelab's hypervisor on its own, without Kubernetes: a cluster's ACTIVE servers are booted from
 * their user data (another cluster's are left alone), a server whose user data fails is reported
 * with cloud-init's failure, and a deleted server's node is torn down, leaving nothing on the host.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startCloudsim, type Cloudsim } from '../../src/cloudsim/index.ts';
import { tagsFor } from '../../src/cluster/names.ts';
import { testCloud } from '../provisioner/support.ts';
import { MINUTE } from './kaas.ts';
import { hostTraces, nodelabCache, NO_TRACES, startNodelab, type Nodelab } from './node.ts';
import { watchServers, type ServerWatch } from './watch.ts';

const CIDR = '10.244.0.0/24';

describe('nodelab server watch', () => {
  let lab: Nodelab | undefined;
  let sim: Cloudsim | undefined;
  let watch: ServerWatch | undefined;
  afterAll(async () => {
    try {
      await watch?.stop();
      await lab?.stop();
    } finally {
      await sim?.close();
    }
  });

  it(
    "boots a cluster's ACTIVE servers, reports one whose user data fails, tears down a deleted one's node before the cloud lets it go",
    async () => {
      nodelabCache();
      lab = await startNodelab({ cidr: CIDR });
      sim = await startCloudsim({ port: 0, host: lab.gateway, bootTimeMs: 20 });
      const cloud = testCloud(sim);
      const network = await cloud.neutron.networks.create({ name: 'nodelab-watch' });
      await cloud.neutron.subnets.create({ network_id: network.id, ip_version: 4, cidr: CIDR });
      const image = [...sim.state.images.values()].find((i) => i.name === 'debian-12');
      const flavor = [...sim.state.flavors.values()].find((f) => f.name === 'm1.small');
      if (!image || !flavor) throw new Error('cloudsim has no debian-12 image or m1.small flavor');
      const server = (name: string, clusterId: string, runcmd: string) =>
        cloud.nova.createServer({
          name,
          flavorRef: flavor.id,
          imageRef: image.id,
          networks: [{ uuid: network.id }],
          userData: `#cloud-config\nruncmd:\n- [sh, -c, "${runcmd}"]\n`,
          metadata: {},
          tags: tagsFor(clusterId),
        });
      watch = watchServers(lab, cloud, 'cwatch', sim.knobs);
      const ok = await server('nl-ok', 'cwatch', 'touch /var/lib/nodelab-ok');
      await server('nl-bad', 'cwatch', 'exit 3');
      await server('nl-other', 'cother', 'touch /var/lib/nodelab-ok');

      const node = await watch.booted('nl-ok', 3 * MINUTE);
      expect(await node.readFile('/var/lib/nodelab-ok')).toBe('');
      expect(node.address).toMatch(/^10\.244\.0\.\d+$/);
      await expect(watch.booted('nl-bad', 3 * MINUTE)).rejects.toThrow(
        /nl-bad failed to boot:[\s\S]*cloud-init modules --mode=final failed/,
      );
      expect(watch.fates.has('nl-other')).toBe(false);

      // As on a real cloud, the deleted server is listed (deleting) until its node is torn down.
      await cloud.nova.deleteServer(ok.id);
      expect((await cloud.nova.getServer(ok.id))['OS-EXT-STS:task_state']).toBe('deleting');
      await watch.stopped('nl-ok', 2 * MINUTE);
      await expect(cloud.nova.getServer(ok.id)).rejects.toMatchObject({ status: 404 });
      await watch.stop();
      watch = undefined;
      // Only the lab's bridge is left until the lab stops; then nothing.
      expect(await hostTraces()).toEqual({ ...NO_TRACES, links: [lab.bridge] });
      await lab.stop();
      lab = undefined;
      expect(await hostTraces()).toEqual(NO_TRACES);
    },
    10 * MINUTE,
  );
});
