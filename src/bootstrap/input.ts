/**
 * What a node needs to bootstrap, and its validation. Inputs carry secrets (join token, CA hash,
 * certificate key, TempURL): they are only ever written into the rendered user data, never into
 * error messages or logs.
 */
import { parse as parseYaml } from 'yaml';
import { plainHttpAllowed } from '../auth/loopback.ts';
import { InputError } from '../errors.ts';
import type { ClusterSpec } from '../cluster/spec.ts';
import { checkImageRepository } from '../cluster/validate.ts';
import { releaseForMinor, supportedPatchList, type KubernetesRelease } from '../versions/index.ts';

/** `init`: first master (`kubeadm init`); `join-control-plane`: other masters; `worker`. */
export type NodeRole = 'init' | 'join-control-plane' | 'worker';

/** Everything the renderers need for one node. */
export interface BootstrapInput {
  /** The validated cluster (version, network, overlay interface, admin role, os). */
  readonly spec: ClusterSpec;
  readonly role: NodeRole;
  /** Kubernetes node name = server name (DNS label). */
  readonly nodeName: string;
  /** Node labels registered by the kubelet (the node group's labels). */
  readonly labels?: Readonly<Record<string, string>>;
  /** `host:port` every node reaches the API at (load balancer VIP or master-0 address). */
  readonly controlPlaneEndpoint: string;
  /** Extra API serving-certificate names (floating IP, DNS name); masters only. */
  readonly certSANs?: readonly string[];
  /** `kubernetes-server-linux-amd64.tar.gz` staged in Swift: TempURL and its SHA-256. */
  readonly release: { readonly url: string; readonly sha256: string };
  /** kubeadm join material; `certificateKey` is required for masters. */
  readonly join: { readonly token: string; readonly caCertHash: string; readonly certificateKey?: string };
  /**
   * The cluster CA kubeadm init uses instead of generating one (first master only), so kaas can pin
   * it for joins and sign the break-glass admin certificate. Absent: kubeadm makes its own CA.
   */
  readonly clusterCa?: { readonly certPem: string; readonly keyPem: string };
  /**
   * The etcd CA kubeadm init uses instead of generating one (first master only), so kaas can sign
   * its own etcd client certificate and manage members when it replaces masters. Absent: kubeadm
   * makes its own.
   */
  readonly etcdCa?: { readonly certPem: string; readonly keyPem: string };
  /**
   * The front-proxy CA and the service-account signing key kubeadm init uses instead of generating
   * them (first master only): with the two CAs above they are every certificate a joining master
   * needs, so kaas can hand them to masters it boots later (kubeadm's own hand-over expires).
   */
  readonly frontProxyCa?: { readonly certPem: string; readonly keyPem: string };
  readonly serviceAccountKey?: { readonly publicKeyPem: string; readonly keyPem: string };
  /** Token webhook wiring; required for masters. `kubeconfig` is the file content, made elsewhere. */
  readonly webhook?: { readonly kubeconfig: string; readonly cacheTtl?: string };
  /** SSH public keys for the default user (`core` on Flatcar). */
  readonly sshAuthorizedKeys?: readonly string[];
  /**
   * How the node fetches its secret files (kubeadm config, CA keys) from kaas at first boot. The
   * user-data renderers require it: they write none of those files, only this single-use credential.
   */
  readonly enrollment?: Enrollment;
}

/** Where and with what a node redeems its enrollment (src/server/routes/enroll.ts). */
export interface Enrollment {
  /** `https://…/enroll/<cluster id>` (http only to a kaas on the node's own machine). */
  readonly url: string;
  /** Single-use, short-lived; kaas stores only its hash. */
  readonly credential: string;
  /** The CA of kaas's certificate (absent: the node's system CAs). */
  readonly caPem?: string;
}

