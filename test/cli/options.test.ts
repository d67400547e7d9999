import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMAND_NAMES, OPTION_NAMES, optionsOf, optionSpec } from '../../src/cli/options.ts';
import { commandHelp, HELP } from '../../src/cli/help.ts';
import { tempDir, tunespec } from '../helpers/cli.ts';

// The option table (src/cli/options.ts) drives parsing, help and completion; these run the real
// CLI to check each of them follows it.

test('an option the command does not take is a usage error naming who takes it; nothing runs', () => {
  const r = tunespec(['validate', 'experiments/quickstart.yaml', '--top', '5', '--engine', 'onnx', '--detach']);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '', 'validate did not run');
  assert.equal(
    r.stderr,
    [
      'tunespec: --top is not an option of `validate` (it is taken by: predict); see tunespec validate --help',
      'tunespec: --engine is not an option of `validate` (it is taken by: predict, evaluate); see tunespec validate --help',
      'tunespec: --detach is not an option of `validate` (it is taken by: run); see tunespec validate --help',
      '',
    ].join('\n'),
  );
  const runs = tunespec(['runs', 'experiments/quickstart.yaml', '--force']);
  assert.equal(runs.code, 2);
  assert.equal(runs.stderr, 'tunespec: --force is not an option of `runs` (it is taken by: run); see tunespec runs --help\n');
});

test('an option that goes with another is refused without it', () => {
  const detach = tunespec(['run', 'experiments/quickstart.yaml', '--detach']);
  assert.equal(detach.code, 2);
  assert.equal(detach.stderr, 'tunespec: --detach applies to `run` only with --queue\n');
  const gpus = tunespec(['plan', 'experiments/quickstart.yaml', '--gpus', '2']);
  assert.equal(gpus.code, 2);
  assert.equal(gpus.stderr, 'tunespec: --gpus applies to `plan` only with --emit\n');
});

test('values outside an option\'s choices are refused while parsing, for every command that takes it', () => {
  const engine = tunespec(['evaluate', 'best', 'x.idx', 'y.idx', '--engine', 'torch']);
  assert.equal(engine.code, 2);
  assert.equal(engine.stderr, 'tunespec: --engine must be tfjs or onnx; got "torch"\n');
  const backend = tunespec(['worker', '--queue', 'redis://127.0.0.1:1', '--backend', 'tpu']);
  assert.equal(backend.code, 2);
  assert.equal(backend.stderr, 'tunespec: --backend must be one of auto, native-gpu, native, wasm, cpu; got "tpu"\n');
});

test('each command has its own --help, the same as `tunespec help <command>`, listing exactly its options', () => {
  for (const command of COMMAND_NAMES.filter((c) => c !== 'help')) {
    const r = tunespec([command, '--help']);
    assert.equal(r.code, 0, command);
    assert.equal(r.stdout, commandHelp(command) + '\n', command);
    assert.equal(tunespec(['help', command]).stdout, r.stdout, `help ${command}`);
    assert.match(r.stdout, new RegExp(`^Usage: tunespec ${command}\\b`), command);
    const listed = [...r.stdout.matchAll(/^ {2}(?:-\w, )?--([\w-]+)/gm)].map((m) => m[1]);
    assert.deepEqual(listed, optionsOf(command), command);
  }
  assert.match(tunespec(['run', '--help']).stdout, /^ {2}--detach {27}with --queue: queue and return at once$/m);
  assert.equal(tunespec(['help']).stdout, HELP + '\n');
  const unknown = tunespec(['help', 'train']);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr, 'tunespec: unknown command "train"; see tunespec help\n');
});

test('the whole help lists every command and every option', () => {
  const r = tunespec(['--help']);
  assert.equal(r.code, 0);
  for (const command of COMMAND_NAMES) assert.match(r.stdout, new RegExp(`^ {2}tunespec ${command}\\b`, 'm'), command);
  for (const name of OPTION_NAMES) assert.match(r.stdout, new RegExp(`^ {2}(?:-\\w, )?--${name}\\b`, 'm'), name);
});

