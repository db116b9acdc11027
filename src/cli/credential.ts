import type { Command } from 'commander';
import { execCredential } from '../auth/clientConfig.ts';
import { savedLogin } from './savedLogin.ts';

/** What `kaas credential` needs from the process: kept this small so it loads nothing else. */
export interface CredentialDeps {
  env: Record<string, string | undefined>;
  stdout: NodeJS.WritableStream;
}

/**
 * `kaas credential`: the kubectl exec credential plugin. Prints an ExecCredential with the token
 * `kaas login` saved on disk (0600), so kubectl never prompts or logs in per call:
 *   users: [{ name: kaas, user: { exec: { apiVersion: client.authentication.k8s.io/v1, command: kaas, args: [credential], interactiveMode: Never } } }]
 * kubectl runs it before every request, so it imports only the saved login (no HTTP client, store or server).
 */
export function registerCredentialCommand(
  program: Command,
  deps: CredentialDeps = { env: process.env, stdout: process.stdout },
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
