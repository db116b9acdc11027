import { Agent } from 'undici';
import { configDir, kaasCall, readClientConfig, type ClientConfig, type KaasCall } from '../auth/client.ts';
import { AuthError } from '../errors.ts';
import { readCaFile } from './provisioner.ts';

type Env = Record<string, string | undefined>;

/**
 * The TLS trust of every CLI call to kaas: the system CAs, or only KAAS_CA_FILE's CA when set (a
 * private CA, as `kaas serve` deployments and the tests use). Certificates are always verified.
 */
export function kaasAgent(env: Env): Agent {
  return new Agent(env.KAAS_CA_FILE ? { connect: { ca: readCaFile(env.KAAS_CA_FILE) } } : {});
}

/** A logged-in connection to the kaas API: bearer-authenticated calls; close it when done. */
export interface KaasSession {
  url: string;
  call: KaasCall;
  close(): Promise<void>;
}

/**
 * What `kaas login` saved, checked: AuthError saying what to do when not logged in, logged in to
 * another server than KAAS_URL (when set), or when the token has expired.
 */
export function savedLogin(env: Env, now: () => Date): ClientConfig {
  const config = readClientConfig(configDir(env));
  const wanted = env.KAAS_URL?.replace(/\/+$/, '');
  if (wanted && wanted !== config.url.replace(/\/+$/, '')) {
    throw new AuthError(
      `you are logged in to ${config.url}, not ${wanted}: run \`kaas login --url ${wanted}\``,
      {
        code: 'wrong_server',
      },
    );
  }
  if (Date.parse(config.expiresAt) <= now().getTime())
    throw new AuthError('your kaas token has expired: run `kaas login` again', { code: 'token_expired' });
  return config;
}

/** Opens the API session `kaas login` saved (see {@link savedLogin}): its server and token. */
export function openSession(env: Env, now: () => Date = () => new Date()): KaasSession {
  const config = savedLogin(env, now);
  const saved = config.url.replace(/\/+$/, '');
  const agent = kaasAgent(env);
  const call = kaasCall(saved, { dispatcher: agent });
  const authorization = `Bearer ${config.token}`;
  return {
    url: saved,
    call: (method, path, init = {}) =>
      call(method, path, { ...init, headers: { ...init.headers, authorization } }),
    close: () => agent.close(),
  };
}
