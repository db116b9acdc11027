import type { Command } from 'commander';
import { configDir, kaasClient, readClientConfig } from '../auth/client.ts';
import type { TokenInfo } from '../auth/service.ts';
import { InputError } from '../errors.ts';
import { processDeps, prompter, type AuthCliDeps } from './login.ts';
import { formatOutput, table, withOutput, type OutputFormat } from './output.ts';
import { inTermsOf, kaasAgent, openSession, type KaasSession } from './session.ts';

/** The token API's request fields, as the flags of `kaas token create` that set them. */
const TOKEN_FLAGS = { name: '--name', expiresInDays: '--expires-in-days', clusters: '--cluster' };

/**
 * `kaas token create|list|delete`: list and delete with the token saved by `kaas login`; create
 * logs in with the password again, since the server lets only password sessions mint tokens.
 */
export function registerTokenCommand(program: Command, deps: AuthCliDeps = processDeps()): Command {
  const token = program.command('token').description('manage your kaas API tokens');
  async function withSession<T>(work: (s: KaasSession) => Promise<T>): Promise<T> {
    const session = openSession(deps.env);
    try {
      return await work(session);
    } finally {
      await session.close();
    }
  }
  withOutput(
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
      .option('--password-stdin', 'read the password from stdin (env KAAS_PASSWORD also works)'),
  ).action(
    async (opts: {
      name: string;
      expiresInDays?: string;
      cluster?: string[];
      passwordStdin?: boolean;
      output: OutputFormat;
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
        created = await inTermsOf(TOKEN_FLAGS, () =>
          kaasClient(config.url, { dispatcher: agent }).createToken(
            { username: config.user.name, password, domain: config.user.domain },
            {
              name: opts.name,
              ...(days !== undefined ? { expiresInDays: days } : {}),
              ...(opts.cluster ? { clusters: opts.cluster } : {}),
            },
          ),
        );
      } finally {
        await agent.close();
      }
      if (opts.output === 'json' || opts.output === 'yaml')
        deps.stdout.write(formatOutput(opts.output, created, () => ''));
      else {
        deps.stdout.write(`${created.token}\n`);
        const scope = created.clusters ? ` (clusters ${created.clusters.join(', ')})` : '';
        deps.stderr.write(
          `token ${created.id} "${created.name}"${scope} expires ${created.expiresAt}; it is shown only once\n`,
        );
      }
    },
  );
  withOutput(token.command('list').description('list your tokens (never their secrets)')).action(
    async (opts: { output: OutputFormat }) => {
      const items = await withSession(
        async (s) => (await s.call<{ items: TokenInfo[] }>('GET', '/api/v1/tokens')).body.items,
      );
      deps.stdout.write(
        formatOutput(opts.output, { items }, (wide) =>
          table(
            ['ID', 'NAME', 'EXPIRES', 'LAST USED', 'CLUSTERS', ...(wide ? ['CREATED'] : [])],
            items.map((t) => [
              t.id,
              t.name,
              t.expiresAt,
              t.lastUsedAt ?? '-',
              t.clusters?.join(',') ?? '*',
              ...(wide ? [t.createdAt] : []),
            ]),
          ),
        ),
      );
    },
  );
  token
    .command('delete')
    .description('delete one of your tokens')
    .argument('<id>', 'token id (from `kaas token list`)')
    .action(async (id: string) => {
      await withSession((s) => s.call('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`));
      deps.stderr.write(`deleted token ${id}\n`);
    });
  return token;
}
