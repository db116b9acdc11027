import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.ts';
import { DEFAULT_RELEASE, KUBERNETES_RELEASES } from '../versions/index.ts';
import { CLUSTER_DEFAULTS, specFromEnv } from './defaults.ts';

const [OLDEST, MIDDLE] = KUBERNETES_RELEASES.map((r) => r.patch) as [string, string];

const ROLE = '9fe2ff9ee4384b1894a90878d3e92bab';

function envError(env: Record<string, string>, overrides = {}): InputError {
  try {
    specFromEnv(env, { name: 'dev', adminRoleId: ROLE, ...overrides });
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return error as InputError;
  }
  throw new Error('expected specFromEnv to throw');
}

describe('specFromEnv', () => {
  it('builds a valid spec from defaults alone', () => {
    const spec = specFromEnv({}, { name: 'dev', adminRoleId: ROLE });
    expect(spec.kubernetesVersion).toBe(CLUSTER_DEFAULTS.kubernetesVersion);
    expect(spec.kubernetesVersion).toBe(DEFAULT_RELEASE.patch);
    expect(spec.masters).toBe(1);
    expect(spec.loadBalancer).toBe('none');
    expect(spec.os).toBe('debian');
    expect(spec.overlayInterface).toBe('eth2');
    expect(spec.nodeGroups).toEqual([
      {
        name: 'default',
        count: 3,
        flavor: 'm1.large',
        image: CLUSTER_DEFAULTS.image,
        labels: {},
        maxSurge: 1,
      },
    ]);
    expect(spec.network).toEqual(CLUSTER_DEFAULTS.network);
  });

  it('reads every environment variable', () => {
    const spec = specFromEnv(
      {
        NUM_NODES: '5',
        NUM_MASTERS: '3',
        KUBE_MASTER_FLAVOR: 'm1.xlarge',
        KUBE_NODE_FLAVOR: 'm1.medium',
        KUBE_IMAGE: 'ubuntu-24.04',
        KUBE_OS: 'ubuntu',
        SSH_KEY_NAME: 'ops',
        KUBE_VERSION: `v${MIDDLE}`,
        NODE_NETWORK_CIDR: '192.168.0.0/22',
        POD_CIDR: '172.16.0.0/16',
        SERVICE_CIDR: '10.0.0.0/16',
        DNS_SERVER_IP: '10.0.0.10',
        KUBE_NETWORK_INTERFACE: 'ens4',
        EXTERNAL_NETWORK: 'ext-net',
        DNS_DOMAIN: 'apps.example.org',
        KUBE_ADMIN_ROLE_ID: 'envrole',
        KUBE_LOAD_BALANCER: 'octavia',
      },
      { name: 'dev' },
    );
    expect(spec).toEqual({
      name: 'dev',
      kubernetesVersion: MIDDLE,
      masters: 3,
      masterFlavor: 'm1.xlarge',
      image: 'ubuntu-24.04',
      os: 'ubuntu',
      nodeGroups: [
        { name: 'default', count: 5, flavor: 'm1.medium', image: 'ubuntu-24.04', labels: {}, maxSurge: 1 },
      ],
      network: {
        nodeCidr: '192.168.0.0/22',
        podCidr: '172.16.0.0/16',
        serviceCidr: '10.0.0.0/16',
        dnsIp: '10.0.0.10',
      },
      overlayInterface: 'ens4',
      sshKeyName: 'ops',
      externalNetwork: 'ext-net',
      dnsDomain: 'apps.example.org',
      adminRoleId: 'envrole',
      loadBalancer: 'octavia',
    });
  });

  it('lets overrides win over the environment', () => {
    const spec = specFromEnv(
      { KUBE_VERSION: '1.20.1', SSH_KEY_NAME: 'ops', POD_CIDR: 'garbage', KUBE_ADMIN_ROLE_ID: 'x' },
      {
        name: 'dev',
        kubernetesVersion: OLDEST,
        adminRoleId: ROLE,
        sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== me',
        network: { podCidr: '10.200.0.0/16' },
        nodeGroups: [{ name: 'big', count: 10, flavor: 'm1.xlarge' }],
      },
    );
    expect(spec.kubernetesVersion).toBe(OLDEST);
    expect(spec.adminRoleId).toBe(ROLE);
    expect(spec.sshKeyName).toBeUndefined();
    expect(spec.network.podCidr).toBe('10.200.0.0/16');
    expect(spec.nodeGroups.map((g) => [g.name, g.count])).toEqual([['big', 10]]);
  });

  it('ignores blank variables', () => {
    expect(specFromEnv({ NUM_NODES: ' ' }, { name: 'dev', adminRoleId: ROLE }).nodeGroups[0]!.count).toBe(3);
  });

  const cases: [Record<string, string>, string, RegExp][] = [
    [{ NUM_NODES: 'three' }, 'nodeGroups[0].count', /got "three" \(from environment variable NUM_NODES\)$/],
    [{ NUM_NODES: '5000' }, 'nodeGroups[0].count', /from environment variable NUM_NODES/],
    [
      { NUM_MASTERS: '2' },
      'masters',
      /masters must be 1 or 3, got 2 \(from environment variable NUM_MASTERS\)/,
    ],
    [{ KUBE_MASTER_FLAVOR: 'a\tb' }, 'masterFlavor', /KUBE_MASTER_FLAVOR/],
    [{ KUBE_NODE_FLAVOR: 'x'.repeat(256) }, 'nodeGroups[0].flavor', /KUBE_NODE_FLAVOR/],
    [{ KUBE_IMAGE: 'golden' }, 'os', /os cannot be derived from image "golden"/],
    [{ KUBE_OS: 'arch' }, 'os', /KUBE_OS/],
    [{ SSH_KEY_NAME: 'a/b' }, 'sshKeyName', /SSH_KEY_NAME/],
    [{ KUBE_VERSION: '1.9.0' }, 'kubernetesVersion', /KUBE_VERSION/],
    [
      { NODE_NETWORK_CIDR: '10.244.0.0/24' },
      'network.podCidr',
      /^network\.podCidr overlaps network\.nodeCidr$/,
    ],
    [{ NODE_NETWORK_CIDR: '10.0.0.1/24' }, 'network.nodeCidr', /NODE_NETWORK_CIDR/],
    [{ POD_CIDR: '10.244.0.0/30' }, 'network.podCidr', /POD_CIDR/],
    [{ SERVICE_CIDR: '10.97.0.0/16' }, 'network.dnsIp', /must be inside network\.serviceCidr$/],
    [{ DNS_SERVER_IP: '10.96.0.11' }, 'network.dnsIp', /DNS_SERVER_IP/],
    [{ KUBE_NETWORK_INTERFACE: 'a very long interface' }, 'overlayInterface', /KUBE_NETWORK_INTERFACE/],
    [{ EXTERNAL_NETWORK: 'pub\u0001lic' }, 'externalNetwork', /EXTERNAL_NETWORK/],
    [{ DNS_DOMAIN: 'Example.COM' }, 'dnsDomain', /DNS_DOMAIN/],
    [{ KUBE_LOAD_BALANCER: 'f5' }, 'loadBalancer', /KUBE_LOAD_BALANCER/],
  ];

  it.each(cases)('reports bad %o with its field and variable', (env, field, message) => {
    const error = envError(env);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
  });

  it('names the environment variable for a bad admin role id', () => {
    const error = envError({ KUBE_ADMIN_ROLE_ID: 'not valid' }, { adminRoleId: undefined });
    expect(error.field).toBe('adminRoleId');
    expect(error.message).toMatch(/\(from environment variable KUBE_ADMIN_ROLE_ID\)$/);
  });

  it('explains how to set a missing admin role id', () => {
    const error = envError({}, { adminRoleId: undefined });
    expect(error.message).toBe('adminRoleId is required: set KUBE_ADMIN_ROLE_ID or pass adminRoleId');
  });

  it('does not blame the environment for bad overrides', () => {
    const error = envError({ NUM_MASTERS: '1' }, { masters: 2 });
    expect(error.message).toBe('masters must be 1 or 3, got 2');
  });

  it('reports a missing name', () => {
    expect(() => specFromEnv({}, { adminRoleId: ROLE })).toThrow('name is required');
  });

  it("keeps a spec file's fields without a variable, and names an unknown one instead of dropping it", () => {
    const spec = specFromEnv(
      {},
      { name: 'dev', adminRoleId: ROLE, autoHeal: false, masterUnhealthyAfterSeconds: 900 },
    );
    expect(spec).toMatchObject({ autoHeal: false, masterUnhealthyAfterSeconds: 900 });
    const typo = { nodegroups: [] } as Record<string, unknown>;
    expect(envError({}, typo).message).toBe('nodegroups is not a known field');
  });
});
