import { COMMAND_NAMES, COMMANDS, OPTION_NAMES, optionSpec, optionsOf, type CommandName, type CommandSpec, type OptionName } from './options.ts';

// Help is generated from the option table (options.ts); only the prose below is written by hand.

const WIDTH = 100;
const COLUMN = 37;

export const ENVIRONMENT = `Environment (as the MLflow Python client reads it):
MLFLOW_TRACKING_URI, MLFLOW_EXPERIMENT_NAME, MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (basic auth), MLFLOW_TRACKING_TOKEN (bearer), MLFLOW_TRACKING_INSECURE_TLS, MLFLOW_HTTP_REQUEST_MAX_RETRIES (default 7), MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR (2), MLFLOW_HTTP_REQUEST_BACKOFF_JITTER (1), MLFLOW_HTTP_REQUEST_TIMEOUT (120 seconds)
Base models at http(s) and hf:// URLs: TUNESPEC_HTTP_TIMEOUT (seconds to connect, to the first byte, and between bytes of the body; default 15, as pip), TUNESPEC_HTTP_RETRIES (default 3: connection errors, timeouts, 408, 429 and 5xx are retried with backoff; other answers are final)
Feature cache: TUNESPEC_CACHE_DIR (default $XDG_CACHE_HOME/tunespec/features, else ~/.cache/tunespec/features), TUNESPEC_CACHE_MAX (size cap such as 10G, the default; least recently used entries go first)
Progress: TUNESPEC_PROGRESS_SECONDS (when run's output is not a terminal, seconds between lines of progress within an epoch: batch, examples/s, ETA; default 30)
Slow engine: when auto falls to pure-JS cpu for convolution backprop, run refuses a variant whose first step says it would train longer than TUNESPEC_SLOW_ENGINE_LIMIT seconds (default 600), naming npm run setup:native; --backend cpu trains it anyway`;

export const EXIT_CODES = `Exit codes: 0 success; 1 invalid spec, failed variant, bad input (unknown variant, wrong image size, not a model, a corrupt run store), an MLflow server that refused us or no Redis at --queue; 2 usage error (an unknown option, or one the command does not take); 130 interrupted.`;

/** Words filled into lines of at most `width` characters. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return line ? [...lines, line] : lines;
}

/** A two-column entry: the term, then its text wrapped at COLUMN (on the next line when the term is too long). */
function entry(term: string, text: string): string[] {
  const body = wrap(text, WIDTH - COLUMN);
  const pad = ' '.repeat(COLUMN);
  const head = `  ${term}`;
  if (head.length < COLUMN - 1 && body.length) return [head.padEnd(COLUMN) + body[0], ...body.slice(1).map((l) => pad + l)];
  return [head, ...body.map((l) => pad + l)];
}

/** A paragraph: its first line as written, the rest wrapped and indented by two. */
function paragraph(text: string): string[] {
  return text.split('\n').flatMap((line, i) => (i === 0 ? wrap(line, WIDTH) : wrap(line, WIDTH - 2).map((l) => `  ${l}`)));
}

export function usageOf(command: CommandName): string {
  const args = COMMANDS[command].args;
  return `tunespec ${command}${args ? ` ${args}` : ''}`;
}

/** `--backend <engine>`, `-h, --help`. */
export function optionTerm(name: OptionName): string {
  const o = optionSpec(name);
  const value = o.choices ? `<${o.choices.join('|')}>` : o.value;
  return `${o.short ? `-${o.short}, ` : ''}--${name}${value ? ` ${value}` : ''}`;
}

/** The default as help shows it, or undefined (booleans default to off). */
function defaultOf(name: OptionName): string | undefined {
  const o = optionSpec(name);
  return o.defaultText ?? (typeof o.default === 'string' ? o.default : undefined);
}

