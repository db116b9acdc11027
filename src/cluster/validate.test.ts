import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.ts';
import { KUBERNETES_RELEASES } from '../versions/index.ts';
import { isAutoscaled } from './spec.ts';
import { validateSpec, validateUpgrade } from './validate.ts';
import { CLUSTER_DEFAULTS } from './defaults.ts';

const [OLDEST, MIDDLE, NEWEST] = KUBERNETES_RELEASES.map((r) => r.patch) as [string, string, string];
/** `x.y.3` → `x.y.2`: an earlier patch a cluster may still run after the catalogue moved on. */
const earlier = (patch: string) => patch.replace(/\d+$/, (n) => String(Number(n) - 1));
const re = (text: string) => new RegExp(text.replace(/\./g, '\\.'));

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBqkYq0lT0r8o2QhJ2x1Yv6c4cQfYzrZ2l3m4n5o6p7q alice@example';

function valid(): Record<string, unknown> {
  return {
    name: 'prod',
    kubernetesVersion: MIDDLE,
    masters: 1,
    masterFlavor: 'm1.large',
    image: 'debian-12-genericcloud-amd64',
    nodeGroups: [{ name: 'default', count: 3, flavor: 'm1.large', labels: { tier: 'web' } }],
    network: { ...CLUSTER_DEFAULTS.network },
    externalNetwork: 'public',
    dnsDomain: 'apps.example.com',
    adminRoleId: '9fe2ff9ee4384b1894a90878d3e92bab',
  };
}

function errorOf(input: unknown): InputError {
  try {
    validateSpec(input);
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return error as InputError;
  }
  throw new Error('expected validateSpec to throw');
}

type Mutate = (s: Record<string, unknown>) => void;
const group = (s: Record<string, unknown>) =>
  (s.nodeGroups as Record<string, unknown>[])[0] as Record<string, unknown>;
const net = (s: Record<string, unknown>) => s.network as Record<string, unknown>;

