import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConflictError, InputError } from '../errors.ts';

/** Which Keystone auth method the session uses. */
export type AuthType = 'password' | 'application_credential';

/** Endpoint interface in the service catalog. */
export type EndpointInterface = 'public' | 'internal' | 'admin';

/** Keystone credentials and scope, as clouds.yaml's `auth:` block names them (camelCased). */
export interface AuthOptions {
  authUrl: string;
  username?: string;
  userId?: string;
  password?: string;
  userDomainName?: string;
  userDomainId?: string;
  projectName?: string;
  projectId?: string;
  projectDomainName?: string;
  projectDomainId?: string;
  /** Domain scope (when no project is given) and default for user/project domains. */
  domainName?: string;
  domainId?: string;
  applicationCredentialId?: string;
  applicationCredentialName?: string;
  applicationCredentialSecret?: string;
}

/** One resolved cloud: everything a session needs to authenticate and pick endpoints. */
export interface CloudConfig {
  /** Name of the clouds.yaml entry, or `envvars` when built from `OS_*` variables. */
  cloudName: string;
  authType: AuthType;
  auth: AuthOptions;
  regionName?: string;
  interface: EndpointInterface;
  /** PEM CA bundle path for TLS verification. */
  cacert?: string;
  /** `verify: false` in clouds.yaml; only for labs. */
  insecure: boolean;
  /** Service type → base URL, from `<service>_endpoint_override` keys. */
  endpointOverrides: Record<string, string>;
}

/** The inputs of {@link resolveCloudConfig}: the environment and the parsed config files. */
export interface CloudConfigSources {
  env: Record<string, string | undefined>;
  /** Parsed `clouds.yaml` (first one found on the search path), if any. */
  clouds?: unknown;
  /** Parsed `secure.yaml` (first one found), merged over `clouds`. */
  secure?: unknown;
  /** Path the clouds document came from, for error messages. */
  cloudsPath?: string;
  /** Cloud to use; overrides `OS_CLOUD`. */
  cloud?: string;
  /** Region to use; overrides the cloud's and `OS_REGION_NAME`. */
  regionName?: string;
}

/**
 * Variables that only select or locate a cloud. As in openstacksdk, these alone do not make
 * an `envvars` cloud.
 */
const SELECTOR_VARS = new Set([
  'OS_CLOUD',
  'OS_REGION_NAME',
  'OS_CLIENT_CONFIG_FILE',
  'OS_CLIENT_SECURE_FILE',
  'OS_CLOUD_NAME',
]);

/** Keys that belong in the `auth:` block when they appear at the top level (env vars do). */
const AUTH_KEYS = new Set([
  'auth_url',
  'username',
  'user_id',
  'password',
  'user_domain_name',
  'user_domain_id',
  'project_name',
  'project_id',
  'project_domain_name',
  'project_domain_id',
  'domain_name',
  'domain_id',
  'tenant_name',
  'tenant_id',
  'application_credential_id',
  'application_credential_name',
  'application_credential_secret',
]);

type Dict = Record<string, unknown>;

function isDict(v: unknown): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge (objects merged key by key, everything else replaced), like openstacksdk's merge_clouds. */
function merge(base: Dict, over: Dict): Dict {
  const out: Dict = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const prev = out[k];
    out[k] = isDict(prev) && isDict(v) ? merge(prev, v) : v;
  }
  return out;
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Builds the `envvars` cloud from `OS_*` variables, or undefined when only selectors are set. */
function envCloud(env: Record<string, string | undefined>): Dict | undefined {
  const keys = Object.keys(env).filter(
    (k) =>
      k.startsWith('OS_') &&
      !k.startsWith('OS_TEST') &&
      !k.startsWith('OS_STD') &&
      !k.startsWith('OS_LOG') &&
      env[k] !== undefined &&
      env[k] !== '',
  );
  if (!keys.some((k) => !SELECTOR_VARS.has(k))) return undefined;
  const cloud: Dict = {};
  for (const k of keys) {
    if (k === 'OS_CLOUD' || k === 'OS_CLIENT_CONFIG_FILE' || k === 'OS_CLIENT_SECURE_FILE') continue;
    cloud[k.slice(3).toLowerCase()] = env[k];
  }
  return cloud;
}

/** Moves auth keys found at the top level into `auth`, and renames the tenant aliases. */
function normalizeCloud(raw: Dict): { top: Dict; auth: Dict } {
  const top: Dict = {};
  const auth: Dict = isDict(raw.auth) ? { ...raw.auth } : {};
  for (const [key, value] of Object.entries(raw)) {
    const k = key.replace(/-/g, '_');
    if (k === 'auth') continue;
    if (AUTH_KEYS.has(k)) {
      if (auth[k] === undefined) auth[k] = value;
    } else {
      top[k] = value;
    }
  }
  if (auth.project_name === undefined && auth.tenant_name !== undefined) auth.project_name = auth.tenant_name;
  if (auth.project_id === undefined && auth.tenant_id !== undefined) auth.project_id = auth.tenant_id;
  return { top, auth };
}

