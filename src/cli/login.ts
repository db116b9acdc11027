import type { Command } from 'commander';
import { hostname } from 'node:os';
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import {
  configDir,
  kaasCall,
  kaasClient,
  readClientConfig,
  writeClientConfig,
  type ClientConfig,
} from '../auth/client.ts';
import { plainHttpAllowed } from '../auth/loopback.ts';
import { InputError, NotFoundError } from '../errors.ts';
import { kaasAgent } from './session.ts';

/** What the auth commands need from the process (injected so tests can drive them). */
export interface AuthCliDeps {
  env: Record<string, string | undefined>;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Default deps for main.ts: the real process streams and environment. */
export function processDeps(): AuthCliDeps {
  return { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
}

/**
 * Line prompts on stderr over one readline interface; secret answers are not echoed. At a terminal
 * readline reads it in raw mode and echoes what is typed itself, through `output`, which is muted
 * while a secret is typed (the terminal's own echo would show it). Ctrl-C there restores the
 * terminal and interrupts the process as it would outside raw mode.
 */
export function prompter(deps: AuthCliDeps) {
  let muted = false;
  let rl: ReturnType<typeof createInterface> | undefined;
  let lines: AsyncIterator<string> | undefined;
  const output = new Writable({
    write(chunk, _enc, cb) {
      if (!muted) deps.stderr.write(chunk);
      cb();
    },
  });
  const terminal = (deps.stdin as { isTTY?: boolean }).isTTY === true;
  return {
    async ask(question: string, secret = false): Promise<string> {
      if (!rl) {
        rl = createInterface({ input: deps.stdin, output, terminal });
        rl.on('SIGINT', () => {
          rl?.close();
          process.kill(process.pid, 'SIGINT');
        });
      }
      // The iterator buffers lines, so answers piped in before their question are not lost.
      lines ??= rl[Symbol.asyncIterator]();
      rl.setPrompt(question);
      rl.prompt();
      muted = secret;
      try {
        const next = await lines.next();
        if (next.done) throw new InputError(`no answer on stdin for "${question.trim() || 'password'}"`);
        return next.value.trim();
      } finally {
        muted = false;
        if (secret) deps.stderr.write('\n');
      }
    },
    close: () => rl?.close(),
  };
}

/** The kaas server URL as `source` (the flag or variable it came from) gave it: https, or http on loopback. */
export function kaasUrlFrom(value: string, source: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InputError(`${source} must be the kaas server's URL (https://…), got "${value}"`, {
      field: source,
    });
  }
  if (url.protocol === 'https:' || plainHttpAllowed(url)) return value.replace(/\/+$/, '');
  throw new InputError(
    `${source} must start with https:// (http:// only on 127.0.0.1 or localhost, as kaas dev serves), got "${value}"`,
    { field: source },
  );
}

/** The login saved before this one, if any, still readable. */
function previousLogin(dir: string): ClientConfig | undefined {
  try {
    return readClientConfig(dir);
  } catch {
    return undefined;
  }
}

/**
 * Revokes the token an earlier `kaas login` saved, so logins do not pile up tokens: with the new
 * token on the same server (an expired one can still be deleted by its owner), else with its own.
 * A token that is already gone is fine; any other failure is reported, not fatal.
 */
async function revokePrevious(
  previous: ClientConfig,
  current: ClientConfig,
  deps: AuthCliDeps,
): Promise<void> {
  if (previous.tokenId === current.tokenId) return;
  const sameServer = previous.url === current.url && previous.user.id === current.user.id;
  const bearer = sameServer ? current.token : previous.token;
  const agent = kaasAgent(deps.env);
  try {
    await kaasCall(previous.url, { dispatcher: agent })(
      'DELETE',
      `/api/v1/tokens/${encodeURIComponent(previous.tokenId)}`,
      { headers: { authorization: `Bearer ${bearer}` } },
    );
    deps.stderr.write(`revoked the token of your previous login (${previous.tokenId})\n`);
  } catch (error) {
    if (error instanceof NotFoundError) return;
    deps.stderr.write(
      `could not revoke the token of your previous login (${previous.tokenId} on ${previous.url}): ${(error as Error).message}; delete it with \`kaas token delete\` there\n`,
    );
  } finally {
    await agent.close();
  }
}

/**
 * `kaas login`: asks for (or takes from flags / KAAS_* env) URL, username, password and domain,
 * creates an API token for this machine and saves it in ~/.config/kaas/config.json (0600),
 * revoking the token the previous login saved there.
 */
export function registerLoginCommand(program: Command, deps: AuthCliDeps = processDeps()): Command {
  return program
    .command('login')
    .description('log in with your OpenStack (Keystone) credentials and save an API token for kubectl')
    .option('--url <url>', 'kaas server URL (env KAAS_URL; its CA in KAAS_CA_FILE when private)')
    .option('--username <name>', 'Keystone user name (env KAAS_USERNAME)')
    .option('--domain <name>', 'Keystone user domain (env KAAS_DOMAIN)', undefined)
    .option('--password-stdin', 'read the password from stdin (env KAAS_PASSWORD also works)')
    .action(async (opts: { url?: string; username?: string; domain?: string; passwordStdin?: boolean }) => {
      const env = deps.env;
      const prompt = prompter(deps);
      let url: string, username: string, password: string;
      const urlSource = opts.url ? '--url' : env.KAAS_URL ? 'KAAS_URL' : 'the kaas URL';
      try {
        url = kaasUrlFrom(opts.url ?? env.KAAS_URL ?? (await prompt.ask('kaas URL: ')), urlSource);
        username = opts.username ?? env.KAAS_USERNAME ?? (await prompt.ask('Username: '));
        password = env.KAAS_PASSWORD ?? (await prompt.ask(opts.passwordStdin ? '' : 'Password: ', true));
      } finally {
        prompt.close();
      }
      const domain = opts.domain ?? env.KAAS_DOMAIN ?? 'Default';
      if (!username || !password) throw new InputError('username and password are required');
      const agent = kaasAgent(env);
      let config;
      try {
        config = await kaasClient(url, { dispatcher: agent }).loginForToken({
          username,
          password,
          domain,
          tokenName: `kaas-cli@${hostname()}`,
        });
      } finally {
        await agent.close();
      }
      const dir = configDir(env);
      const previous = previousLogin(dir);
      writeClientConfig(dir, config);
      if (previous) await revokePrevious(previous, config, deps);
      deps.stderr.write(
        `logged in as ${config.user.name} (${config.user.domain}); token expires ${config.expiresAt}\n`,
      );
    });
}
