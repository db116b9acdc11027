import { configDir, readClientConfig, type ClientConfig } from '../auth/clientConfig.ts';
import { AuthError } from '../errors.ts';

type Env = Record<string, string | undefined>;

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
