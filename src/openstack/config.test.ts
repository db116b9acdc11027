import { describe, expect, it } from 'vitest';
import { adminConfig, adminEnv } from '../../test/support/openstack.ts';
import { configForProject, configSearchPath, loadCloudConfig, resolveCloudConfig } from './config.ts';
import { configAuthBody } from './session.ts';

const AUTH_URL = 'http://127.0.0.1:5000/v3';
const openrc = { ...adminEnv(AUTH_URL), OS_INTERFACE: 'public' };

const clouds = {
  clouds: {
    prod: {
      auth: {
        auth_url: 'https://keystone.prod/v3/',
        username: 'kaas',
        project_name: 'k8s',
        user_domain_name: 'Ops',
      },
      region_name: 'Zurich',
      interface: 'internal',
      compute_endpoint_override: 'https://nova.prod/v2.1/',
      cacert: '/etc/ssl/prod.pem',
    },
    lab: {
      auth: { auth_url: 'http://lab/v3', username: 'u', password: 'p', project_id: 'p1' },
      verify: false,
    },
  },
};
const secure = { clouds: { prod: { auth: { password: 'from-secure' } } } };

describe('resolveCloudConfig', () => {
  it('builds the envvars cloud from an openrc', () => {
    const c = resolveCloudConfig({ env: openrc });
    expect(c).toEqual({ ...adminConfig(AUTH_URL), cloudName: 'envvars' });
  });

  it('maps the legacy OS_TENANT_NAME and the domain/cacert/interface variables', () => {
    const c = resolveCloudConfig({
      env: {
        OS_AUTH_URL: 'http://k/v3',
        OS_USERNAME: 'u',
        OS_PASSWORD: 'p',
        OS_TENANT_NAME: 't',
        OS_DOMAIN_NAME: 'D',
        OS_CACERT: '/ca.pem',
        OS_INTERFACE: 'internalURL',
        OS_USER_DOMAIN_ID: 'ud',
        OS_PROJECT_DOMAIN_ID: 'pd',
        OS_PROJECT_ID: 'pid',
      },
    });
    expect(c.auth).toMatchObject({
      projectName: 't',
      projectId: 'pid',
      domainName: 'D',
      userDomainId: 'ud',
      projectDomainId: 'pd',
    });
    expect(c.cacert).toBe('/ca.pem');
    expect(c.interface).toBe('internal');
  });

  it('uses the cloud named by OS_CLOUD with secure.yaml merged, and does not merge OS_* credentials into it', () => {
    const c = resolveCloudConfig({
      env: { ...openrc, OS_CLOUD: 'prod', OS_REGION_NAME: undefined },
      clouds,
      secure,
    });
    expect(c.cloudName).toBe('prod');
    expect(c.auth).toEqual({
      authUrl: 'https://keystone.prod/v3',
      username: 'kaas',
      password: 'from-secure',
      projectName: 'k8s',
      userDomainName: 'Ops',
    });
    expect(c.regionName).toBe('Zurich');
    expect(c.interface).toBe('internal');
    expect(c.cacert).toBe('/etc/ssl/prod.pem');
    expect(c.endpointOverrides).toEqual({ compute: 'https://nova.prod/v2.1' });
  });

  it('lets OS_REGION_NAME select the region of a named cloud, and an explicit region win over both', () => {
    const base = { env: { OS_CLOUD: 'prod', OS_REGION_NAME: 'Geneva' }, clouds, secure };
    expect(resolveCloudConfig(base).regionName).toBe('Geneva');
    expect(resolveCloudConfig({ ...base, regionName: 'Basel' }).regionName).toBe('Basel');
  });

  it('an explicit cloud name beats OS_CLOUD', () => {
    const c = resolveCloudConfig({ env: { OS_CLOUD: 'prod' }, clouds, secure, cloud: 'lab' });
    expect(c.cloudName).toBe('lab');
    expect(c.insecure).toBe(true);
    expect(c.auth.projectId).toBe('p1');
  });

  it('without OS_CLOUD, OS_* credentials win over clouds.yaml (the envvars cloud is the default)', () => {
    expect(resolveCloudConfig({ env: openrc, clouds }).cloudName).toBe('envvars');
  });

  it('selector variables alone do not make an envvars cloud; a single clouds.yaml entry is used', () => {
    const one = { clouds: { lab: clouds.clouds.lab } };
    expect(resolveCloudConfig({ env: { OS_REGION_NAME: 'X' }, clouds: one }).cloudName).toBe('lab');
  });

  it('refuses to guess between several clouds', () => {
    expect(() => resolveCloudConfig({ env: {}, clouds, secure, cloudsPath: '/home/u/clouds.yaml' })).toThrow(
      /Several clouds are defined in \/home\/u\/clouds.yaml \(prod, lab\); set OS_CLOUD/,
    );
  });

  it('names what to set when nothing is configured', () => {
    expect(() => resolveCloudConfig({ env: {} })).toThrow(
      /No OpenStack cloud is configured: set OS_CLOUD.*OS_AUTH_URL/,
    );
  });

  it('lists the defined clouds when OS_CLOUD names an unknown one', () => {
    expect(() => resolveCloudConfig({ env: { OS_CLOUD: 'nope' }, clouds })).toThrow(
      /Cloud "nope" is not defined \(clouds.yaml defines: prod, lab\)/,
    );
  });

  it('reports missing pieces of the credentials', () => {
    expect(() => resolveCloudConfig({ env: { OS_USERNAME: 'u' } })).toThrow(/no auth_url.*OS_AUTH_URL/);
    expect(() => resolveCloudConfig({ env: { OS_AUTH_URL: 'http://k/v3', OS_USERNAME: 'u' } })).toThrow(
      /no password.*OS_PASSWORD/,
    );
    expect(() => resolveCloudConfig({ env: { OS_AUTH_URL: 'http://k/v3', OS_PASSWORD: 'p' } })).toThrow(
      /no username.*OS_USERNAME/,
    );
    expect(() =>
      resolveCloudConfig({ env: { OS_AUTH_URL: 'http://k/v3', OS_AUTH_TYPE: 'token', OS_TOKEN: 'x' } }),
    ).toThrow(/auth_type "token" is not supported/);
    expect(() =>
      resolveCloudConfig({
        env: { OS_AUTH_URL: 'http://k/v3', OS_USERNAME: 'u', OS_PASSWORD: 'p', OS_INTERFACE: 'x' },
      }),
    ).toThrow(/interface "x"/);
  });

  it('supports application credentials by id, or by name with the user', () => {
    const byId = resolveCloudConfig({
      env: {
        OS_AUTH_URL: 'http://k/v3',
        OS_AUTH_TYPE: 'v3applicationcredential',
        OS_APPLICATION_CREDENTIAL_ID: 'ac1',
        OS_APPLICATION_CREDENTIAL_SECRET: 's',
      },
    });
    expect(byId.authType).toBe('application_credential');
    expect(byId.auth).toMatchObject({ applicationCredentialId: 'ac1', applicationCredentialSecret: 's' });
    const byName = resolveCloudConfig({
      env: {
        OS_AUTH_URL: 'http://k/v3',
        OS_APPLICATION_CREDENTIAL_NAME: 'n',
        OS_APPLICATION_CREDENTIAL_SECRET: 's',
        OS_USERNAME: 'u',
      },
    });
    expect(byName.authType).toBe('application_credential');
    expect(() =>
      resolveCloudConfig({ env: { OS_AUTH_URL: 'http://k/v3', OS_AUTH_TYPE: 'v3applicationcredential' } }),
    ).toThrow(/no secret/);
    expect(() =>
      resolveCloudConfig({
        env: {
          OS_AUTH_URL: 'http://k/v3',
          OS_APPLICATION_CREDENTIAL_NAME: 'n',
          OS_APPLICATION_CREDENTIAL_SECRET: 's',
        },
      }),
    ).toThrow(/application_credential_name with the username/);
  });

  it('rejects a clouds.yaml cloud that clashes with the envvars cloud name', () => {
    expect(() =>
      resolveCloudConfig({ env: openrc, clouds: { clouds: { envvars: clouds.clouds.lab } } }),
    ).toThrow(/also the name of the cloud built from OS_\* variables/);
  });
});

