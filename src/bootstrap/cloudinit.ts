/**
 * `#cloud-config` user data for Debian and Ubuntu images. Only keys from cloud-init's schema are
 * used (checked by `cloud-init schema` in test/bootstrap), so a typo cannot silently drop a step.
 */
import { InputError } from '../errors.ts';
import type { BootstrapInput } from './input.ts';
import { firstBootContent, toYaml } from './node.ts';

/** Debian/Ubuntu packages every node installs before the bootstrap script runs. */
export const NODE_PACKAGES = [
  'ca-certificates',
  'conntrack',
  'containerd',
  'containernetworking-plugins',
  'curl',
  'ethtool',
  'iptables',
  'nftables',
  'socat',
] as const;

/** Renders the node's user data (no secrets: see firstBootContent). Throws InputError for invalid input, no enrollment or a Flatcar spec. */
export function renderCloudConfig(input: BootstrapInput): string {
  if (input.spec.os === 'flatcar') {
    throw new InputError('os flatcar boots with Ignition; use renderIgnition', { field: 'spec.os' });
  }
  const { content } = firstBootContent(input);
  const config: Record<string, unknown> = {
    hostname: input.nodeName,
    package_update: true,
    packages: [...NODE_PACKAGES],
    write_files: content.files.map((file) => ({
      path: file.path,
      owner: 'root:root',
      permissions: `0${file.mode.toString(8)}`,
      content: file.content,
    })),
    runcmd: [[content.scriptPath]],
  };
  if (input.sshAuthorizedKeys !== undefined && input.sshAuthorizedKeys.length > 0) {
    config.ssh_authorized_keys = [...input.sshAuthorizedKeys];
  }
  return `#cloud-config\n${toYaml(config)}`;
}
