import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { AuthError, InputError, UpstreamError } from '../errors.ts';
import { DetachedError, exitCodeFor, reportError } from './exit.ts';

describe('cli exit codes', () => {
  it('maps domain errors to distinct codes', () => {
    expect(exitCodeFor(new InputError('x'))).toBe(2);
    expect(exitCodeFor(new AuthError('x'))).toBe(3);
    expect(exitCodeFor(new UpstreamError('x'))).toBe(7);
    expect(exitCodeFor(new Error('x'))).toBe(1);
  });

  it('exits 2 on a usage error, 0 after help or --version, printing nothing more than commander did', () => {
    let out = '';
    const sink = new Writable({ write: (c, _e, cb) => ((out += c.toString()), cb()) });
    const unknown = new CommanderError(1, 'commander.unknownOption', "error: unknown option '--nope'");
    expect(reportError(unknown, sink)).toBe(2);
    expect(exitCodeFor(new CommanderError(0, 'commander.version', '0.1.0'))).toBe(0);
    expect(out).toBe('');
  });

  it('exits 130 when following a job was interrupted, as a shell does for Ctrl-C', () => {
    expect(exitCodeFor(new DetachedError('job keeps running'))).toBe(130);
  });

  it('prints the message and code without a stack for domain errors', () => {
    let out = '';
    const sink = new Writable({ write: (c, _e, cb) => ((out += c.toString()), cb()) });
    expect(reportError(new InputError('name is required', { field: 'name' }), sink)).toBe(2);
    expect(out).toBe('kaas: name is required (invalid_input)\n');
  });
});