/** Where kaas keeps files the kube-apiserver reads (mounted read-only into its static pod). */
export const KAAS_CONFIG_DIR = '/etc/kubernetes/kaas';
/** Path of the token webhook kubeconfig on masters. */
export const WEBHOOK_KUBECONFIG_PATH = `${KAAS_CONFIG_DIR}/webhook-kubeconfig.yaml`;
/** Default token webhook cache TTL (`--authentication-token-webhook-cache-ttl`). */
export const DEFAULT_WEBHOOK_CACHE_TTL = '30s';

/**
 * The catalogue release of the spec's minor: its kubeadm config API. Looked up by minor, so a
 * cluster on an earlier patch of a supported minor still renders nodes for a resize.
 */
export function kubernetesRelease(spec: Pick<ClusterSpec, 'kubernetesVersion'>): KubernetesRelease {
  const release = releaseForMinor(spec.kubernetesVersion);
  if (!release) {
    throw new InputError(
      `spec.kubernetesVersion ${JSON.stringify(spec.kubernetesVersion)} is not offered; supported versions: ${supportedPatchList()}`,
      { field: 'spec.kubernetesVersion', code: 'version_unsupported' },
    );
  }
  return release;
}

const TOKEN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;
const CA_HASH = /^sha256:[a-f0-9]{64}$/;
const HEX64 = /^[a-f0-9]{64}$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const ENDPOINT = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?|\d{1,3}(\.\d{1,3}){3}):(\d{1,5})$/;
const SAN = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?|\d{1,3}(\.\d{1,3}){3})$/;
const DURATION = /^([1-9]\d*)(ms|s|m|h)$/;
const URL = /^https?:\/\/[^\s'"\\`$]+$/;
const SSH_KEY = /^(ssh-|ecdsa-|sk-)[^\r\n]+$/;
const CREDENTIAL = /^[A-Za-z0-9_-]{32,128}$/;
const CERT_PEM = /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n?$/;

function fail(field: string, message: string): never {
  throw new InputError(`${field} ${message}`, { field });
}

function isMaster(role: NodeRole): boolean {
  return role !== 'worker';
}

/** Checks the webhook kubeconfig: one cluster, an https server and a CA (or http to loopback); TLS checks never skipped. */
function checkWebhookKubeconfig(text: string): void {
  const field = 'webhook.kubeconfig';
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    throw new InputError(`${field} is not valid YAML`, { field, cause: error });
  }
  const cluster = (doc as { clusters?: { cluster?: Record<string, unknown> }[] } | null)?.clusters?.[0]
    ?.cluster;
  if (typeof cluster !== 'object' || cluster === null)
    fail(field, 'must be a kubeconfig with clusters[0].cluster');
  const server = typeof cluster.server === 'string' ? cluster.server : '';
  // Plain http only to a kaas on the node's own machine (`kaas dev`): no CA then.
  const local = globalThis.URL.canParse(server) && plainHttpAllowed(new globalThis.URL(server));
  if (!local && !server.startsWith('https://')) {
    fail(field, 'must point clusters[0].cluster.server at an https:// TokenReview URL');
  }
  const ca = cluster['certificate-authority-data'];
  if (!local && (typeof ca !== 'string' || ca === '')) {
    fail(field, 'must carry clusters[0].cluster.certificate-authority-data');
  }
  if (/insecure-skip-tls-verify/.test(text)) fail(field, 'must not use insecure-skip-tls-verify');
}

