import { UsageError } from '../errors.ts';
import { COMMAND_NAMES, COMMANDS, OPTION_NAMES, optionSpec, optionsOf, type CommandName, type CommandSpec, type OptionName } from './options.ts';

// Shell completion scripts, generated from the option table like --help, so they never lag it.

function operands(command: CommandName): NonNullable<CommandSpec['operands']> {
  const spec: CommandSpec = COMMANDS[command];
  return command === 'help' ? COMMAND_NAMES : (spec.operands ?? 'files');
}

const flags = (name: OptionName): string[] => {
  const o = optionSpec(name);
  return [...(o.short ? [`-${o.short}`] : []), `--${name}`];
};

function bashValueCases(): string[] {
  const cases: string[] = [];
  for (const name of OPTION_NAMES) {
    const o = optionSpec(name);
    if (o.type !== 'string') continue;
    const reply = o.choices ? `COMPREPLY=($(compgen -W "${o.choices.join(' ')}" -- "$cur"))` : o.completes === 'dirs' ? 'COMPREPLY=($(compgen -d -- "$cur"))' : o.completes === 'files' ? 'COMPREPLY=($(compgen -f -- "$cur"))' : 'COMPREPLY=()';
    cases.push(`    --${name}) ${reply}; return ;;`);
  }
  return cases;
}

function bashOperandReply(command: CommandName): string {
  const words = operands(command);
  if (words === 'files') return 'COMPREPLY=($(compgen -f -- "$cur"))';
  if (words === 'none' || !words.length) return 'COMPREPLY=()';
  return `COMPREPLY=($(compgen -W "${words.join(' ')}" -- "$cur"))`;
}

export function bashCompletion(): string {
  return `# tunespec completion for bash. Load it with: source <(tunespec completion bash)
_tunespec() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} cmd=\${COMP_WORDS[1]}
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "${COMMAND_NAMES.join(' ')} --help" -- "$cur"))
    return
  fi
  case "$prev" in
${bashValueCases().join('\n')}
  esac
  if [[ $cur == -* ]]; then
    case "$cmd" in
${COMMAND_NAMES.map((c) => `      ${c}) COMPREPLY=($(compgen -W "${optionsOf(c).flatMap(flags).join(' ')}" -- "$cur")) ;;`).join('\n')}
    esac
    return
  fi
  case "$cmd" in
${COMMAND_NAMES.map((c) => `    ${c}) ${bashOperandReply(c)} ;;`).join('\n')}
  esac
}
complete -o filenames -F _tunespec tunespec
`;
}

/** Text safe inside a zsh `_arguments` spec in single quotes: no quotes, brackets or colons. */
const zshText = (s: string): string => s.replace(/['[\]:\\`]/g, '').replace(/\s+/g, ' ');

function zshOptionSpec(name: OptionName): string {
  const o = optionSpec(name);
  const what = `[${zshText(o.description)}]`;
  const value = o.type === 'string' ? `:${zshText(o.value ?? 'value')}:${o.choices ? `(${o.choices.join(' ')})` : o.completes === 'dirs' ? '_files -/' : o.completes === 'files' ? '_files' : ' '}` : '';
  return flags(name).map((f) => `'${o.multiple ? '*' : ''}${f}${what}${value}'`).join(' ');
}

function zshOperandSpec(command: CommandName): string {
  const words = operands(command);
  if (words === 'files') return "'*:file:_files'";
  if (words === 'none' || !words.length) return '';
  return `'1:${command === 'help' ? 'command' : 'argument'}:(${words.join(' ')})'`;
}

export function zshCompletion(): string {
  const described = COMMAND_NAMES.map((c) => `    '${c}:${zshText(COMMANDS[c].summary)}'`);
  return `#compdef tunespec
# tunespec completion for zsh. Load it with: source <(tunespec completion zsh) (after compinit),
# or save it as _tunespec in a folder of your $fpath.
_tunespec() {
  local -a commands
  commands=(
${described.join('\n')}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  local cmd=$words[2]
  shift words
  (( CURRENT-- ))
  case $cmd in
${COMMAND_NAMES.map((c) => `    ${c}) _arguments -s ${[...optionsOf(c).map(zshOptionSpec), zshOperandSpec(c)].filter(Boolean).join(' ')} ;;`).join('\n')}
  esac
}
if [[ $funcstack[1] == _tunespec ]]; then
  _tunespec "$@"
else
  compdef _tunespec tunespec
fi
`;
}

export function completionScript(shell: string): string {
  if (shell === 'bash') return bashCompletion().trimEnd();
  if (shell === 'zsh') return zshCompletion().trimEnd();
  throw new UsageError(`completion supports bash and zsh; got "${shell}"`);
}