/** The option's description, with its default. */
export function optionText(name: OptionName, command?: CommandName): string {
  const o = optionSpec(name);
  const needs = command && o.needs?.[command] ? `with --${o.needs[command]}: ` : '';
  return `${needs}${o.description}${defaultOf(name) ? ` (default ${defaultOf(name)})` : ''}`;
}

/** The commands an option belongs to, as help groups them: `run --queue, plan --emit`. */
export function takers(name: OptionName): string {
  const o = optionSpec(name);
  if (o.commands === 'every') return 'every command';
  return o.commands.map((c) => (o.needs?.[c] ? `${c} --${o.needs[c]}` : c)).join(', ');
}

function groupedOptions(): string[] {
  const groups = new Map<string, OptionName[]>();
  for (const name of OPTION_NAMES) {
    const key = takers(name);
    groups.set(key, [...(groups.get(key) ?? []), name]);
  }
  return [...groups].flatMap(([key, names]) => [`Options for ${key}:`, ...names.flatMap((n) => entry(optionTerm(n), optionText(n)))]);
}

/** `tunespec help`, `tunespec --help`. */
export const HELP = [
  'tunespec: YAML experiment specs in, fine-tuning sweeps out',
  '',
  'Usage:',
  ...COMMAND_NAMES.flatMap((c) => entry(usageOf(c), COMMANDS[c].summary)),
  '',
  ...groupedOptions(),
  '',
  ...paragraph(ENVIRONMENT),
  '',
  ...paragraph(EXIT_CODES),
  '',
].join('\n');

/** `tunespec <command> --help`, `tunespec help <command>`. */
export function commandHelp(command: CommandName): string {
  const spec: CommandSpec = COMMANDS[command];
  return [
    `Usage: ${usageOf(command)}${optionsOf(command).length > 2 ? ' [options]' : ''}`,
    '',
    ...wrap(spec.summary, WIDTH),
    '',
    'Options:',
    ...optionsOf(command).flatMap((n) => entry(optionTerm(n), optionText(n, command))),
    ...(spec.note ? ['', ...wrap(spec.note, WIDTH)] : []),
    '',
  ].join('\n');
}

const cell = (s: string): string => s.replace(/\|/g, '\\|');
/** Markdown prose: placeholders such as <variant> in code spans, or they would read as HTML tags. */
const prose = (s: string): string => s.replace(/(?<!`)(<[^>\s]+>(?:-<[^>\s]+>)*)(?!`)/g, '`$1`');

function defaultCell(name: OptionName): string {
  const o = optionSpec(name);
  if (o.defaultText) return prose(o.defaultText);
  return typeof o.default === 'string' ? `\`${o.default}\`` : '';
}

/** The README's CLI reference (between its cli-reference markers; `npm run schema` rewrites it). */
export function cliReference(): string {
  return [
    '| command | what it does |',
    '|---|---|',
    ...COMMAND_NAMES.map((c) => `| \`${cell(usageOf(c))}\` | ${cell(COMMANDS[c].summary)} |`),
    '',
    'Options (`tunespec <command> --help` lists a command\'s own; an option given to a command that does not take it is a usage error):',
    '',
    '| option | commands | default | meaning |',
    '|---|---|---|---|',
    ...OPTION_NAMES.map((n) => `| \`${cell(optionTerm(n))}\` | ${cell(takers(n))} | ${cell(defaultCell(n))} | ${cell(prose(optionSpec(n).description))} |`),
    '',
    ...new Set(COMMAND_NAMES.flatMap((c) => ((COMMANDS[c] as CommandSpec).note ? [prose((COMMANDS[c] as CommandSpec).note!), ''] : []))),
    ENVIRONMENT.replace(/\n/g, '\n\n'),
    '',
    EXIT_CODES,
    '',
    'Shell completion: `source <(tunespec completion bash)` in `~/.bashrc`, or `source <(tunespec completion zsh)` after `compinit` in `~/.zshrc`.',
  ].join('\n');
}
