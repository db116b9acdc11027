/**
 * The Kubernetes versions kaas offers, read from catalogue.json: the three newest upstream minors,
 * each with one patch release, its server tarball and published digest, the kubeadm config API it
 * takes and the etcd / CoreDNS / pause images that release's kubeadm deploys. Nothing else in src/
 * names a Kubernetes version. test/kubelab/build.sh and binaries.ts read the same file.
 *
 * Provenance: image versions are kubeadm's DefaultEtcdVersion, CoreDNSVersion and PauseVersion in
 * cmd/kubeadm/app/constants/constants.go of k8s.io/kubernetes@v<patch>. Digests are the ones
 * upstream publishes; CHANGELOG-1.3x.md lists only SHA-512. 1.35.4's is from
 * kubernetes/kubernetes CHANGELOG/CHANGELOG-1.35.md; none was found for 1.36.3 and 1.37.2, so
 * they carry none and staging them is refused (see src/provisioner/release.ts).
 */
import catalogue from './catalogue.json' with { type: 'json' };

/** The kubeadm config API the renderers in src/bootstrap produce. */
export type KubeadmApiVersion = 'kubeadm.k8s.io/v1beta4';
const KUBEADM_APIS: readonly string[] = ['kubeadm.k8s.io/v1beta4'] satisfies KubeadmApiVersion[];

/** Digests of a release artifact as upstream publishes them (lowercase hex); absent when unknown. */
export interface ArtifactDigest {
  readonly sha256?: string;
  readonly sha512?: string;
}

/** One supported Kubernetes release. */
export interface KubernetesRelease {
  /** `1.37` */
  readonly minor: string;
  /** `1.37.2`, no leading `v` */
  readonly patch: string;
  readonly kubeadmApiVersion: KubeadmApiVersion;
  /** `kubernetes-server-linux-amd64.tar.gz` on dl.k8s.io, with its digest when one is known. */
  readonly artifact: { readonly url: string } & ArtifactDigest;
  /** Image tags this release's kubeadm deploys (it picks them itself; kaas does not override them). */
  readonly images: { readonly etcd: string; readonly coredns: string; readonly pause: string };
}

const PATCH = /^(\d+\.\d+)\.\d+$/;
const HEX = { sha256: /^[a-f0-9]{64}$/, sha512: /^[a-f0-9]{128}$/ } as const;

/** Checks the JSON once at load, so a bad edit fails every command and test instead of one node. */
function load(): { releases: KubernetesRelease[]; defaultMinor: string } {
  const releases = catalogue.versions.map((v): KubernetesRelease => {
    const where = `src/versions/catalogue.json ${v.patch}`;
    if (PATCH.exec(v.patch)?.[1] !== v.minor) throw new Error(`${where}: patch is not in minor ${v.minor}`);
    if (!KUBEADM_APIS.includes(v.kubeadmApiVersion)) {
      throw new Error(`${where}: kubeadm API ${v.kubeadmApiVersion} is not one src/bootstrap renders`);
    }
    const artifact: { url: string; sha256?: string; sha512?: string } = v.artifact;
    if (artifact.url !== `https://dl.k8s.io/release/v${v.patch}/kubernetes-server-linux-amd64.tar.gz`) {
      throw new Error(`${where}: artifact url must be dl.k8s.io's server tarball of this patch`);
    }
    for (const algorithm of ['sha256', 'sha512'] as const) {
      const digest = artifact[algorithm];
      if (digest !== undefined && !HEX[algorithm].test(digest)) {
        throw new Error(`${where}: ${algorithm} must be lowercase hex`);
      }
    }
    return { ...v, kubeadmApiVersion: v.kubeadmApiVersion as KubeadmApiVersion, artifact };
  });
  const minors = releases.map((r) => Number(r.minor.split('.')[1]));
  if (minors.some((m, i) => i > 0 && m !== (minors[i - 1] as number) + 1)) {
    throw new Error('src/versions/catalogue.json must list consecutive minors, oldest first');
  }
  if (!releases.some((r) => r.minor === catalogue.default)) {
    throw new Error(`src/versions/catalogue.json names default ${catalogue.default}, which it does not list`);
  }
  return { releases, defaultMinor: catalogue.default };
}

const { releases: RELEASES, defaultMinor: DEFAULT_MINOR } = load();

/** Every supported release, oldest first; upgrades move one step along this list. */
export const KUBERNETES_RELEASES: readonly KubernetesRelease[] = RELEASES;

/** Supported minors, oldest first, e.g. `['1.35', '1.36', '1.37']`. */
export const SUPPORTED_MINORS: readonly string[] = RELEASES.map((r) => r.minor);

/** The release new clusters get when they do not ask for one. */
export const DEFAULT_RELEASE: KubernetesRelease = RELEASES.find(
  (r) => r.minor === DEFAULT_MINOR,
) as KubernetesRelease;

/** `1.37.2` → `1.37`; `v1.37.2` too. Undefined for anything not shaped like a patch version. */
export function minorOf(version: string): string | undefined {
  return PATCH.exec(version.replace(/^v/, ''))?.[1];
}

/** The supported release of a minor (`1.36`), or of a patch's minor (`1.36.1`). */
export function releaseForMinor(version: string): KubernetesRelease | undefined {
  const minor = PATCH.test(version.replace(/^v/, '')) ? minorOf(version) : version;
  return RELEASES.find((r) => r.minor === minor);
}

/** The release with exactly this patch (`1.36.3` or `v1.36.3`), if the catalogue lists it. */
export function releaseForPatch(patch: string): KubernetesRelease | undefined {
  const bare = patch.replace(/^v/, '');
  return RELEASES.find((r) => r.patch === bare);
}

/** The catalogue's release one minor after `minor`, if any. */
export function nextRelease(minor: string): KubernetesRelease | undefined {
  const at = RELEASES.findIndex((r) => r.minor === minor);
  return at < 0 ? undefined : RELEASES[at + 1];
}

/** The supported patches for messages and help texts: `1.35.4, 1.36.3, 1.37.2`. */
export function supportedPatchList(): string {
  return RELEASES.map((r) => r.patch).join(', ');
}
