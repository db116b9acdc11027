/**
 * The reference OpenStack CLI (Debian's python3-openstackclient with the Octavia plugin) against
 * cloudsim and the lab: create, list, show and delete of every resource type kaas uses, and the
 * answers for a missing resource and for bad input. One case per service, run concurrently; each
 * case cleans up what it made, also when it fails.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureClients, osc, targets, type Osc } from './osc.ts';

type Row = Record<string, unknown>;

/** Services the suite covers, as catalog types. */
const SERVICES = ['identity', 'compute', 'image', 'network', 'object-store', 'load-balancer', 'volumev3'];

/** An OpenSSH ed25519 public key line, as a user would upload with `keypair create --public-key`. */
function sshPublicKey(): string {
  const x = Buffer.from(
    generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x as string,
    'base64url',
  );
  const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([field(Buffer.from('ssh-ed25519')), field(x)]).toString('base64')} conformance`;
}

/** Polls `show` until `done` holds for its answer (or the command fails, when `gone`). */
async function waitFor(cli: Osc, args: string[], done: (row: Row | undefined) => boolean): Promise<void> {
  for (let i = 0; i < 120; i++) {
    const r = await cli.run([...args, '-f', 'json']);
    if (done(r.code === 0 ? (JSON.parse(r.stdout) as Row) : undefined)) return;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error(`openstack ${args.join(' ')} did not reach the awaited state in 120 s`);
}

/** `image create` of a raw image from `file`; the name (and any options) last. */
const rawImage = (file: string, ...rest: string[]) => [
  ...['image', 'create', '--disk-format', 'raw', '--container-format', 'bare', '--file', file],
  ...rest,
];

/** A command line's words, for arguments that hold no spaces. */
const words = (line: string) => line.split(' ');

const md5 = (text: string) => createHash('md5').update(text).digest('hex');

/** Each case's limit: a few dozen CLI runs of 1–4 s each on a busy machine, and the lab's waits. */
const CASE_TIMEOUT = 600_000;

const MISSING = /No .* (found|exists)|Unable to locate|could not be found|not found|\b404\b/i;
const BAD_INPUT = /\b400\b|Bad ?Request|Invalid input/i;

describe.each(targets)('openstack CLI against $name', (target) => {
  let envs: { member: Record<string, string>; admin: Record<string, string> };
  let python = '';
  let stop: () => Promise<void> = async () => undefined;
  const run = `kc-${Date.now().toString(36)}`;
  const dir = mkdtempSync(join(tmpdir(), 'kaas-conformance-'));

  beforeAll(async () => {
    python = ensureClients();
    const started = await target.start();
    stop = started.stop;
    envs = started;
  }, 600_000);

  /**
   * Runs one case with its own CLI sessions (member and admin) and a cleanup stack that runs in
   * reverse, also when the case fails.
   */
  async function clients(
    body: (c: { member: Osc; admin: Osc; defer: (step: () => Promise<unknown>) => void }) => Promise<void>,
  ): Promise<void> {
    const member = osc(python, envs.member);
    const admin = osc(python, envs.admin);
    const steps: (() => Promise<unknown>)[] = [];
    try {
      await body({ member, admin, defer: (step) => steps.push(step) });
    } finally {
      for (const step of steps.reverse()) await step().catch(() => undefined);
      member.close();
      admin.close();
    }
  }

  /** A case, run beside the others, with its own sessions and cleanup stack. */
  function conformanceCase(name: string, body: Parameters<typeof clients>[0]) {
    it.concurrent(name, () => clients(body), CASE_TIMEOUT);
  }

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await stop();
  }, CASE_TIMEOUT);

  conformanceCase(
    'Keystone: token, catalog, projects, users, role assignments, application credentials',
    async ({ member, admin, defer }) => {
      const token = await member.json(['token', 'issue']);
      expect(token).toMatchObject({ id: expect.any(String), project_id: expect.any(String) });
      const catalog = await member.json<{ Type: string; Endpoints: unknown }[]>(['catalog', 'list']);
      for (const type of SERVICES) {
        const entry = catalog.find((c) => c.Type === type);
        expect(entry, `catalog entry ${type}`).toBeDefined();
        expect(JSON.stringify(entry?.Endpoints)).toMatch(/RegionOne/);
        expect(JSON.stringify(entry?.Endpoints)).toMatch(/public/);
      }

      const project = await admin.json(['project', 'create', '--description', 'conformance', `${run}-p`]);
      defer(() => admin.ok(['project', 'delete', String(project.id)]));
      expect(await admin.json(['project', 'show', `${run}-p`])).toMatchObject({
        id: project.id,
        enabled: true,
      });
      const projects = await admin.json<Row[]>(['project', 'list']);
      expect(projects.map((p) => p.Name)).toContain(`${run}-p`);

      const user = await admin.json(words(`user create --password pw-Conform-1 --project ${run}-p ${run}-u`));
      defer(() => admin.ok(['user', 'delete', String(user.id)]));
      expect(await admin.json(['user', 'show', String(user.id)])).toMatchObject({ name: `${run}-u` });
      await admin.ok(['role', 'add', '--user', String(user.id), '--project', String(project.id), 'member']);
      const assignments = await admin.json<Row[]>(
        words(`role assignment list --user ${user.id} --project ${project.id} --names`),
      );
      expect(assignments.map((a) => a.Role)).toContain('member');

      const credential = await member.json(['application', 'credential', 'create', `${run}-ac`]);
      defer(() => member.ok(['application', 'credential', 'delete', String(credential.id)]));
      expect(credential.secret).toEqual(expect.any(String));
      expect(await member.json(['application', 'credential', 'show', `${run}-ac`])).toMatchObject({
        id: credential.id,
      });
      const credentials = await member.json<Row[]>(['application', 'credential', 'list']);
      expect(credentials.map((c) => c.ID)).toContain(credential.id);
      await member.ok(['application', 'credential', 'delete', String(credential.id)]);

      await admin.ok(['user', 'delete', String(user.id)]);
      await admin.ok(['project', 'delete', String(project.id)]);
      expect(await admin.fails(['project', 'show', `${run}-p`])).toMatch(MISSING);
      expect(await admin.fails(['project', 'create', 'x'.repeat(65)])).toMatch(BAD_INPUT);
    },
  );

  conformanceCase(
    'Nova: flavors, keypairs, server groups, servers, quotas',
    async ({ member, admin, defer }) => {
      let flavors = await member.json<Row[]>(['flavor', 'list']);
      if (flavors.length === 0) {
        const made = await admin.json(words(`flavor create --ram 512 --disk 1 --vcpus 1 ${run}-f`));
        defer(() => admin.ok(['flavor', 'delete', String(made.id)]));
        flavors = await member.json<Row[]>(['flavor', 'list']);
      }
      const flavor = [...flavors].sort((a, b) => Number(a.RAM) - Number(b.RAM))[0] as Row;
      expect(await member.json(['flavor', 'show', String(flavor.ID)])).toMatchObject({
        id: flavor.ID,
        ram: flavor.RAM,
      });

      writeFileSync(join(dir, 'nova.img'), Buffer.alloc(64 * 1024));
      const image = await member.json(rawImage(join(dir, 'nova.img'), `${run}-nova-img`));
      defer(() => member.ok(['image', 'delete', String(image.id)]));
      const network = await member.json(['network', 'create', `${run}-nova-net`]);
      defer(() => member.ok(['network', 'delete', String(network.id)]));
      await member.json(
        words(`subnet create --network ${network.id} --subnet-range 10.201.0.0/24 ${run}-nova-subnet`),
      );

      writeFileSync(join(dir, 'key.pub'), `${sshPublicKey()}\n`);
      const keypair = await member.json([
        'keypair',
        'create',
        '--public-key',
        join(dir, 'key.pub'),
        `${run}-key`,
      ]);
      defer(() => member.ok(['keypair', 'delete', `${run}-key`]));
      expect(keypair.fingerprint).toMatch(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
      expect(await member.json(['keypair', 'show', `${run}-key`])).toMatchObject({
        name: `${run}-key`,
        fingerprint: keypair.fingerprint,
      });
      expect((await member.json<Row[]>(['keypair', 'list'])).map((k) => k.Name)).toContain(`${run}-key`);

      const group = await member.json(words(`server group create --policy soft-anti-affinity ${run}-group`));
      defer(() => member.ok(['server', 'group', 'delete', String(group.id)]));
      expect(await member.json(['server', 'group', 'show', String(group.id)])).toMatchObject({
        name: `${run}-group`,
      });

      const boot = (key: string, ...rest: string[]) => [
        ...['server', 'create', '--flavor', String(flavor.ID), '--image', String(image.id)],
        ...['--network', String(network.id), '--key-name', key, ...rest],
      ];
      const server = await member.json(
        boot(
          `${run}-key`,
          '--hint',
          `group=${group.id}`,
          '--property',
          'kaas-role=master',
          '--wait',
          `${run}-vm`,
        ),
      );
      defer(() => member.ok(['server', 'delete', '--wait', String(server.id)]));
      expect(server).toMatchObject({ status: 'ACTIVE', key_name: `${run}-key` });
      const listed = await member.json<Row[]>(words(`server list --name ^${run}-vm$ --status ACTIVE`));
      expect(listed.map((s) => s.ID)).toEqual([server.id]);
      const shown = await member.json(['server', 'show', String(server.id)]);
      expect(shown).toMatchObject({ name: `${run}-vm`, status: 'ACTIVE' });
      expect(JSON.stringify(shown.properties)).toMatch(/kaas-role/);
      expect(JSON.stringify(shown.addresses)).toMatch(/10\.201\.0\./);
      await member.ok(['server', 'delete', '--wait', String(server.id)]);
      expect(await member.fails(['server', 'show', String(server.id)])).toMatch(MISSING);

      expect(await member.fails(boot(`${run}-nokey`, `${run}-bad`))).toMatch(BAD_INPUT);
      const quota = await member.json(['quota', 'show']);
      expect(quota).toMatchObject({
        instances: expect.any(Number),
        cores: expect.any(Number),
        volumes: expect.any(Number),
      });
    },
  );

  conformanceCase('Glance: images', async ({ member, defer }) => {
    writeFileSync(join(dir, 'glance.img'), 'conformance image\n');
    const image = await member.json(rawImage(join(dir, 'glance.img'), '--tag', 'kaas', `${run}-img`));
    defer(() => member.ok(['image', 'delete', String(image.id)]));
    const shown = await member.json(['image', 'show', String(image.id)]);
    expect(shown).toMatchObject({
      name: `${run}-img`,
      status: 'active',
      size: 18,
      checksum: md5('conformance image\n'),
    });
    const listed = await member.json<Row[]>(['image', 'list', '--name', `${run}-img`]);
    expect(listed.map((i) => i.ID)).toEqual([image.id]);
    await member.ok(['image', 'delete', String(image.id)]);
    expect(await member.fails(['image', 'show', `${run}-img`])).toMatch(MISSING);
    expect(
      await member.fails(['image', 'create', '--id', 'not-a-uuid', '--disk-format', 'raw', `${run}-bad`]),
    ).toMatch(BAD_INPUT);
  });

  conformanceCase(
    'Neutron: networks, subnets, routers, ports, security groups, floating IPs',
    async ({ member, defer }) => {
      const network = await member.json(['network', 'create', '--tag', 'kaas', `${run}-net`]);
      defer(() => member.ok(['network', 'delete', String(network.id)]));
      const subnet = await member.json(
        words(
          `subnet create --network ${network.id} --subnet-range 10.202.0.0/24 --dns-nameserver 1.1.1.1 ${run}-subnet`,
        ),
      );
      defer(() => member.ok(['subnet', 'delete', String(subnet.id)]));
      expect(subnet).toMatchObject({ cidr: '10.202.0.0/24', gateway_ip: '10.202.0.1' });
      expect((await member.json<Row[]>(['network', 'list', '--tags', 'kaas'])).map((n) => n.ID)).toContain(
        network.id,
      );

      const router = await member.json(['router', 'create', `${run}-router`]);
      defer(() => member.ok(['router', 'delete', String(router.id)]));
      await member.ok(['router', 'add', 'subnet', String(router.id), String(subnet.id)]);
      defer(() => member.ok(['router', 'remove', 'subnet', String(router.id), String(subnet.id)]));
      const external = await member.json<Row[]>(['network', 'list', '--external']);
      if (external[0]) {
        await member.ok(['router', 'set', '--external-gateway', String(external[0].ID), String(router.id)]);
        const fip = await member.json(['floating', 'ip', 'create', String(external[0].ID)]);
        defer(() => member.ok(['floating', 'ip', 'delete', String(fip.id)]));
        expect(fip.floating_ip_address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      }

      const group = await member.json(['security', 'group', 'create', `${run}-sg`]);
      defer(() => member.ok(['security', 'group', 'delete', String(group.id)]));
      const rule = await member.json(
        words(`security group rule create --protocol tcp --dst-port 6443 --remote-ip 0.0.0.0/0 ${group.id}`),
      );
      expect(rule).toMatchObject({ port_range_min: 6443, port_range_max: 6443, protocol: 'tcp' });
      const rules = await member.json<Row[]>(['security', 'group', 'rule', 'list', String(group.id)]);
      expect(rules.map((r) => r.ID)).toContain(rule.id);

      const port = await member.json(
        words(
          `port create --network ${network.id} --fixed-ip subnet=${subnet.id},ip-address=10.202.0.10 --security-group ${group.id} ${run}-port`,
        ),
      );
      defer(() => member.ok(['port', 'delete', String(port.id)]));
      expect(JSON.stringify((await member.json(['port', 'show', String(port.id)])).fixed_ips)).toMatch(
        /10\.202\.0\.10/,
      );
      await member.ok(['port', 'delete', String(port.id)]);
      expect(await member.fails(['port', 'show', String(port.id)])).toMatch(MISSING);
      expect(
        await member.fails(
          words(`subnet create --network ${network.id} --subnet-range 10.202.1.0/33 ${run}-bad`),
        ),
      ).toMatch(BAD_INPUT);
    },
  );

  conformanceCase('Cinder: volume types, volumes, snapshots, quotas', async ({ member, defer }) => {
    const types = await member.json<Row[]>(['volume', 'type', 'list']);
    expect(types.length).toBeGreaterThan(0);
    const volume = await member.json(['volume', 'create', '--size', '1', `${run}-vol`]);
    defer(() => member.ok(['volume', 'delete', '--force', String(volume.id)]));
    await waitFor(member, ['volume', 'show', String(volume.id)], (v) => v?.status === 'available');
    expect((await member.json<Row[]>(['volume', 'list', '--name', `${run}-vol`])).map((v) => v.ID)).toEqual([
      volume.id,
    ]);
    const snapshot = await member.json(words(`volume snapshot create --volume ${volume.id} ${run}-snap`));
    defer(() => member.ok(['volume', 'snapshot', 'delete', String(snapshot.id)]));
    await waitFor(
      member,
      ['volume', 'snapshot', 'show', String(snapshot.id)],
      (s) => s?.status === 'available',
    );
    expect((await member.json<Row[]>(['volume', 'snapshot', 'list'])).map((s) => s.ID)).toContain(
      snapshot.id,
    );
    await member.ok(['volume', 'snapshot', 'delete', String(snapshot.id)]);
    await waitFor(member, ['volume', 'snapshot', 'show', String(snapshot.id)], (s) => s === undefined);
    await member.ok(['volume', 'delete', String(volume.id)]);
    await waitFor(member, ['volume', 'show', String(volume.id)], (v) => v === undefined);
    expect(await member.fails(['volume', 'show', String(volume.id)])).toMatch(MISSING);
    expect(await member.fails(['volume', 'create', '--size', '0', `${run}-bad`])).toMatch(BAD_INPUT);
    expect(
      await member.fails(['volume', 'create', '--size', '1', '--type', `${run}-notype`, `${run}-bad`]),
    ).toMatch(MISSING);
  });

  conformanceCase('Swift: containers and objects', async ({ member, defer }) => {
    writeFileSync(join(dir, 'kubeconfig'), 'apiVersion: v1\n');
    const [container] = await member.json<Row[]>(['container', 'create', `${run}-c`]);
    expect(container).toMatchObject({ container: `${run}-c` });
    defer(() => member.ok(['container', 'delete', '--recursive', `${run}-c`]));
    const [object] = await member.json<Row[]>([
      'object',
      'create',
      '--name',
      'clusters/kubeconfig',
      `${run}-c`,
      join(dir, 'kubeconfig'),
    ]);
    expect(object).toMatchObject({ object: 'clusters/kubeconfig', etag: md5('apiVersion: v1\n') });
    expect((await member.json<Row[]>(['object', 'list', `${run}-c`])).map((o) => o.Name)).toEqual([
      'clusters/kubeconfig',
    ]);
    expect(await member.json(['object', 'show', `${run}-c`, 'clusters/kubeconfig'])).toMatchObject({
      'content-length': '15',
      etag: md5('apiVersion: v1\n'),
    });
    expect(await member.json(['container', 'show', `${run}-c`])).toMatchObject({
      object_count: '1',
      bytes_used: '15',
    });
    expect((await member.json<Row[]>(['container', 'list'])).map((c) => c.Name)).toContain(`${run}-c`);
    await member.ok(['object', 'delete', `${run}-c`, 'clusters/kubeconfig']);
    await member.ok(['container', 'delete', `${run}-c`]);
    expect(await member.fails(['container', 'show', `${run}-c`])).toMatch(MISSING);
    expect(await member.fails(['object', 'create', `${run}-nocontainer`, join(dir, 'kubeconfig')])).toMatch(
      MISSING,
    );
  });

  conformanceCase(
    'Octavia: load balancers, listeners, pools, members, health monitors',
    async ({ member, defer }) => {
      const network = await member.json(['network', 'create', `${run}-lb-net`]);
      defer(() => member.ok(['network', 'delete', String(network.id)]));
      const subnet = await member.json(
        words(`subnet create --network ${network.id} --subnet-range 10.203.0.0/24 ${run}-lb-subnet`),
      );
      const lb = await member.json(
        words(`loadbalancer create --vip-subnet-id ${subnet.id} --wait --name ${run}-lb`),
      );
      defer(() => member.ok(['loadbalancer', 'delete', '--cascade', '--wait', String(lb.id)]));
      const listener = await member.json(
        words(
          `loadbalancer listener create --protocol TCP --protocol-port 6443 --wait --name ${run}-listener ${lb.id}`,
        ),
      );
      const pool = await member.json(
        words(
          `loadbalancer pool create --listener ${listener.id} --protocol TCP --lb-algorithm ROUND_ROBIN --wait --name ${run}-pool`,
        ),
      );
      const poolMember = await member.json(
        words(
          `loadbalancer member create --address 10.203.0.20 --protocol-port 6443 --subnet-id ${subnet.id} --wait --name ${run}-member ${pool.id}`,
        ),
      );
      await member.json(
        words(
          `loadbalancer healthmonitor create --delay 5 --timeout 3 --max-retries 3 --type TCP --wait --name ${run}-hm ${pool.id}`,
        ),
      );

      expect(await member.json(['loadbalancer', 'show', String(lb.id)])).toMatchObject({
        provisioning_status: 'ACTIVE',
        vip_subnet_id: subnet.id,
      });
      expect(
        (await member.json<Row[]>(['loadbalancer', 'list', '--name', `${run}-lb`])).map((l) => l.id),
      ).toEqual([lb.id]);
      expect(
        (await member.json<Row[]>(['loadbalancer', 'listener', 'list', '--loadbalancer', String(lb.id)])).map(
          (l) => l.id,
        ),
      ).toEqual([listener.id]);
      expect(
        (await member.json<Row[]>(['loadbalancer', 'member', 'list', String(pool.id)])).map((m) => m.id),
      ).toEqual([poolMember.id]);
      expect(await member.json(['loadbalancer', 'pool', 'show', String(pool.id)])).toMatchObject({
        lb_algorithm: 'ROUND_ROBIN',
        protocol: 'TCP',
      });
      expect(
        await member.fails(
          words(`loadbalancer listener create --protocol TCP --protocol-port 70000 ${lb.id}`),
        ),
      ).toMatch(BAD_INPUT);

      await member.ok(['loadbalancer', 'delete', '--cascade', '--wait', String(lb.id)]);
      expect(await member.fails(['loadbalancer', 'show', String(lb.id)])).toMatch(MISSING);
    },
  );
});
