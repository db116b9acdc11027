/**
 * The `cloud.conf` the cluster's OpenStack components read (openstack-cloud-controller-manager and
 * Cinder CSI share the format, gcfg INI): who the cluster is on its cloud and where its load
 * balancers' floating IPs come from. kaas renders it; nothing in the cluster edits it. Its format
 * has no auth-type key: `application-credential-id` and `-secret` are what make those components
 * authenticate as Keystone's v3applicationcredential, never with a password.
 */
import type { AddonContext } from './context.ts';

/** Where the cloud controller and Cinder CSI mount the Secret CLOUD_CONFIG_SECRET (read-only). */
export const CLOUD_CONFIG_DIR = '/etc/config';
/** The Secret's key holding the CA bundle of the cloud's endpoints, when they use a private CA. */
export const CLOUD_CA_KEY = 'ca.pem';

/** The pod annotation naming the credential a service's pods started with: a new credential restarts them. */
export const CREDENTIAL_ANNOTATION = 'kaas.io/application-credential';

/** Pod annotations of a service that reads the cluster's credential (none before kaas made one). */
export function credentialPodAnnotations(ctx: AddonContext): { podAnnotations?: Record<string, string> } {
  return ctx.cloudCredentialId === undefined
    ? {}
    : { podAnnotations: { [CREDENTIAL_ANNOTATION]: ctx.cloudCredentialId } };
}

/** The cluster's own OpenStack identity and placement, as kaas created them. */
export interface CloudConfInput {
  authUrl: string;
  region: string;
  /** The cluster's application credential (never a password): id and secret. */
  applicationCredentialId: string;
  applicationCredentialSecret: string;
  /** CA bundle path inside the pods, when the cloud's endpoints use a private CA. */
  caFile?: string;
  /** Neutron external network id for Service load balancers' floating IPs (none: VIPs stay internal). */
  floatingNetworkId?: string;
  /** The cluster subnet's id: load balancer VIPs and members sit there. */
  subnetId: string;
}

/** gcfg values are quoted strings; a quote, backslash or newline inside one is escaped. */
function quoted(value: string): string {
  if (/[\n\r]/.test(value)) throw new Error('a cloud.conf value cannot span lines');
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function section(name: string, entries: [string, string | undefined][]): string {
  const lines = entries.filter(([, v]) => v !== undefined).map(([k, v]) => `${k} = ${quoted(v as string)}`);
  return `[${name}]\n${lines.join('\n')}\n`;
}

/** The text of `cloud.conf`. Service load balancers are Octavia's and get a health monitor. */
export function cloudConf(input: CloudConfInput): string {
  return [
    section('Global', [
      ['auth-url', input.authUrl],
      ['region', input.region],
      ['application-credential-id', input.applicationCredentialId],
      ['application-credential-secret', input.applicationCredentialSecret],
      ['ca-file', input.caFile],
    ]),
    section('LoadBalancer', [
      ['floating-network-id', input.floatingNetworkId],
      ['subnet-id', input.subnetId],
      ['create-monitor', 'true'],
    ]),
    section('BlockStorage', [['ignore-volume-az', 'true']]),
  ].join('\n');
}

/**
 * The data of the Secret CLOUD_CONFIG_SECRET: `cloud.conf`, and with `caPem` (the cloud's endpoints
 * use a private CA) the bundle under CLOUD_CA_KEY, which `ca-file` names where the pods mount it.
 */
export function cloudConfigSecretData(
  input: Omit<CloudConfInput, 'caFile'> & { caPem?: string },
): Record<string, string> {
  const { caPem, ...conf } = input;
  if (caPem === undefined) return { 'cloud.conf': cloudConf(conf) };
  return {
    'cloud.conf': cloudConf({ ...conf, caFile: `${CLOUD_CONFIG_DIR}/${CLOUD_CA_KEY}` }),
    [CLOUD_CA_KEY]: caPem,
  };
}
