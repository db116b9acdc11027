import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createCa } from '../../src/auth/pki.ts';
import { webhookKubeconfigYaml } from '../../src/auth/kubeconfig.ts';
import { createLogger } from '../../src/log.ts';
import { createCloud, type Cloud, type CloudConfig } from '../../src/openstack/index.ts';
import { bootstrapRenderer, type JoinMaterial } from '../../src/provisioner/bootstrap.ts';
import { createProvisioner, type ProvisionerDeps } from '../../src/provisioner/provisioner.ts';
import type { Store } from '../../src/store/db.ts';

/** Silent logger for the suites. */
export const logger = createLogger({ level: 'silent' });

/** Password config for admin/secret on project admin (the lab's and cloudsim's bootstrap user). */
export function adminConfig(authUrl: string, password = 'secret'): CloudConfig {
  return {
    cloudName: 'test',
    authType: 'password',
    auth: {
      authUrl,
      username: 'admin',
      password,
      projectName: 'admin',
      userDomainName: 'Default',
      projectDomainName: 'Default',
    },
    regionName: 'RegionOne',
    interface: 'public',
    insecure: false,
    endpointOverrides: {},
  };
}

/** A cloud client with fast retries, for tests. */
export function testCloud(config: CloudConfig): Cloud {
  return createCloud({ config, logger, retry: { baseDelayMs: 20, maxDelayMs: 200, maxRetryAfterMs: 2_000 } });
}

/** A small stand-in for kubernetes-server-linux-amd64.tar.gz. */
export function fakeRelease(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kaas-rel-'));
  const path = join(dir, 'kubernetes-server-linux-amd64.tar.gz');
  writeFileSync(path, randomBytes(64 * 1024));
  return path;
}

/** Join material in the right formats (token, CA pin, certificate key, webhook kubeconfig with a real CA). */
export async function testJoinMaterial(): Promise<JoinMaterial> {
  const ca = await createCa({ commonName: 'kaas-test' });
  return {
    join: {
      token: 'abcdef.0123456789abcdef',
      caCertHash: `sha256:${'a'.repeat(64)}`,
      certificateKey: 'b'.repeat(64),
    },
    webhook: {
      kubeconfig: webhookKubeconfigYaml({
        kaasUrl: 'https://kaas.example.com',
        clusterId: 'x',
        caPem: ca.certPem,
      }),
    },
  };
}

/** A provisioner on `store` and `cloud` with short polls; `over` replaces any dependency. */
export function testProvisioner(
  store: Store,
  cloud: Cloud,
  material: JoinMaterial,
  over: Partial<ProvisionerDeps> = {},
) {
  return createProvisioner({
    store,
    logger,
    now: () => new Date(),
    cloud,
    renderUserData: bootstrapRenderer(() => material),
    pollIntervalMs: 50,
    waitTimeoutMs: 60_000,
    leaseMs: 2_000,
    ...over,
  });
}

/** A cluster spec for the suites. */
export function testSpec(
  name: string,
  workers: number,
  over: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name,
    kubernetesVersion: '1.31.4',
    masters: 1,
    masterFlavor: 'm1.small',
    image: 'debian-12',
    os: 'debian',
    nodeGroups: [{ name: 'default', count: workers, flavor: 'm1.small' }],
    network: {
      nodeCidr: '10.240.0.0/24',
      podCidr: '10.244.0.0/16',
      serviceCidr: '10.96.0.0/12',
      dnsIp: '10.96.0.10',
    },
    externalNetwork: 'public',
    dnsDomain: 'apps.example.com',
    adminRoleId: '9fe2ff9ee4384b1894a90878d3e92bab',
    ...over,
  };
}
