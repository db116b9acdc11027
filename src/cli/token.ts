import type { Command } from 'commander';
import { configDir, kaasClient, readClientConfig } from '../auth/client.ts';
import { InputError } from '../errors.ts';
import { processDeps, type AuthCliDeps } from './login.ts';
import { kaasAgent } from './session.ts';

/** `kaas token create|list|delete`: manage your API tokens with the token saved by `kaas login`. */
export function registerTokenCommand(program: Command, deps: AuthCliDeps = processDeps()): Command {
  const token = program.command('token').description('manage your kaas API tokens');
  const client = () => {
    const config = readClientConfig(configDir(deps.env));
    return { api: kaasClient(config.url, { dispatcher: kaasAgent(deps.env) }), token: config.token };
  };
  token
    .command('create')
    .description('create a token (printed once; store it safely)')
    .requiredOption('--name <name>', 'what the token is for')
    .option('--expires-in-days <days>', 'lifetime in days (default 365, at most 730)')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: { name: string; expiresInDays?: string; output: string }) => {
      const days = opts.expiresInDays === undefined ? undefined : Number(opts.expiresInDays);
      if (days !== undefined && !Number.isInteger(days))
        throw new InputError('--expires-in-days must be a whole number');
      const { api, token: bearer } = client();
      const created = await api.createToken(bearer, {
        name: opts.name,
        ...(days !== undefined ? { expiresInDays: days } : {}),
      });
      if (opts.output === 'json') deps.stdout.write(`${JSON.stringify(created)}\n`);
      else {
        deps.stdout.write(`${created.token}\n`);
        deps.stderr.write(
          `token ${created.id} "${created.name}" expires ${created.expiresAt}; it is shown only once\n`,
        );
      }
    });
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
          'ID\tNAME\tCREATED\tEXPIRES\tLAST USED',
          ...items.map((t) => `${t.id}\t${t.name}\t${t.createdAt}\t${t.expiresAt}\t${t.lastUsedAt ?? '-'}`),
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
