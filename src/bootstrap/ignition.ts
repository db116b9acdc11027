/**
 * Ignition config for Flatcar. Spec 3.3.0: the newest version Debian 12's `ignition-validate`
 * (Ignition 2.14) accepts as stable, and one every current Flatcar release reads.
 */
import { InputError } from '../errors.ts';
import type { BootstrapInput } from './input.ts';
import { DONE_MARKER, firstBootContent } from './node.ts';

/** Ignition spec version of the rendered configs. */
export const IGNITION_VERSION = '3.3.0';
/** The oneshot unit that runs the bootstrap script. */
export const BOOTSTRAP_UNIT = 'kaas-bootstrap.service';

function dataUrl(content: string): string {
  return `data:;base64,${Buffer.from(content, 'utf8').toString('base64')}`;
}

function bootstrapUnit(scriptPath: string): string {
  return [
    '[Unit]',
    'Description=kaas node bootstrap (kubeadm)',
    'Wants=network-online.target',
    'After=network-online.target containerd.service',
    `ConditionPathExists=!${DONE_MARKER}`,
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    `ExecStart=${scriptPath}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** Renders the node's Ignition JSON (no secrets: see firstBootContent). Throws InputError for invalid input, no enrollment or a non-Flatcar spec. */
export function renderIgnition(input: BootstrapInput): string {
  if (input.spec.os !== 'flatcar') {
    throw new InputError(`os ${input.spec.os} boots with cloud-init; use renderCloudConfig`, {
      field: 'spec.os',
    });
  }
  const { content } = firstBootContent(input);
  const config = {
    ignition: { version: IGNITION_VERSION },
    passwd: {
      users: [{ name: 'core', sshAuthorizedKeys: [...(input.sshAuthorizedKeys ?? [])] }],
    },
    storage: {
      files: content.files.map((file) => ({
        path: file.path,
        overwrite: true,
        mode: file.mode,
        user: { name: 'root' },
        group: { name: 'root' },
        contents: { source: dataUrl(file.content) },
      })),
    },
    systemd: {
      units: [
        { name: 'containerd.service', enabled: true },
        { name: BOOTSTRAP_UNIT, enabled: true, contents: bootstrapUnit(content.scriptPath) },
      ],
    },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}
