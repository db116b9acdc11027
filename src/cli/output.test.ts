import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { formatOutput, outputFormat, table } from './output.ts';

describe('CLI output', () => {
  it('aligns table columns to the widest cell, without trailing spaces', () => {
    expect(
      table(
        ['NAME', 'ID', 'STATUS'],
        [
          ['a-long-name', 'c1', 'ready'],
          ['b', 'c123456', ''],
        ],
      ),
    ).toBe(
      ['NAME         ID       STATUS', 'a-long-name  c1       ready', 'b            c123456'].join('\n'),
    );
  });

  it('renders json, yaml, text and wide from the same data', () => {
    const data = { items: [{ name: 'a' }] };
    const human = (wide: boolean) => (wide ? 'a wide' : 'a');
    expect(JSON.parse(formatOutput('json', data, human))).toEqual(data);
    expect(parse(formatOutput('yaml', data, human))).toEqual(data);
    expect(formatOutput('text', data, human)).toBe('a\n');
    expect(formatOutput('wide', data, human)).toBe('a wide\n');
  });

  it('refuses an unknown format with the choices', () => {
    expect(outputFormat('yaml')).toBe('yaml');
    expect(() => outputFormat('xml')).toThrow(InvalidArgumentError);
    expect(() => outputFormat('xml')).toThrow('use one of text, wide, json, yaml');
  });
});
