import { describe, expect, it } from 'vitest';
import { DEFAULT_TEMPURL_TTL_SECONDS, parseOptions } from './options.ts';

describe('parseOptions', () => {
  it('fills defaults: wait for the API, one-year TempURLs, external network required', () => {
    expect(parseOptions({}, true)).toEqual({
      waitForApi: true,
      tempUrlTtlSeconds: DEFAULT_TEMPURL_TTL_SECONDS,
      requireExternalNetwork: true,
      ownsKeypair: true,
    });
  });
  it.each([
    [{ waitForApi: 'no' }, 'waitForApi'],
    [{ tempUrlTtlSeconds: 60 }, 'tempUrlTtlSeconds'],
    [{ colour: 'blue' }, 'colour'],
  ])('rejects %j naming %s', (input, field) => {
    expect(() => parseOptions(input, false)).toThrow(expect.objectContaining({ field }));
  });
  it.each([
    ['releaseSource', '/etc/openstack/clouds.yaml'],
    ['releaseSource', 'https://evil.example/k.tgz'],
    ['release', '/etc/passwd'],
    ['releaseUrl', 'https://dl.k8s.io/release/v1.37.2/kubernetes-server-linux-amd64.tar.gz'],
    ['releaseMirror', '/srv/mirror'],
    ['artifactPath', '/etc/shadow'],
  ])('refuses %s=%s: releases come only from the catalogue', (name, value) => {
    expect(() => parseOptions({ [name]: value, waitForApi: false }, false)).toThrow(
      expect.objectContaining({ name: 'InputError', code: 'release_source_not_allowed', field: name }),
    );
  });
});
