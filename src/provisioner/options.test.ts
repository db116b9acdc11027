import { describe, expect, it } from 'vitest';
import { DEFAULT_TEMPURL_TTL_SECONDS, parseOptions } from './options.ts';

describe('parseOptions', () => {
  it('fills defaults: wait for the API, one-year TempURLs, external network required', () => {
    expect(parseOptions({ releaseSource: '/tmp/k.tgz' }, true)).toEqual({
      releaseSource: '/tmp/k.tgz',
      waitForApi: true,
      tempUrlTtlSeconds: DEFAULT_TEMPURL_TTL_SECONDS,
      requireExternalNetwork: true,
      ownsKeypair: true,
    });
  });
  it.each([
    [{}, 'releaseSource'],
    [{ releaseSource: ' ' }, 'releaseSource'],
    [{ releaseSource: 'x', waitForApi: 'no' }, 'waitForApi'],
    [{ releaseSource: 'x', tempUrlTtlSeconds: 60 }, 'tempUrlTtlSeconds'],
  ])('rejects %j naming %s', (input, field) => {
    expect(() => parseOptions(input, false)).toThrow(expect.objectContaining({ field }));
  });
});
