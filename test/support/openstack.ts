import type { Logger } from '../../src/log.ts';
import { createCloud, type Cloud, type CloudConfig } from '../../src/openstack/index.ts';

/**
 * admin/secret on project admin (the lab's and cloudsim's bootstrap user) as the OS_* variables of
 * an openrc; `adminConfig` is the same user resolved.
 */
export function adminEnv(authUrl: string): Record<string, string> {
  return {
    OS_AUTH_URL: authUrl,
    OS_USERNAME: 'admin',
    OS_PASSWORD: 'secret',
    OS_PROJECT_NAME: 'admin',
    OS_USER_DOMAIN_NAME: 'Default',
    OS_PROJECT_DOMAIN_NAME: 'Default',
    OS_REGION_NAME: 'RegionOne',
  };
}

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

/** The real lab's admin (its admin-openrc's OS_AUTH_URL and OS_PASSWORD, else the lab defaults). */
export function labAdminConfig(): CloudConfig {
  return adminConfig(
    process.env.OS_AUTH_URL ?? 'http://127.0.0.1:5000/v3',
    process.env.OS_PASSWORD ?? 'secret',
  );
}

/** A client for the real lab's admin. */
export function labAdminCloud(logger: Logger): Cloud {
  return createCloud({ config: labAdminConfig(), logger });
}
