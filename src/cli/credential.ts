import type { Command } from 'commander';
import { execCredential } from '../auth/client.ts';
import { processDeps, type AuthCliDeps } from './login.ts';
import { savedLogin } from './session.ts';

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
      const config = savedLogin(deps.env, now);
      deps.stdout.write(`${JSON.stringify(execCredential(config))}\n`);
    });
}
