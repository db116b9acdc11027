import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { AuthError, InputError } from '../errors.ts';

// The CLI's saved login, apart from the HTTP client (client.ts) so that `kaas credential`, run by
// kubectl on every call, reads it without loading undici.

/** What `kaas login` leaves on disk (0600): the server and an API token, so kubectl never logs in again. */
export interface ClientConfig {
  url: string;
  token: string;
  tokenId: string;
  expiresAt: string;
  user: { id: string; name: string; domain: string };
}

/** `$KAAS_CONFIG_DIR`, else `$XDG_CONFIG_HOME/kaas`, else `~/.config/kaas`. */
export function configDir(env: Record<string, string | undefined>): string {
  return env.KAAS_CONFIG_DIR ?? join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'kaas');
}

/** Reads the saved config; AuthError telling the user to log in when there is none. */
export function readClientConfig(dir: string): ClientConfig {
  let text: string;
  try {
    text = readFileSync(join(dir, 'config.json'), 'utf8');
  } catch {
    throw new AuthError('not logged in: run `kaas login` first', { code: 'not_logged_in' });
  }
  try {
    return JSON.parse(text) as ClientConfig;
  } catch (cause) {
    throw new InputError(`${join(dir, 'config.json')} is not valid JSON; run \`kaas login\` again`, {
      cause,
    });
  }
}

/** Saves the config readable by the owner only (directory 0700, file 0600). */
export function writeClientConfig(dir: string, config: ClientConfig): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'config.json');
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** The kubectl exec-plugin answer for a token (client.authentication.k8s.io/v1). */
export function execCredential(config: Pick<ClientConfig, 'token' | 'expiresAt'>) {
  return {
    apiVersion: 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    status: { token: config.token, expirationTimestamp: config.expiresAt },
  };
}