describe('validateSpec', () => {
  it('normalises a valid spec and fills derived fields', () => {
    const spec = validateSpec({ ...valid(), kubernetesVersion: `v${MIDDLE}` });
    expect(spec).toEqual({
      name: 'prod',
      kubernetesVersion: MIDDLE,
      masters: 1,
      masterFlavor: 'm1.large',
      image: 'debian-12-genericcloud-amd64',
      os: 'debian',
      nodeGroups: [
        {
          name: 'default',
          count: 3,
          flavor: 'm1.large',
          image: 'debian-12-genericcloud-amd64',
          labels: { tier: 'web' },
          maxSurge: 1,
        },
      ],
      network: {
        nodeCidr: '10.240.0.0/16',
        podCidr: '10.244.0.0/16',
        serviceCidr: '10.96.0.0/12',
        dnsIp: '10.96.0.10',
      },
      overlayInterface: 'eth2',
      externalNetwork: 'public',
      dnsDomain: 'apps.example.com',
      adminRoleId: '9fe2ff9ee4384b1894a90878d3e92bab',
      loadBalancer: 'none',
    });
  });

  it('derives octavia for 3 masters and keeps explicit choices', () => {
    expect(validateSpec({ ...valid(), masters: 3 }).loadBalancer).toBe('octavia');
    expect(validateSpec({ ...valid(), loadBalancer: 'octavia' }).loadBalancer).toBe('octavia');
    expect(validateSpec({ ...valid(), loadBalancer: 'auto' }).loadBalancer).toBe('none');
  });

  it('derives the os from the image name, or takes it explicitly', () => {
    expect(validateSpec({ ...valid(), image: 'Ubuntu-24.04' }).os).toBe('ubuntu');
    expect(validateSpec({ ...valid(), image: 'flatcar-stable' }).os).toBe('flatcar');
    expect(validateSpec({ ...valid(), image: 'golden-v3', os: 'debian' }).os).toBe('debian');
  });

  it('sorts labels, keeps group images and accepts allowed kubelet label namespaces', () => {
    const input = valid();
    group(input).labels = { zeta: '', 'node.kubernetes.io/pool': 'a', 'example.com/alpha': 'x_y.z' };
    group(input).image = 'debian-custom';
    const spec = validateSpec(input);
    expect(Object.keys(spec.nodeGroups[0]!.labels)).toEqual([
      'example.com/alpha',
      'node.kubernetes.io/pool',
      'zeta',
    ]);
    expect(spec.nodeGroups[0]!.image).toBe('debian-custom');
    expect(spec.nodeGroups[0]!.maxSurge).toBe(1);
    group(input).maxSurge = 5;
    expect(validateSpec(input).nodeGroups[0]!.maxSurge).toBe(5);
    // Auto-healing settings are kept only when given (healPolicy supplies the defaults).
    expect(spec.autoHeal).toBeUndefined();
    expect(spec).not.toHaveProperty('masterUnhealthyAfterSeconds');
    expect(spec.nodeGroups[0]).not.toHaveProperty('unhealthyAfterSeconds');
    Object.assign(group(input), { autoHeal: false, unhealthyAfterSeconds: 5, maxUnhealthyPercent: 0 });
    expect(validateSpec({ ...input, autoHeal: true, masterUnhealthyAfterSeconds: 60 })).toMatchObject({
      autoHeal: true,
      masterUnhealthyAfterSeconds: 60,
      nodeGroups: [{ autoHeal: false, unhealthyAfterSeconds: 5, maxUnhealthyPercent: 0 }],
    });
    expect(
      validateSpec({ ...valid(), nodeGroups: [{ name: 'a', count: 0, flavor: 'f' }] }).nodeGroups[0]!.labels,
    ).toEqual({});
  });

  it('keeps autoscaling bounds only when given, the missing one defaulting to count', () => {
    expect(validateSpec(valid()).nodeGroups[0]).not.toHaveProperty('minSize');
    expect(isAutoscaled(validateSpec(valid()).nodeGroups[0]!)).toBe(false);
    const input = valid();
    group(input).maxSize = 6;
    const scaled = validateSpec(input).nodeGroups[0]!;
    expect(scaled).toMatchObject({ count: 3, minSize: 3, maxSize: 6 });
    expect(isAutoscaled(scaled)).toBe(true);
    Object.assign(group(input), { minSize: 1, maxSize: undefined });
    expect(validateSpec(input).nodeGroups[0]).toMatchObject({ minSize: 1, maxSize: 3 });
    Object.assign(group(input), { minSize: 3, maxSize: 3 });
    expect(isAutoscaled(validateSpec(input).nodeGroups[0]!)).toBe(false);
  });

  it('accepts an uploaded public key or an existing keypair name', () => {
    expect(validateSpec({ ...valid(), sshPublicKey: `${KEY}\n` }).sshPublicKey).toBe(KEY);
    expect(validateSpec({ ...valid(), sshKeyName: 'alice key@1' }).sshKeyName).toBe('alice key@1');
  });

  it('keeps an image repository as given, and none when absent or empty', () => {
    for (const repo of [
      'registry.example:5000/mirror',
      'localhost:5000',
      '10.0.0.1:5000/a/b_c',
      'harbor.example',
    ]) {
      expect(validateSpec({ ...valid(), imageRepository: repo }).imageRepository).toBe(repo);
    }
    expect(validateSpec(valid())).not.toHaveProperty('imageRepository');
    expect(validateSpec({ ...valid(), imageRepository: '' })).not.toHaveProperty('imageRepository');
  });

  const repo = (value: unknown) => (s: Record<string, unknown>) => (s.imageRepository = value);
  const cases: [string, Mutate, string, RegExp][] = [
    ['repository with a scheme', repo('https://r.example/m'), 'imageRepository', /must not have a scheme/],
    ['repository with a tag', repo('r.example:5000/m:1.0'), 'imageRepository', /must not have a tag/],
    ['repository with a digest', repo('r.example/m@sha256:ab'), 'imageRepository', /must not have a digest/],
    [
      'repository without a registry host',
      repo('mirror/k8s'),
      'imageRepository',
      /must start with a registry host/,
    ],
    [
      'repository with a bad port',
      repo('r.example:http/m'),
      'imageRepository',
      /must start with a registry host/,
    ],
    ['repository too long', repo(`r.example/${'a'.repeat(130)}`), 'imageRepository', /at most 128/],
    [
      'repository with an uppercase path',
      repo('r.example/Mirror'),
      'imageRepository',
      /path must be lowercase/,
    ],
    ['repository with a trailing slash', repo('r.example/m/'), 'imageRepository', /path must be lowercase/],
    ['repository not a string', repo(5000), 'imageRepository', /must be a string/],
    [
      'repository on Flatcar',
      (s) => Object.assign(s, { image: 'flatcar-stable', imageRepository: 'r.example/m' }),
      'imageRepository',
      /cannot be used with Flatcar nodes yet/,
    ],
    ['unknown top-level field', (s) => (s.nmae = 'x'), 'nmae', /nmae is not a known field/],
    ['missing name', (s) => delete s.name, 'name', /name is required/],
    ['non-string name', (s) => (s.name = 5), 'name', /name must be a string, got 5/],
    ['uppercase name', (s) => (s.name = 'Prod'), 'name', /name must be a DNS label: at most 40/],
    ['long name', (s) => (s.name = 'a'.repeat(41)), 'name', /at most 40/],
    [
      'bad version',
      (s) => (s.kubernetesVersion = '1.2'),
      'kubernetesVersion',
      re(`must look like ${NEWEST}, got "1.2"`),
    ],
    [
      'unsupported version',
      (s) => (s.kubernetesVersion = '1.20.1'),
      'kubernetesVersion',
      re(`"1.20.1" is not offered; supported versions: ${OLDEST}, ${MIDDLE}, ${NEWEST}`),
    ],
    [
      'patch the catalogue does not list',
      (s) => (s.kubernetesVersion = earlier(MIDDLE)),
      'kubernetesVersion',
      /is not offered/,
    ],
    ['two masters', (s) => (s.masters = 2), 'masters', /masters must be 1 or 3, got 2/],
    ['missing master flavor', (s) => delete s.masterFlavor, 'masterFlavor', /masterFlavor is required/],
    [
      'padded master flavor',
      (s) => (s.masterFlavor = ' m1 '),
      'masterFlavor',
      /at most 255 characters without surrounding spaces/,
    ],
    ['image with control chars', (s) => (s.image = 'a\nb'), 'image', /image must be a name or id/],
    [
      'unknown os',
      (s) => (s.os = 'windows'),
      'os',
      /os must be one of ubuntu, debian, flatcar, got "windows"/,
    ],
    ['underivable os', (s) => (s.image = 'golden'), 'os', /os cannot be derived from image "golden"/],
    ['no node groups', (s) => (s.nodeGroups = []), 'nodeGroups', /nodeGroups must be a list of 1 to 20/],
    ['node groups not a list', (s) => (s.nodeGroups = {}), 'nodeGroups', /must be a list/],
    [
      'group not an object',
      (s) => (s.nodeGroups = ['x']),
      'nodeGroups[0]',
      /nodeGroups\[0\] must be an object/,
    ],
    ['unknown group field', (s) => (group(s).size = 1), 'nodeGroups[0].size', /is not a known field/],
    ['zero maxSurge', (s) => (group(s).maxSurge = 0), 'nodeGroups[0].maxSurge', /integer from 1 to 1000/],
    ['fractional maxSurge', (s) => (group(s).maxSurge = 1.5), 'nodeGroups[0].maxSurge', /integer/],
    ['string maxSurge', (s) => (group(s).maxSurge = '2'), 'nodeGroups[0].maxSurge', /integer/],
    [
      'minSize above count',
      (s) => (group(s).minSize = 4),
      'nodeGroups[0].minSize',
      /at most count \(3\), got 4/,
    ],
    [
      'maxSize below count',
      (s) => (group(s).maxSize = 2),
      'nodeGroups[0].maxSize',
      /at least count \(3\), got 2/,
    ],
    ['negative minSize', (s) => (group(s).minSize = -1), 'nodeGroups[0].minSize', /integer from 0 to 1000/],
    ['string maxSize', (s) => (group(s).maxSize = '5'), 'nodeGroups[0].maxSize', /got "5"/],
    [
      'node cidr without room for maxSize',
      (s) => {
        net(s).nodeCidr = '10.240.0.0/28';
        group(s).maxSize = 12;
      },
      'network.nodeCidr',
      /too small for 14 servers/,
    ],
    ['string autoHeal', (s) => (s.autoHeal = 'yes'), 'autoHeal', /must be true or false, got "yes"/],
    ['numeric group autoHeal', (s) => (group(s).autoHeal = 1), 'nodeGroups[0].autoHeal', /true or false/],
    [
      'zero unhealthyAfterSeconds',
      (s) => (group(s).unhealthyAfterSeconds = 0),
      'nodeGroups[0].unhealthyAfterSeconds',
      /integer from 1 to 86400/,
    ],
    [
      'masterUnhealthyAfterSeconds above a day',
      (s) => (s.masterUnhealthyAfterSeconds = 86_401),
      'masterUnhealthyAfterSeconds',
      /integer from 1 to 86400/,
    ],
    [
      'maxUnhealthyPercent above 100',
      (s) => (group(s).maxUnhealthyPercent = 101),
      'nodeGroups[0].maxUnhealthyPercent',
      /integer from 0 to 100/,
    ],
    [
      'node cidr without room for the surge',
      (s) => {
        net(s).nodeCidr = '10.240.0.0/28';
        group(s).maxSurge = 5;
      },
      'network.nodeCidr',
      /too small for 9 servers/,
    ],
    [
      'bad group name',
      (s) => (group(s).name = 'Web_1'),
      'nodeGroups[0].name',
      /must be a DNS label: at most 20/,
    ],
    [
      'reserved group name',
      (s) => (group(s).name = 'master'),
      'nodeGroups[0].name',
      /reserved for control-plane/,
    ],
    [
      'duplicate group name',
      (s) => (s.nodeGroups = [group(s), { ...group(s) }]),
      'nodeGroups[1].name',
      /repeats node group name "default"/,
    ],
    [
      'negative count',
      (s) => (group(s).count = -1),
      'nodeGroups[0].count',
      /must be an integer from 0 to 1000, got -1/,
    ],
    ['fractional count', (s) => (group(s).count = 1.5), 'nodeGroups[0].count', /got 1\.5/],
    ['huge count', (s) => (group(s).count = 1001), 'nodeGroups[0].count', /got 1001/],
    ['string count', (s) => (group(s).count = '3'), 'nodeGroups[0].count', /got "3"/],
    ['missing group flavor', (s) => delete group(s).flavor, 'nodeGroups[0].flavor', /is required/],
    ['bad group image', (s) => (group(s).image = ''), 'nodeGroups[0].image', /is required/],
    [
      'labels not an object',
      (s) => (group(s).labels = []),
      'nodeGroups[0].labels',
      /must be an object of string values/,
    ],
    [
      'bad label prefix',
      (s) => (group(s).labels = { 'Ex!/a': 'b' }),
      'nodeGroups[0].labels',
      /prefix must be a DNS subdomain/,
    ],
    [
      'bad label name',
      (s) => (group(s).labels = { '-a': 'b' }),
      'nodeGroups[0].labels',
      /whose name must be at most 63/,
    ],
    [
      'long label name',
      (s) => (group(s).labels = { ['a'.repeat(64)]: 'b' }),
      'nodeGroups[0].labels',
      /whose name/,
    ],
    [
      'reserved label namespace',
      (s) => (group(s).labels = { 'node-role.kubernetes.io/worker': '' }),
      'nodeGroups[0].labels',
      /reserved for Kubernetes/,
    ],
    [
      'non-string label value',
      (s) => (group(s).labels = { a: 1 }),
      'nodeGroups[0].labels.a',
      /must be a string, got 1/,
    ],
    [
      'bad label value',
      (s) => (group(s).labels = { a: 'b c' }),
      'nodeGroups[0].labels.a',
      /must be empty or at most 63/,
    ],
    ['network missing', (s) => delete s.network, 'network', /network must be an object/],
    ['unknown network field', (s) => (net(s).mtu = 1400), 'network.mtu', /is not a known field/],
    ['bad node cidr', (s) => (net(s).nodeCidr = '10.0.0.1/16'), 'network.nodeCidr', /no host bits set/],
    [
      'node cidr too small',
      (s) => (net(s).nodeCidr = '10.240.0.0/29'),
      'network.nodeCidr',
      /too small for 5 servers/,
    ],
    [
      'pod overlaps node',
      (s) => (net(s).podCidr = '10.240.0.0/12'),
      'network.podCidr',
      /overlaps network\.nodeCidr/,
    ],
    [
      'pod cidr too small',
      (s) => (net(s).podCidr = '10.244.0.0/23'),
      'network.podCidr',
      /flannel needs one \/24 per node/,
    ],
    ['malformed pod cidr', (s) => (net(s).podCidr = '10.244.0.0'), 'network.podCidr', /must be an IPv4 CIDR/],
    [
      'service overlaps node',
      (s) => (net(s).serviceCidr = '10.240.0.0/24'),
      'network.serviceCidr',
      /overlaps network\.nodeCidr/,
    ],
    [
      'service overlaps pod',
      (s) => (net(s).serviceCidr = '10.244.0.0/24'),
      'network.serviceCidr',
      /overlaps network\.podCidr/,
    ],
    [
      'service too wide',
      (s) => (net(s).serviceCidr = '172.0.0.0/8'),
      'network.serviceCidr',
      /prefix from \/12 to \/24/,
    ],
    [
      'bad dns ip',
      (s) => (net(s).dnsIp = '10.96.0.300'),
      'network.dnsIp',
      /must be an IPv4 address, got "10\.96\.0\.300"/,
    ],
    [
      'dns outside services',
      (s) => (net(s).dnsIp = '10.240.0.10'),
      'network.dnsIp',
      /must be inside network\.serviceCidr/,
    ],
    [
      'dns not the 10th',
      (s) => (net(s).dnsIp = '10.96.0.53'),
      'network.dnsIp',
      /must be 10\.96\.0\.10, the 10th address/,
    ],
    [
      'bad overlay interface',
      (s) => (s.overlayInterface = 'eth0/1'),
      'overlayInterface',
      /Linux interface name/,
    ],
    ['dot overlay interface', (s) => (s.overlayInterface = '..'), 'overlayInterface', /Linux interface name/],
    ['bad keypair name', (s) => (s.sshKeyName = 'a/b'), 'sshKeyName', /must be a Nova keypair name/],
    [
      'both keys',
      (s) => Object.assign(s, { sshKeyName: 'k', sshPublicKey: KEY }),
      'sshPublicKey',
      /cannot be combined with sshKeyName/,
    ],
    ['bad public key', (s) => (s.sshPublicKey = 'not a key'), 'sshPublicKey', /one OpenSSH public key line/],
    [
      'missing external network',
      (s) => delete s.externalNetwork,
      'externalNetwork',
      /externalNetwork is required/,
    ],
    ['bad dns domain', (s) => (s.dnsDomain = 'Apps.Example.com'), 'dnsDomain', /lowercase DNS domain/],
    [
      'dns domain label too long',
      (s) => (s.dnsDomain = `${'a'.repeat(64)}.com`),
      'dnsDomain',
      /lowercase DNS domain/,
    ],
    ['missing admin role', (s) => delete s.adminRoleId, 'adminRoleId', /adminRoleId is required/],
    ['bad admin role', (s) => (s.adminRoleId = 'a b'), 'adminRoleId', /must be a Keystone role id/],
    [
      'unknown lb',
      (s) => (s.loadBalancer = 'haproxy'),
      'loadBalancer',
      /must be octavia, none or auto, got "haproxy"/,
    ],
    [
      '3 masters without lb',
      (s) => Object.assign(s, { masters: 3, loadBalancer: 'none' }),
      'loadBalancer',
      /must be octavia with 3 masters/,
    ],
  ];

  it.each(cases)('rejects %s', (_label, mutate, field, message) => {
    const input = valid();
    mutate(input);
    const error = errorOf(input);
    expect(error.field).toBe(field);
    expect(error.code).toBe('invalid_input');
    expect(error.message).toMatch(message);
  });

  it('rejects a spec that is not an object', () => {
    for (const input of ['nope', null, [valid()]]) {
      const error = errorOf(input);
      expect(error.field).toBe('spec');
      expect(error.message).toBe('spec must be an object');
    }
  });

  it('truncates long values in messages', () => {
    expect(errorOf({ ...valid(), masterFlavor: `${'x'.repeat(300)}` }).message).toContain('...');
  });
});