function toAuthType(value: string | undefined, auth: Dict, where: string): AuthType {
  const v = (value ?? '').toLowerCase();
  if (v === '' || v === 'password' || v === 'v3password') {
    if (v === '' && (auth.application_credential_id || auth.application_credential_name))
      return 'application_credential';
    return 'password';
  }
  if (v === 'application_credential' || v === 'v3applicationcredential') return 'application_credential';
  throw new InputError(
    `${where}: auth_type "${value}" is not supported; use "password" or "v3applicationcredential"`,
    { field: 'auth_type' },
  );
}

const SEARCH_HINT =
  'set OS_CLOUD to a cloud in clouds.yaml (./clouds.yaml, ~/.config/openstack/clouds.yaml, ' +
  '/etc/openstack/clouds.yaml or OS_CLIENT_CONFIG_FILE), or source an openrc that sets OS_AUTH_URL, ' +
  'OS_USERNAME, OS_PASSWORD and OS_PROJECT_NAME';

/**
 * Resolves the cloud to use, with openstacksdk's rules so a user's existing setup just works:
 * the first clouds.yaml found (with secure.yaml merged over it) provides named clouds; `OS_*`
 * variables form one more cloud named `envvars` (or `OS_CLOUD_NAME`). The cloud used is the
 * explicit `cloud`, else `OS_CLOUD`, else `envvars` when `OS_*` credentials are set, else the only
 * cloud in clouds.yaml. Like openstacksdk (and unlike the `openstack` CLI, whose command-line
 * defaults come from the environment), `OS_*` credentials are NOT merged into a named cloud;
 * only `OS_REGION_NAME` is honoured as a region selector for it.
 */
export function resolveCloudConfig(sources: CloudConfigSources): CloudConfig {
  const { env } = sources;
  const where = sources.cloudsPath ?? 'clouds.yaml';
  let doc: Dict = isDict(sources.clouds) ? sources.clouds : {};
  if (isDict(sources.secure)) doc = merge(doc, sources.secure);
  const clouds: Dict = isDict(doc.clouds) ? { ...doc.clouds } : {};

  const envvarKey = str(env.OS_CLOUD_NAME) ?? 'envvars';
  const fromEnv = envCloud(env);
  if (fromEnv) {
    if (clouds[envvarKey] !== undefined) {
      throw new InputError(
        `${where} defines a cloud named "${envvarKey}", which is also the name of the cloud built from ` +
          `OS_* variables; rename one of them (or set OS_CLOUD_NAME)`,
      );
    }
    clouds[envvarKey] = fromEnv;
  }

  let name = sources.cloud ?? str(env.OS_CLOUD);
  if (!name && fromEnv) name = envvarKey;
  if (!name) {
    const names = Object.keys(clouds);
    if (names.length === 1) name = names[0];
    else if (names.length === 0) throw new InputError(`No OpenStack cloud is configured: ${SEARCH_HINT}`);
    else
      throw new InputError(
        `Several clouds are defined in ${where} (${names.join(', ')}); set OS_CLOUD to the one to use`,
      );
  }
  const raw = name === undefined ? undefined : clouds[name];
  if (!isDict(raw)) {
    const names = Object.keys(clouds);
    throw new InputError(
      `Cloud "${name}" is not defined` +
        (names.length > 0 ? ` (${where} defines: ${names.join(', ')})` : `: ${SEARCH_HINT}`),
      { field: 'OS_CLOUD' },
    );
  }
  const cloudName = name as string;

  const { top, auth } = normalizeCloud(raw);
  const authUrl = str(auth.auth_url);
  if (!authUrl) {
    throw new InputError(
      `Cloud "${cloudName}" has no auth_url: set auth.auth_url in ${where} or OS_AUTH_URL`,
      {
        field: 'auth_url',
      },
    );
  }
  const authType = toAuthType(str(top.auth_type), auth, `Cloud "${cloudName}"`);
  const a: AuthOptions = { authUrl: authUrl.replace(/\/+$/, '') };
  const fields: [keyof AuthOptions, string][] = [
    ['username', 'username'],
    ['userId', 'user_id'],
    ['password', 'password'],
    ['userDomainName', 'user_domain_name'],
    ['userDomainId', 'user_domain_id'],
    ['projectName', 'project_name'],
    ['projectId', 'project_id'],
    ['projectDomainName', 'project_domain_name'],
    ['projectDomainId', 'project_domain_id'],
    ['domainName', 'domain_name'],
    ['domainId', 'domain_id'],
    ['applicationCredentialId', 'application_credential_id'],
    ['applicationCredentialName', 'application_credential_name'],
    ['applicationCredentialSecret', 'application_credential_secret'],
  ];
  for (const [key, src] of fields) {
    const v = str(auth[src]);
    if (v !== undefined) a[key] = v;
  }

  if (authType === 'password') {
    if (!a.username && !a.userId)
      throw new InputError(`Cloud "${cloudName}" has no username: set auth.username or OS_USERNAME`, {
        field: 'username',
      });
    if (!a.password)
      throw new InputError(
        `Cloud "${cloudName}" has no password: set auth.password (secure.yaml) or OS_PASSWORD`,
        {
          field: 'password',
        },
      );
  } else {
    if (!a.applicationCredentialSecret)
      throw new InputError(
        `Cloud "${cloudName}" uses an application credential but has no secret: set ` +
          `auth.application_credential_secret or OS_APPLICATION_CREDENTIAL_SECRET`,
        { field: 'application_credential_secret' },
      );
    if (!a.applicationCredentialId && !(a.applicationCredentialName && (a.username || a.userId)))
      throw new InputError(
        `Cloud "${cloudName}" needs application_credential_id, or application_credential_name with the username`,
        { field: 'application_credential_id' },
      );
  }

  const iface = (str(top.interface) ?? 'public').replace(/URL$/i, '').toLowerCase();
  if (iface !== 'public' && iface !== 'internal' && iface !== 'admin') {
    throw new InputError(`Cloud "${cloudName}": interface "${iface}" must be public, internal or admin`, {
      field: 'interface',
    });
  }

  const endpointOverrides: Record<string, string> = {};
  for (const [k, v] of Object.entries(top)) {
    const m = /^(.+)_endpoint_override$/.exec(k);
    const url = str(v);
    if (m?.[1] && url) endpointOverrides[m[1].replace(/_/g, '-')] = url.replace(/\/+$/, '');
  }

  const verify = top.verify;
  const insecure =
    verify === false || str(verify)?.toLowerCase() === 'false' || str(top.insecure)?.toLowerCase() === 'true';
  const regionName = sources.regionName ?? str(env.OS_REGION_NAME) ?? str(top.region_name);
  const cacert = str(top.cacert);
  return {
    cloudName,
    authType,
    auth: a,
    ...(regionName ? { regionName } : {}),
    interface: iface,
    ...(cacert ? { cacert } : {}),
    insecure,
    endpointOverrides,
  };
}

