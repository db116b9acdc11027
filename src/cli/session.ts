import { Agent } from 'undici';
import { kaasCall, type KaasCall } from '../auth/client.ts';
import { readCaFile } from './caFile.ts';
import { savedLogin } from './savedLogin.ts';

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
