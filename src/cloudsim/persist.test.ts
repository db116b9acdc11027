import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startCloudsim, type Cloudsim } from './index.ts';
import { loadCloud, snapshotFile } from './persist.ts';
import { login } from './testing.ts';

const started: Cloudsim[] = [];
const start = async (stateDir: string) => {
  const cloud = await startCloudsim({ stateDir });
  started.push(cloud);
  return cloud;
};
afterEach(async () => {
  for (const cloud of started.splice(0)) await cloud.close();
});

const MV = { 'openstack-api-version': 'compute 2.79' };

describe('cloudsim state on disk', () => {
  it('a restarted cloud has the same port, ids, token, servers, objects and quotas', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'cloudsim-state-')), 'cloudsim');
    const first = await start(dir);
    expect(first.restored).toBe(false);
    const s = await login(first);
    const net = await s.json<{ network: { id: string } }>('POST', '/network/v2.0/networks', {
      network: { name: 'k8s' },
    });
    await s.json('POST', '/network/v2.0/subnets', {
      subnet: { network_id: net.network.id, cidr: '10.20.0.0/24', ip_version: 4 },
    });
    const image = [...first.state.images.values()].find((i) => i.name === 'debian-12')?.id;
    const server = await s.json<{ server: { id: string } }>(
      'POST',
      '/compute/v2.1/servers',
      { server: { name: 'm1', imageRef: image, flavorRef: '2', networks: [{ uuid: net.network.id }] } },
      MV,
    );
    // On disk before the answer: what a client saw done survives a crash.
    expect(loadCloud(dir)?.state.servers.has(server.server.id)).toBe(true);
    const swift = `/object-store/v1/AUTH_${s.projectId}`;
    expect((await s.call('PUT', `${swift}/c1`)).status).toBe(201);
    const body = Buffer.from('a release tarball stand-in');
    const put = await fetch(`${first.url}${swift}/c1/sha256/x`, {
      method: 'PUT',
      headers: { 'x-auth-token': s.token },
      body,
    });
    expect(put.status).toBe(201);
    // Set directly, as tests do: saved by save(), not by a request.
    first.knobs.quotas.projects[s.projectId] = { instances: 3 };
    first.save();
    await first.close();
    started.splice(0);

    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(snapshotFile(dir)).mode & 0o777).toBe(0o600);
    const second = await start(dir);
    expect([second.restored, second.url]).toEqual([true, first.url]);
    // The Keystone token issued before the restart still authenticates (on new connections: the
    // first cloud closed the old ones).
    const dispatcher = new Agent();
    const get = (path: string) =>
      request(`${second.url}${path}`, { headers: { 'x-auth-token': s.token, ...MV }, dispatcher });
    const again = await get(`/compute/v2.1/servers/${server.server.id}`);
    expect(again.statusCode).toBe(200);
    expect(((await again.body.json()) as { server: { name: string } }).server.name).toBe('m1');
    const object = await get(`${swift}/c1/sha256/x`);
    expect(Buffer.from(await object.body.arrayBuffer())).toEqual(body);
    expect(second.knobs.quotas.projects[s.projectId]).toEqual({ instances: 3 });
    expect(second.state.users).toEqual(first.state.users);
    expect(second.state.nextSeq()).toBe(first.state.nextSeq());

    // A deleted object's body leaves the disk with the next save.
    const deleted = await request(`${second.url}${swift}/c1/sha256/x`, {
      method: 'DELETE',
      headers: { 'x-auth-token': s.token },
      dispatcher,
    });
    expect(deleted.statusCode).toBe(204);
    await dispatcher.close();
    expect(readdirSync(join(dir, 'objects'))).toEqual([]);
  });

  it('a snapshot that cannot be read is refused naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloudsim-state-'));
    writeFileSync(snapshotFile(dir), '{"version": 1, "state": {');
    await expect(startCloudsim({ stateDir: dir })).rejects.toMatchObject({
      code: 'cloud_state_unreadable',
      message: expect.stringContaining(`${snapshotFile(dir)} cannot be read`),
    });
  });

  it('a process killed with SIGKILL mid-write leaves the previous snapshot whole', async () => {
    const writer = fileURLToPath(new URL('../../test/support/cloudWriter.ts', import.meta.url));
    // Until one kill lands while a write is under way (its temporary file is left behind).
    for (let attempt = 1; ; attempt++) {
      const dir = mkdtempSync(join(tmpdir(), 'cloudsim-kill-'));
      const child = spawn(process.execPath, ['--import', 'tsx', writer, dir], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 400));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      const loaded = loadCloud(dir);
      expect(loaded?.state.domains.get('default')?.description).toMatch(/^round \d+$/);
      expect(loaded?.state.projects.size).toBeGreaterThan(2_000);
      if (existsSync(`${snapshotFile(dir)}.${child.pid}.tmp`)) break;
      expect(attempt, 'no kill landed mid-write in 10 attempts').toBeLessThan(10);
    }
  }, 60_000);
});
