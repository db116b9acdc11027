import { Agent } from 'undici';
import { kaasCall, type KaasCall } from '../auth/client.ts';
import { AuthError, InputError } from '../errors.ts';
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

/**
 * Opens the API session `kaas login` saved (see {@link savedLogin}): its server and token. When
 * the server refuses the token (revoked, expired, its user disabled), the error says to log in again.
 */
export function openSession(env: Env, now: () => Date = () => new Date()): KaasSession {
  const config = savedLogin(env, now);
  const saved = config.url.replace(/\/+$/, '');
  const agent = kaasAgent(env);
  const call = kaasCall(saved, { dispatcher: agent });
  const authorization = `Bearer ${config.token}`;
  return {
    url: saved,
    call: async (method, path, init = {}) => {
      try {
        return await call(method, path, { ...init, headers: { ...init.headers, authorization } });
      } catch (error) {
        if (!(error instanceof AuthError)) throw error;
        throw new AuthError(
          `${saved} no longer accepts your saved login (${error.message}): it was revoked or has expired; run \`kaas login\``,
          { code: error.code, cause: error },
        );
      }
    },
    close: () => agent.close(),
  };
}

/**
 * Runs `work`, restating an InputError about a request field (`expiresInDays`) in terms of the
 * flag the user typed (`--expires-in-days`), so messages never name internal fields.
 */
export async function inTermsOf<T>(flags: Record<string, string>, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const field = error instanceof InputError ? error.field : undefined;
    const flag = field === undefined ? undefined : flags[field];
    if (!flag || !(error instanceof InputError) || field === undefined) throw error;
    const message = error.message.startsWith(field)
      ? `${flag}${error.message.slice(field.length)}`
      : `${error.message} (${flag})`;
    throw new InputError(message, { code: error.code, field: flag, cause: error });
  }
}
