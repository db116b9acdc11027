import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.ts';
import { clusterNames, dnsName, tagsFor } from './names.ts';

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

describe('names', () => {
  it('names every resource of a cluster', () => {
    const n = clusterNames('prod');
    expect({
      network: n.network,
      subnet: n.subnet,
      router: n.router,
      sgMaster: n.securityGroupMaster,
      sgNode: n.securityGroupNode,
      keypair: n.keypair,
      serverGroup: n.serverGroupMasters,
      lb: n.apiLoadBalancer,
      fip: n.apiFloatingIp,
      container: n.artifactsContainer,
      master: n.master(2),
      port: n.masterPort(0),
      worker: n.worker('gpu', 11),
    }).toEqual({
      network: 'kaas-prod-net',
      subnet: 'kaas-prod-subnet',
      router: 'kaas-prod-router',
      sgMaster: 'kaas-prod-sg-master',
      sgNode: 'kaas-prod-sg-node',
      keypair: 'kaas-prod-keypair',
      serverGroup: 'kaas-prod-servergroup-masters',
      lb: 'kaas-prod-api-lb',
      fip: 'kaas-prod-api-fip',
      container: 'kaas-prod-artifacts',
      master: 'kaas-prod-master-2',
      port: 'kaas-prod-master-0-port',
      worker: 'kaas-prod-gpu-11',
    });
  });

  it('truncates long names to 63 characters with a stable hash suffix', () => {
    const cluster = 'a'.repeat(40);
    const name = clusterNames(cluster).serverGroupMasters;
    expect(name).toHaveLength(63);
    expect(name).toMatch(LABEL);
    expect(name).toMatch(/-[0-9a-f]{8}$/);
    expect(clusterNames(cluster).serverGroupMasters).toBe(name);
    const a = clusterNames(cluster).worker('b'.repeat(20), 998);
    const b = clusterNames(cluster).worker('b'.repeat(20), 999);
    expect(a).not.toBe(b);
    expect(a.slice(0, 50)).toBe(b.slice(0, 50));
  });

  it('never ends a truncated head with a dash and cleans odd characters', () => {
    expect(dnsName('Kaas', 'My_Cluster', '', 'x')).toBe('kaas-my-cluster-x');
    const name = dnsName('x'.repeat(53), 'y'.repeat(20));
    expect(name).toMatch(LABEL);
    expect(name).not.toContain('--');
  });

  it('tags with the cluster id and validates it', () => {
    expect(tagsFor('3f2c9a1e-7b6d-4c1a-9e8f-0a1b2c3d4e5f')).toEqual([
      'kaas-cluster=3f2c9a1e-7b6d-4c1a-9e8f-0a1b2c3d4e5f',
    ]);
    for (const bad of ['', 'Has-Upper', 'a/b', 'x'.repeat(48)]) {
      expect(() => tagsFor(bad)).toThrow(InputError);
    }
    expect(() => tagsFor('a,b')).toThrow(/clusterId must be 1 to 47 lowercase letters/);
  });
});
