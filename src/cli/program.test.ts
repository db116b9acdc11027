import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from './commands.ts';
import { buildProgram, commandNamed } from './program.ts';

describe('kaas command line', () => {
  it('names the command being run: the first operand, or the one after help', () => {
    expect(commandNamed(['credential', '--cluster', 'c1'])).toBe('credential');
    expect(commandNamed(['--help'])).toBeUndefined();
    expect(commandNamed([])).toBeUndefined();
    expect(commandNamed(['help', 'cluster'])).toBe('cluster');
    expect(commandNamed(['cluster', 'show', 'x'])).toBe('cluster');
  });

  // Loads every command, the server's included: slow under a busy suite, hence the longer timeout.
  it(
    "lists every command by its summary, which is the loaded command's own description",
    { timeout: 120_000 },
    async () => {
      for (const entry of COMMANDS) {
        const program = new Command('kaas');
        await entry.register(program);
        expect(program.commands.map((c) => c.name())).toEqual([entry.name]);
        expect(program.commands[0]?.description()).toBe(entry.summary);
      }
    },
  );

  it('loads only the command being run; the others are listed by name and summary', async () => {
    const program = await buildProgram(['credential']);
    expect(program.commands.map((c) => c.name())).toEqual(COMMANDS.map((c) => c.name));
    const credential = program.commands.find((c) => c.name() === 'credential');
    expect(credential?.options.map((o) => o.long)).toEqual(['--cluster']);
    const cluster = program.commands.find((c) => c.name() === 'cluster');
    expect(cluster?.commands).toEqual([]);
    expect(cluster?.description()).toBe('create and operate Kubernetes clusters');
    const help = await buildProgram(['help', 'cluster']);
    expect(help.commands.find((c) => c.name() === 'cluster')?.commands.length).toBeGreaterThan(0);
  });

  it('refuses an unknown command with its name and the help', async () => {
    const program = await buildProgram(['nope']);
    let stderr = '';
    program.exitOverride().configureOutput({ writeErr: (s) => void (stderr += s) });
    await expect(program.parseAsync(['node', 'kaas', 'nope'])).rejects.toThrow(/unknown command/);
    expect(stderr).toMatch(/unknown command 'nope'/);
  });
});
