import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RELEASE,
  KUBERNETES_RELEASES,
  SUPPORTED_MINORS,
  minorOf,
  nextRelease,
  releaseForMinor,
  releaseForPatch,
  supportedPatchList,
} from './index.ts';

describe('the version catalogue', () => {
  it('offers three consecutive minors, oldest first, defaulting to the newest', () => {
    expect(KUBERNETES_RELEASES).toHaveLength(3);
    const minors = SUPPORTED_MINORS.map((m) => Number(m.split('.')[1]));
    expect(minors).toEqual([minors[0], minors[0]! + 1, minors[0]! + 2]);
    expect(DEFAULT_RELEASE).toBe(KUBERNETES_RELEASES.at(-1));
  });

  it('names each release tarball on dl.k8s.io and the kubeadm API the renderers produce', () => {
    for (const r of KUBERNETES_RELEASES) {
      expect(r.patch.startsWith(`${r.minor}.`)).toBe(true);
      expect(r.artifact.url).toBe(
        `https://dl.k8s.io/release/v${r.patch}/kubernetes-server-linux-amd64.tar.gz`,
      );
      expect(r.kubeadmApiVersion).toBe('kubeadm.k8s.io/v1beta4');
      expect(r.images).toEqual({
        etcd: expect.stringMatching(/^\d+\.\d+\.\d+-\d+$/),
        coredns: expect.stringMatching(/^v\d+\.\d+\.\d+$/),
        pause: expect.stringMatching(/^\d+\.\d+(\.\d+)?$/),
      });
    }
  });

  it('looks releases up by minor, by patch and by the next minor', () => {
    const [oldest, middle] = KUBERNETES_RELEASES;
    expect(minorOf(`v${oldest!.patch}`)).toBe(oldest!.minor);
    expect(minorOf(oldest!.minor)).toBeUndefined();
    expect(releaseForMinor(oldest!.minor)).toBe(oldest);
    expect(releaseForMinor(`${oldest!.minor}.0`)).toBe(oldest);
    expect(releaseForPatch(`v${middle!.patch}`)).toBe(middle);
    expect(releaseForPatch(`${middle!.minor}.999`)).toBeUndefined();
    expect(releaseForMinor('1.2')).toBeUndefined();
    expect(nextRelease(oldest!.minor)).toBe(middle);
    expect(nextRelease(DEFAULT_RELEASE.minor)).toBeUndefined();
    expect(supportedPatchList()).toBe(KUBERNETES_RELEASES.map((r) => r.patch).join(', '));
  });
});
