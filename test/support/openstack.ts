import type { CloudConfig } from '../../src/openstack/index.ts';

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
