/**
 * kaas's etcd membership client (src/provisioner/etcd.ts) against a real 3-member etcd cluster
 * started from kubelab's etcd binary: client TLS with mutual authentication, every certificate from
 * one etcd CA made as kaas makes a cluster's, peers with mutual TLS too. A member is removed
 * and a replacement added while writes keep succeeding; removals that would need an unhealthy member
 * or lose quorum are refused before etcd is asked.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueClientCert, issueServerCert, type KeyPair } from '../../src/auth/pki.ts';
import {
  checkMembershipChange,
  createEtcdClient,
  quorumOf,
  type EtcdClient,
  type EtcdMemberHealth,
} from '../../src/provisioner/etcd.ts';
import { startTlsEtcdMember } from '../kubelab/etcdmasters.ts';
import { freePort } from '../../src/dev/kube/ports.ts';
import { stopProcess, type Proc } from '../../src/dev/kube/kubelab.ts';

interface Member {
  name: string;
  clientUrl: string;
  peerUrl: string;
  proc?: Proc;
}

let dir: string;
let etcdCa: KeyPair;
let files: { ca: string; cert: string; key: string };
const members: Member[] = [];
let client: EtcdClient;

async function newMember(name: string): Promise<Member> {
  const [client, peer] = [await freePort(), await freePort()];
  const m = { name, clientUrl: `https://127.0.0.1:${client}`, peerUrl: `https://127.0.0.1:${peer}` };
  members.push(m);
  return m;
}

function start(m: Member, initialCluster: Member[], state: 'new' | 'existing'): void {
  m.proc = startTlsEtcdMember(dir, m, {
    initialCluster: initialCluster.map((x) => `${x.name}=${x.peerUrl}`).join(','),
    state,
    files,
    // Leadership stays where the tests read it unless kaas moves it (see startTlsEtcdMember).
    electionTimeoutMs: 5_000,
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A writer with its own client certificate from the etcd CA, as kube-apiserver would be. */
let writer: Agent;
async function put(key: string, value: string): Promise<void> {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const live = members.filter(
    (m) => m.proc && m.proc.child.exitCode === null && m.proc.child.signalCode === null,
  );
  let last: unknown;
  for (const m of live) {
    try {
      const res = await request(`${m.clientUrl}/v3/kv/put`, {
        method: 'POST',
        dispatcher: writer,
        body: JSON.stringify({ key: b64(key), value: b64(value) }),
        headersTimeout: 3_000,
        bodyTimeout: 3_000,
      });
      const text = await res.body.text();
      if (res.statusCode === 200) return;
      last = new Error(`put answered ${res.statusCode}: ${text}`);
    } catch (error) {
      last = error;
    }
  }
  throw last ?? new Error('no live member');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kaas-etcd-'));
  etcdCa = await createCa({ commonName: 'etcd-ca-test' });
  const serving = await issueServerCert({ ca: etcdCa, hosts: ['127.0.0.1'], clientAuth: true });
  files = { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
  await writeFile(files.ca, etcdCa.certPem);
  await writeFile(files.cert, serving.certPem);
  await writeFile(files.key, serving.keyPem, { mode: 0o600 });
  const apiserver = await issueClientCert({
    ca: etcdCa,
    commonName: 'kube-apiserver-etcd-client',
    organization: 'x',
    days: 1,
  });
  writer = new Agent({ connect: { ca: etcdCa.certPem, cert: apiserver.certPem, key: apiserver.keyPem } });
  const first = [await newMember('m0'), await newMember('m1'), await newMember('m2')];
  for (const m of first) start(m, first, 'new');
  client = createEtcdClient({ endpoints: first.map((m) => m.clientUrl), etcdCa, timeoutMs: 2_000 });
  await waitFor(
    '3 healthy members',
    async () => (await client.health()).filter((m) => m.healthy).length === 3,
  );
}, 60_000);

