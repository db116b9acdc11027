import type { Command } from 'commander';
import { configDir, kaasClient, readClientConfig } from '../auth/client.ts';
import { InputError } from '../errors.ts';
import { processDeps, prompter, type AuthCliDeps } from './login.ts';
import { kaasAgent } from './session.ts';

/**
 * `kaas token create|list|delete`: list and delete with the token saved by `kaas login`; create
 * logs in with the password again, since the server lets only password sessions mint tokens.
 */
export function registerTokenCommand(program: Command, deps: AuthCliDeps = processDeps()): Command {
  const token = program.command('token').description('manage your kaas API tokens');
  const client = () => {
    const config = readClientConfig(configDir(deps.env));
    return { api: kaasClient(config.url, { dispatcher: kaasAgent(deps.env) }), token: config.token };
  };
  token
    .command('create')
    .description(
      'create a token (printed once; store it safely). Asks for your password (or KAAS_PASSWORD): only a password login mints tokens',
    )
    .requiredOption('--name <name>', 'what the token is for')
    .option('--expires-in-days <days>', 'lifetime in days (default 365, at most 730)')
    .option(
      '--cluster <id-or-name>',
      'restrict the token to this cluster (repeat for several); default every cluster',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--password-stdin', 'read the password from stdin (env KAAS_PASSWORD also works)')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(
      async (opts: {
        name: string;
        expiresInDays?: string;
        cluster?: string[];
        passwordStdin?: boolean;
        output: string;
      }) => {
        const days = opts.expiresInDays === undefined ? undefined : Number(opts.expiresInDays);
        if (days !== undefined && !Number.isInteger(days))
          throw new InputError('--expires-in-days must be a whole number');
        const config = readClientConfig(configDir(deps.env));
        let password = deps.env.KAAS_PASSWORD;
        if (!password) {
          const prompt = prompter(deps);
          try {
            password = await prompt.ask(
              opts.passwordStdin ? '' : `Password for ${config.user.name} (${config.user.domain}): `,
              true,
            );
          } finally {
            prompt.close();
          }
        }
        if (!password) throw new InputError('a password is required to create a token');
        const agent = kaasAgent(deps.env);
        let created;
        try {
          created = await kaasClient(config.url, { dispatcher: agent }).createToken(
            { username: config.user.name, password, domain: config.user.domain },
            {
              name: opts.name,
              ...(days !== undefined ? { expiresInDays: days } : {}),
              ...(opts.cluster ? { clusters: opts.cluster } : {}),
            },
          );
        } finally {
          await agent.close();
        }
        if (opts.output === 'json') deps.stdout.write(`${JSON.stringify(created)}\n`);
        else {
          deps.stdout.write(`${created.token}\n`);
          const scope = created.clusters ? ` (clusters ${created.clusters.join(', ')})` : '';
          deps.stderr.write(
            `token ${created.id} "${created.name}"${scope} expires ${created.expiresAt}; it is shown only once\n`,
          );
        }
      },
    );
  token
    .command('list')
    .description('list your tokens (never their secrets)')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: { output: string }) => {
      const { api, token: bearer } = client();
      const items = await api.listTokens(bearer);
      if (opts.output === 'json') {
        deps.stdout.write(`${JSON.stringify({ items })}\n`);
        return;
      }
      deps.stdout.write(
        [
          'ID\tNAME\tCREATED\tEXPIRES\tLAST USED\tCLUSTERS',
          ...items.map(
            (t) =>
              `${t.id}\t${t.name}\t${t.createdAt}\t${t.expiresAt}\t${t.lastUsedAt ?? '-'}\t${t.clusters?.join(',') ?? '*'}`,
          ),
        ].join('\n') + '\n',
      );
    });
  token
    .command('delete')
    .description('delete one of your tokens')
    .argument('<id>', 'token id (from `kaas token list`)')
    .action(async (id: string) => {
      const { api, token: bearer } = client();
      await api.deleteToken(bearer, id);
      deps.stderr.write(`deleted token ${id}\n`);
    });
  return token;
}