/** The clouds.yaml / secure.yaml search path, in openstacksdk's order (first file found wins). */
export function configSearchPath(
  env: Record<string, string | undefined>,
  cwd: string,
  home: string,
): { clouds: string[]; secure: string[] } {
  const dirs = [cwd, join(home, '.config', 'openstack'), '/etc/openstack'];
  const names = (base: string) => dirs.flatMap((d) => [join(d, `${base}.yaml`), join(d, `${base}.yml`)]);
  const clouds = names('clouds');
  const secure = names('secure');
  if (env.OS_CLIENT_CONFIG_FILE) clouds.unshift(env.OS_CLIENT_CONFIG_FILE);
  if (env.OS_CLIENT_SECURE_FILE) secure.unshift(env.OS_CLIENT_SECURE_FILE);
  return { clouds, secure };
}

function readFirst(paths: string[], readFile: (p: string) => string | undefined) {
  for (const path of paths) {
    const text = readFile(path);
    if (text === undefined) continue;
    try {
      return { path, doc: parseYaml(text) as unknown };
    } catch (cause) {
      throw new InputError(`${path} is not valid YAML: ${(cause as Error).message}`, { cause });
    }
  }
  return undefined;
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}

/** Reads clouds.yaml/secure.yaml from the usual places and resolves the cloud to use. */
export function loadCloudConfig(
  options: {
    env?: Record<string, string | undefined>;
    cloud?: string;
    regionName?: string;
    cwd?: string;
    home?: string;
    readFile?: (path: string) => string | undefined;
  } = {},
): CloudConfig {
  const env = options.env ?? process.env;
  const paths = configSearchPath(env, options.cwd ?? process.cwd(), options.home ?? homedir());
  const readFile = options.readFile ?? readIfExists;
  const clouds = readFirst(paths.clouds, readFile);
  const secure = readFirst(paths.secure, readFile);
  return resolveCloudConfig({
    env,
    clouds: clouds?.doc,
    secure: secure?.doc,
    ...(clouds ? { cloudsPath: clouds.path } : {}),
    ...(options.cloud ? { cloud: options.cloud } : {}),
    ...(options.regionName ? { regionName: options.regionName } : {}),
  });
}

/**
 * The same user and endpoints scoped to another project (by id): how kaas acts in a cluster's own
 * project. An application credential is bound to one project and cannot be re-scoped, so it is
 * refused with a ConflictError that says so.
 */
export function configForProject(config: CloudConfig, projectId: string): CloudConfig {
  if (config.authType === 'application_credential') {
    throw new ConflictError(
      `kaas authenticates with an application credential (cloud "${config.cloudName}"), which is bound to its own project and cannot act in project ${projectId}; give kaas a password for its service user to build clusters in other projects`,
      { code: 'project_scope_fixed' },
    );
  }
  const {
    projectName: _name,
    projectDomainName: _domainName,
    projectDomainId: _domainId,
    ...auth
  } = config.auth;
  return { ...config, auth: { ...auth, projectId } };
}
