// `tunespec generate` as a user runs it: on a model folder and a .gguf file by path, and on
// fine-tuned variants laid out in a run store as training leaves them (by ft: name, variant id
// prefix, base name and `best --spec`). Greedy text is the NumPy reference's greedy tokens
// (scripts/llama_reference.py), decoded by the Rust-parity tokenizer; sampling with a seed repeats;
// stop strings end the text before them; the context limit ends it with finish "length".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { ROOT, tempDir, tunespec } from '../helpers/cli.ts';
import { layOutGenerationVariant, TINY_LLAMA, TINY_LLAMA_GGUF } from '../helpers/generation-variant.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'text');
const SMOLLM2 = join(ROOT, '.cache', 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf');
const ref: { prompts: { text: string; input_ids: number[]; greedy: number[] }[] } = JSON.parse(readFileSync(join(FIXTURES, 'tiny-llama-reference.json'), 'utf8'));
const tokenizer = new Tokenizer(JSON.parse(readFileSync(join(TINY_LLAMA, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(TINY_LLAMA, 'tokenizer_config.json'), 'utf8')));
const decode = (ids: number[]) => tokenizer.decode(ids, { skip_special_tokens: true });

/** The stats line generate prints on stderr. */
const stats = (stderr: string) => /^generate: (\d+) tokens? in [\d.]+ s \([\d.]+ tokens\/s, the (\d+)-token prompt included\); finish: (.+)$/m.exec(stderr);

test('greedy generation on a model folder gives the NumPy reference tokens, streamed to stdout, stats to stderr', () => {
  for (const p of ref.prompts.slice(0, 3)) {
    const r = tunespec(['generate', TINY_LLAMA, p.text, '--max-tokens', String(p.greedy.length)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${decode(p.greedy)}\n`, p.text);
    const s = stats(r.stderr);
    assert.ok(s, r.stderr);
    assert.deepEqual([Number(s[1]), Number(s[2]), s[3]], [p.greedy.length, p.input_ids.length, 'length (--max-tokens)']);
  }
});

test('a fine-tuned variant in the run store answers by its ft: name, a variant id prefix, and best of its spec; its base model by name', () => {
  const dir = tempDir();
  const runs = join(dir, 'runs');
  const a = layOutGenerationVariant(runs, { experiment: 'gen', sweep: 's1', variant: 'aaaa11112222', metrics: { val_loss: 1.5 } });
  const b = layOutGenerationVariant(runs, { experiment: 'gen', sweep: 's1', variant: 'bbbb11112222', metrics: { val_loss: 0.7 } });
  layOutGenerationVariant(runs, { experiment: 'gen', sweep: 's2', variant: 'cccc11112222', status: 'failed' });
  assert.equal(a, 'ft:tiny-llama:gen:aaaa11112222');
  const p = ref.prompts[0];
  const want = `${decode(p.greedy)}\n`;
  // `best` ranks the spec's variants by its objective (val_loss, a generation spec's default).
  writeFileSync(
    join(dir, 'gen.yaml'),
    `name: gen
task: generation
base_model: { source: ${JSON.stringify(TINY_LLAMA)} }
data: { format: chat, path: ${JSON.stringify(join(FIXTURES, 'chat-reviews.jsonl'))}, max_length: 128 }
lora: { rank: 4 }
training: { epochs: 1, batch_size: 8, learning_rate: 0.001 }
`,
  );
  for (const [target, name, extra] of [
    [a, a, []],
    ['aaaa', a, []],
    ['best', b, ['--spec', 'gen.yaml']],
  ] as const) {
    const r = tunespec(['generate', target, p.text, '--max-tokens', String(p.greedy.length), '--runs-dir', 'runs', ...extra], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, want, target);
    assert.match(r.stderr, new RegExp(`^generate: ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(${join(runs, 'gen', 's1', name.split(':')[3], 'merged')}\\), engine `, 'm'));
  }
  const base = tunespec(['generate', 'tiny-llama', p.text, '--max-tokens', '4', '--runs-dir', 'runs'], dir);
  assert.equal(base.code, 0, base.stderr);
  assert.match(base.stderr, new RegExp(`^generate: tiny-llama \\(${TINY_LLAMA_GGUF.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)`, 'm'));

  const cases: [string[], RegExp][] = [
    [['ft:tiny-llama:gen:cccc11112222'], /^no completed fine-tuned model ft:tiny-llama:gen:cccc11112222 in .*runs/],
    [['1111'], /^no model 1111: not a completed fine-tuned model/],
    [['best'], /^tunespec: "best" needs the spec it is best of: add --spec <spec>$/],
  ];
  for (const [args, message] of cases) {
    const r = tunespec(['generate', ...args, 'hi', '--runs-dir', 'runs'], dir);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr.trim(), message);
  }
  layOutGenerationVariant(runs, { experiment: 'gen', sweep: 's3', variant: 'aaaa99998888' });
  const ambiguous = tunespec(['generate', 'aaaa', 'hi', '--runs-dir', 'runs'], dir);
  assert.equal(ambiguous.code, 1);
  assert.match(ambiguous.stderr, /^aaaa is the start of 2 variant ids \(.*\): give more of it$/m);
});

test('sampling with a seed repeats; another seed, another text; bad settings are usage errors', () => {
  const args = ['generate', TINY_LLAMA_GGUF, 'The cat', '--temperature', '1.2', '--top-k', '50', '--top-p', '0.95', '--max-tokens', '24'];
  const one = tunespec([...args, '--seed', '7']);
  const two = tunespec([...args, '--seed', '7']);
  const other = tunespec([...args, '--seed', '8']);
  for (const r of [one, two, other]) assert.equal(r.code, 0, r.stderr);
  assert.equal(one.stdout, two.stdout);
  assert.notEqual(one.stdout, other.stdout);
  assert.equal(stats(one.stderr)?.[1], '24');
  for (const [flag, value, message] of [
    ['--temperature', '-1', '--temperature must be a number ≥ 0; got "-1"'],
    ['--top-p', '0', '--top-p must be a number in (0, 1]; got "0"'],
    ['--top-k', '2.5', '--top-k must be an integer ≥ 0; got "2.5"'],
    ['--seed', 'x', '--seed must be an integer from 0 to 4294967295; got "x"'],
    ['--max-tokens', '0', '--max-tokens must be an integer ≥ 1; got "0"'],
  ]) {
    const r = tunespec(['generate', TINY_LLAMA, 'hi', `${flag}=${value}`]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim(), `tunespec: ${message}`);
  }
});

test('a stop string ends the text before it (finish "stop"); the context limit ends it with finish "length"', () => {
  const p = ref.prompts[1];
  const full = decode(p.greedy);
  // A stop string from the middle of the greedy text, free of replacement characters.
  const at = [...Array(full.length - 2).keys()].find((i) => i > 1 && !full.slice(i, i + 2).includes('\ufffd'))!;
  const stop = full.slice(at, at + 2);
  const r = tunespec(['generate', TINY_LLAMA, p.text, '--max-tokens', String(p.greedy.length), '--stop', 'never-there', '--stop', stop]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${full.slice(0, full.indexOf(stop))}\n`);
  assert.equal(stats(r.stderr)?.[3], 'stop');

  // The tiny model's context is 128 positions: the last one predicts one more token, which is not read.
  // (This prompt's greedy answer meets no end token before.)
  const q = ref.prompts[2];
  const long = tunespec(['generate', TINY_LLAMA, q.text, '--max-tokens', '500']);
  assert.equal(long.code, 0, long.stderr);
  assert.deepEqual(stats(long.stderr)?.slice(1), [String(128 - q.input_ids.length + 1), String(q.input_ids.length), "length (the model's context)"]);
  const tooLong = tunespec(['generate', TINY_LLAMA, 'word '.repeat(200)]);
  assert.equal(tooLong.code, 1);
  assert.match(tooLong.stderr, /^the prompt is \d+ tokens and the model's context is 128 \(max_position_embeddings\): shorten the prompt$/m);
});

test('--chat renders the prompt with the chat template and stops at the end-of-turn token', { skip: !existsSync(SMOLLM2) && `${SMOLLM2} is absent: run \`npm run models:gpt\`` }, () => {
  const smol = JSON.parse(readFileSync(join(FIXTURES, 'smollm2-reference.json'), 'utf8'));
  const r = tunespec(['generate', SMOLLM2, 'What is the capital of France?', '--chat']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${smol.chat.answer}\n`);
  assert.deepEqual(stats(r.stderr)?.slice(1), [String(smol.chat.greedy.length), String(smol.chat.input_ids.length), 'stop']);
  console.log(`# SmolLM2 generate --chat: ${stats(r.stderr)?.[0]}`);
});
