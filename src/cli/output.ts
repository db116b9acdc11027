import { InvalidArgumentError, type Command } from 'commander';
import { stringify } from 'yaml';

/** What `-o, --output` accepts on every list and show command. */
export type OutputFormat = 'text' | 'wide' | 'json' | 'yaml';

const FORMATS: readonly OutputFormat[] = ['text', 'wide', 'json', 'yaml'];

/** Parses `-o, --output`; anything else is a usage error naming the flag and the choices. */
export function outputFormat(value: string): OutputFormat {
  if ((FORMATS as readonly string[]).includes(value)) return value as OutputFormat;
  throw new InvalidArgumentError(`use one of ${FORMATS.join(', ')}`);
}

/** Adds `-o, --output <format>` (text by default) to a command. */
export function withOutput(command: Command): Command {
  return command.option('-o, --output <format>', FORMATS.join(', '), outputFormat, 'text');
}

/**
 * Columns padded to their widest cell, two spaces apart (as kubectl prints them); the last column
 * is not padded, so no line ends in spaces.
 */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  return all
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * `data` as the format asks: JSON or YAML for scripts, else the human rendering (`wide` adds
 * columns or details); always one trailing newline.
 */
export function formatOutput(format: OutputFormat, data: unknown, human: (wide: boolean) => string): string {
  if (format === 'json') return `${JSON.stringify(data, null, 2)}\n`;
  if (format === 'yaml') return stringify(data);
  return `${human(format === 'wide')}\n`;
}
