/**
 * Where kubelab's upstream binaries live: `test/kubelab/build.sh` builds them from the Go module
 * proxy into $KUBELAB_CACHE (default /var/cache/kaas-kubelab), keyed by version. `npm test` runs the
 * build first; a missing binary here is an error naming the command that makes it, never a skip.
 */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import catalogue from '../../versions/catalogue.json' with { type: 'json' };
import tools from './tools.json' with { type: 'json' };

const CACHE = process.env.KUBELAB_CACHE ?? '/var/cache/kaas-kubelab';

function existing(path: string): string {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`kubelab binary ${path} is missing: run bash test/kubelab/build.sh (npm test does)`);
  }
  return path;
}

/** A Kubernetes component built for `version` (full patch, no `v`; default: the catalogue's default). */
export function kubeBinary(
  name: 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kubeadm' | 'kubectl',
  version: string = defaultPatch(),
): string {
  return existing(join(CACHE, 'kubernetes', version, name));
}

/** etcd or kwok at the versions in tools.json. */
export function toolBinary(name: 'etcd' | 'kwok'): string {
  return existing(join(CACHE, name, tools[name], name));
}

/** openstack-cloud-controller-manager at the version in tools.json. */
export function cloudControllerBinary(): string {
  const name = 'openstack-cloud-controller-manager';
  return existing(join(CACHE, name, tools.occm, name));
}

/** kwok's upstream stage definitions (nodes Ready with Leases, pods Running), copied by build.sh. */
export function kwokStages(): string {
  return join(CACHE, 'kwok', tools.kwok, 'stages.yaml');
}

/** kwok's PortForward CRD (`kwok.x-k8s.io/v1alpha1`), copied from its module by build.sh. */
export function kwokPortForwardCrd(): string {
  return join(CACHE, 'kwok', tools.kwok, 'portforwards-crd.yaml');
}

/** The catalogue's default patch release, e.g. `1.37.2`. */
export function defaultPatch(): string {
  const v = catalogue.versions.find((x) => x.minor === catalogue.default);
  if (!v) throw new Error('the version catalogue names a default minor it does not list');
  return v.patch;
}

/** The patch release of the minor before the default one: where upgrade tests start. */
export function previousPatch(): string {
  const i = catalogue.versions.findIndex((x) => x.minor === catalogue.default);
  const v = catalogue.versions[i - 1];
  if (!v) throw new Error('the version catalogue lists no minor before its default');
  return v.patch;
}