/** Ask the generated bash completion what it offers for `words`, the last being the word under the cursor. */
function complete(script: string, words: string[]): string[] {
  const line = ['tunespec', ...words];
  const program = `source ${JSON.stringify(script)}
COMP_WORDS=(${line.map((w) => `'${w}'`).join(' ')})
COMP_CWORD=${line.length - 1}
_tunespec
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', program], { encoding: 'utf8', cwd: join(script, '..') });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

test('bash completion, run in bash, offers the commands, each command\'s own options, and option values', () => {
  const dir = tempDir();
  const r = tunespec(['completion', 'bash']);
  assert.equal(r.code, 0, r.stderr);
  const script = join(dir, 'tunespec.bash');
  writeFileSync(script, r.stdout);
  writeFileSync(join(dir, 'quickstart.yaml'), 'name: x\n');

  assert.deepEqual(complete(script, ['']).filter((w) => !w.startsWith('-')), COMMAND_NAMES);
  assert.deepEqual(complete(script, ['r']), ['run', 'runs', 'register']);
  for (const command of COMMAND_NAMES) {
    const offered = complete(script, [command, '--']);
    assert.deepEqual(offered, optionsOf(command).map((n) => `--${n}`), command);
  }
  assert.deepEqual(complete(script, ['validate', '--']), ['--debug', '--help']);
  assert.deepEqual(complete(script, ['run', 'x.yaml', '--backend', '']), [...optionSpec('backend').choices!]);
  assert.deepEqual(complete(script, ['predict', 'best', '--engine', 'o']), ['onnx']);
  assert.deepEqual(complete(script, ['cache', '']), ['list', 'clear']);
  assert.deepEqual(complete(script, ['completion', '']), ['bash', 'zsh']);
  assert.deepEqual(complete(script, ['help', 'val']), ['validate']);
  assert.deepEqual(complete(script, ['run', 'quick']), ['quickstart.yaml'], 'spec operands complete as files');
  assert.deepEqual(complete(script, ['worker', '']), [], 'worker takes no operands');
});

const hasZsh = spawnSync('zsh', ['-fc', 'true']).status === 0;

test('zsh completion names every command and, per command, exactly its options', () => {
  const r = tunespec(['completion', 'zsh']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^#compdef tunespec$/m);
  for (const command of COMMAND_NAMES) {
    assert.match(r.stdout, new RegExp(`^ {4}'${command}:`, 'm'), command);
    const line = r.stdout.split('\n').find((l) => l.startsWith(`    ${command}) _arguments`));
    assert.ok(line, command);
    const offered = [...new Set([...line.matchAll(/'\*?--([\w-]+)\[/g)].map((m) => m[1]))];
    assert.deepEqual(offered, optionsOf(command), command);
  }
  const bad = tunespec(['completion', 'fish']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, 'tunespec: completion supports bash and zsh; got "fish"\n');
});

test('zsh loads the completion script and binds it to tunespec', { skip: !hasZsh && 'zsh is not installed' }, () => {
  const dir = tempDir();
  const script = join(dir, '_tunespec');
  writeFileSync(script, tunespec(['completion', 'zsh']).stdout);
  assert.equal(spawnSync('zsh', ['-n', script], { encoding: 'utf8' }).stderr, '', 'the script parses');
  const program = `autoload -U compinit; compinit -u -d ${JSON.stringify(join(dir, '.zcompdump'))}; source ${JSON.stringify(script)}; print -r -- $_comps[tunespec]`;
  const r = spawnSync('zsh', ['-f', '-c', program], { encoding: 'utf8', env: { ...process.env, HOME: dir, ZDOTDIR: dir } });
  assert.equal(r.stdout, '_tunespec\n', r.stderr);
});