/** Throws InputError naming the first bad field; secret values are never echoed. */
export function validateBootstrapInput(input: BootstrapInput): void {
  const { role } = input;
  kubernetesRelease(input.spec);
  // It goes into the bootstrap script's containerd edit: never trust a spec that skipped validateSpec.
  if (input.spec.imageRepository !== undefined) {
    checkImageRepository(input.spec.imageRepository, 'spec.imageRepository');
  }
  if (role !== 'init' && role !== 'join-control-plane' && role !== 'worker') {
    fail('role', 'must be init, join-control-plane or worker');
  }
  if (!DNS_LABEL.test(input.nodeName))
    fail('nodeName', `must be a DNS label, got ${JSON.stringify(input.nodeName)}`);
  const endpoint = ENDPOINT.exec(input.controlPlaneEndpoint);
  if (!endpoint || Number(endpoint[4]) < 1 || Number(endpoint[4]) > 65535) {
    fail('controlPlaneEndpoint', `must be host:port, got ${JSON.stringify(input.controlPlaneEndpoint)}`);
  }
  for (const san of input.certSANs ?? []) {
    if (!SAN.test(san)) fail('certSANs', `must hold DNS names or IPv4 addresses, got ${JSON.stringify(san)}`);
  }
  if (!URL.test(input.release.url)) fail('release.url', 'must be an http(s) URL without spaces or quotes');
  if (!HEX64.test(input.release.sha256)) fail('release.sha256', 'must be 64 lowercase hex characters');
  if (!TOKEN.test(input.join.token))
    fail('join.token', 'must be a kubeadm bootstrap token ([a-z0-9]{6}.[a-z0-9]{16})');
  if (!CA_HASH.test(input.join.caCertHash)) fail('join.caCertHash', 'must be sha256:<64 hex characters>');
  if (isMaster(role)) {
    if (input.join.certificateKey === undefined || !HEX64.test(input.join.certificateKey)) {
      fail('join.certificateKey', 'must be 64 lowercase hex characters for a control-plane node');
    }
    if (input.webhook === undefined) fail('webhook', 'is required for a control-plane node');
    checkWebhookKubeconfig(input.webhook.kubeconfig);
    if (input.webhook.cacheTtl !== undefined && !DURATION.test(input.webhook.cacheTtl)) {
      fail(
        'webhook.cacheTtl',
        `must be a duration such as 30s or 2m, got ${JSON.stringify(input.webhook.cacheTtl)}`,
      );
    }
  }
  for (const field of ['clusterCa', 'etcdCa', 'frontProxyCa'] as const) {
    const ca = input[field];
    if (ca === undefined) continue;
    if (role !== 'init') fail(field, 'is only given to the first master (role init)');
    if (!CERT_PEM.test(ca.certPem)) fail(`${field}.certPem`, 'must be one PEM certificate');
    if (!/^-----BEGIN [A-Z ]*PRIVATE KEY-----\n[\s\S]+-----END [A-Z ]*PRIVATE KEY-----\n?$/.test(ca.keyPem))
      fail(`${field}.keyPem`, 'must be one PEM private key');
  }
  if (input.serviceAccountKey !== undefined) {
    if (role !== 'init') fail('serviceAccountKey', 'is only given to the first master (role init)');
    if (
      !/^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n?$/.test(
        input.serviceAccountKey.publicKeyPem,
      )
    )
      fail('serviceAccountKey.publicKeyPem', 'must be one PEM public key');
    if (
      !/^-----BEGIN [A-Z ]*PRIVATE KEY-----\n[\s\S]+-----END [A-Z ]*PRIVATE KEY-----\n?$/.test(
        input.serviceAccountKey.keyPem,
      )
    )
      fail('serviceAccountKey.keyPem', 'must be one PEM private key');
  }
  for (const key of input.sshAuthorizedKeys ?? []) {
    if (!SSH_KEY.test(key)) fail('sshAuthorizedKeys', 'must hold one OpenSSH public key per entry');
  }
  const { enrollment } = input;
  if (enrollment !== undefined) {
    const url = globalThis.URL.canParse(enrollment.url) ? new globalThis.URL(enrollment.url) : undefined;
    if (!URL.test(enrollment.url) || !url || (url.protocol !== 'https:' && !plainHttpAllowed(url))) {
      fail('enrollment.url', 'must be an https:// URL (http only to a kaas on the same machine)');
    }
    if (!CREDENTIAL.test(enrollment.credential))
      fail('enrollment.credential', 'must be 32-128 base64url characters');
    if (enrollment.caPem !== undefined && !CERT_PEM.test(enrollment.caPem)) {
      fail('enrollment.caPem', 'must be one PEM certificate');
    }
  }
}