afterAll(async () => {
  await client?.close();
  await writer?.close();
  for (const m of members) if (m.proc) await stopProcess(m.proc);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('etcd membership on a real 3-member cluster', () => {
  it('lists the members with their health over mutual TLS', async () => {
    const health = await client.health();
    expect(health.map((m) => m.name).sort()).toEqual(['m0', 'm1', 'm2']);
    expect(health.every((m) => m.healthy && /^\d+$/.test(m.id))).toBe(true);
    expect(health.find((m) => m.name === 'm0')?.clientUrls).toEqual([members[0]!.clientUrl]);
  });

  it('is refused by etcd without a client certificate from the etcd CA', async () => {
    const other = await createCa({ commonName: 'other' });
    const leaf = await issueClientCert({ ca: other, commonName: 'kaas', organization: 'kaas', days: 1 });
    const stranger = new Agent({ connect: { ca: etcdCa.certPem, cert: leaf.certPem, key: leaf.keyPem } });
    try {
      await expect(
        request(`${members[0]!.clientUrl}/v3/cluster/member/list`, {
          method: 'POST',
          dispatcher: stranger,
          body: '{}',
        }).then((r) => r.body.text()),
      ).rejects.toThrow();
    } finally {
      await stranger.close();
    }
  });

  it('removes a member and adds its replacement while writes keep succeeding', async () => {
    let writing = true;
    let writes = 0;
    const failures: string[] = [];
    const writerLoop = (async () => {
      while (writing) {
        try {
          await put('/kaas/test', String(writes));
          writes++;
        } catch (error) {
          failures.push((error as Error).message);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      const [, , old] = members as [Member, Member, Member];
      const oldId = (await client.members()).find((m) => m.name === old.name)!.id;
      expect((await client.removeMember(oldId)).removed).toBe(true);
      await stopProcess(old.proc!);
      expect((await client.members()).map((m) => m.name).sort()).toEqual(['m0', 'm1']);
      // Removing again is a no-op, as a resumed step needs.
      expect(await client.removeMember(oldId)).toEqual({ removed: false });

      const fresh = await newMember('m3');
      const added = await client.addMember(fresh.peerUrl);
      expect(added).toMatchObject({ peerUrls: [fresh.peerUrl], name: '' });
      // Added but not started: unhealthy, and a second add of that URL returns it.
      expect((await client.health()).find((m) => m.id === added.id)).toMatchObject({
        healthy: false,
        reason: 'not started',
      });
      expect((await client.addMember(fresh.peerUrl)).id).toBe(added.id);
      start(fresh, [members[0]!, members[1]!, fresh], 'existing');
      await waitFor('m3 healthy', async () =>
        (await client.health()).some((m) => m.name === 'm3' && m.healthy),
      );
      const writesBefore = writes;
      await waitFor('writes going on', async () => writes > writesBefore + 5);
    } finally {
      writing = false;
      await writerLoop;
    }
    expect(failures).toEqual([]);
    expect(writes).toBeGreaterThan(10);
  }, 60_000);

  it('refuses to remove a member while another one is down, and changes nothing', async () => {
    const m1 = members.find((m) => m.name === 'm1')!;
    await stopProcess(m1.proc!);
    const before = await client.members();
    const m3 = before.find((m) => m.name === 'm3')!;
    await expect(client.removeMember(m3.id)).rejects.toMatchObject({
      code: 'etcd_member_unhealthy',
      message: expect.stringContaining('m1 (unreachable'),
    });
    await expect(client.addMember('http://127.0.0.1:1')).rejects.toMatchObject({
      code: 'etcd_member_unhealthy',
    });
    expect(await client.members()).toEqual(before);
    // The two left still hold quorum: writes succeed.
    await put('/kaas/after', 'ok');
  }, 30_000);
});

describe('removing the leader', () => {
  it('hands leadership to a healthy member first, then removes it', async () => {
    const trio = [await newMember('l0'), await newMember('l1'), await newMember('l2')];
    for (const m of trio) start(m, trio, 'new');
    const own = createEtcdClient({ endpoints: trio.map((m) => m.clientUrl), etcdCa, timeoutMs: 2_000 });
    try {
      await waitFor(
        '3 healthy members',
        async () => (await own.health()).filter((m) => m.healthy).length === 3,
      );
      const status = await request(`${trio[0]!.clientUrl}/v3/maintenance/status`, {
        method: 'POST',
        dispatcher: writer,
        body: '{}',
      });
      const leaderId = String(((await status.body.json()) as { leader: string }).leader);
      const leader = (await own.members()).find((m) => m.id === leaderId)!;
      const outcome = await own.removeMember(leaderId);
      expect(outcome.removed).toBe(true);
      expect(trio.map((m) => m.name).filter((n) => n !== leader.name)).toContain(outcome.leaderMovedTo);
      // Without the hand-over the two left would still be electing here; with it, they have a leader.
      const follower = trio.find((m) => m.name === outcome.leaderMovedTo)!;
      const after = await request(`${follower.clientUrl}/v3/maintenance/status`, {
        method: 'POST',
        dispatcher: writer,
        body: '{}',
      });
      const { leader: newLeader } = (await after.body.json()) as { leader: string };
      expect(newLeader).not.toBe(leaderId);
      expect((await own.members()).map((m) => m.name).sort()).toEqual(
        trio
          .map((m) => m.name)
          .filter((n) => n !== leader.name)
          .sort(),
      );
      await stopProcess(trio.find((m) => m.name === leader.name)!.proc!);
      // A follower's removal moves nothing.
      const follower2 = (await own.members()).find((m) => m.id !== newLeader)!;
      expect(await own.removeMember(follower2.id)).toEqual({ removed: true });
    } finally {
      await own.close();
    }
  }, 60_000);
});

describe('createEtcdClient', () => {
  it('refuses options that name no way to reach etcd', () => {
    for (const endpoints of [undefined, []]) {
      expect(() => createEtcdClient({ etcdCa, ...(endpoints ? { endpoints } : {}) })).toThrow(
        expect.objectContaining({ code: 'invalid_input', field: 'endpoints' }),
      );
    }
    expect(() =>
      createEtcdClient({ etcdCa, tunnel: { members: [], open: () => Promise.reject(new Error('unused')) } }),
    ).toThrow(expect.objectContaining({ code: 'invalid_input', field: 'tunnel.members' }));
  });
});

describe('checkMembershipChange', () => {
  const m = (id: string, healthy = true, isLearner = false): EtcdMemberHealth => ({
    id,
    name: `m${id}`,
    peerUrls: [],
    clientUrls: [],
    isLearner,
    healthy,
  });

  it('allows removing a healthy or dead member when the others are healthy', () => {
    expect(() => checkMembershipChange([m('1'), m('2'), m('3')], { remove: '3' })).not.toThrow();
    expect(() => checkMembershipChange([m('1'), m('2'), m('3', false)], { remove: '3' })).not.toThrow();
    expect(() => checkMembershipChange([m('1'), m('2')], { remove: '2' })).not.toThrow();
  });

  it('refuses removing the last member, or adding to one that cannot carry the new quorum', () => {
    expect(() => checkMembershipChange([m('1')], { remove: '1' })).toThrow(
      expect.objectContaining({ code: 'etcd_quorum_loss' }),
    );
    expect(() => checkMembershipChange([m('1')], { add: 'http://x:2380' })).toThrow(
      expect.objectContaining({ code: 'etcd_quorum_loss' }),
    );
    expect(() => checkMembershipChange([m('1'), m('2', true, true)], { remove: '1' })).toThrow(
      expect.objectContaining({ code: 'etcd_quorum_loss' }),
    );
    expect(() => checkMembershipChange([m('1'), m('2')], { add: 'http://x:2380' })).not.toThrow();
    expect([1, 2, 3, 4, 5].map(quorumOf)).toEqual([1, 2, 2, 3, 3]);
  });

  it('refuses any change while another member is unhealthy', () => {
    expect(() => checkMembershipChange([m('1'), m('2', false), m('3')], { remove: '3' })).toThrow(
      expect.objectContaining({ code: 'etcd_member_unhealthy' }),
    );
    expect(() => checkMembershipChange([m('1'), m('2', false), m('3')], { add: 'http://x:2380' })).toThrow(
      expect.objectContaining({ code: 'etcd_member_unhealthy' }),
    );
  });
});
