import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempUrl } from '../../src/openstack/index.ts';
import { targets, useHarness } from './targets.ts';

const MiB = 1024 * 1024;

async function anonymousGet(url: string): Promise<{ status: number; body: string }> {
  const res = await request(url);
  return { status: res.statusCode, body: await res.body.text() };
}

describe.each(targets.filter((t) => t.services.includes('object-store')))(
  'Swift contract on $name',
  (target) => {
    const h = useHarness(target, 'swift');
    let container: string;

    beforeAll(async () => {
      container = `${h.prefix}-c`;
      await h.cloud.swift.createContainer(container);
      h.defer(async () => {
        for (const o of await h.cloud.swift.listObjects(container))
          await h.cloud.swift.deleteObject(container, o.name, { ignoreMissing: true });
        await h.cloud.swift.deleteContainer(container, { ignoreMissing: true });
      });
    });

    it('puts (with MD5 check), gets, heads, lists and deletes objects', async () => {
      const { swift } = h.cloud;
      const put = await swift.putObject(container, 'dir/hello.txt', 'hello kaas', {
        contentType: 'text/plain',
        verifyMd5: true,
      });
      expect(put.etag).toBe(createHash('md5').update('hello kaas').digest('hex'));
      await swift.putObject(container, 'dir/other.bin', Buffer.from([1, 2, 3]));
      expect((await swift.getObject(container, 'dir/hello.txt')).toString()).toBe('hello kaas');
      expect(await swift.headObject(container, 'dir/hello.txt')).toMatchObject({
        contentLength: 10,
        contentType: 'text/plain',
      });
      expect((await swift.listObjects(container, { prefix: 'dir/' })).map((o) => o.name)).toEqual([
        'dir/hello.txt',
        'dir/other.bin',
      ]);
      expect((await swift.listContainers({ prefix: container })).map((c) => c.name)).toEqual([container]);
      const headers = await swift.headContainer(container);
      expect(headers['x-container-object-count']).toBe('2');
      await swift.deleteObject(container, 'dir/other.bin');
      expect((await swift.listObjects(container)).map((o) => o.name)).toEqual(['dir/hello.txt']);
      await swift.deleteObject(container, 'dir/other.bin', { ignoreMissing: true });
    });

    it('rejects a body whose MD5 does not match the ETag sent', async () => {
      const err = await h.cloud.swift
        .putObject(container, 'bad-etag', 'data', { etag: createHash('md5').update('other').digest('hex') })
        .catch((e) => e);
      expect(err.code).toBe('openstack_bad_request');
      expect(err.status).toBe(422);
    });

    it('streams a 20 MiB upload (chunked) and reads it back as a stream', async () => {
      const chunk = randomBytes(MiB);
      const md5 = createHash('md5');
      for (let i = 0; i < 20; i++) md5.update(chunk);
      const expected = md5.digest('hex');
      const source = Readable.from(
        (function* () {
          for (let i = 0; i < 20; i++) yield chunk;
        })(),
      );
      const put = await h.cloud.swift.putObject(container, 'big.bin', source, { etag: expected });
      expect(put.etag).toBe(expected);
      expect((await h.cloud.swift.headObject(container, 'big.bin')).contentLength).toBe(20 * MiB);
      const back = createHash('md5');
      let bytes = 0;
      for await (const part of await h.cloud.swift.getObjectStream(container, 'big.bin')) {
        back.update(part as Buffer);
        bytes += (part as Buffer).length;
      }
      expect(bytes).toBe(20 * MiB);
      expect(back.digest('hex')).toBe(expected);
      await h.cloud.swift.deleteObject(container, 'big.bin');
    }, 60_000);

    it('container TempURL (sha256, sha1): signed anonymous GET works; tampered or expired is 401', async () => {
      const { swift } = h.cloud;
      await swift.putObject(container, 'join.sh', '#!/bin/sh\necho join\n');
      const key = `ck-${h.prefix}`;
      await swift.setContainerTempUrlKey(container, key);
      expect((await swift.headContainer(container))['x-container-meta-temp-url-key']).toBe(key);
      const unsigned = await anonymousGet(await swift.objectUrl(container, 'join.sh'));
      expect(unsigned.status).toBe(401);
      const expires = new Date(Date.now() + 600_000);
      for (const digest of ['sha256', 'sha1'] as const) {
        const url = await swift.signedObjectUrl(container, 'join.sh', { expires, key, digest });
        expect(await anonymousGet(url)).toEqual({ status: 200, body: '#!/bin/sh\necho join\n' });
        const tampered = url.replace(
          /temp_url_sig=(.)/,
          (_m, c: string) => `temp_url_sig=${c === 'a' ? 'b' : 'a'}`,
        );
        expect((await anonymousGet(tampered)).status).toBe(401);
      }
      const expired = await swift.signedObjectUrl(container, 'join.sh', {
        expires: new Date(Date.now() - 60_000),
        key,
      });
      expect((await anonymousGet(expired)).status).toBe(401);
      const wrongMethod = tempUrl({
        method: 'PUT',
        url: await swift.objectUrl(container, 'join.sh'),
        expires,
        key,
      });
      expect((await anonymousGet(wrongMethod)).status).toBe(401);
    });

    it('account TempURL key (sha256 and sha1) signs URLs for any container of the account', async () => {
      const { swift } = h.cloud;
      await swift.putObject(container, 'acct.txt', 'account-key');
      const key = `ak-${h.prefix}`;
      await swift.setAccountTempUrlKey(key, { secondary: true });
      h.defer(() =>
        h.cloud.session.request('object-store', 'POST', '', {
          headers: { 'x-remove-account-meta-temp-url-key-2': 'x' },
          responseType: 'text',
        }),
      );
      const expires = Math.floor(Date.now() / 1000) + 600;
      for (const digest of ['sha256', 'sha1'] as const) {
        const url = await swift.signedObjectUrl(container, 'acct.txt', { expires, key, digest });
        expect(await anonymousGet(url)).toEqual({ status: 200, body: 'account-key' });
        expect(
          (await anonymousGet(url.replace(/temp_url_expires=\d+/, `temp_url_expires=${expires + 1}`))).status,
        ).toBe(401);
      }
      const stale = await swift.signedObjectUrl(container, 'acct.txt', { expires: expires - 1200, key });
      expect((await anonymousGet(stale)).status).toBe(401);
    });
  },
);
