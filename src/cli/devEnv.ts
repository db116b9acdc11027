import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';

/** The cloud name `kaas dev` gives its embedded cloud in `.kaas/clouds.yaml` (OS_CLOUD). */
export const DEV_CLOUD = 'kaas-dev';

/** What the dev env files say: where kaas and its embedded cloud are, and who logs in to the cloud. */
export interface DevEnvInput {
  /** `.kaas`, made absolute so the env file works from any directory. */
  dataDir: string;
  kaasUrl: string;
  authUrl: string;
  /** The OpenStack user of clouds.yaml (the demo operator) and its project. */
  user: { name: string; password: string; project: string };
  /** Spec defaults that differ on the embedded cloud (KUBE_IMAGE, KUBE_ADMIN_ROLE_ID…). */
  specDefaults: Record<string, string>;
  /** The `kaas` the env puts on PATH: this Node.js and the CLI script it runs (`bin/kaas.mjs`). */
  cli: { node: string; script: string };
}

/** clouds.yaml for the embedded cloud, as the openstack CLI and kaas read it (OS_CLOUD=kaas-dev). */
export function devCloudsYaml(input: DevEnvInput): string {
  return stringify({
    clouds: {
      [DEV_CLOUD]: {
        auth: {
          auth_url: input.authUrl,
          username: input.user.name,
          password: input.user.password,
          project_name: input.user.project,
          user_domain_name: 'Default',
          project_domain_name: 'Default',
        },
        region_name: 'RegionOne',
        identity_api_version: 3,
      },
    },
  });
}

const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/**
 * `.kaas/env`, to source in a shell: every kaas command then talks to this `kaas dev` (KAAS_URL),
 * keeps its login apart from real servers' (KAAS_CONFIG_DIR), and the break-glass and openstack
 * commands find the database, key and cloud.
 */
export function devEnvFile(input: DevEnvInput): string {
  const dir = resolve(input.dataDir);
  const vars: Record<string, string> = {
    KAAS_URL: input.kaasUrl,
    KAAS_CONFIG_DIR: join(dir, 'cli'),
    OS_CLIENT_CONFIG_FILE: join(dir, 'clouds.yaml'),
    OS_CLOUD: DEV_CLOUD,
    KAAS_DATABASE_URL: `sqlite:${join(dir, 'kaas.db')}`,
    KAAS_SECRET_KEY_FILE: join(dir, 'secret.key'),
    // cloudsim's servers never boot a Kubernetes API: do not wait for one (unless kaas dev --kube's
    // specDefaults say otherwise).
    KAAS_WAIT_FOR_API: 'false',
    ...input.specDefaults,
  };
  const bin = quote(join(dir, 'bin'));
  return [
    `# Written by \`kaas dev\` at each start: \`source ${join(dir, 'env')}\` puts \`kaas\` on PATH and points it at kaas dev.`,
    ...Object.entries(vars).map(([name, value]) => `export ${name}=${quote(value)}`),
    `case ":$PATH:" in *:${bin}:*) ;; *) export PATH=${bin}:"$PATH" ;; esac`,
    '',
  ].join('\n');
}

/** `.kaas/bin/kaas`: runs this checkout's CLI with the Node.js that runs kaas dev. */
export function devCliScript(cli: DevEnvInput['cli']): string {
  return `#!/bin/sh\nexec ${quote(cli.node)} ${quote(cli.script)} "$@"\n`;
}

/**
 * Writes `.kaas/clouds.yaml` and `.kaas/env` (0600: clouds.yaml holds a password) and the `kaas`
 * command `.kaas/bin/kaas` (0700); returns the env file's path.
 */
export function writeDevEnv(input: DevEnvInput): string {
  mkdirSync(join(input.dataDir, 'bin'), { recursive: true, mode: 0o700 });
  const files = [
    [join(input.dataDir, 'clouds.yaml'), devCloudsYaml(input), 0o600],
    [join(input.dataDir, 'env'), devEnvFile(input), 0o600],
    [join(input.dataDir, 'bin', 'kaas'), devCliScript(input.cli), 0o700],
  ] as const;
  for (const [file, text, mode] of files) {
    writeFileSync(file, text, { mode });
    chmodSync(file, mode);
  }
  return resolve(files[1][0]);
}
