import type { Command } from 'commander';
import { configDir, execCredential, readClientConfig } from '../auth/client.ts';
import { AuthError } from '../errors.ts';
import { processDeps, type AuthCliDeps } from './login.ts';

/**
 * `kaas credential`: the kubectl exec credential plugin. Prints an ExecCredential with the token
 * `kaas login` saved on disk (0600), so kubectl never prompts or logs in per call:
 *   users: [{ name: kaas, user: { exec: { apiVersion: client.authentication.k8s.io/v1, command: kaas, args: [credential], interactiveMode: Never } } }]
 */
export function registerCredentialCommand(
  program: Command,
  deps: AuthCliDeps = processDeps(),
  now: () => Date = () => new Date(),
): Command {
  return program
    .command('credential')
    .description('print a kubectl ExecCredential with your kaas token (kubectl exec plugin)')
    .option(
      '--cluster <id>',
      'cluster kubectl is calling (a kaas token works on every cluster you have a role on)',
    )
    .action(() => {
      const config = readClientConfig(configDir(deps.env));
      const wanted = deps.env.KAAS_URL?.replace(/\/+$/, '');
      if (wanted && wanted !== config.url.replace(/\/+$/, ''))
        throw new AuthError(
          `you are logged in to ${config.url}, not ${wanted}: run \`kaas login --url ${wanted}\``,
          {
            code: 'wrong_server',
          },
        );
      if (Date.parse(config.expiresAt) <= now().getTime()) {
        throw new AuthError('your kaas token has expired: run `kaas login` again', { code: 'token_expired' });
      }
      deps.stdout.write(`${JSON.stringify(execCredential(config))}\n`);
    });
}
