import { createHash, createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCloudsim, type Cloudsim } from './index.ts';
import { login, type Session } from './testing.ts';

let cloud: Cloudsim;
let s: Session;
let base: string;
beforeEach(async () => {
  cloud = await startCloudsim();
  s = await login(cloud);
  base = `/object-store/v1/AUTH_${s.projectId}`;
});
afterEach(async () => {
  await cloud.close();
});

describe('swift', () => {
  it('stores objects with md5 ETags, lists, and refuses to delete a non-empty container', async () => {
    expect((await s.call('PUT', `${base}/c1`)).status).toBe(201);
    expect((await s.call('PUT', `${base}/c1`)).status).toBe(202);
    const empty = await s.call('PUT', `${base}/c1/empty`, undefined, {
      etag: createHash('md5').update('hello').digest('hex'),
    });
    expect(empty.status).toBe(422);
    const up = await fetch(`${cloud.url}${base}/c1/a/b.txt`, {
      method: 'PUT',
      headers: { 'x-auth-token': s.token },
      body: 'hello',
    });
    expect(up.headers.get('etag')).toBe('5d41402abc4b2a76b9719d911017c592');
    expect(up.headers.get('x-trans-id')).toMatch(/^tx[0-9a-f]{21}-[0-9a-f]{10}$/);
    const bad = await fetch(`${cloud.url}${base}/c1/x`, {
      method: 'PUT',
      headers: { 'x-auth-token': s.token, etag: '0'.repeat(32) },
      body: 'hello',
    });
    expect(bad.status).toBe(422);
    const list = await s.json<{ name: string; bytes: number; hash: string }[]>(
      'GET',
      `${base}/c1?format=json`,
    );
    expect(list.map((o) => [o.name, o.bytes, o.hash])).toEqual([
      ['a/b.txt', 5, '5d41402abc4b2a76b9719d911017c592'],
    ]);
    const acct = await s.json<{ name: string; count: number }[]>('GET', `${base}?format=json&limit=10`);
    expect(acct).toEqual([expect.objectContaining({ name: 'c1', count: 1 })]);
    expect((await s.call('DELETE', `${base}/c1`)).status).toBe(409);
    expect((await s.call('DELETE', `${base}/c1/a/b.txt`)).status).toBe(204);
    expect((await s.call('GET', `${base}/c1/a/b.txt`)).status).toBe(404);
    expect((await s.call('DELETE', `${base}/c1`)).status).toBe(204);
  });

  it('serves anonymous TempURLs signed with the account or container key, 401 otherwise', async () => {
    await s.call('PUT', `${base}/c1`, undefined, { 'x-container-meta-temp-url-key': 'ckey' });
    await fetch(`${cloud.url}${base}/c1/o`, {
      method: 'PUT',
      headers: { 'x-auth-token': s.token },
      body: 'payload',
    });
    expect((await s.call('POST', base, undefined, { 'x-account-meta-temp-url-key': 'akey' })).status).toBe(
      204,
    );
    const head = await s.call('HEAD', base);
    expect(head.headers.get('x-account-meta-temp-url-key')).toBe('akey');
    expect((await fetch(`${cloud.url}${base}/c1/o`)).status).toBe(401);
    const path = `/v1/AUTH_${s.projectId}/c1/o`;
    const exp = Math.floor(Date.now() / 1000) + 60;
    for (const [alg, key] of [
      ['sha256', 'akey'],
      ['sha1', 'ckey'],
    ] as const) {
      const sig = createHmac(alg, key).update(`GET\n${exp}\n${path}`).digest('hex');
      const ok = await fetch(`${cloud.url}/object-store${path}?temp_url_sig=${sig}&temp_url_expires=${exp}`);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe('payload');
      const wrong = await fetch(
        `${cloud.url}/object-store${path}?temp_url_sig=${sig.slice(0, -4)}0000&temp_url_expires=${exp}`,
      );
      expect(wrong.status).toBe(401);
    }
    const old = Math.floor(Date.now() / 1000) - 1;
    const expired = createHmac('sha256', 'akey').update(`GET\n${old}\n${path}`).digest('hex');
    expect(
      (await fetch(`${cloud.url}/object-store${path}?temp_url_sig=${expired}&temp_url_expires=${old}`))
        .status,
    ).toBe(401);
    const putSig = createHmac('sha256', 'akey')
      .update(`PUT\n${exp}\n/v1/AUTH_${s.projectId}/c1/new`)
      .digest('hex');
    const put = await fetch(
      `${cloud.url}/object-store/v1/AUTH_${s.projectId}/c1/new?temp_url_sig=${putSig}&temp_url_expires=${exp}`,
      { method: 'PUT', body: 'x' },
    );
    expect(put.status).toBe(201);
  });

  it('forbids another project’s account', async () => {
    const other = cloud.seedProject({ name: 'other' });
    expect((await s.call('GET', `/object-store/v1/AUTH_${other.id}`)).status).toBe(403);
  });
});