describe('loadCloudConfig', () => {
  const files: Record<string, string> = {
    '/home/u/.config/openstack/clouds.yaml':
      'clouds:\n  home:\n    auth: {auth_url: "http://home/v3", username: a, password: b}\n',
    '/etc/openstack/clouds.yaml':
      'clouds:\n  etc:\n    auth: {auth_url: "http://etc/v3", username: a, password: b}\n',
    '/custom/c.yaml': 'clouds:\n  custom:\n    auth: {auth_url: "http://custom/v3", username: a}\n',
    '/etc/openstack/secure.yaml': 'clouds:\n  custom:\n    auth: {password: s}\n',
    '/work/bad/clouds.yaml': 'clouds: [unclosed',
  };
  const readFile = (p: string) => files[p];

  it('takes the first clouds.yaml on the search path', () => {
    const noSecure = (p: string) => (p.includes('secure') ? undefined : files[p]);
    expect(loadCloudConfig({ env: {}, cwd: '/work', home: '/home/u', readFile: noSecure }).cloudName).toBe(
      'home',
    );
  });

  it('puts OS_CLIENT_CONFIG_FILE first and merges secure.yaml', () => {
    const c = loadCloudConfig({
      env: { OS_CLIENT_CONFIG_FILE: '/custom/c.yaml' },
      cwd: '/work',
      home: '/home/u',
      readFile,
    });
    expect(c.cloudName).toBe('custom');
    expect(c.auth.password).toBe('s');
  });

  it('reports invalid YAML with the file name', () => {
    expect(() => loadCloudConfig({ env: {}, cwd: '/work/bad', home: '/home/u', readFile })).toThrow(
      /\/work\/bad\/clouds.yaml is not valid YAML/,
    );
  });

  it('reads real files and ignores missing ones', () => {
    expect(() => loadCloudConfig({ env: {}, cwd: '/nonexistent', home: '/nonexistent' })).toThrow(
      /No OpenStack cloud/,
    );
  });

  it('search path follows openstacksdk order', () => {
    expect(configSearchPath({ OS_CLIENT_CONFIG_FILE: '/x.yaml' }, '/cwd', '/h').clouds).toEqual([
      '/x.yaml',
      '/cwd/clouds.yaml',
      '/cwd/clouds.yml',
      '/h/.config/openstack/clouds.yaml',
      '/h/.config/openstack/clouds.yml',
      '/etc/openstack/clouds.yaml',
      '/etc/openstack/clouds.yml',
    ]);
  });
});

describe('configForProject', () => {
  it('scopes the same password user to the project by id, nothing else changed', () => {
    const base = adminConfig('http://keystone.example:5000/v3');
    const scoped = configForProject(base, 'p-42');
    expect(scoped).toEqual({
      ...base,
      auth: {
        authUrl: base.auth.authUrl,
        username: 'admin',
        password: 'secret',
        userDomainName: 'Default',
        projectId: 'p-42',
      },
    });
    expect(configAuthBody(scoped.auth, scoped.authType)).toMatchObject({
      auth: { scope: { project: { id: 'p-42' } } },
    });
  });

  it('refuses an application credential, whose project is fixed', () => {
    const base = adminConfig('http://keystone.example:5000/v3');
    const appCred = {
      ...base,
      authType: 'application_credential' as const,
      auth: { authUrl: base.auth.authUrl, applicationCredentialId: 'ac1', applicationCredentialSecret: 's' },
    };
    expect(() => configForProject(appCred, 'p-42')).toThrow(
      expect.objectContaining({
        code: 'project_scope_fixed',
        message: expect.stringContaining('project p-42'),
      }),
    );
  });
});
