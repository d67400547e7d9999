import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.ts';
import { COMMANDS, OPTION_NAMES, optionSpec, takes, type CommandName, type OptionName, type OptionValues } from './options.ts';

export interface ParsedArgs {
  /** Undefined when no command was named. */
  command?: CommandName;
  args: string[];
  values: OptionValues;
  /** The options typed on the command line, in order, without repeats. */
  given: OptionName[];
}

const PARSE_OPTIONS: ParseArgsConfig['options'] = Object.fromEntries(
  OPTION_NAMES.map((name) => {
    const o = optionSpec(name);
    const config = { type: o.type, default: o.multiple ? [] : o.default, ...(o.short && { short: o.short }), ...(o.multiple && { multiple: true }) };
    return [name, config];
  }),
);

/** parseArgs's result, typed by hand: its inference does not reach through a computed config. */
interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  tokens: { kind: string; name?: string }[];
}

const list = (words: readonly string[]): string => (words.length === 2 ? `${words[0]} or ${words[1]}` : `one of ${words.join(', ')}`);

/** The command a word names (undefined for none); any other word is a usage error. */
export function commandNamed(word: string | undefined): CommandName | undefined {
  if (word === undefined) return undefined;
  if (!Object.hasOwn(COMMANDS, word)) throw new UsageError(`unknown command "${word}"; see tunespec help`);
  return word as CommandName;
}

/** Why `name` does not apply to `command` as given, or undefined when it does. */
function misuse(command: CommandName, name: OptionName, given: readonly OptionName[]): string | undefined {
  const o = optionSpec(name);
  if (!takes(command, name)) {
    const takers = o.commands === 'every' ? [] : o.commands;
    return `--${name} is not an option of \`${command}\` (it is taken by: ${takers.join(', ')}); see tunespec ${command} --help`;
  }
  const needed = o.needs?.[command];
  if (needed && !given.includes(needed as OptionName)) return `--${name} applies to \`${command}\` only with --${needed}`;
  return undefined;
}

/**
 * The command line against the option table: unknown options (parseArgs, strict), options the
 * command does not take, options given without the one they go with, and values outside their
 * choices are usage errors. Every misuse is reported, one per line.
 */
export function parseCommandLine(argv: string[]): ParsedArgs {
  const { values, positionals, tokens } = parseArgs({ args: argv, options: PARSE_OPTIONS, allowPositionals: true, strict: true, tokens: true }) as Parsed;
  const given = [...new Set(tokens.flatMap((t) => (t.kind === 'option' ? [t.name as OptionName] : [])))];
  const [first, ...args] = positionals;
  const command = commandNamed(first);
  const parsed = { command, args, values: values as unknown as OptionValues, given };
  if (!command || parsed.values.help) return parsed;
  const problems = given.map((name) => misuse(command, name, given)).filter((p) => p !== undefined);
  for (const name of given) {
    const { choices } = optionSpec(name);
    const raw = values[name];
    if (choices && typeof raw === 'string' && !choices.includes(raw) && takes(command, name)) problems.push(`--${name} must be ${list(choices)}; got "${raw}"`);
  }
  if (problems.length) throw new UsageError(problems.join('\n'));
  return parsed;
}