describe('validateUpgrade', () => {
  it('classifies patch, minor and no-op changes', () => {
    expect(validateUpgrade(earlier(MIDDLE), MIDDLE)).toEqual({
      change: 'patch',
      from: earlier(MIDDLE),
      to: MIDDLE,
    });
    expect(validateUpgrade(`v${OLDEST}`, `v${MIDDLE}`)).toEqual({
      change: 'minor',
      from: OLDEST,
      to: MIDDLE,
    });
    expect(validateUpgrade(MIDDLE, MIDDLE)).toEqual({ change: 'none', from: MIDDLE, to: MIDDLE });
  });

  it('refuses downgrades with a distinct code', () => {
    const attempt = () => validateUpgrade(NEWEST, MIDDLE);
    expect(attempt).toThrow(
      expect.objectContaining({ code: 'upgrade_downgrade', field: 'kubernetesVersion' }),
    );
    expect(attempt).toThrow(re(`cannot go down from ${NEWEST} to ${MIDDLE}`));
  });

  it('refuses skipping a minor version with a distinct code, naming the catalogue step', () => {
    const attempt = () => validateUpgrade(OLDEST, NEWEST);
    expect(attempt).toThrow(expect.objectContaining({ code: 'upgrade_skips_minor' }));
    expect(attempt).toThrow(re(`upgrade ${OLDEST} to ${MIDDLE} first`));
    const stranded = () => validateUpgrade('1.20.3', OLDEST);
    expect(stranded).toThrow(expect.objectContaining({ code: 'upgrade_skips_minor' }));
    expect(stranded).toThrow(/no longer offers the minor after 1\.20/);
  });

  it('rejects malformed or unsupported versions', () => {
    expect(() => validateUpgrade('one', MIDDLE)).toThrow(/current version "one" is not a Kubernetes version/);
    expect(() => validateUpgrade(MIDDLE, '1.40.0')).toThrow(
      expect.objectContaining({ code: 'invalid_input', field: 'kubernetesVersion' }),
    );
    expect(() => validateUpgrade(OLDEST, earlier(MIDDLE))).toThrow(/is not offered/);
  });
});
